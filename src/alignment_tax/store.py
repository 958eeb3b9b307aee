"""The SQLite store every stage reads and writes: it persists the records of records.py (runs, planned
requests, routes, generations, judgments) and holds no record types of its own."""

from __future__ import annotations

import functools
import hashlib
import json
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Concatenate, ParamSpec, TypeVar

from alignment_tax.errors import AltaxError
from alignment_tax.records import (
    GenerationRecord,
    HarnessScore,
    JudgedItem,
    PlannedRequest,
    ProbeInfo,
    ProbeRequest,
    Route,
    RunInfo,
    ScoreRecord,
)
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
CREATE TABLE IF NOT EXISTS scores (
  key TEXT PRIMARY KEY, model_fingerprint TEXT, prompt TEXT, method TEXT, targets TEXT, logprobs TEXT,
  seconds REAL, created_at REAL
);
CREATE TABLE IF NOT EXISTS probes (probe_id TEXT PRIMARY KEY, created_at REAL, experiment TEXT);
CREATE TABLE IF NOT EXISTS probe_requests (
  probe_id TEXT, config TEXT, item_id TEXT, kind TEXT, category TEXT, key TEXT, PRIMARY KEY (probe_id, config, item_id)
);
CREATE TABLE IF NOT EXISTS harness_scores (key TEXT PRIMARY KEY, harness TEXT, metric TEXT, value REAL);
"""
APPLICATION_ID = 0x414C5458
"""``PRAGMA application_id`` of an altax store ("ALTX"). Stores written before it was set carry 0 and are
recognised by their tables instead."""
SCHEMA_VERSION = 2
"""``PRAGMA user_version`` of the schema above: a store written by a newer schema is refused, an older one gains
the tables it lacks (2 added probe and log-likelihood scores: ``scores``, ``probes``, ``probe_requests``;
and imported answers' harness scores: ``harness_scores``)."""

_P = ParamSpec("_P")
_R = TypeVar("_R")


def _layout(db: sqlite3.Connection) -> dict[str, tuple]:
    """Each object of a database except SQLite's own: name -> (type, column names)."""
    objects = db.execute("SELECT type, name FROM sqlite_master WHERE substr(name, 1, 7) != 'sqlite_'").fetchall()
    columns = "SELECT name FROM pragma_table_info(?)"
    return {name: (kind, tuple(row[0] for row in db.execute(columns, (name,)))) for kind, name in objects}


@functools.cache
def _our_layout() -> dict[str, tuple]:
    db = sqlite3.connect(":memory:")
    db.executescript(SCHEMA)
    try:
        return _layout(db)
    finally:
        db.close()


def store_error(path: Path, error: sqlite3.Error) -> AltaxError:
    """A user error for a failed SQLite call on the store at ``path``: what went wrong and what to do."""
    name = getattr(error, "sqlite_errorname", "")
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
        return AltaxError(
            f"the store {path} is damaged or not a SQLite file ({error}): move it aside and run again "
            f"(cached generations are lost), or salvage it with `sqlite3 {path} .recover`"
        )
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return AltaxError(f"the store {path} stayed locked by another process ({error}); retry when it is done")
    return AltaxError(f"cannot use the store {path}: {error}; check that it and its folder are writable")


def _guard(method: Callable[Concatenate[Store, _P], _R]) -> Callable[Concatenate[Store, _P], _R]:
    """Turn a SQLite failure inside ``method`` (a damaged file, a lock held too long) into a user error."""

    @functools.wraps(method)
    def guarded(self: Store, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.ProgrammingError:  # a bug, such as using a closed store
            raise
        except sqlite3.Error as error:
            raise store_error(self.path, error) from None

    return guarded


class Store:
    """A handle on one SQLite file in WAL mode; every write is one transaction. ``with Store(path) as store``
    closes it on the way out. A SQLite file that is not an altax store is refused before anything is written."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        except (OSError, sqlite3.Error) as error:
            raise AltaxError(f"cannot open the store {self.path}: {error}") from None
        try:
            self._open()
        except BaseException:
            self._db.close()
            raise

    @_guard
    def _open(self) -> None:
        """Check the file is an altax store (or empty), then switch to WAL and create what is missing."""
        with self._db:  # one read transaction: another process may be creating the store right now
            self._db.execute("BEGIN")
            app_id = self._db.execute("PRAGMA application_id").fetchone()[0]
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            found, ours = _layout(self._db), _our_layout()
        strangers = sorted(name for name, shape in found.items() if ours.get(name) != shape)
        if app_id not in (0, APPLICATION_ID) or (app_id == 0 and version) or strangers:
            what = f"tables {', '.join(strangers[:5])}" if strangers else f"application id {app_id}, version {version}"
            raise AltaxError(
                f"{self.path} is a SQLite database of another program ({what}), not an altax store; it was left "
                "unchanged: pass --results-dir (or set ALTAX_RESULTS_DIR) to a folder of altax's own"
            )
        if version > SCHEMA_VERSION:
            raise AltaxError(
                f"the store {self.path} was written by a newer altax (store schema {version}, this one reads "
                f"{SCHEMA_VERSION}); upgrade altax or pass another --results-dir"
            )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        if app_id != APPLICATION_ID or version != SCHEMA_VERSION or found.keys() != ours.keys():
            self._db.executescript(
                f"BEGIN IMMEDIATE; {SCHEMA} PRAGMA application_id={APPLICATION_ID}; "
                f"PRAGMA user_version={SCHEMA_VERSION}; COMMIT;"
            )

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
    @_guard
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

    @_guard
    def add_requests(self, run_id: str, requests: Sequence[PlannedRequest]) -> None:
        self._write(
            "INSERT OR REPLACE INTO run_requests VALUES (?,?,?,?,?)",
            [(run_id, r.config, r.item_id, r.sample, r.key) for r in requests],
        )

    @_guard
    def add_routes(self, run_id: str, routes: Sequence[Route]) -> None:
        """Record the routing decisions of a run's routed configurations."""
        self._write(
            "INSERT OR REPLACE INTO run_routes VALUES (?,?,?,?,?)",
            [(run_id, r.config, r.item_id, r.risk, int(r.guarded)) for r in routes],
        )

    @_guard
    def run_routes(self, run_id: str) -> list[Route]:
        """The routing decisions of a run (empty when it has no routed configuration), in the order recorded."""
        rows = self._db.execute(
            "SELECT config, item_id, risk, guarded FROM run_routes WHERE run_id=? ORDER BY rowid", (run_id,)
        )
        return [Route(config, item_id, risk, bool(guarded)) for config, item_id, risk, guarded in rows]

    @_guard
    def add_configs(self, run_id: str, experiment: dict, configs: Sequence[tuple[str, str, str, str]]) -> None:
        """Add configurations (name, fingerprint, json, model fp) to a stored run, with its updated experiment."""
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("UPDATE runs SET experiment=? WHERE run_id=?", (json.dumps(experiment), run_id))
            self._db.executemany("INSERT INTO run_configs VALUES (?,?,?,?,?)", [(run_id, *c) for c in configs])

    @_guard
    def set_status(self, run_id: str, status: str) -> None:
        self._write("UPDATE runs SET status=? WHERE run_id=?", [(status, run_id)])

    @_guard
    def run(self, run_id: str) -> RunInfo:
        """A run by id, or by unique id prefix, or ``latest``."""
        row = self._find("run", run_id, "`altax runs` lists them")
        return RunInfo(row[0], row[1], json.loads(row[2]), *row[3:])

    def _find(self, what: str, wanted: str, listing: str) -> tuple:
        """The row of table ``{what}s`` whose ``{what}_id`` is ``wanted``, its unique prefix, or ``latest``."""
        if not wanted:
            raise AltaxError(f"give a {what} id, a unique prefix of one, or 'latest'; {listing}")
        if wanted == "latest":
            row = self._db.execute(f"SELECT * FROM {what}s ORDER BY created_at DESC LIMIT 1").fetchone()
        else:  # the prefix is compared as text in Python: no character in it is a pattern
            ids = [i for (i,) in self._db.execute(f"SELECT {what}_id FROM {what}s") if i.startswith(wanted)]
            if len(ids) > 1:
                raise AltaxError(f"{what} id {wanted!r} is ambiguous: {', '.join(ids[:5])}")
            row = self._db.execute(f"SELECT * FROM {what}s WHERE {what}_id=?", ids).fetchone() if ids else None
        if row is None:
            raise AltaxError(f"no {what} {wanted!r} in {self.path}; {listing}")
        return row

    @_guard
    def runs(self) -> list[RunInfo]:
        rows = self._db.execute("SELECT * FROM runs ORDER BY created_at").fetchall()
        return [RunInfo(r[0], r[1], json.loads(r[2]), *r[3:]) for r in rows]

    @_guard
    def run_items(self, run_id: str) -> list[Item]:
        rows = self._db.execute("SELECT item FROM run_items WHERE run_id=? ORDER BY position", (run_id,))
        return [Item.model_validate_json(r[0]) for r in rows]

    @_guard
    def run_item_hashes(self, run_id: str) -> dict[str, str]:
        """Item id -> the content hash recorded when the run was created (judgments are keyed by it)."""
        rows = self._db.execute("SELECT item_id, item_hash FROM run_items WHERE run_id=?", (run_id,))
        return dict(rows.fetchall())

    @_guard
    def run_configs(self, run_id: str) -> list[dict]:
        rows = self._db.execute("SELECT config FROM run_configs WHERE run_id=? ORDER BY rowid", (run_id,))
        return [json.loads(r[0]) for r in rows]

    @_guard
    def run_fingerprints(self, run_id: str) -> dict[str, tuple[str, str]]:
        """Configuration name -> (its fingerprint, the fingerprint of the model that answered), in run order."""
        rows = self._db.execute(
            "SELECT name, fingerprint, model_fingerprint FROM run_configs WHERE run_id=? ORDER BY rowid", (run_id,)
        )
        return {name: (fingerprint, model) for name, fingerprint, model in rows}

    @_guard
    def run_requests(self, run_id: str) -> list[PlannedRequest]:
        rows = self._db.execute(
            "SELECT config, item_id, key, sample FROM run_requests WHERE run_id=? ORDER BY rowid", (run_id,)
        )
        return [PlannedRequest(*r) for r in rows]

    # generations ------------------------------------------------------------------------------
    def _by_keys(self, sql: str, keys: Iterable[str]) -> Iterator[tuple]:
        """The rows of ``sql`` (whose ``{marks}`` stands for a list of keys) over ``keys``, 500 at a time."""
        keys = list(keys)
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            yield from self._db.execute(sql.format(marks=",".join("?" * len(chunk))), chunk)

    @_guard
    def cached_keys(self, keys: Iterable[str]) -> set[str]:
        return {r[0] for r in self._by_keys("SELECT key FROM generations WHERE key IN ({marks})", keys)}

    @_guard
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

    @_guard
    def generations(self, keys: Iterable[str]) -> dict[str, GenerationRecord]:
        sql = (
            "SELECT key, model_fingerprint, prompt, template_hash, text, finish_reason, n_tokens, seconds "
            "FROM generations WHERE key IN ({marks})"
        )
        return {r[0]: GenerationRecord(*r) for r in self._by_keys(sql, keys)}

    @_guard
    def finish_reasons(self, run_id: str) -> dict[str, int]:
        """How many of a run's stored answers ended for each finish reason."""
        rows = self._db.execute(
            """SELECT g.finish_reason, count(*) FROM run_requests q JOIN generations g ON g.key=q.key
               WHERE q.run_id=? GROUP BY g.finish_reason""",
            (run_id,),
        )
        return dict(rows.fetchall())

    # scores and probes -------------------------------------------------------------------------
    @_guard
    def cached_scores(self, keys: Iterable[str]) -> set[str]:
        return {r[0] for r in self._by_keys("SELECT key FROM scores WHERE key IN ({marks})", keys)}

    @_guard
    def put_scores(self, records: Sequence[ScoreRecord]) -> None:
        """Write a finished batch of scores at once."""
        now = time.time()
        self._write(
            "INSERT OR REPLACE INTO scores VALUES (?,?,?,?,?,?,?,?)",
            [
                (
                    r.key,
                    r.model_fingerprint,
                    r.prompt,
                    r.method,
                    json.dumps(list(r.targets)),
                    json.dumps(r.logprobs),
                    r.seconds,
                    now,
                )
                for r in records
            ],  # fmt: skip
        )

    @_guard
    def scores(self, keys: Iterable[str]) -> dict[str, ScoreRecord]:
        sql = (
            "SELECT key, model_fingerprint, prompt, method, targets, logprobs, seconds "
            "FROM scores WHERE key IN ({marks})"
        )
        rows = self._by_keys(sql, keys)
        return {
            r[0]: ScoreRecord(r[0], r[1], r[2], r[3], tuple(json.loads(r[4])), json.loads(r[5]), r[6]) for r in rows
        }

    @_guard
    def create_probe(self, info: ProbeInfo, requests: Sequence[ProbeRequest]) -> None:
        """Record a probe and which score answers each of its (configuration, item)."""
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(
                "INSERT INTO probes VALUES (?,?,?)", (info.probe_id, info.created_at, json.dumps(info.experiment))
            )
            self._db.executemany(
                "INSERT INTO probe_requests VALUES (?,?,?,?,?,?)",
                [(info.probe_id, r.config, r.item_id, r.kind, r.category, r.key) for r in requests],
            )

    @_guard
    def probe(self, probe_id: str) -> ProbeInfo:
        """A probe by id, or by unique id prefix, or ``latest``."""
        row = self._find("probe", probe_id, "the files in RESULTS_DIR/probes/ are named by them")
        return ProbeInfo(row[0], row[1], json.loads(row[2]))

    @_guard
    def probe_requests(self, probe_id: str) -> list[ProbeRequest]:
        """A probe's requests in the order it planned them."""
        rows = self._db.execute(
            "SELECT config, item_id, kind, category, key FROM probe_requests WHERE probe_id=? ORDER BY rowid",
            (probe_id,),
        )
        return [ProbeRequest(*r) for r in rows]

    # harness scores ---------------------------------------------------------------------------
    @_guard
    def put_harness_scores(self, records: Sequence[HarnessScore]) -> None:
        """Store the scores another harness gave imported answers (keyed like their generations)."""
        self._write(
            "INSERT OR REPLACE INTO harness_scores VALUES (?,?,?,?)",
            [(r.key, r.harness, r.metric, r.value) for r in records],
        )

    @_guard
    def harness_scores(self, keys: Iterable[str]) -> dict[str, HarnessScore]:
        """The harness scores of those ``keys`` that are imported answers."""
        sql = "SELECT key, harness, metric, value FROM harness_scores WHERE key IN ({marks})"
        return {r[0]: HarnessScore(*r) for r in self._by_keys(sql, keys)}

    # judgments --------------------------------------------------------------------------------
    @_guard
    def judged_keys(self, judge: str) -> set[tuple[str, str]]:
        rows = self._db.execute("SELECT key, item_hash FROM judgments WHERE judge=?", (judge,))
        return {(r[0], r[1]) for r in rows}

    @_guard
    def put_judgments(self, judge: str, rows: Sequence[tuple[str, str, str, bool, str, str]]) -> None:
        """Rows of (key, item_hash, outcome, correct, refusal label, detail)."""
        self._write(
            "INSERT OR REPLACE INTO judgments VALUES (?,?,?,?,?,?,?)",
            [
                (key, ih, judge, outcome, int(correct), refusal, detail)
                for key, ih, outcome, correct, refusal, detail in rows
            ],
        )

    @_guard
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

    @_guard
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
