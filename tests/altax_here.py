"""`altax ARGS` run by the app in this process, for tests of what a command does rather than of its process.

A test that starts ``python -m alignment_tax`` pays for Python's start and for importing the stages (torch among
them) on every call; the app run here goes through the same parsing and the same error handler (a project error:
one line on stderr, exit 2). Tests of the process itself (exit status of the real command line, what it prints
besides, a killed run) start it for real (test_cli.py, test_hostile_state.py, test_openai.py).
"""

from __future__ import annotations

import subprocess

from typer.testing import CliRunner

from alignment_tax.cli import app


def altax_here(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """The command's exit status, stdout and stderr, as ``subprocess.run`` gives them. ``env`` is set for the call
    only; so is ALTAX_KERNEL, which `altax run` and `altax compare` set from --kernel."""
    result = CliRunner().invoke(app, list(args), env={"ALTAX_KERNEL": None, **(env or {})})
    return subprocess.CompletedProcess(["altax", *args], result.exit_code, result.stdout, result.stderr)
