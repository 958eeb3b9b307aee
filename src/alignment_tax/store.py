"""The SQLite store every stage reads and writes: it persists the records of records.py (runs, planned
requests, routes, generations, judgments) and holds no record types of its own."""

from __future__ import annotations

import functools
import hashlib
import json
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Concatenate, ParamSpec, TypeVar

from alignment_tax.errors import AltaxError
from alignment_tax.records import GenerationRecord, JudgedItem, PlannedRequest, Route, RunInfo
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
APPLICATION_ID = 0x414C5458
"""``PRAGMA application_id`` of an altax store ("ALTX"). Stores written before it was set carry 0 and are
recognised by their tables instead."""
SCHEMA_VERSION = 1
"""``PRAGMA user_version`` of the schema above: a store written by a newer schema is refused."""

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
    def set_status(self, run_id: str, status: str) -> None:
        self._write("UPDATE runs SET status=? WHERE run_id=?", [(status, run_id)])

    @_guard
    def run(self, run_id: str) -> RunInfo:
        """A run by id, or by unique id prefix, or ``latest``."""
        if not run_id:
            raise AltaxError("give a run id, a unique prefix of one, or 'latest'; `altax runs` lists them")
        if run_id == "latest":
            row = self._db.execute("SELECT * FROM runs ORDER BY created_at DESC LIMIT 1").fetchone()
        else:  # the prefix is compared as text in Python: no character in it is a pattern
            ids = [i for (i,) in self._db.execute("SELECT run_id FROM runs") if i.startswith(run_id)]
            if len(ids) > 1:
                raise AltaxError(f"run id {run_id!r} is ambiguous: {', '.join(ids[:5])}")
            row = self._db.execute("SELECT * FROM runs WHERE run_id=?", ids).fetchone() if ids else None
        if row is None:
            raise AltaxError(f"no run {run_id!r} in {self.path}; `altax runs` lists them")
        return RunInfo(row[0], row[1], json.loads(row[2]), *row[3:])

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
    def run_requests(self, run_id: str) -> list[PlannedRequest]:
        rows = self._db.execute(
            "SELECT config, item_id, key, sample FROM run_requests WHERE run_id=? ORDER BY rowid", (run_id,)
        )
        return [PlannedRequest(*r) for r in rows]

    # generations ------------------------------------------------------------------------------
    @_guard
    def cached_keys(self, keys: Iterable[str]) -> set[str]:
        found: set[str] = set()
        keys = list(keys)
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            found.update(r[0] for r in self._db.execute(f"SELECT key FROM generations WHERE key IN ({marks})", chunk))
        return found

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

    @_guard
    def finish_reasons(self, run_id: str) -> dict[str, int]:
        """How many of a run's stored answers ended for each finish reason."""
        rows = self._db.execute(
            """SELECT g.finish_reason, count(*) FROM run_requests q JOIN generations g ON g.key=q.key
               WHERE q.run_id=? GROUP BY g.finish_reason""",
            (run_id,),
        )
        return dict(rows.fetchall())

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
