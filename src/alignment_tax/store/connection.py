"""The store's SQLite file: its schema, opening and checking it, one transaction per write, and the guard
that turns a SQLite failure into a user error; the tables' reads and writes build on it."""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Concatenate, ParamSpec, Self, TypeVar

from alignment_tax.errors import AltaxError

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
_C = TypeVar("_C", bound="Connection")


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


def guard(method: Callable[Concatenate[_C, _P], _R]) -> Callable[Concatenate[_C, _P], _R]:
    """Turn a SQLite failure inside ``method`` (a damaged file, a lock held too long) into a user error."""

    @functools.wraps(method)
    def guarded(self: _C, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.ProgrammingError:  # a bug, such as using a closed store
            raise
        except sqlite3.Error as error:
            raise store_error(self.path, error) from None

    return guarded


class Connection:
    """A handle on one SQLite file in WAL mode; every write is one transaction. A SQLite file that is not an
    altax store is refused before anything is written."""

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

    @guard
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

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _write(self, sql: str, rows: Iterable[tuple]) -> None:
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany(sql, rows)

    def _by_keys(self, sql: str, keys: Iterable[str]) -> Iterator[tuple]:
        """The rows of ``sql`` (whose ``{marks}`` stands for a list of keys) over ``keys``, 500 at a time."""
        keys = list(keys)
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            yield from self._db.execute(sql.format(marks=",".join("?" * len(chunk))), chunk)

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
