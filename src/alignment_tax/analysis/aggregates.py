"""Aggregates over categories: the macro tax and the workload-weighted tax, with their t intervals."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from alignment_tax.analysis.inference import CONFIDENCE, FULL_RANGE, Interval, clip_interval, clustered_se, t_half_width
from alignment_tax.errors import AltaxError
from alignment_tax.jsonl import read_text


class Workload(BaseModel):
    """Each category's share of a user's traffic (any non-negative numbers; they are normalised to sum 1)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    shares: dict[str, float] = Field(min_length=1)

    def weights(self, categories: list[str]) -> dict[str, float]:
        """Normalised weights over ``categories`` (those the workload does not name weigh 0)."""
        unknown = sorted(set(self.shares) - set(categories))
        if unknown:
            raise AltaxError(
                f"the workload names categories the results lack: {', '.join(unknown)}; "
                f"present: {', '.join(categories)}. Remove them from the workload file or run a suite that has them"
            )
        total = sum(self.shares.values())
        return {c: self.shares.get(c, 0.0) / total for c in categories}


def load_workload(path: str | Path) -> Workload:
    """Read a workload file: a TOML or JSON mapping of category -> share."""
    path = Path(path)
    text = read_text(path, "workload file")
    kind = "TOML" if path.suffix == ".toml" else "JSON"
    try:
        data = tomllib.loads(text) if kind == "TOML" else json.loads(text)
    except ValueError as error:  # TOMLDecodeError and JSONDecodeError are ValueErrors
        raise AltaxError(f"{path}: not valid {kind}: {' '.join(str(error).split())}") from None
    except RecursionError:
        raise AltaxError(f"{path}: not valid {kind}: nested too deeply") from None
    if not isinstance(data, dict):
        raise AltaxError(f'{path}: write a mapping of category -> share, e.g. {{"math": 0.3, "code": 0.7}}')
    try:
        workload = Workload(shares=data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"][1:]) or "(top level)"
        raise AltaxError(f"{path}: {where}: {first['msg']}; each category maps to a share (a number)") from None
    if any(v < 0 for v in workload.shares.values()) or sum(workload.shares.values()) <= 0:
        raise AltaxError(f"{path}: shares must be non-negative and not all zero")
    return workload


class Aggregate(BaseModel):
    """A weighted mean of per-category taxes with its standard error and 95% t interval (Satterthwaite df)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    n_categories: int
    weights: dict[str, float]
    tax: float
    tax_se: float | None
    tax_df: float | None
    tax_ci: Interval


def weighted_tax(
    diffs: Mapping[str, np.ndarray], clusters: Mapping[str, np.ndarray | None], weights: Mapping[str, float]
) -> Aggregate:
    """``sum_c w_c * tax_c`` over categories (strata); ``var = sum_c w_c**2 * se_c**2`` with each category's
    clustered SE, degrees of freedom by Welch-Satterthwaite. Categories weighing 0 are left out; with a
    category of fewer than two clusters the interval is [-100, 100]."""
    used = [c for c in diffs if weights.get(c, 0) > 0]
    if not used:
        raise ValueError("weighted_tax needs at least one category with a positive weight")
    w = np.array([weights[c] for c in used])
    means, ses, groups, sizes = [], [], [], []
    for c in used:
        mean, se, g = clustered_se(diffs[c], clusters[c])
        means.append(float(mean))
        ses.append(float(se))
        groups.append(g)
        sizes.append(len(diffs[c]))
    tax = 100 * float(w @ np.array(means))
    result = {"n_categories": len(used), "weights": {c: float(x) for c, x in zip(used, w, strict=True)}, "tax": tax}
    if min(groups) < 2:
        return Aggregate(**result, tax_se=None, tax_df=None, tax_ci=FULL_RANGE)
    parts = w**2 * (np.array(ses) ** 2 + 1 / np.array(sizes, dtype=float) ** 2)
    dfs = np.array(groups, dtype=float) - 1
    df = float(parts.sum() ** 2 / (parts**2 / dfs).sum()) if parts.sum() > 0 else float(dfs.sum())
    tax_se = float(np.sqrt((w**2 * np.array(ses) ** 2).sum()))
    n_floor = 1 / np.sqrt((w**2 / np.array(sizes, dtype=float) ** 2).sum())
    half = 100 * float(t_half_width(tax_se, df, n_floor, CONFIDENCE))
    return Aggregate(**result, tax_se=100 * tax_se, tax_df=df, tax_ci=clip_interval(tax, half))
