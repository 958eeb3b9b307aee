"""The trusted side of the code sandbox: runs inside it and keeps the tests and the verdict away from the code.

The parent sends this file's source and then the job on stdin (see ``sandbox.run_python``). The harness makes itself
non-dumpable (so processes of the same uid can neither trace it nor open its ``/proc`` files) and forks a worker that
closes the verdict pipe, blocks processes and sockets at the Python level and runs the generated code. The tests run
here, against proxies of the worker's functions: arguments and results cross a pipe as plain data (``marshal``), so
the generated code never runs in this process and cannot reach the tests, the builtins they use or the verdict, which
is written only after the last test. Standard library only: it runs under the sandbox's interpreter.
"""

from __future__ import annotations

import builtins
import contextlib
import ctypes
import marshal
import os
import random
import resource
import signal
import struct
import sys
import traceback
from collections.abc import Callable
from typing import Any

_HEADER = struct.Struct(">I")
_PR_SET_DUMPABLE = 4
_PROCESS_CALLS = ("fork", "forkpty", "system", "popen", "posix_spawn", "posix_spawnp", "kill", "killpg", "setsid")
_NETWORK_CALLS = ("create_connection", "create_server", "socketpair", "fromfd", "getaddrinfo", "gethostbyname")
_REASON_CHARS = 2000
_MAX_FILE_BYTES = 8 * 1024 * 1024
_MAX_OPEN_FILES = 64


class SolutionGone(Exception):
    """The worker stopped answering: it exited, was killed or broke the protocol."""


def _send(fd: int, message: Any) -> None:
    data = marshal.dumps(message)
    data = _HEADER.pack(len(data)) + data
    while data:
        data = data[os.write(fd, data) :]


def _read_exactly(fd: int, n: int) -> bytes:
    chunks, left = [], n
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _receive(fd: int) -> Any:
    (n,) = _HEADER.unpack(_read_exactly(fd, _HEADER.size))
    return marshal.loads(_read_exactly(fd, n))


def _refuse(*args: object, **kwargs: object) -> None:
    raise PermissionError("starting processes and opening sockets are disabled in the sandbox")


def _lock_down() -> None:
    """A second layer under the namespaces: every Python-level way to start a process or open a socket raises."""
    import _posixsubprocess
    import _socket
    import posix
    import socket

    class NoSocket(socket.socket):
        def __init__(self, *args: object, **kwargs: object) -> None:
            _refuse()

    class NoRawSocket(_socket.socket):
        def __init__(self, *args: object, **kwargs: object) -> None:
            _refuse()

    # replacing the classes is the point (typeshed declares these names as classes, not variables)
    socket.socket = socket.SocketType = NoSocket  # type: ignore[misc]
    _socket.socket = _socket.SocketType = NoRawSocket  # type: ignore[misc]
    for module in (socket, _socket):
        for name in _NETWORK_CALLS:
            if hasattr(module, name):
                setattr(module, name, _refuse)
    for module in (os, posix):
        for name in dir(module):
            if name in _PROCESS_CALLS or name.startswith(("exec", "spawn")):
                setattr(module, name, _refuse)
    _posixsubprocess.fork_exec = _refuse  # type: ignore[assignment]  # any signature: it only raises


def _error(exc: BaseException) -> tuple[str, str]:
    try:
        message = str(exc)[:_REASON_CHARS]
    except Exception:  # noqa: BLE001 - an exception whose __str__ fails still has a type
        message = ""
    return type(exc).__name__, message


def _worker(solution: str, requests: int, replies: int) -> None:
    """Run the generated code, report its functions, then call them on request until the harness hangs up."""
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    random.seed(0)
    _lock_down()
    namespace: dict[str, Any] = {"__name__": "solution"}
    try:
        exec(compile(solution, "solution.py", "exec"), namespace)
    except BaseException as exc:  # noqa: BLE001 - whatever the code raises is its failure
        _send(replies, ("error", *_error(exc)))
        return
    functions = sorted(k for k, v in namespace.items() if callable(v) and not k.startswith("__"))
    _send(replies, ("loaded", functions))
    while True:
        try:
            _, name, args, kwargs = _receive(requests)
        except EOFError:
            return
        try:
            result = namespace[name](*args, **kwargs)
            try:
                _send(replies, ("ok", result, args, kwargs))
            except ValueError:
                kind = type(result).__name__
                _send(replies, ("raise", "TypeError", f"{name} returned an object of type {kind}, not plain data"))
        except BaseException as exc:  # noqa: BLE001 - raised again in the tests
            _send(replies, ("raise", *_error(exc)))


def _write_back(sent: object, received: object) -> None:
    """Mutable arguments the solution changed in place change in the tests too."""
    if isinstance(sent, list) and isinstance(received, list):
        sent[:] = received
    elif isinstance(sent, dict | set) and type(received) is type(sent):
        sent.clear()
        sent.update(received)


def _well_formed(reply: tuple) -> bool:
    kind = reply[0]
    if kind == "loaded":
        return len(reply) == 2 and isinstance(reply[1], list) and all(isinstance(n, str) for n in reply[1])
    if kind == "ok":
        return len(reply) == 4 and isinstance(reply[2], tuple) and isinstance(reply[3], dict)
    return len(reply) == 3 and isinstance(reply[1], str) and isinstance(reply[2], str)


class Worker:
    """The harness's handle on the worker process."""

    def __init__(self, solution: str, verdict_fd: int) -> None:
        requests_r, self.requests = os.pipe()
        self.replies, replies_w = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            try:
                for fd in (verdict_fd, self.requests, self.replies):
                    os.close(fd)
                _worker(solution, requests_r, replies_w)
            finally:
                os._exit(0)
        os.close(requests_r)
        os.close(replies_w)

    def receive(self, *expected: str) -> tuple:
        """The worker's next reply, one of the ``expected`` kinds and of that kind's shape."""
        try:
            reply = _receive(self.replies)
        except EOFError:
            raise SolutionGone(self.death()) from None
        except (ValueError, TypeError):
            reply = None
        if not (isinstance(reply, tuple) and reply and reply[0] in expected and _well_formed(reply)):
            raise SolutionGone("the solution's process broke the sandbox protocol")
        return reply

    def death(self) -> str:
        """Why the worker stopped answering."""
        _, status = os.waitpid(self.pid, 0)
        if os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            if sig == signal.SIGXCPU:
                return "CPU time limit exceeded"
            if sig == signal.SIGXFSZ:
                return "file size limit exceeded"
            return f"the solution's process was killed by signal {signal.Signals(sig).name}"
        return f"the solution's process exited with status {os.WEXITSTATUS(status)} before the tests finished"

    def proxy(self, name: str) -> Callable[..., object]:
        """A function standing for the solution's function ``name``."""

        def call(*args: object, **kwargs: object) -> object:
            try:
                _send(self.requests, ("call", name, args, kwargs))
            except ValueError:
                raise TypeError("the sandbox passes only plain data (numbers, strings, containers)") from None
            except OSError:
                raise SolutionGone(self.death()) from None
            reply = self.receive("ok", "raise")
            if reply[0] == "ok":
                for sent, received in zip((*args, *kwargs.values()), (*reply[2], *reply[3].values()), strict=False):
                    _write_back(sent, received)
                return reply[1]
            kind = getattr(builtins, reply[1], None)
            if isinstance(kind, type) and issubclass(kind, Exception):
                raise kind(reply[2])
            raise RuntimeError(f"{reply[1]}: {reply[2]}")

        call.__name__ = call.__qualname__ = name
        return call


def _test_failure(exc: BaseException, tests: str, memory_mb: int) -> str:
    if isinstance(exc, SolutionGone):
        return str(exc)
    if isinstance(exc, MemoryError):
        return f"memory limit ({memory_mb} MB) exceeded"
    name, message = _error(exc)
    lines = tests.splitlines()
    where = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == "tests.py" and f.lineno]
    reason = f"{name}: {message}" if message else name
    line = where[-1].lineno if where else None
    if line and line <= len(lines):
        reason += f" (tests line {line}: {lines[line - 1].strip()[:200]})"
    return reason


def judge(job: dict) -> tuple[bool, str]:
    """Load the solution in a worker, check its entry point, run the tests here; (passed, why)."""
    worker = Worker(job["solution"], job["verdict_fd"])
    try:
        return _judge(job, worker)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(worker.pid, signal.SIGKILL)


def _judge(job: dict, worker: Worker) -> tuple[bool, str]:
    try:
        reply = worker.receive("loaded", "error")
    except SolutionGone as gone:
        return False, str(gone)
    if reply[0] == "error":
        if reply[1] == "MemoryError":
            return False, f"memory limit ({job['memory_mb']} MB) exceeded"
        if reply[1] == "SystemExit":
            return False, "the program exited before its end (sys.exit)"
        return False, f"{reply[1]}: {reply[2]}" if reply[2] else reply[1]
    functions: list[str] = reply[1]
    if job["entry_point"] and job["entry_point"] not in functions:
        return False, f"entry point {job['entry_point']} is not defined"
    # The tests see the code's functions, but never in place of a builtin (unless that is the entry point).
    exposed = [name for name in functions if name == job["entry_point"] or not hasattr(builtins, name)]
    namespace: dict[str, object] = {"__name__": "tests", **{name: worker.proxy(name) for name in exposed}}
    try:
        exec(compile(job["tests"], "tests.py", "exec"), namespace)
    except BaseException as exc:  # noqa: BLE001 - any exception is a failed test
        return False, _test_failure(exc, job["tests"], job["memory_mb"])
    return True, "ok"


def _limit(job: dict) -> None:
    """The per-process limits the worker inherits, set before it starts (here, not in the parent: a parent that
    sets limits between fork and exec cannot use vfork, and forking a process holding a model costs 0.1 s)."""
    resource.setrlimit(resource.RLIMIT_AS, (job["memory_mb"] * 1024 * 1024,) * 2)
    resource.setrlimit(resource.RLIMIT_CPU, (job["cpu_s"], job["cpu_s"] + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (_MAX_FILE_BYTES,) * 2)
    resource.setrlimit(resource.RLIMIT_NOFILE, (_MAX_OPEN_FILES,) * 2)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def main() -> None:
    job = marshal.load(sys.stdin.buffer)
    _limit(job)
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    if ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_DUMPABLE) failed")
    if job["max_procs"]:
        resource.setrlimit(resource.RLIMIT_NPROC, (job["max_procs"], job["max_procs"]))
    random.seed(0)
    passed, reason = judge(job)
    _send(job["verdict_fd"], (passed, reason[:_REASON_CHARS]))


if __name__ == "__main__":
    main()
