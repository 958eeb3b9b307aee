"""Run untrusted generated Python in an isolated, resource-limited subprocess, never in-process.

The generated code runs in a worker process inside the sandbox; the tests run in the sandbox's trusted harness
(``sandbox_harness``) and only the harness can write the verdict, on a pipe the code cannot reach. Isolation is
bubblewrap where it works, else a weaker fallback that every result names (``sandbox_isolation``, docs/security.md).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import marshal
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from typing import BinaryIO

from alignment_tax.errors import AltaxError
from alignment_tax.judge.sandbox_isolation import ENV, PYTHON_FLAGS, Isolation, bubblewrap, fallbacks

_TAIL_BYTES = 4096
_MARK = "altax-sandbox"
_BOOT = 'import marshal,sys;exec(compile(marshal.load(sys.stdin.buffer),"altax-sandbox-harness","exec"))'
_PROBE = "import os\nassert os.getuid() != 0 and not os.path.exists('/etc')"
_SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL", re.IGNORECASE)
_MIN_SECRET_CHARS = 6

CONCURRENT_RUNS = min(8, 2 * (os.cpu_count() or 1))
"""Sandboxes the judge stage runs at once, each under its own limits: two per CPU (a run spends part of its time
waiting on the kernel to build and tear down its namespaces; more would only slow each run towards its wall-clock
timeout), at most 8."""
_PROBING = threading.Lock()

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SandboxResult:
    """Whether the code loaded and every test passed, and why not if not."""

    passed: bool
    reason: str


@functools.cache
def _harness_source() -> str:
    return resources.files("alignment_tax.judge").joinpath("sandbox_harness.py").read_text(encoding="utf-8")


@contextlib.contextmanager
def _workdir(iso: Isolation) -> Iterator[str]:
    """The sandbox's working directory on the host: none under bubblewrap (a tmpfs inside), else a temp dir."""
    if iso.tmpfs_workdir:
        yield "/"
        return
    with tempfile.TemporaryDirectory(prefix=f"{_MARK}-") as work:
        if iso.workdir_owner is not None:
            os.chown(work, iso.workdir_owner, iso.workdir_owner)
        yield work


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def _read_verdict(fd: int) -> tuple[bool, str] | None:
    """What the harness wrote on the verdict pipe; None when it wrote nothing whole."""
    os.set_blocking(fd, False)
    data = b""
    with contextlib.suppress(BlockingIOError):
        while chunk := os.read(fd, 65536):
            data += chunk
    try:
        passed, reason = marshal.loads(data[4:])
    except (EOFError, ValueError, TypeError):  # nothing, or not the harness's one message
        return None
    return (passed, reason) if isinstance(passed, bool) and isinstance(reason, str) else None


def _tail(f: BinaryIO) -> str:
    f.seek(0, os.SEEK_END)
    f.seek(max(0, f.tell() - _TAIL_BYTES))
    return f.read().decode("utf-8", "replace")


def _failure(returncode: int, stderr: str) -> str:
    """Why the sandbox gave no verdict (the harness did not get to write one)."""
    if returncode == -signal.SIGXCPU:
        return "CPU time limit exceeded"
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    return f"the sandbox failed (exit {returncode}){': ' + lines[-1][:300] if lines else ''}"


def _run(iso: Isolation, code: str, tests: str, entry_point: str, timeout_s: float, memory_mb: int) -> SandboxResult:
    verdict_r, verdict_w = os.pipe()
    job = {
        "solution": code,
        "tests": tests,
        "entry_point": entry_point,
        "verdict_fd": verdict_w,
        "max_procs": iso.max_procs or 0,
        "memory_mb": memory_mb,
        "cpu_s": int(timeout_s) + 1,
    }
    argv = [*iso.wrapper, sys.executable, *PYTHON_FLAGS, "-c", _BOOT, _MARK]
    with open(verdict_r, "rb", buffering=0) as verdicts, _workdir(iso) as cwd, tempfile.TemporaryFile() as err:
        try:  # no preexec_fn (the harness sets the limits), so the child is started by vfork, not a copying fork
            proc = subprocess.Popen(
                argv,
                cwd=cwd,
                env=ENV,
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=err,
                pass_fds=(verdict_w,),
                start_new_session=True,
            )
        except OSError as exc:
            return SandboxResult(False, f"the sandbox could not start: {exc}")
        finally:
            os.close(verdict_w)
        killed = threading.Event()

        def expire() -> None:
            killed.set()
            _kill_group(proc)

        # A timer kills the group at the timeout, so the wait blocks instead of polling (Popen.wait with a timeout
        # sleeps in steps of up to 50 ms, most of a run's time).
        timer = threading.Timer(timeout_s, expire)
        timer.start()
        try:
            proc.communicate(marshal.dumps(_harness_source()) + marshal.dumps(job))
        finally:
            timer.cancel()
            _kill_group(proc)
        if killed.is_set() and proc.returncode == -signal.SIGKILL:
            return SandboxResult(False, f"timed out after {timeout_s:g}s")
        verdict = _read_verdict(verdicts.fileno())
        return SandboxResult(*verdict) if verdict else SandboxResult(False, _failure(proc.returncode, _tail(err)))


@functools.cache
def isolation() -> Isolation:
    """The strongest isolation that works here, probed once per process (a trivial run through each candidate)."""
    bwrap, setpriv = shutil.which("bwrap"), shutil.which("setpriv")
    root = os.geteuid() == 0
    if bwrap is None:
        why = "bubblewrap (bwrap) is not installed"
    elif root and setpriv is None:
        why = "setpriv is not installed (needed to run bubblewrap as nobody)"
    else:
        candidate = bubblewrap(bwrap, setpriv if root else None)
        probe = _run(candidate, _PROBE, "", "", 20, 512)
        if probe.passed:
            return candidate
        why = redact(f"bubblewrap does not work here ({probe.reason})")
    for iso in fallbacks(why):
        if _run(iso, "pass", "", "", 20, 512).passed:
            log.warning("code sandbox is the weaker fallback: %s", iso.weaker)
            return iso
    raise AltaxError(
        "the code sandbox cannot start Python on this machine; install bubblewrap (apt-get install bubblewrap)"
    )


def _isolation() -> Isolation:
    """``isolation()``, probed by the first of concurrent runs while the others wait for its answer."""
    with _PROBING:
        return isolation()


def weaker_sandbox() -> str | None:
    """None when generated code runs under bubblewrap; otherwise what the fallback in use does not block."""
    return _isolation().weaker


def redact(text: str) -> str:
    """``text`` without the values of this process's secret-looking environment variables (*KEY*, *TOKEN*, ...)."""
    for name, value in os.environ.items():
        if _SECRET_NAME.search(name) and len(value) >= _MIN_SECRET_CHARS:
            text = text.replace(value, f"[{name} redacted]")
    return text


def run_python(
    code: str, *, tests: str = "", entry_point: str = "", timeout_s: float, memory_mb: int = 512
) -> SandboxResult:
    """Load ``code`` in the sandbox, check it defines ``entry_point``, then run ``tests`` (trusted code) against it.

    The tests call the code's functions through the sandbox with plain data (numbers, strings, bytes, containers);
    passed means the code loaded and the tests ran to their end. The reason never carries a secret of ours.
    Safe to call from several threads at once: each call is its own sandbox, under its own limits."""
    result = _run(_isolation(), code, tests, entry_point, timeout_s, memory_mb)
    return SandboxResult(result.passed, redact(result.reason))
