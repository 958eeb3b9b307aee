"""Picking an executor: a local run never imports Ray or the Ray executor's module."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def test_a_local_run_imports_neither_ray_nor_the_ray_executor(tmp_path):
    code = f"""
import sys
from pathlib import Path
sys.path.insert(0, {str(TESTS)!r})
from scripted_run import scripted_run
settings, output = scripted_run(Path({str(tmp_path)!r}))
assert output.results_path.is_file() and settings.executor == "local"
print("ray" in sys.modules, "alignment_tax.run.ray_executor" in sys.modules)
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False"]
