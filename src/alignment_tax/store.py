"""The SQLite store every stage reads and writes: runs, planned requests, generations, judgments."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from alignment_tax.errors import AltaxError
from alignment_tax.outcomes import JudgedItem
from alignment_tax.suite.schema import Item

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
  run_id TEXT PRIMARY KEY, created_at REAL, experiment TEXT, suite_name TEXT, suite_version TEXT,
  suite_hash TEXT, reference TEXT, status TEXT
);
CREATE TABLE IF NOT EXISTS run_items (
  run_id TEXT, position INTEGER, item_id TEXT, item TEXT, item_hash TEXT, PRIMARY KEY (run_id, item_id)
);
CREATE TABLE IF NOT EXISTS run_configs (
  run_id TEXT, name TEXT, fingerprint TEXT, config TEXT, model_fingerprint TEXT, PRIMARY KEY (run_id, name)
);
CREATE TABLE IF NOT EXISTS run_requests (
  run_id TEXT, config TEXT, item_id TEXT, sample INTEGER, key TEXT,
  PRIMARY KEY (run_id, config, item_id, sample)
);
CREATE TABLE IF NOT EXISTS run_routes (
  run_id TEXT, config TEXT, item_id TEXT, risk REAL, guarded INTEGER, PRIMARY KEY (run_id, config, item_id)
);
CREATE TABLE IF NOT EXISTS generations (
  key TEXT PRIMARY KEY, model_fingerprint TEXT, prompt TEXT, template_hash TEXT, text TEXT,
  finish_reason TEXT, n_tokens INTEGER, seconds REAL, created_at REAL
);
CREATE TABLE IF NOT EXISTS judgments (
  key TEXT, item_hash TEXT, judge TEXT, outcome TEXT, correct INTEGER, refusal TEXT, detail TEXT,
  PRIMARY KEY (key, item_hash, judge)
);
"""


@dataclass(frozen=True)
class GenerationRecord:
    """One stored completion with what was sent to get it."""

    key: str
    model_fingerprint: str
    prompt: str
    template_hash: str
    text: str
    finish_reason: str
    n_tokens: int
    seconds: float


@dataclass(frozen=True)
class PlannedRequest:
    """A run's request: which configuration answers which item under which cache key."""

    config: str
    item_id: str
    key: str
    sample: int = 0


@dataclass(frozen=True)
class Route:
    """How a routed configuration answered one item: the prompt's risk score and whether the guardrail was on."""

    config: str
    item_id: str
    risk: float
    guarded: bool


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    created_at: float
    experiment: dict
    suite_name: str
    suite_version: str
    suite_hash: str
    reference: str
    status: str


class Store:
    """A handle on one SQLite file in WAL mode; every write is one transaction. ``with Store(path) as store``
    closes it on the way out."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(SCHEMA)
        except (OSError, sqlite3.Error) as error:
            raise AltaxError(f"cannot open the store {self.path}: {error}") from None

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _write(self, sql: str, rows: Iterable[tuple]) -> None:
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany(sql, rows)

    # runs -------------------------------------------------------------------------------------
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

    def add_requests(self, run_id: str, requests: Sequence[PlannedRequest]) -> None:
        self._write(
            "INSERT OR REPLACE INTO run_requests VALUES (?,?,?,?,?)",
            [(run_id, r.config, r.item_id, r.sample, r.key) for r in requests],
        )

    def add_routes(self, run_id: str, routes: Sequence[Route]) -> None:
        """Record the routing decisions of a run's routed configurations."""
        self._write(
            "INSERT OR REPLACE INTO run_routes VALUES (?,?,?,?,?)",
            [(run_id, r.config, r.item_id, r.risk, int(r.guarded)) for r in routes],
        )

    def run_routes(self, run_id: str) -> list[Route]:
        """The routing decisions of a run (empty when it has no routed configuration), in the order recorded."""
        rows = self._db.execute(
            "SELECT config, item_id, risk, guarded FROM run_routes WHERE run_id=? ORDER BY rowid", (run_id,)
        )
        return [Route(config, item_id, risk, bool(guarded)) for config, item_id, risk, guarded in rows]

    def set_status(self, run_id: str, status: str) -> None:
        self._write("UPDATE runs SET status=? WHERE run_id=?", [(status, run_id)])

    def run(self, run_id: str) -> RunInfo:
        """A run by id, or by unique id prefix, or ``latest``."""
        if run_id == "latest":
            row = self._db.execute("SELECT * FROM runs ORDER BY created_at DESC LIMIT 1").fetchone()
        else:
            rows = self._db.execute("SELECT * FROM runs WHERE run_id LIKE ?", (run_id + "%",)).fetchall()
            if len(rows) > 1:
                raise AltaxError(f"run id {run_id!r} is ambiguous: {', '.join(r[0] for r in rows[:5])}")
            row = rows[0] if rows else None
        if row is None:
            raise AltaxError(f"no run {run_id!r} in {self.path}; `altax runs` lists them")
        return RunInfo(row[0], row[1], json.loads(row[2]), *row[3:])

    def runs(self) -> list[RunInfo]:
        rows = self._db.execute("SELECT * FROM runs ORDER BY created_at").fetchall()
        return [RunInfo(r[0], r[1], json.loads(r[2]), *r[3:]) for r in rows]

    def run_items(self, run_id: str) -> list[Item]:
        rows = self._db.execute("SELECT item FROM run_items WHERE run_id=? ORDER BY position", (run_id,))
        return [Item.model_validate_json(r[0]) for r in rows]

    def run_item_hashes(self, run_id: str) -> dict[str, str]:
        """Item id -> the content hash recorded when the run was created (judgments are keyed by it)."""
        rows = self._db.execute("SELECT item_id, item_hash FROM run_items WHERE run_id=?", (run_id,))
        return dict(rows.fetchall())

    def run_configs(self, run_id: str) -> list[dict]:
        rows = self._db.execute("SELECT config FROM run_configs WHERE run_id=? ORDER BY rowid", (run_id,))
        return [json.loads(r[0]) for r in rows]

    def run_requests(self, run_id: str) -> list[PlannedRequest]:
        rows = self._db.execute(
            "SELECT config, item_id, key, sample FROM run_requests WHERE run_id=? ORDER BY rowid", (run_id,)
        )
        return [PlannedRequest(*r) for r in rows]

    # generations ------------------------------------------------------------------------------
    def cached_keys(self, keys: Iterable[str]) -> set[str]:
        found: set[str] = set()
        keys = list(keys)
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            found.update(r[0] for r in self._db.execute(f"SELECT key FROM generations WHERE key IN ({marks})", chunk))
        return found

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

    def generations(self, keys: Iterable[str]) -> dict[str, GenerationRecord]:
        out: dict[str, GenerationRecord] = {}
        keys = list(keys)
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            sql = (
                f"SELECT key, model_fingerprint, prompt, template_hash, text, finish_reason, n_tokens, seconds "
                f"FROM generations WHERE key IN ({marks})"
            )
            out.update((r[0], GenerationRecord(*r)) for r in self._db.execute(sql, chunk))
        return out

    # judgments --------------------------------------------------------------------------------
    def judged_keys(self, judge: str) -> set[tuple[str, str]]:
        rows = self._db.execute("SELECT key, item_hash FROM judgments WHERE judge=?", (judge,))
        return {(r[0], r[1]) for r in rows}

    def put_judgments(self, judge: str, rows: Sequence[tuple[str, str, str, bool, str, str]]) -> None:
        """Rows of (key, item_hash, outcome, correct, refusal label, detail)."""
        self._write(
            "INSERT OR REPLACE INTO judgments VALUES (?,?,?,?,?,?,?)",
            [
                (key, ih, judge, outcome, int(correct), refusal, detail)
                for key, ih, outcome, correct, refusal, detail in rows
            ],
        )

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
