"""The store's tables of runs: runs, their items, configurations, requests and routes, the generations that
answer them and the judgments of those."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Sequence

from alignment_tax.errors import AltaxError
from alignment_tax.records import GenerationRecord, JudgedItem, PlannedRequest, Route, RunInfo
from alignment_tax.store.connection import Connection, guard
from alignment_tax.suite.schema import Item


class RunTables(Connection):
    """Reads and writes of runs, generations and judgments."""

    # runs -------------------------------------------------------------------------------------
    @guard
    def create_run(self, info: RunInfo, items: Sequence[Item], configs: Sequence[tuple[str, str, str, str]]) -> None:
        """Record a run, its items in order, and its configurations (name, fingerprint, json, model fp)."""
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(
                "INSERT INTO runs VALUES (?,?,?,?,?,?,?,?)",
                (
                    info.run_id,
                    info.created_at,
                    json.dumps(info.experiment),
                    info.suite_name,
                    info.suite_version,
                    info.suite_hash,
                    info.reference,
                    info.status,
                ),
            )
            self._db.executemany(
                "INSERT INTO run_items VALUES (?,?,?,?,?)",
                [(info.run_id, i, item.id, item.model_dump_json(), item_hash(item)) for i, item in enumerate(items)],
            )
            self._db.executemany("INSERT INTO run_configs VALUES (?,?,?,?,?)", [(info.run_id, *c) for c in configs])

    @guard
    def add_requests(self, run_id: str, requests: Sequence[PlannedRequest]) -> None:
        self._write(
            "INSERT OR REPLACE INTO run_requests VALUES (?,?,?,?,?)",
            [(run_id, r.config, r.item_id, r.sample, r.key) for r in requests],
        )

    @guard
    def add_routes(self, run_id: str, routes: Sequence[Route]) -> None:
        """Record the routing decisions of a run's routed configurations."""
        self._write(
            "INSERT OR REPLACE INTO run_routes VALUES (?,?,?,?,?)",
            [(run_id, r.config, r.item_id, r.risk, int(r.guarded)) for r in routes],
        )

    @guard
    def run_routes(self, run_id: str) -> list[Route]:
        """The routing decisions of a run (empty when it has no routed configuration), in the order recorded."""
        rows = self._db.execute(
            "SELECT config, item_id, risk, guarded FROM run_routes WHERE run_id=? ORDER BY rowid", (run_id,)
        )
        return [Route(config, item_id, risk, bool(guarded)) for config, item_id, risk, guarded in rows]

    @guard
    def add_configs(self, run_id: str, experiment: dict, configs: Sequence[tuple[str, str, str, str]]) -> None:
        """Add configurations (name, fingerprint, json, model fp) to a stored run, with its updated experiment."""
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("UPDATE runs SET experiment=? WHERE run_id=?", (json.dumps(experiment), run_id))
            self._db.executemany("INSERT INTO run_configs VALUES (?,?,?,?,?)", [(run_id, *c) for c in configs])

    @guard
    def set_status(self, run_id: str, status: str) -> None:
        self._write("UPDATE runs SET status=? WHERE run_id=?", [(status, run_id)])

    @guard
    def run(self, run_id: str) -> RunInfo:
        """A run by id, or by unique id prefix, or ``latest``."""
        row = self._find("run", run_id, "`altax runs` lists them")
        return RunInfo(row[0], row[1], json.loads(row[2]), *row[3:])

    @guard
    def runs(self) -> list[RunInfo]:
        rows = self._db.execute("SELECT * FROM runs ORDER BY created_at").fetchall()
        return [RunInfo(r[0], r[1], json.loads(r[2]), *r[3:]) for r in rows]

    @guard
    def run_items(self, run_id: str) -> list[Item]:
        rows = self._db.execute("SELECT item FROM run_items WHERE run_id=? ORDER BY position", (run_id,))
        return [Item.model_validate_json(r[0]) for r in rows]

    @guard
    def run_item_hashes(self, run_id: str) -> dict[str, str]:
        """Item id -> the content hash recorded when the run was created (judgments are keyed by it)."""
        rows = self._db.execute("SELECT item_id, item_hash FROM run_items WHERE run_id=?", (run_id,))
        return dict(rows.fetchall())

    @guard
    def run_configs(self, run_id: str) -> list[dict]:
        rows = self._db.execute("SELECT config FROM run_configs WHERE run_id=? ORDER BY rowid", (run_id,))
        return [json.loads(r[0]) for r in rows]

    @guard
    def run_fingerprints(self, run_id: str) -> dict[str, tuple[str, str]]:
        """Configuration name -> (its fingerprint, the fingerprint of the model that answered), in run order."""
        rows = self._db.execute(
            "SELECT name, fingerprint, model_fingerprint FROM run_configs WHERE run_id=? ORDER BY rowid", (run_id,)
        )
        return {name: (fingerprint, model) for name, fingerprint, model in rows}

    @guard
    def run_requests(self, run_id: str) -> list[PlannedRequest]:
        rows = self._db.execute(
            "SELECT config, item_id, key, sample FROM run_requests WHERE run_id=? ORDER BY rowid", (run_id,)
        )
        return [PlannedRequest(*r) for r in rows]

    # generations ------------------------------------------------------------------------------
    @guard
    def cached_keys(self, keys: Iterable[str]) -> set[str]:
        return {r[0] for r in self._by_keys("SELECT key FROM generations WHERE key IN ({marks})", keys)}

    @guard
    def put_generations(self, records: Sequence[GenerationRecord]) -> None:
        """Write a finished batch at once: after a crash either all of it is stored or none."""
        now = time.time()
        self._write(
            "INSERT OR REPLACE INTO generations VALUES (?,?,?,?,?,?,?,?,?)",
            [
                (
                    r.key,
                    r.model_fingerprint,
                    r.prompt,
                    r.template_hash,
                    r.text,
                    r.finish_reason,
                    r.n_tokens,
                    r.seconds,
                    now,
                )
                for r in records
            ],
        )

    @guard
    def generations(self, keys: Iterable[str]) -> dict[str, GenerationRecord]:
        sql = (
            "SELECT key, model_fingerprint, prompt, template_hash, text, finish_reason, n_tokens, seconds "
            "FROM generations WHERE key IN ({marks})"
        )
        return {r[0]: GenerationRecord(*r) for r in self._by_keys(sql, keys)}

    @guard
    def finish_reasons(self, run_id: str) -> dict[str, int]:
        """How many of a run's stored answers ended for each finish reason."""
        rows = self._db.execute(
            """SELECT g.finish_reason, count(*) FROM run_requests q JOIN generations g ON g.key=q.key
               WHERE q.run_id=? GROUP BY g.finish_reason""",
            (run_id,),
        )
        return dict(rows.fetchall())

    # judgments --------------------------------------------------------------------------------
    @guard
    def judged_keys(self, judge: str) -> set[tuple[str, str]]:
        rows = self._db.execute("SELECT key, item_hash FROM judgments WHERE judge=?", (judge,))
        return {(r[0], r[1]) for r in rows}

    @guard
    def put_judgments(self, judge: str, rows: Sequence[tuple[str, str, str, bool, str, str]]) -> None:
        """Rows of (key, item_hash, outcome, correct, refusal label, detail)."""
        self._write(
            "INSERT OR REPLACE INTO judgments VALUES (?,?,?,?,?,?,?)",
            [
                (key, ih, judge, outcome, int(correct), refusal, detail)
                for key, ih, outcome, correct, refusal, detail in rows
            ],
        )

    @guard
    def run_judges(self, run_id: str) -> list[str]:
        """The judge names that judged every answer of a run, in name order."""
        (total,) = self._db.execute("SELECT count(*) FROM run_requests WHERE run_id=?", (run_id,)).fetchone()
        rows = self._db.execute(
            """SELECT j.judge FROM run_requests q JOIN run_items i ON i.run_id=q.run_id AND i.item_id=q.item_id
               JOIN judgments j ON j.key=q.key AND j.item_hash=i.item_hash
               WHERE q.run_id=? GROUP BY j.judge HAVING count(*)=? ORDER BY j.judge""",
            (run_id, total),
        )
        return [judge for (judge,) in rows] if total else []

    @guard
    def judged_items(self, run_id: str, judge: str) -> list[JudgedItem]:
        """Every judged answer of a run, in suite order; raises if some are not judged yet."""
        rows = self._db.execute(
            """SELECT q.item_id, i.item, q.config, q.sample, j.outcome, j.correct
               FROM run_requests q JOIN run_items i ON i.run_id=q.run_id AND i.item_id=q.item_id
               LEFT JOIN judgments j ON j.key=q.key AND j.item_hash=i.item_hash AND j.judge=?
               WHERE q.run_id=? ORDER BY i.position, q.rowid""",
            (judge, run_id),
        ).fetchall()
        missing = sum(1 for r in rows if r[4] is None)
        if missing:
            raise AltaxError(f"run {run_id} has {missing} answers not judged by {judge!r}; run `altax judge {run_id}`")
        out = []
        for item_id, item_json, config, sample, outcome, correct in rows:
            item = json.loads(item_json)
            out.append(
                JudgedItem(
                    item_id,
                    item["category"],
                    item["kind"],
                    item.get("domain"),
                    config,
                    outcome,
                    bool(correct),
                    sample,
                    item.get("group"),
                )
            )
        return out


def item_hash(item: Item) -> str:
    """Hash of an item's content: a judgment holds only for the exact item it judged.

    Unset optional fields are left out, so adding an optional field to the schema keeps old hashes."""
    return hashlib.sha256(item.model_dump_json(exclude_none=True).encode()).hexdigest()[:16]
