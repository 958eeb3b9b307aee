"""The SQLite store every stage reads and writes: it persists the records of records.py (runs, planned
requests, routes, generations, judgments, scores, probes, harness scores) and holds no record types of its own.
``Store`` joins the tables' reads and writes (runs.py, scores.py) on one connection (connection.py)."""

from alignment_tax.store.connection import APPLICATION_ID, SCHEMA, SCHEMA_VERSION, store_error
from alignment_tax.store.runs import RunTables, item_hash
from alignment_tax.store.scores import ScoreTables


class Store(RunTables, ScoreTables):
    """A handle on one altax store; ``with Store(path) as store`` closes it on the way out."""


__all__ = ["APPLICATION_ID", "SCHEMA", "SCHEMA_VERSION", "Store", "item_hash", "store_error"]
