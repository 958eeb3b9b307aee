"""Every data file the package reads at run time is shipped in its wheel, not only present in a checkout."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "alignment_tax"


def test_every_data_file_of_the_package_matches_a_package_data_pattern():
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    shipped = {path for pattern in patterns["alignment_tax"] for path in PACKAGE.glob(pattern) if path.is_file()}
    data = {
        path
        for path in PACKAGE.rglob("*")
        if path.is_file() and path.suffix not in (".py", ".pyc") and "__pycache__" not in path.parts
    }
    assert sorted(str(p.relative_to(PACKAGE)) for p in data - shipped) == []
