"""The store's tables of scores: log-probabilities of rendered prompts (probe and log-likelihood scores), the
probes that asked for them, and the scores other harnesses gave imported answers."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence

from alignment_tax.records import HarnessScore, ProbeInfo, ProbeRequest, ScoreRecord
from alignment_tax.store.connection import Connection, guard


class ScoreTables(Connection):
    """Reads and writes of scores, probes and harness scores."""

    # scores and probes -------------------------------------------------------------------------
    @guard
    def cached_scores(self, keys: Iterable[str]) -> set[str]:
        return {r[0] for r in self._by_keys("SELECT key FROM scores WHERE key IN ({marks})", keys)}

    @guard
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

    @guard
    def scores(self, keys: Iterable[str]) -> dict[str, ScoreRecord]:
        sql = (
            "SELECT key, model_fingerprint, prompt, method, targets, logprobs, seconds "
            "FROM scores WHERE key IN ({marks})"
        )
        rows = self._by_keys(sql, keys)
        return {
            r[0]: ScoreRecord(r[0], r[1], r[2], r[3], tuple(json.loads(r[4])), json.loads(r[5]), r[6]) for r in rows
        }

    @guard
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

    @guard
    def probe(self, probe_id: str) -> ProbeInfo:
        """A probe by id, or by unique id prefix, or ``latest``."""
        row = self._find("probe", probe_id, "the files in RESULTS_DIR/probes/ are named by them")
        return ProbeInfo(row[0], row[1], json.loads(row[2]))

    @guard
    def probe_requests(self, probe_id: str) -> list[ProbeRequest]:
        """A probe's requests in the order it planned them."""
        rows = self._db.execute(
            "SELECT config, item_id, kind, category, key FROM probe_requests WHERE probe_id=? ORDER BY rowid",
            (probe_id,),
        )
        return [ProbeRequest(*r) for r in rows]

    # harness scores ---------------------------------------------------------------------------
    @guard
    def put_harness_scores(self, records: Sequence[HarnessScore]) -> None:
        """Store the scores another harness gave imported answers (keyed like their generations)."""
        self._write(
            "INSERT OR REPLACE INTO harness_scores VALUES (?,?,?,?)",
            [(r.key, r.harness, r.metric, r.value) for r in records],
        )

    @guard
    def harness_scores(self, keys: Iterable[str]) -> dict[str, HarnessScore]:
        """The harness scores of those ``keys`` that are imported answers."""
        sql = "SELECT key, harness, metric, value FROM harness_scores WHERE key IN ({marks})"
        return {r[0]: HarnessScore(*r) for r in self._by_keys(sql, keys)}
