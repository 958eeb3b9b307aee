"""The gateway's traffic log: one JSON line per request, appended by one writer thread, fsynced in batches,
rotated by size (``traffic_reader.read_records`` reads it back)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import queue
import threading
from pathlib import Path

from alignment_tax.errors import AltaxError
from alignment_tax.records import TrafficRecord

_CLOSE = None
"""What ``close`` puts on the queue: the writer drains everything before it, then stops."""


def sha256(text: str) -> str:
    """The hash a traffic line keeps of a prompt or an answer."""
    return hashlib.sha256(text.encode()).hexdigest()


def rotated(path: Path, keep: int) -> list[Path]:
    """The files of a log, oldest first: ``path.KEEP`` ... ``path.1``, then ``path`` itself (those that exist)."""
    older = [path.with_name(f"{path.name}.{n}") for n in range(keep, 0, -1)]
    return [p for p in [*older, path] if p.is_file()]


def _drop_torn_tail(fd: int) -> None:
    """Cut a last line without its newline (a crash of the machine mid-write) so that new lines start whole."""
    size = os.fstat(fd).st_size
    if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
        return
    block, end = 1 << 16, size
    while end > 0:
        start = max(0, end - block)
        newline = os.pread(fd, end - start, start).rfind(b"\n")
        if newline >= 0:
            os.ftruncate(fd, start + newline + 1)
            return
        end = start
    os.ftruncate(fd, 0)


class TrafficLog:
    """Appends records to ``path`` from a background thread.

    Each batch (every line queued while the previous batch was being written) goes down in one ``write`` on
    a file opened for appending, then one ``fsync``: a killed process leaves only whole lines, and a busy
    gateway pays one fsync per batch, not per line. When a batch would take the file past ``max_bytes`` the
    file is renamed ``path.1`` (older ones move up; at most ``keep`` are kept) and a new one is started.
    A line longer than ``max_bytes`` gets a file of its own. ``close`` writes every line queued before it and
    returns when they are on disk."""

    def __init__(self, path: Path, *, max_bytes: int, keep: int, text: bool = False):
        if max_bytes < 1 or keep < 1:
            raise AltaxError("the traffic log needs a size limit above 0 bytes and at least one rotated file")
        self.path, self.max_bytes, self.keep, self.text = Path(path), max_bytes, keep, text
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = self._open()
        except OSError as error:
            raise AltaxError(f"cannot open the traffic log {self.path}: {error.strerror or error}") from None
        _drop_torn_tail(self._fd)
        self._queue: queue.Queue[str | None] = queue.Queue()
        self.error: OSError | None = None
        """The first write error; the writer stops at it (``close`` raises it)."""
        self._thread = threading.Thread(target=self._loop, name="altax-traffic-log", daemon=True)
        self._thread.start()

    def _open(self) -> int:
        return os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)

    def append(self, record: TrafficRecord) -> None:
        """Queue one record; prompt and answer text are dropped unless the log keeps text."""
        if not self.text:
            record = dataclasses.replace(record, prompt=None, answer=None)
        self._queue.put(json.dumps(dataclasses.asdict(record), ensure_ascii=False, allow_nan=False) + "\n")

    def close(self) -> None:
        """Write every queued line, fsync, and stop the writer."""
        self._queue.put(_CLOSE)
        self._thread.join()
        os.close(self._fd)
        if self.error is not None:
            raise AltaxError(f"the traffic log {self.path} could not be written: {self.error.strerror}")

    def _loop(self) -> None:
        closing = False
        while not closing:
            lines = [self._queue.get()]
            while True:
                try:
                    lines.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            closing = _CLOSE in lines
            batch = [line.encode() for line in lines if line is not _CLOSE]
            if batch and self.error is None:
                try:
                    self._write(batch)
                except OSError as error:
                    self.error = error

    def _write(self, lines: list[bytes]) -> None:
        """The lines in as few writes as fit the current file, rotating between them; fsync before each rotation
        and at the end."""
        size = os.fstat(self._fd).st_size
        chunk: list[bytes] = []
        for line in lines:
            if size + len(line) > self.max_bytes and (size or chunk):
                os.write(self._fd, b"".join(chunk))
                os.fsync(self._fd)
                self._rotate()
                size, chunk = 0, []
            chunk.append(line)
            size += len(line)
        os.write(self._fd, b"".join(chunk))
        os.fsync(self._fd)

    def _rotate(self) -> None:
        os.close(self._fd)
        names = [self.path, *(self.path.with_name(f"{self.path.name}.{n}") for n in range(1, self.keep + 1))]
        for older, newer in zip(names[-2::-1], names[:0:-1], strict=True):
            if older.exists():
                os.replace(older, newer)
        self._fd = self._open()
