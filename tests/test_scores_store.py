"""Scores in the store: an older store gains their tables, and scoring is cached and resumed batch by batch."""

from __future__ import annotations

import sqlite3

import pytest

from alignment_tax.run.scoring import execute_scoring, scoring_batches, scoring_request
from alignment_tax.store import APPLICATION_ID, SCHEMA, SCHEMA_VERSION, Store
from scripted import ScriptedBackend


class CountingBackend(ScriptedBackend):
    """Scores each prompt by its length; records each call's prompts; fails on call ``fail_at`` when set."""

    def __init__(self, fail_at: int | None = None):
        super().__init__(lambda prompt: "")
        self.calls: list[list[str]] = []
        self.fail_at = fail_at

    def next_token_logprobs(self, prompts, candidates):
        self.calls.append(list(prompts))
        if len(self.calls) == self.fail_at:
            raise KeyboardInterrupt
        return [{c: -float(len(p)) for c in candidates} for p in prompts]


def requests(n: int):
    return [scoring_request("scripted-v1", "p" * (n - i), "next_token", ["Sorry", " Sorry"]) for i in range(n)]


def test_a_store_of_schema_1_gains_the_score_tables(tmp_path):
    path = tmp_path / "store.sqlite"
    db = sqlite3.connect(path)
    db.executescript(SCHEMA[: SCHEMA.index("CREATE TABLE IF NOT EXISTS scores")])
    db.execute(f"PRAGMA application_id={APPLICATION_ID}")
    db.execute("PRAGMA user_version=1")
    db.execute("INSERT INTO runs VALUES ('r1', 1.0, '{}', 'core', '1', 'h', 'reference', 'complete')")
    db.commit()
    db.close()
    with Store(path) as store:
        assert [r.run_id for r in store.runs()] == ["r1"]
        assert store.cached_scores(["k"]) == set()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2
    assert {"scores", "probes", "probe_requests"} <= {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
    db.close()


def test_scoring_is_cached_and_a_killed_scoring_resumes_with_the_same_batches(tmp_path):
    planned = requests(70)
    assert [len(b) for b in scoring_batches(planned)] == [64, 6]
    assert [len(r.prompt) for r in scoring_batches(planned)[0][:3]] == [1, 2, 3]  # shortest first
    whole = CountingBackend()
    with Store(tmp_path / "a.sqlite") as store:
        assert execute_scoring(whole, planned, store) == 70
        assert execute_scoring(whole, planned, store) == 0 and len(whole.calls) == 2
        scored = store.scores(r.key for r in planned)
    assert scored[planned[0].key].logprobs == {"Sorry": -70.0, " Sorry": -70.0}
    killed, resumed = CountingBackend(fail_at=2), CountingBackend()
    with Store(tmp_path / "b.sqlite") as store:
        with pytest.raises(KeyboardInterrupt):
            execute_scoring(killed, planned, store)
        assert len(store.cached_scores(r.key for r in planned)) == 64  # the first batch was stored as it returned
        assert execute_scoring(resumed, planned, store) == 6
        assert killed.calls == whole.calls and resumed.calls == whole.calls[1:]  # the killed call is redone whole
        again = store.scores(r.key for r in planned)
    assert {k: v.logprobs for k, v in again.items()} == {k: v.logprobs for k, v in scored.items()}


def test_a_backend_without_log_probabilities_is_a_clear_error(tmp_path):
    from alignment_tax.errors import AltaxError

    with Store(tmp_path / "store.sqlite") as store, pytest.raises(AltaxError, match="gives no next-token"):
        execute_scoring(ScriptedBackend(lambda p: ""), requests(2), store)
