"""Run a model object in a child process, so a native crash inside it fails one call with a clear error
instead of killing altax (and the test session, or a run's other configurations) with it."""

from __future__ import annotations

import importlib
import multiprocessing
import signal
import weakref
from multiprocessing.connection import Connection
from typing import Any

from alignment_tax.errors import AltaxError

_START_TIMEOUT_S = 600.0


def _serve(channel: Connection, factory: str, args: tuple[Any, ...]) -> None:
    """The child's loop: build the object, then answer ``(method, args)`` calls until the parent goes away.
    Ctrl-C is the parent's to handle (it stops the child)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    module_name, _, name = factory.partition(":")
    try:
        target = getattr(importlib.import_module(module_name), name)(*args)
    except BaseException as error:  # noqa: BLE001 - every failure goes back to the parent, which raises it
        _reply(channel, "error", error)
        return
    _reply(channel, "ok", None)
    while True:
        try:
            method, call_args = channel.recv()
        except (EOFError, OSError):
            return
        try:
            _reply(channel, "ok", getattr(target, method)(*call_args))
        except Exception as error:  # noqa: BLE001
            _reply(channel, "error", error)


def _reply(channel: Connection, status: str, value: Any) -> None:
    try:
        channel.send((status, value))
    except Exception as error:  # noqa: BLE001 - an exception that cannot be pickled goes back as text
        channel.send(("error", RuntimeError(f"{type(value).__name__}: {value} ({error})")))


def _stop(process: multiprocessing.process.BaseProcess, channel: Connection) -> None:
    channel.close()
    process.join(timeout=5)
    if process.is_alive():
        process.kill()
        process.join()


class ChildProcess:
    """An object built by ``factory`` (``"module:callable"``) from ``args`` in a spawned child process;
    ``call`` runs one of its methods there. ``name`` is what error messages call it (a model spec).

    When the child dies (a segmentation fault in native code, the OOM killer), the call in flight and every
    later one raise ``AltaxError`` naming ``name``, the signal and ``hint``."""

    def __init__(self, name: str, factory: str, args: tuple[Any, ...], hint: str):
        self.name, self.hint = name, hint
        context = multiprocessing.get_context("spawn")
        self._channel, child_end = context.Pipe()
        self._process = context.Process(target=_serve, args=(child_end, factory, args), daemon=True)
        self._process.start()
        child_end.close()
        self._died: str | None = None
        self._finalizer = weakref.finalize(self, _stop, self._process, self._channel)
        if not self._channel.poll(_START_TIMEOUT_S):
            self.close()
            raise AltaxError(f"{name}: the model process did not start within {_START_TIMEOUT_S:.0f} s")
        self._receive("loading")

    @property
    def pid(self) -> int | None:
        return self._process.pid

    def call(self, method: str, *args: Any) -> Any:
        if self._died is not None:
            raise AltaxError(self._died)
        try:
            self._channel.send((method, args))
        except (BrokenPipeError, OSError):
            return self._raise_died(method)
        return self._receive(method)

    def _receive(self, method: str) -> Any:
        try:
            status, value = self._channel.recv()
        except (EOFError, OSError):
            return self._raise_died(method)
        if status == "error":
            raise value
        return value

    def _raise_died(self, method: str) -> Any:
        self._process.join(timeout=10)
        code = self._process.exitcode
        if code is not None and code < 0:
            cause = f"killed by {signal.Signals(-code).name}"
        else:
            cause = f"exit status {code}" if code is not None else "no exit status"
        self._died = f"{self.name}: the model process died ({cause}) during {method}. {self.hint}"
        self.close()
        raise AltaxError(self._died)

    def close(self) -> None:
        """Stop the child (also done when this object is garbage-collected)."""
        self._finalizer()
