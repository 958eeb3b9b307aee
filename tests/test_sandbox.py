"""The sandbox runs generated code out of process, isolated, within limits, without network, and cleans up; the
verdict cannot be forged by the code, nothing of ours leaks into it, and the same code gets the same verdict."""

from __future__ import annotations

import contextlib
import functools
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import alignment_tax
from alignment_tax.judge import sandbox
from alignment_tax.judge.sandbox import run_python
from alignment_tax.judge.sandbox_isolation import MAX_PROCS, Isolation, fallbacks
from alignment_tax.judge.scorers import score
from alignment_tax.suite.schema import Item


@functools.cache
def _fallback() -> Isolation | None:
    """The strongest fallback that works here, if it uses namespaces (the bare one is not safe to attack)."""
    for iso in fallbacks("forced by the test"):
        if iso.wrapper and sandbox._run(iso, "pass", "", "", 20, 512).passed:
            return iso
    return None


@pytest.fixture(params=["bubblewrap", "fallback"])
def mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test under bubblewrap and under the strongest namespaced fallback."""
    if request.param == "bubblewrap":
        if sandbox.weaker_sandbox() is not None:
            pytest.skip(f"bubblewrap does not work here: {sandbox.weaker_sandbox()}")
    else:
        iso = _fallback()
        if iso is None:
            pytest.skip("no namespaced fallback works here")
        monkeypatch.setattr(sandbox, "isolation", lambda: iso)
    return request.param


@pytest.fixture
def strong() -> None:
    """Attacks only bubblewrap stops (the fallback says in every verdict that it does not)."""
    if sandbox.weaker_sandbox() is not None:
        pytest.skip(f"bubblewrap does not work here: {sandbox.weaker_sandbox()}")


def _sandbox_processes() -> list[Path]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError):
            if b"altax-sandbox" in cmdline.read_bytes():
                found.append(cmdline)
    return found


# --- what any sandbox must do -------------------------------------------------------------------------------------


def test_passing_code():
    result = run_python("def f(x):\n    return x * 2\nassert f(2) == 4", timeout_s=5)
    assert result.passed and result.reason == "ok"


def test_failing_assert_reports_the_error():
    result = run_python("assert 1 + 1 == 3, 'bad sum'", timeout_s=5)
    assert not result.passed and "AssertionError: bad sum" in result.reason


def test_failing_test_names_its_line():
    result = run_python(
        "def f(x):\n    return x", tests="assert f(1) == 1\nassert f(2) == 3", entry_point="f", timeout_s=5
    )
    assert not result.passed and result.reason == "AssertionError (tests line 2: assert f(2) == 3)"


def test_syntax_error_fails():
    assert not run_python("def f(:\n", timeout_s=5).passed


def test_missing_entry_point_fails():
    result = run_python("def g():\n    return 1", tests="", entry_point="f", timeout_s=5)
    assert not result.passed and "entry point f is not defined" in result.reason


def test_early_exit_zero_is_not_a_pass():
    result = run_python("import sys\nsys.exit(0)\nassert False", timeout_s=5)
    assert not result.passed


def test_runs_in_another_process():
    marker = "ALTAX_SANDBOX_MARKER"
    os.environ[marker] = "1"
    try:
        code = f"import os\nassert os.getpid() != {os.getpid()}\nassert '{marker}' not in os.environ"
        assert run_python(code, timeout_s=5).passed
    finally:
        del os.environ[marker]


def test_infinite_loop_hits_the_timeout():
    start = time.monotonic()
    result = run_python("while True:\n    pass", timeout_s=1)
    assert not result.passed and "timed out" in result.reason
    assert time.monotonic() - start < 4


def test_sleeping_code_is_killed_at_the_wall_clock_timeout():
    start = time.monotonic()
    result = run_python("import time\ntime.sleep(60)", timeout_s=1)
    assert not result.passed and "timed out" in result.reason
    assert time.monotonic() - start < 4
    time.sleep(0.2)
    assert _sandbox_processes() == []


def test_memory_bomb_hits_the_limit():
    result = run_python("x = bytearray(1024 * 1024 * 1024)", timeout_s=5, memory_mb=256)
    assert not result.passed and "memory" in result.reason
    grow = run_python("xs = []\nwhile True:\n    xs.append(' ' * 10_000_000)", timeout_s=5, memory_mb=256)
    assert not grow.passed and "memory" in grow.reason


def test_network_connection_fails():
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(3)
    port = server.getsockname()[1]
    accepted: list[object] = []

    def serve() -> None:
        with contextlib.suppress(OSError):
            accepted.append(server.accept())

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        for code in (
            f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=1)",
            f"import socket\ns = socket.socket()\ns.connect(('127.0.0.1', {port}))",
            f"import _socket\ns = _socket.socket()\ns.connect(('127.0.0.1', {port}))",
            f"import urllib.request\nurllib.request.urlopen('http://127.0.0.1:{port}/', timeout=1)",
        ):
            assert not run_python(code, timeout_s=5).passed, code
    finally:
        server.close()
        thread.join()
    assert accepted == []


def test_temp_dir_is_removed_and_used_as_cwd(tmp_path: Path):
    before = set(Path(os.environ.get("TMPDIR", "/tmp")).glob("altax-sandbox-*"))
    code = "import os\nopen('scratch.txt', 'w').write('x')\nassert os.path.exists('scratch.txt')"
    assert run_python(code, timeout_s=5).passed
    assert set(Path(os.environ.get("TMPDIR", "/tmp")).glob("altax-sandbox-*")) == before
    assert not (Path.cwd() / "scratch.txt").exists()


def test_huge_file_hits_the_size_limit():
    code = "with open('big.bin', 'wb') as f:\n    f.write(b'0' * (64 * 1024 * 1024))"
    assert not run_python(code, timeout_s=5, memory_mb=512).passed


def test_fork_bomb_is_contained():
    start = time.monotonic()
    code = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"
    result = run_python(code, timeout_s=2)
    assert not result.passed
    assert time.monotonic() - start < 5
    time.sleep(0.2)
    assert _sandbox_processes() == []


def test_subprocesses_are_refused():
    assert not run_python("import subprocess\nsubprocess.run(['true'])", timeout_s=5).passed
    assert not run_python("import os\nos.system('true')", timeout_s=5).passed


def test_tests_see_in_place_changes_and_the_exceptions_of_the_code():
    code = "def push(xs, x):\n    xs.append(x)\ndef positive(x):\n    if x < 0:\n        raise ValueError('negative')\n"
    tests = "xs = [1]\npush(xs, 2)\nassert xs == [1, 2]\n"
    tests += "try:\n    positive(-1)\n    assert False\nexcept ValueError:\n    pass"
    assert run_python(code, tests=tests, entry_point="push", timeout_s=5).passed


def test_only_plain_data_crosses_into_the_code():
    result = run_python("def apply(f, x):\n    return f(x)", tests="assert apply(abs, -1) == 1", timeout_s=5)
    assert not result.passed and "plain data" in result.reason


def test_secrets_of_ours_never_reach_the_reason(monkeypatch: pytest.MonkeyPatch):
    secret = "sk-test-" + uuid.uuid4().hex
    monkeypatch.setenv("ALTAX_TEST_API_KEY", secret)
    result = run_python(f"raise ValueError('found {secret} somewhere')", timeout_s=5)
    assert not result.passed and secret not in result.reason and "[ALTAX_TEST_API_KEY redacted]" in result.reason


# --- isolation that only bubblewrap gives --------------------------------------------------------------------------


def test_bubblewrap_is_used_where_it_works():
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        pytest.skip("bubblewrap is not installed (make system-deps)")
    plain = subprocess.run([bwrap, "--unshare-all", "--ro-bind", "/", "/", "true"], capture_output=True, check=False)
    if plain.returncode != 0:
        pytest.skip(f"bubblewrap cannot create namespaces here: {plain.stderr.decode().strip()}")
    assert sandbox.weaker_sandbox() is None


def test_environment_of_other_processes_is_out_of_reach(mode: str, monkeypatch: pytest.MonkeyPatch):
    fake = "sk-fake-" + uuid.uuid4().hex
    monkeypatch.setenv("OPENAI_API_KEY", fake)
    helper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"], env={"OPENAI_API_KEY": fake})
    try:
        code = (
            "import glob\nfound = []\nfor path in glob.glob('/proc/*/environ'):\n    try:\n"
            "        found += [v for v in open(path, 'rb').read().split(b'\\0') if b'OPENAI_API_KEY' in v]\n"
            "    except OSError:\n        pass\nassert found, 'no key found'\nraise ValueError(found)"
        )
        result = run_python(code, timeout_s=5)
        assert not result.passed and "no key found" in result.reason
    finally:
        helper.kill()
        helper.wait()


def test_secret_files_are_out_of_reach(strong: None):
    result = run_python("assert 'root:' in open('/etc/shadow').read()", timeout_s=5)
    assert not result.passed and "No such file" in result.reason


def test_nothing_outside_the_sandbox_can_be_written(strong: None, tmp_path: Path):
    targets = [tmp_path / "escape.txt", Path(alignment_tax.__file__).parent / f"escape-{uuid.uuid4().hex}.txt"]
    try:
        for target in targets:
            assert not run_python(f"open({str(target)!r}, 'w').write('x')", timeout_s=5).passed
            assert not target.exists()
    finally:
        for target in targets:
            target.unlink(missing_ok=True)


def test_shell_commands_through_ctypes_do_nothing(strong: None, tmp_path: Path):
    target = tmp_path / "pwned"
    code = f"import ctypes\nassert ctypes.CDLL(None).system(b'echo pwned > {target}') == 0"
    assert not run_python(code, timeout_s=5).passed
    assert not target.exists()


def test_fork_through_ctypes_is_capped(strong: None):
    # Bounded even where nothing caps it: at most 200 children, each paused until the sandbox is killed.
    code = (
        "import ctypes\nlibc = ctypes.CDLL(None)\nforked = 0\nfor _ in range(200):\n    pid = libc.fork()\n"
        "    if pid == 0:\n        while True:\n            libc.pause()\n    if pid < 0:\n        break\n"
        "    forked += 1\nraise RuntimeError(f'forked {forked}')"
    )
    result = run_python(code, timeout_s=3)
    forked = re.search(r"forked (\d+)", result.reason)
    assert forked is not None and int(forked.group(1)) < MAX_PROCS, result.reason
    time.sleep(0.2)
    assert _sandbox_processes() == []


def test_raw_sockets_through_ctypes_reach_nothing(strong: None):
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(3)
    port = server.getsockname()[1]
    code = (
        "import ctypes, struct\nlibc = ctypes.CDLL(None)\ns = libc.socket(2, 1, 0)\n"
        f"addr = struct.pack('=H', 2) + struct.pack('!H', {port}) + bytes([127, 0, 0, 1]) + bytes(8)\n"
        "assert libc.connect(s, addr, 16) == 0, 'no connection'"
    )
    try:
        result = run_python(code, timeout_s=5)
        assert not result.passed and "no connection" in result.reason
        with pytest.raises(TimeoutError):
            server.accept()
    finally:
        server.close()


# --- the verdict belongs to the tests ------------------------------------------------------------------------------

WRONG = "def f(x):\n    return x + 1\n"
EQUAL = "assert f(1) == 1"
# Wrong code (f(x) = x + 1 unless the trick defines f itself), the trick, and a test only the trick could fool.
FORGERIES = {
    "prints its arguments (the old nonce) and exits 0": (
        "import sys, os\nprint('ok', *sys.argv, sep='\\n', flush=True)\nos._exit(0)",
        EQUAL,
    ),
    "exits 0 while loading": ("import os\nos._exit(0)", EQUAL),
    "exits 0 when called": ("import os\ndef f(x):\n    os._exit(0)", EQUAL),
    "raises SystemExit when called": ("def f(x):\n    raise SystemExit(0)", EQUAL),
    "patches builtins": ("import builtins\nbuiltins.abs = lambda x: 0", "assert abs(f(2) - 2) < 1e-9"),
    "shadows a name the tests use": ("def abs(x):\n    return 0", "assert abs(f(2) - 2) < 1e-9"),
    "patches a module the tests use": (
        "import math\nmath.isclose = lambda *a, **k: True",
        "import math\nassert math.isclose(f(3), 3)",
    ),
    "returns an object equal to anything": (
        "class Any:\n    def __eq__(self, other):\n        return True\ndef f(x):\n    return Any()",
        EQUAL,
    ),
    "writes a verdict on every pipe it can reach": (
        "import marshal, os, struct\nfake = marshal.dumps((True, 'ok'))\nfake = struct.pack('>I', len(fake)) + fake\n"
        "paths = [f'/proc/{p}/fd/{fd}' for p in os.listdir('/proc') if p.isdigit()\n"
        "         for fd in (os.listdir(f'/proc/{p}/fd') if os.access(f'/proc/{p}/fd', os.R_OK) else [])]\n"
        "for path in paths:\n    try:\n        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)\n"
        "        os.write(fd, fake)\n    except OSError:\n        pass\nfor fd in range(3, 64):\n    try:\n"
        "        os.write(fd, fake)\n    except OSError:\n        pass\nos._exit(0)",
        EQUAL,
    ),
}


@pytest.mark.parametrize("trick", FORGERIES)
def test_wrong_code_cannot_forge_a_pass(mode: str, trick: str):
    code, tests = FORGERIES[trick]
    code = code if "def f" in code else WRONG + code
    assert not run_python(code, tests=tests, entry_point="f", timeout_s=5).passed


@pytest.mark.parametrize("tests", sorted({tests for _, tests in FORGERIES.values()}))
def test_the_forgery_tests_pass_right_code(tests: str):
    assert run_python("def f(x):\n    return x", tests=tests, entry_point="f", timeout_s=5).passed


# --- the same code, the same verdict -------------------------------------------------------------------------------

ORDER_ITEM = {
    "id": "dedupe",
    "category": "code",
    "kind": "capability",
    "prompt": "Remove duplicates.",
    "reference": {"scorer": "code", "entry_point": "dedupe", "tests": "assert dedupe(['a', 'b', 'a'])[0] == 'a'"},
}
ORDER_ANSWER = "```python\ndef dedupe(items):\n    return list(set(items))\n```"


def test_set_order_of_strings_is_the_same_in_every_run(mode: str):
    item = Item.model_validate(ORDER_ITEM)
    assert len({score(item, ORDER_ANSWER).correct for _ in range(10)}) == 1


def test_separate_judging_processes_give_the_same_verdict(strong: None):
    program = (
        "from alignment_tax.judge.scorers import score\nfrom alignment_tax.suite.schema import Item\n"
        f"item = Item.model_validate({ORDER_ITEM!r})\nprint([score(item, {ORDER_ANSWER!r}).correct for _ in range(3)])"
    )
    verdicts = set()
    for seed in ("1", "2", "3"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run([sys.executable, "-c", program], env=env, capture_output=True, text=True, check=True)
        verdicts.update(out.stdout.strip().strip("[]").split(", "))
    assert len(verdicts) == 1


# --- the fallback says so -------------------------------------------------------------------------------------------


@pytest.fixture
def weak(monkeypatch: pytest.MonkeyPatch) -> Iterator[Isolation]:
    iso = _fallback()
    if iso is None:
        pytest.skip("no namespaced fallback works here")
    monkeypatch.setattr(sandbox, "isolation", lambda: iso)
    yield iso


def test_the_fallback_is_named_in_every_code_verdict(weak: Isolation):
    item = Item.model_validate(ORDER_ITEM)
    right = score(item, "```python\ndef dedupe(items):\n    return list(dict.fromkeys(items))\n```")
    assert right.correct and right.detail.startswith("all tests passed [weaker sandbox: forced by the test; unshare")
    assert "[weaker sandbox:" in score(item, "def dedupe(items):\n    return []").detail


def test_a_broken_bubblewrap_falls_back_and_says_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    fake = tmp_path / "bwrap"
    fake.write_text("#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    sandbox.isolation.cache_clear()
    try:
        weaker = sandbox.weaker_sandbox()
        assert weaker is not None and weaker.startswith("bubblewrap does not work here (")
        assert "No permissions to create new namespace" in weaker
        assert run_python("def f(x):\n    return x", tests="assert f(1) == 1", entry_point="f", timeout_s=5).passed
    finally:
        sandbox.isolation.cache_clear()
