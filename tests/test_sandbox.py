"""The sandbox runs generated code out of process, within limits, without network, and cleans up."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from pathlib import Path

from alignment_tax.judge import sandbox
from alignment_tax.judge.sandbox import run_python


def test_passing_code():
    result = run_python("def f(x):\n    return x * 2\nassert f(2) == 4", timeout_s=5)
    assert result.passed and result.reason == "ok"


def test_failing_assert_reports_the_error():
    result = run_python("assert 1 + 1 == 3, 'bad sum'", timeout_s=5)
    assert not result.passed and "AssertionError: bad sum" in result.reason


def test_syntax_error_fails():
    assert not run_python("def f(:\n", timeout_s=5).passed


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


def test_writing_outside_the_temp_dir_fails_when_privileges_are_dropped(tmp_path: Path):
    target = tmp_path / "escape.txt"
    result = run_python(f"open({str(target)!r}, 'w').write('x')", timeout_s=5)
    if os.geteuid() != 0 or sandbox._isolation().drop_to_nobody:
        assert not result.passed and not target.exists()


def test_fork_bomb_is_contained():
    start = time.monotonic()
    code = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"
    result = run_python(code, timeout_s=2)
    assert not result.passed
    assert time.monotonic() - start < 5
    time.sleep(0.2)
    leftover = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if b"altax-sandbox-" in cmdline.read_bytes():
                leftover.append(cmdline)
        except OSError:
            pass
    assert leftover == []


def test_subprocesses_are_refused():
    assert not run_python("import subprocess\nsubprocess.run(['true'])", timeout_s=5).passed
    assert not run_python("import os\nos.system('true')", timeout_s=5).passed
