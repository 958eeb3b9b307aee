"""Bad state and hostile input around the store, output files, run ids, dead runs and over-long prompts: one
line and exit 2 (never a traceback), nothing changed that should not be, no secret shown."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import shlex
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from alignment_tax.errors import AltaxError
from alignment_tax.judge.detectors import DETECTORS
from alignment_tax.models.specs import BACKENDS
from alignment_tax.records import GenerationRecord, RunInfo
from alignment_tax.store import APPLICATION_ID, SCHEMA, Store
from alignment_tax.suite.schema import Item
from altax_here import altax_here as altax

ALTAX = [sys.executable, "-m", "alignment_tax"]
RUN_ID = "20250101-000000-abcdef"
ITEM = {"id": "a", "category": "math", "prompt": "1+1?", "reference": {"scorer": "numeric", "value": 2}}


def one_line_error(done: subprocess.CompletedProcess, *said: str) -> None:
    """Exit 2 with one error line that says each of ``said``, and no traceback."""
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    for text in said:
        assert text in done.stderr, done.stderr


def make_store(folder: Path, generations: int = 0) -> Path:
    """A store holding one run (of one item) and ``generations`` stored answers."""
    with Store(folder / "store.sqlite") as store:
        info = RunInfo(RUN_ID, time.time(), {"configs": [{"name": "base"}]}, "mine", "1", "h", "base", "complete")
        store.create_run(info, [Item.model_validate(ITEM)], [("base", "fp", "{}", "model")])
        answer = GenerationRecord("k", "m", "p" * 300, "t", "x" * 300, "stop", 3, 0.1)
        store.put_generations([dataclasses.replace(answer, key=f"k{i}") for i in range(generations)])
    return folder / "store.sqlite"


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# the store -------------------------------------------------------------------------------------------------
def test_a_store_with_damaged_pages_is_one_clear_line(tmp_path):
    path = make_store(tmp_path, generations=200)
    data = path.read_bytes()
    path.write_bytes(data[:4096] + b"\xa5" * (len(data) - 4096))  # every page after the schema's
    for command in (["runs"], ["show", "latest"]):
        one_line_error(altax(*command, "--results-dir", str(tmp_path)), str(path), "is damaged", ".recover")


def test_a_file_that_is_not_sqlite_is_one_clear_line(tmp_path):
    (tmp_path / "store.sqlite").write_text("these are my notes\n" * 300)
    one_line_error(altax("runs", "--results-dir", str(tmp_path)), "not a SQLite file")


@pytest.mark.parametrize(
    "setup",
    [
        "CREATE TABLE notes (title TEXT, body TEXT); INSERT INTO notes VALUES ('a', 'b');",
        "CREATE TABLE runs (id INTEGER, owner TEXT); INSERT INTO runs VALUES (1, 'me');",  # our name, not our columns
        "PRAGMA application_id=1234; CREATE TABLE t (x);",
        "PRAGMA user_version=7;",  # another program's empty but versioned database
    ],
)
def test_another_programs_database_is_refused_and_left_byte_for_byte(tmp_path, setup):
    path = tmp_path / "store.sqlite"
    db = sqlite3.connect(path)
    db.executescript(setup)
    db.close()
    before = digest(path)
    one_line_error(altax("runs", "--results-dir", str(tmp_path)), "another program", "left unchanged")
    with pytest.raises(AltaxError, match="another program"):
        Store(path)
    assert digest(path) == before and sorted(p.name for p in tmp_path.iterdir()) == ["store.sqlite"]


def test_a_store_from_before_the_marker_is_adopted_and_a_newer_one_refused(tmp_path):
    path = tmp_path / "store.sqlite"
    db = sqlite3.connect(path)
    db.executescript(SCHEMA.replace("CREATE TABLE IF NOT EXISTS run_routes", "CREATE TABLE IF NOT EXISTS old_routes"))
    db.execute("DROP TABLE old_routes")  # written before run_routes existed
    db.close()
    with Store(path) as store:
        assert store.runs() == []
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert db.execute("SELECT count(*) FROM sqlite_master WHERE name='run_routes'").fetchone()[0] == 1
    db.execute("PRAGMA user_version=99")
    db.close()
    with pytest.raises(AltaxError, match="newer altax"):
        Store(path)


# run ids ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("prefix", ["%", "_", "2025%", "%abcdef", "____"])
def test_run_id_prefixes_are_literal(tmp_path, prefix):
    make_store(tmp_path)
    with Store(tmp_path / "store.sqlite") as store:
        assert store.run("20250101").run_id == RUN_ID
        with pytest.raises(AltaxError, match="no run"):
            store.run(prefix)
    one_line_error(altax("show", prefix, "--results-dir", str(tmp_path)), f"no run {prefix!r}")


def test_an_empty_run_id_is_an_error(tmp_path):
    make_store(tmp_path)
    one_line_error(altax("show", "", "--results-dir", str(tmp_path)), "give a run id")


# output files ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def scripted(tmp_path_factory):
    """One scripted run for the module's output-file tests (they only read it), its backend registered only
    while it runs."""
    from scripted_run import scripted_run

    with pytest.MonkeyPatch.context() as patch:
        for registry in (BACKENDS, DETECTORS):
            patch.setattr(registry, "_registered", dict(registry._registered))
        settings, output = scripted_run(tmp_path_factory.mktemp("scripted"))
    return settings.results_dir, output.run.run_id


def _node(kind: str, path: Path) -> None:
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "symlink":
        path.with_name("target.txt").write_text("keep me")
        path.symlink_to(path.with_name("target.txt"))
    elif kind == "folder":
        path.mkdir()
    else:
        try:
            os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # a private /dev/null
        except PermissionError:
            pytest.skip("cannot make a device node here")


@pytest.mark.parametrize("command", ["export", "report"])
@pytest.mark.parametrize("kind", ["fifo", "symlink", "device", "folder"])
def test_out_never_replaces_anything_but_a_regular_file(scripted, tmp_path, command, kind):
    results, run_id = scripted
    out = tmp_path / "out"
    _node(kind, out)
    before = out.lstat()
    said = {"fifo": "a device, pipe or socket", "device": "a device, pipe or socket"}.get(kind, f"a {kind}")
    said = said.replace("a symlink", "a symbolic link")
    one_line_error(altax(command, run_id, "--out", str(out), "--results-dir", str(results)), "refusing", said)
    after = out.lstat()
    assert (after.st_ino, after.st_mode) == (before.st_ino, before.st_mode)
    if kind == "symlink":
        assert out.with_name("target.txt").read_text() == "keep me"


@pytest.mark.parametrize(("out", "said"), [("", "that is a folder"), (".", "that is a folder"), ("..", "folder")])
def test_out_naming_a_folder_is_one_clear_line(scripted, out, said):
    results, run_id = scripted
    one_line_error(altax("export", run_id, "--out", out, "--results-dir", str(results)), said)


def test_out_under_a_file_is_one_clear_line(scripted, tmp_path):
    results, run_id = scripted
    (tmp_path / "plain").write_text("x")
    for command in ("export", "report"):
        done = altax(command, run_id, "--out", str(tmp_path / "plain" / "deeper" / "f"), "--results-dir", str(results))
        one_line_error(done, f"{tmp_path / 'plain'} is a file, not a folder")


def test_out_replaces_a_regular_file_atomically(scripted, tmp_path):
    results, run_id = scripted
    out = tmp_path / "items.csv"
    out.write_text("old")
    for command in ("export", "report"):
        done = altax(command, run_id, "--out", str(out), "--results-dir", str(results))
        assert done.returncode == 0, done.stderr
        assert stat.S_ISREG(out.lstat().st_mode) and out.read_text() != "old"
        assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_every_other_out_writer_refuses_a_device_pipe_or_link_too(scripted, tmp_path):
    from alignment_tax.interventions.risk import load_risk_classifier, save_risk_classifier
    from alignment_tax.judge.audit import write_audit_csv

    results, run_id = scripted
    sheet = tmp_path / "answers.csv"
    sheet.write_text("completion\nI can't help with that.\n")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    commands = [
        ("judge", "refusals", str(sheet), "--column", "completion", "--detector", "lexical", "--out", str(fifo)),
        ("judge", "audit", run_id, "--sample", "2", "--out", str(fifo), "--results-dir", str(results)),
    ]
    for command in commands:
        one_line_error(altax(*command), "refusing", "a device, pipe or socket")
    for write in (lambda: write_audit_csv([], fifo), lambda: save_risk_classifier(load_risk_classifier(), fifo)):
        with pytest.raises(AltaxError, match="refusing"):
            write()
    assert stat.S_ISFIFO(fifo.lstat().st_mode)


def test_names_that_look_like_terminal_markup_are_printed_as_they_are(scripted):
    from rich.console import Console

    from alignment_tax.report.terminal import print_results

    results, run_id = scripted
    text = (results / run_id / "results.json").read_text()
    text = text.replace('"base"', '"[/base]"').replace('"safe"', '"[bold]safe"').replace('"math"', '"[/]math"')
    console = Console(file=io.StringIO(), width=300)
    print_results(console, json.loads(text))
    shown = console.file.getvalue()
    assert "[/base]" in shown and "[bold]safe" in shown and "[/]math" in shown


# interrupted runs ------------------------------------------------------------------------------------------
def _runs(results: Path) -> str:
    done = altax("runs", "--results-dir", str(results))
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.slow  # real altax processes: one killed with SIGKILL, one resuming its run
def test_a_killed_run_shows_as_interrupted_with_the_command_that_resumes_it(tmp_path):
    from test_openai import MODEL, FaultServer

    server = FaultServer(script=[("slow", 60)])
    try:
        suite = tmp_path / "suite.jsonl"
        suite.write_text(json.dumps(ITEM) + "\n" + json.dumps({**ITEM, "id": "b"}) + "\n")
        experiment = tmp_path / "exp.toml"
        experiment.write_text(
            f'suite = "{suite}"\nreference = "served"\n'
            f'[[configs]]\nname = "served"\nmodel = "openai:{MODEL}@{server.url}?timeout=120"\n'
        )
        results = tmp_path / "results"
        args = ["run", "-c", str(experiment), "--results-dir", str(results)]
        process = subprocess.Popen([*ALTAX, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 120
        while not [r for r in server.requests if "body" in r] and time.time() < deadline:
            time.sleep(0.2)
        assert "running" in _runs(results)  # generating: its process holds the run
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        listing = _runs(results)
        assert "interrupted" in listing and "running" not in listing
        command = next(line for line in listing.splitlines() if "resume with:" in line).split("resume with: ")[1]
        command = command.split("  (in ")[0]
        assert shlex.split(command)[0] == "altax" and shlex.split(command)[1:] == args
        resumed = subprocess.run(
            [*ALTAX, *shlex.split(command)[1:]], capture_output=True, text=True, timeout=300, env=os.environ
        )
        assert resumed.returncode == 0, resumed.stderr
        listing = _runs(results)
        assert "complete" in listing and "of the same experiment completed it" in listing
    finally:
        server.close()


# prompts longer than the model's context -------------------------------------------------------------------
def test_a_prompt_over_the_context_is_not_run_and_is_judged_degenerate_with_a_warning(tmp_path, monkeypatch):
    from rich.console import Console

    import scripted_run
    from alignment_tax.configs.schema import Decoding
    from alignment_tax.judge.stage import judge_name
    from alignment_tax.report.terminal import print_results

    backends, load = [], scripted_run.load_scripted

    def small(parsed):
        backend = load(parsed)
        backend.context_length = Decoding().max_tokens_for("math") + 40  # words are its tokens
        backends.append(backend)
        return backend

    monkeypatch.setattr(scripted_run, "load_scripted", small)
    short = {**ITEM, "prompt": "What is 2+2?", "reference": {"scorer": "numeric", "value": 4}}
    long = {**short, "id": "long", "prompt": "word " * 100 + "What is 2+2?"}
    settings, output = scripted_run.scripted_run(tmp_path, items=[short, long])
    asked = {key for backend in backends for batch in backend.batches for key in batch}
    with Store(settings.store_path) as store:
        requests = store.run_requests(output.run.run_id)
        long_keys = {r.key for r in requests if r.item_id == "long"}
        stored = store.generations(long_keys)
        judged = {(r.item_id, r.outcome) for r in store.judged_items(output.run.run_id, judge_name(settings.detector))}
    details = {d for (d,) in sqlite3.connect(settings.store_path).execute("SELECT detail FROM judgments")}
    assert long_keys and asked and not long_keys & asked  # never sent to the model
    assert {(g.finish_reason, g.text) for g in stored.values()} == {("context_length", "")}
    assert judged == {("a", "correct"), ("long", "degenerate")}
    assert any(d.startswith("not generated: the prompt and max_new_tokens exceed") for d in details)
    payload = json.loads(output.results_path.read_text())
    assert payload["run"]["over_context"] == len(long_keys)
    console = Console(record=True, width=200)
    print_results(console, payload)
    assert f"warning: {len(long_keys)} answers were not generated" in console.export_text()


def test_the_transformers_backend_knows_its_context_and_never_runs_a_longer_prompt(tmp_path):
    from alignment_tax.configs.schema import Configuration, Decoding
    from alignment_tax.models.specs import load_backend
    from alignment_tax.run.executor import execute
    from alignment_tax.run.planner import plan

    backend = load_backend("builtin:smollm2-135m-instruct")
    assert backend.context_length == 8192
    item = Item.model_validate({**ITEM, "prompt": "token " * 20_000})
    planned = plan([Configuration(name="base", model=backend.spec)], [item], {backend.spec: backend}, Decoding())
    started = time.perf_counter()
    with Store(tmp_path / "store.sqlite") as store:
        assert execute(backend, planned, store) == 0
        (stored,) = store.generations([planned[0].request.key]).values()
    assert stored.finish_reason == "context_length" and backend._model is None  # the weights never loaded
    assert time.perf_counter() - started < 30


def _open_store(path: Path, answers) -> None:
    try:
        with Store(path) as store:
            answers.put(len(store.runs()))
    except AltaxError as error:
        answers.put(str(error))


def test_processes_creating_one_store_at_once_all_open_it(tmp_path):
    import multiprocessing

    context = multiprocessing.get_context("fork")
    for round in range(8):
        path, answers = tmp_path / str(round) / "store.sqlite", context.Queue()
        workers = [context.Process(target=_open_store, args=(path, answers)) for _ in range(6)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=120)
        assert [answers.get(timeout=10) for _ in workers] == [0] * 6
