"""Run untrusted generated Python in a resource-limited, network-less subprocess, never in-process."""

from __future__ import annotations

import contextlib
import functools
import os
import resource
import secrets
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

_MAX_PROCS = 32
_MAX_FILE_BYTES = 8 * 1024 * 1024
_MAX_OPEN_FILES = 64
_NOBODY = 65534
_TAIL_BYTES = 4096

# Runs in the child before the user's code: per-sandbox process cap (counted inside a user namespace
# where there is one), then every way of opening a socket or starting a process raises (a second
# layer where the process cap cannot hold, e.g. for root). The user's program is run last.
_PRELUDE = """\
import os, posix, resource, runpy, socket, sys, _posixsubprocess, _socket
try:
    resource.setrlimit(resource.RLIMIT_NPROC, ({procs}, {procs}))
except (ValueError, OSError):
    pass

def _no_network(*args, **kwargs):
    raise PermissionError("network access is disabled in the sandbox")

class _NoSocket(socket.socket):
    def __init__(self, *args, **kwargs):
        _no_network()

class _NoRawSocket(_socket.socket):
    def __init__(self, *args, **kwargs):
        _no_network()

socket.socket = socket.SocketType = _NoSocket
_socket.socket = _socket.SocketType = _NoRawSocket
for _name in ("create_connection", "create_server", "socketpair", "fromfd", "getaddrinfo",
              "gethostbyname", "gethostbyname_ex", "gethostbyaddr"):
    setattr(socket, _name, _no_network)
for _name in ("socketpair", "fromfd", "getaddrinfo", "gethostbyname", "gethostbyname_ex",
              "gethostbyaddr"):
    if hasattr(_socket, _name):
        setattr(_socket, _name, _no_network)
def _no_processes(*args, **kwargs):
    raise PermissionError("starting processes is disabled in the sandbox")

for _module in (os, posix):
    for _name in dir(_module):
        if _name in ("fork", "forkpty", "system", "popen", "posix_spawn", "posix_spawnp", "kill",
                     "killpg", "setsid") or _name.startswith(("exec", "spawn")):
            setattr(_module, _name, _no_processes)
_posixsubprocess.fork_exec = _no_processes
del _name, _module
runpy.run_path(sys.argv[1], run_name="__main__")
sys.stdout.flush()
sys.stdout.write("\\n" + sys.argv[2] + "\\n")
sys.stdout.flush()
"""

_WRAPPERS: tuple[tuple[str, ...], ...] = (
    ("unshare", "--net", "--pid", "--fork", "--kill-child"),
    ("unshare", "--map-root-user", "--net", "--pid", "--fork", "--kill-child"),
    ("unshare", "--net"),
    ("unshare", "--map-root-user", "--net"),
    (),
)


@dataclass(frozen=True)
class SandboxResult:
    """Whether the program ran to its end with exit status 0, and why not if it did not."""

    passed: bool
    reason: str


@dataclass(frozen=True)
class _Isolation:
    wrapper: tuple[str, ...]
    drop_to_nobody: bool


def _limits(memory_mb: int, cpu_s: int, drop_to_nobody: bool) -> None:
    """preexec_fn: resource limits, and (when started as root) a switch to the unprivileged user."""
    resource.setrlimit(resource.RLIMIT_AS, (memory_mb * 1024 * 1024,) * 2)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (_MAX_FILE_BYTES,) * 2)
    resource.setrlimit(resource.RLIMIT_NOFILE, (_MAX_OPEN_FILES,) * 2)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if drop_to_nobody:
        resource.setrlimit(resource.RLIMIT_NPROC, (8 * _MAX_PROCS,) * 2)
        os.setgroups([])
        os.setgid(_NOBODY)
        os.setuid(_NOBODY)


def _spawn(
    argv: list[str],
    iso: _Isolation,
    *,
    cwd: str,
    memory_mb: int,
    cpu_s: int,
    stdout: int | BinaryIO,
    stderr: int | BinaryIO,
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [*iso.wrapper, *argv],
        cwd=cwd,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=stderr,
        start_new_session=True,
        close_fds=True,
        preexec_fn=functools.partial(_limits, memory_mb, cpu_s, iso.drop_to_nobody),
    )


@functools.cache
def _isolation() -> _Isolation:
    """The strongest isolation this machine grants, probed once per process."""
    drops = (True, False) if os.geteuid() == 0 else (False,)
    for wrapper in _WRAPPERS:
        for drop in drops:
            iso = _Isolation(wrapper, drop)
            with tempfile.TemporaryDirectory(prefix="altax-probe-") as tmp:
                if drop:
                    os.chown(tmp, _NOBODY, _NOBODY)
                argv = [sys.executable, "-I", "-c", "pass"]
                try:
                    proc = _spawn(
                        argv,
                        iso,
                        cwd=tmp,
                        memory_mb=512,
                        cpu_s=5,
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                    if proc.wait(timeout=10) == 0:
                        return iso
                except (OSError, subprocess.SubprocessError):
                    continue
    return _Isolation((), False)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def _tail(path: Path) -> str:
    with path.open("rb") as f:
        f.seek(max(0, path.stat().st_size - _TAIL_BYTES))
        return f.read().decode("utf-8", "replace")


def _failure(returncode: int, stderr: str, memory_mb: int) -> str:
    if "MemoryError" in stderr or (returncode == -signal.SIGSEGV and not stderr.strip()):
        return f"memory limit ({memory_mb} MB) exceeded"
    if returncode == -signal.SIGXCPU:
        return "CPU time limit exceeded"
    if returncode == -signal.SIGXFSZ:
        return f"file size limit ({_MAX_FILE_BYTES // (1024 * 1024)} MB) exceeded"
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    if lines:
        return f"exit {returncode}: {lines[-1].strip()[:300]}"
    if returncode == 0:
        return "the program exited before its end (sys.exit)"
    return f"exit {returncode}"


def run_python(code: str, *, timeout_s: float, memory_mb: int = 512) -> SandboxResult:
    """Run ``code`` with ``python -I`` in a throwaway directory; passed means it ran to the end."""
    iso = _isolation()
    nonce = secrets.token_hex(16)
    with tempfile.TemporaryDirectory(prefix="altax-sandbox-") as root:
        base = Path(root)
        work = base / "work"
        work.mkdir()
        (work / "main.py").write_text(code, encoding="utf-8")
        harness = base / "harness.py"
        harness.write_text(_PRELUDE.format(procs=_MAX_PROCS), encoding="utf-8")
        if iso.drop_to_nobody:
            os.chmod(base, 0o755)
            os.chown(work, _NOBODY, _NOBODY)
            os.chown(work / "main.py", _NOBODY, _NOBODY)
        out_path, err_path = base / "stdout", base / "stderr"
        argv = [sys.executable, "-I", str(harness), str(work / "main.py"), nonce]
        with out_path.open("wb") as out, err_path.open("wb") as err:
            proc = _spawn(
                argv,
                iso,
                cwd=str(work),
                memory_mb=memory_mb,
                cpu_s=int(timeout_s) + 1,
                stdout=out,
                stderr=err,
            )
            try:
                returncode = proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                _kill_group(proc)
                proc.wait()
                return SandboxResult(False, f"timed out after {timeout_s:g}s")
            finally:
                _kill_group(proc)
        if returncode == 0 and _tail(out_path).rstrip().endswith(nonce):
            return SandboxResult(True, "ok")
        return SandboxResult(False, _failure(returncode, _tail(err_path), memory_mb))
