"""Planning, batching, caching and resume of the run stage (scripted backend, real SQLite store)."""

import pytest

from alignment_tax.configs.schema import Configuration, Decoding
from alignment_tax.run.executor import execute, make_batches
from alignment_tax.run.planner import plan
from alignment_tax.store import Store
from alignment_tax.suite.schema import Item
from scripted import ScriptedBackend


def _items(n=10):
    return [
        Item(
            id=f"m{i}",
            category="math",
            prompt="What is " + "very " * i + f"{i}+1?",
            reference={"scorer": "numeric", "value": i + 1},
        )
        for i in range(n)
    ]


CONFIGS = [
    Configuration(name="ref", model="scripted"),
    Configuration(name="safe", model="scripted", system_prompt="Be safe."),
]


def _plan(backend, items=None):
    return plan(CONFIGS, items or _items(), {"scripted": backend}, Decoding())


def test_plan_keys_depend_on_prompt_and_decoding():
    backend = ScriptedBackend(lambda p: "1")
    planned = _plan(backend)
    assert len(planned) == 20 and len({p.request.key for p in planned}) == 20
    assert planned[0].request.max_new_tokens == 48
    again = plan(CONFIGS, _items(), {"scripted": backend}, Decoding(max_new_tokens={"math": 8}))
    assert {p.request.key for p in again}.isdisjoint(p.request.key for p in planned)


def test_calls_hold_several_configurations_each_longest_first_and_ignore_the_cache(tmp_path):
    backend = ScriptedBackend(lambda p: "1")
    planned = _plan(backend)
    batches = make_batches(backend, planned, 8)
    assert [len(b) for b in batches] == [8, 8, 4]
    assert [p.planned.config for p in batches[1]] == ["ref"] * 2 + ["safe"] * 6  # one call, both configurations
    in_order = [p for b in batches for p in b]
    for config in ("ref", "safe"):
        lengths = [backend.prompt_length(p.request.prompt) for p in in_order if p.planned.config == config]
        assert len(lengths) == 10 and lengths == sorted(lengths, reverse=True)
    capped = plan(CONFIGS[:1], _items(3), {"scripted": backend}, Decoding(max_new_tokens={"*": 80}))
    together = make_batches(backend, planned + capped, 64)
    assert len(together) == 1  # another length cap shares the call, its longest cap first
    assert [p.request.max_new_tokens for p in together[0]] == [80] * 3 + [48] * 20
    stopped = plan(CONFIGS[:1], _items(3), {"scripted": backend}, Decoding(stop={"*": ["END"]}))
    assert len(make_batches(backend, planned + stopped, 64)) == 2  # other stop strings, another call
    store = Store(tmp_path / "s.sqlite")
    assert execute(backend, planned, store, batch_size=2) == 20  # calls of 8 requests, 2 in flight at a time
    assert execute(backend, planned, store, batch_size=2) == 0  # everything cached
    assert len(backend.batches) == 3


def test_resume_regenerates_only_unfinished_batches_in_the_same_composition(tmp_path):
    store = Store(tmp_path / "s.sqlite")
    full = ScriptedBackend(lambda p: "answer")
    planned = _plan(full)
    execute(full, planned, Store(tmp_path / "other.sqlite"), batch_size=1)

    class Killed(Exception):
        pass

    def dying(prompt, calls=[]):  # noqa: B006 - counts calls across the run
        calls.append(prompt)
        if len(calls) > 8:
            raise Killed
        return "answer"

    with pytest.raises(Killed):
        execute(ScriptedBackend(dying), planned, store, batch_size=1)
    assert len(store.cached_keys(p.request.key for p in planned)) == 8  # two whole calls of 4, nothing partial
    resumed = ScriptedBackend(lambda p: "answer")
    assert execute(resumed, planned, store, batch_size=1) == 12
    assert resumed.batches == full.batches[2:]


def test_fresh_regenerates_everything(tmp_path):
    store = Store(tmp_path / "s.sqlite")
    backend = ScriptedBackend(lambda p: "old")
    planned = _plan(backend)
    execute(backend, planned, store)
    new = ScriptedBackend(lambda p: "new")
    assert execute(new, planned, store, fresh=True) == 20
    texts = {g.text for g in store.generations(p.request.key for p in planned).values()}
    assert texts == {"new"}


def test_store_closes_when_its_block_ends(tmp_path):
    import sqlite3

    from alignment_tax.store import Store

    with Store(tmp_path / "store.sqlite") as store:
        assert store.runs() == []
    with pytest.raises(sqlite3.ProgrammingError):
        store.runs()
