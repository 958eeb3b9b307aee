"""Writing a file the user named: only a new path or a regular file, replaced atomically."""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from alignment_tax.errors import AltaxError


def check_target(path: Path) -> None:
    """Refuse a path that names a folder, lies under a file, or exists as anything but a regular file."""
    if path.name in ("", ".", ".."):
        raise AltaxError(f"cannot write to {str(path)!r}: that is a folder; give a file name")
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return
    except NotADirectoryError:
        blocking = next(p for p in reversed(path.parents) if p.exists() and not p.is_dir())
        raise AltaxError(f"cannot write {path}: {blocking} is a file, not a folder") from None
    except OSError as error:
        raise AltaxError(f"cannot write {path}: {error.strerror}") from None
    if stat.S_ISREG(mode):
        return
    kinds = {stat.S_IFDIR: "a folder", stat.S_IFLNK: "a symbolic link"}
    kind = kinds.get(stat.S_IFMT(mode), "a device, pipe or socket")
    raise AltaxError(f"refusing to write {path}: it is {kind}, and altax only replaces regular files; name a file")


def write_file(path: Path, write: Callable[[BinaryIO], object]) -> Path:
    """Write ``path`` with ``write`` (given a binary handle) and return it.

    The bytes go to a new temporary file beside ``path`` that is renamed over it when complete, so a partial
    file never takes the name. Only a new path or an existing regular file is written: a folder, a symlink,
    a device such as /dev/null, a FIFO or a socket is refused (renaming over it would replace the node
    itself, which is never what was meant)."""
    path = Path(path)
    check_target(path)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), "wb") as handle:
            write(handle)
        os.replace(tmp, path)
    except BaseException as error:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(error, OSError):
            raise AltaxError(f"cannot write {path}: {error.strerror or error}") from None
        raise
    return path


def write_text(path: Path, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` the way ``write_file`` writes."""
    return write_file(path, lambda handle: handle.write(text.encode("utf-8")))
