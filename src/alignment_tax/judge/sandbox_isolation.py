"""How the code sandbox isolates generated code on this machine: bubblewrap, or a weaker, reported fallback.

Bubblewrap gives the code new user, pid, network, ipc, uts, cgroup and mount namespaces, a fresh ``/proc``, a read-only
view of the interpreter (its prefixes and the system libraries, nothing else of the host), a private size-limited
tmpfs as its working directory, no capabilities and an unprivileged uid. ``RLIMIT_NPROC`` is counted per real uid and
never binds uid 0, so when we run as root the sandbox runs as ``nobody``; a first bubblewrap (as root, mount namespace
only) re-exposes interpreter directories that ``nobody`` cannot reach (a Python under ``/root``) so that the second,
unprivileged one can bind them. Where bubblewrap is missing or unusable, ``unshare`` gives what it can, and every
verdict says so (``Isolation.weaker``).
"""

from __future__ import annotations

import os
import shutil
import stat
import sys
from dataclasses import dataclass
from pathlib import PurePosixPath

MAX_PROCS = 8
NOBODY = 65534
SANDBOX_UID = 1000
TMPFS_BYTES = 64 * 1024 * 1024
# Not -I: isolated mode ignores PYTHONHASHSEED. The environment is ours entirely, so -E is not needed; -P keeps the
# working directory off sys.path, -s the user site.
PYTHON_FLAGS = ("-s", "-P", "-B")
ENV = {"PYTHONHASHSEED": "0", "PATH": "/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8"}
_SYSTEM_LIBS = ("/usr/lib", "/usr/lib64", "/usr/lib32", "/usr/local/lib", "/lib", "/lib64", "/lib32", "/libx32")
_NAMESPACES = ("--net", "--pid", "--ipc", "--uts", "--mount", "--fork", "--kill-child", "--mount-proc")


@dataclass(frozen=True)
class Isolation:
    """A way to start the sandbox's interpreter: the argv in front of it and what the harness must add."""

    wrapper: tuple[str, ...]
    max_procs: int | None  # RLIMIT_NPROC the harness sets (None where it cannot bind)
    tmpfs_workdir: bool  # the working directory is a tmpfs inside the sandbox, else a host temp dir
    workdir_owner: int | None  # chown the host temp dir to this uid (a fallback that drops to nobody)
    weaker: str | None  # None under bubblewrap; otherwise what this fallback does not block


def _interpreter_paths() -> dict[str, str]:
    """Destination -> source of every read-only bind the interpreter needs; nested destinations are left out."""
    wanted: dict[str, str] = {}
    prefixes = (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, os.path.dirname(sys.executable))
    for path in (*prefixes, os.path.dirname(os.path.realpath(sys.executable))):
        real = os.path.realpath(path)
        wanted.setdefault(os.path.abspath(path), real)
        wanted.setdefault(real, real)
    for path in _SYSTEM_LIBS:
        if os.path.isdir(path) and not os.path.islink(path):
            wanted.setdefault(path, os.path.realpath(path))
    kept: dict[str, str] = {}
    for dest in sorted(wanted, key=len):
        if not any(PurePosixPath(dest).is_relative_to(outer) for outer in kept):
            kept[dest] = wanted[dest]
    return kept


def _reexpose_for_nobody(sources: list[str]) -> list[str]:
    """Arguments of a root bubblewrap that makes each source reachable by ``nobody`` at its own path.

    Under the first ancestor that others cannot search, a tmpfs; in it, searchable directories down to the source,
    bound read-only. Only mounts in a private namespace: nothing on the host changes."""
    args: list[str] = []
    covered: set[str] = set()
    for source in sorted(set(sources), key=len):
        parts = PurePosixPath(source).parents
        ancestors = [str(p) for p in reversed(parts) if str(p) != "/"]
        blocked = next((a for a in ancestors if not os.stat(a).st_mode & stat.S_IXOTH), None)
        if blocked is None:
            continue
        if blocked not in covered:
            args += ["--perms", "0755", "--tmpfs", blocked]
            covered.add(blocked)
        for directory in ancestors[ancestors.index(blocked) + 1 :]:
            args += ["--perms", "0755", "--dir", directory]
        args += ["--ro-bind", source, source]
    return args


def bubblewrap(bwrap: str, setpriv: str | None) -> Isolation:
    """The full sandbox; ``setpriv`` is given when we run as root (the code must not run as uid 0)."""
    binds = _interpreter_paths()
    inner = [bwrap, "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent", "--new-session"]
    inner += ["--cap-drop", "ALL", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID), "--hostname", "sandbox"]
    inner += ["--proc", "/proc", "--dev", "/dev", "--size", str(TMPFS_BYTES), "--tmpfs", "/tmp"]
    for dest, source in binds.items():
        inner += ["--ro-bind", source, dest]
    for link in _SYSTEM_LIBS:
        if os.path.islink(link):
            inner += ["--symlink", os.readlink(link), link]
    inner += ["--chdir", "/tmp", "--clearenv"]
    for name, value in ENV.items():
        inner += ["--setenv", name, value]
    outer: list[str] = []
    if setpriv is not None:
        outer = [bwrap, "--dev-bind", "/", "/", "--die-with-parent", *_reexpose_for_nobody(list(binds.values()))]
        outer += [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--no-new-privs", "--"]
    return Isolation((*outer, *inner), MAX_PROCS, True, None, None)


def fallbacks(why: str) -> list[Isolation]:
    """Weaker ways, strongest first; ``why`` says why bubblewrap is not used and starts every note."""
    unshare, setpriv = shutil.which("unshare"), shutil.which("setpriv")
    spaces = f"{why}; unshare namespaces and a fresh /proc"
    found: list[Isolation] = []
    if unshare and os.geteuid() == 0:
        if setpriv:
            drop = (setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--no-new-privs", "--")
            note = f"{spaces}, as nobody: the host's files stay visible"
            found.append(Isolation((unshare, *_NAMESPACES, *drop), 8 * MAX_PROCS, False, NOBODY, note))
        note = f"{spaces}, as root: the host's files stay readable and writable and processes are not capped"
        found.append(Isolation((unshare, *_NAMESPACES), None, False, None, note))
    elif unshare:
        note = f"{spaces}, as your user: your files stay readable and writable"
        found.append(Isolation((unshare, "--map-current-user", *_NAMESPACES), MAX_PROCS, False, None, note))
    note = f"{why}; resource limits only: C code can reach the host's files, processes and network"
    found.append(Isolation((), None, False, None, note))
    return found
