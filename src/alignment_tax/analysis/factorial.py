"""Factorial effects of mitigation levers: main effects and two-way interactions on over-refusal, coverage and
capability tax, from the full factorial designs the confirmed configurations form, with paired bootstrap intervals.

A design's factors are levers; its cells are the configurations holding exactly a subset of them (the base holds
none). In a full 2^k design a lever's main effect is the mean of the cells with it minus the mean of those
without, and the interaction of two levers is the difference of differences, ``(AB - B) - (A - base)``, averaged
over the other factors: how much more (or less) one lever moves a measure when the other is there. A design
missing a cell estimates nothing; it says which cells it lacks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import combinations
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from alignment_tax.analysis.frontier import bootstrap_percent, objective_matrices
from alignment_tax.analysis.inference import Interval, percentile_ci
from alignment_tax.records import JudgedItem

MEASURES = ("over_refusal", "coverage", "tax")
"""Over-refusal and coverage (percent) and capability tax against the base (points)."""
BASE = "base"
"""How a design names its cell without levers."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Contrast(_Model):
    """One effect on one measure, in points, with its 95% percentile bootstrap interval."""

    estimate: float
    ci: Interval


class Term(_Model):
    """A lever's main effect or two levers' interaction, on each measure the run has items for."""

    term: str
    kind: Literal["main", "interaction"]
    effects: dict[str, Contrast]


class Design(_Model):
    """A factorial design over ``factors``: its cells (lever sets, ``base`` for none) in standard order, the
    configuration measuring each (None when no confirmed configuration holds exactly those levers), the cells
    missing, and its terms (none when a cell is missing)."""

    factors: list[str]
    cells: list[str]
    configs: list[str | None]
    missing: list[str]
    terms: list[Term]


def cell_sets(k: int) -> list[tuple[int, ...]]:
    """The 2^k cells in standard (Yates) order as tuples of factor indices: (), (0,), (1,), (0, 1), (2,), ..."""
    return [tuple(i for i in range(k) if (j >> i) & 1) for j in range(2**k)]


def contrast_weights(k: int) -> dict[tuple[int, ...], np.ndarray]:
    """Weights over the 2^k cells (``cell_sets`` order) of each main effect (factor index,) and two-way interaction
    (i, j): ``sign_i / 2^(k-1)`` and ``sign_i * sign_j / 2^(k-2)``, with sign +1 where the cell holds the factor."""
    signs = np.array([[1.0 if i in cell else -1.0 for i in range(k)] for cell in cell_sets(k)])
    weights: dict[tuple[int, ...], np.ndarray] = {(i,): signs[:, i] / 2 ** (k - 1) for i in range(k)}
    for i, j in combinations(range(k), 2):
        weights[(i, j)] = signs[:, i] * signs[:, j] / 2 ** (k - 2)
    return weights


def designs(levers: Mapping[str, Sequence[str]], kinds: Mapping[str, str]) -> list[tuple[str, ...]]:
    """The designs to analyse: every pair of levers of different kinds (those a candidate can combine) that the
    configurations use, in order of first use; then, alone, each used lever that is in no complete pair design."""
    used = list(dict.fromkeys(lever for held in levers.values() for lever in held))
    held = {frozenset(h) for h in levers.values()}
    pairs = [(a, b) for a, b in combinations(used, 2) if kinds[a] != kinds[b]]
    complete = {lever for pair in pairs if _missing(pair, held) == [] for lever in pair}
    return [*pairs, *((lever,) for lever in used if lever not in complete)]


def cells_needed(levers: Mapping[str, Sequence[str]], kinds: Mapping[str, str]) -> list[frozenset[str]]:
    """The lever sets of every cell of every design of ``designs``, in design order, each once."""
    needed = (frozenset(f[i] for i in cell) for f in designs(levers, kinds) for cell in cell_sets(len(f)))
    return list(dict.fromkeys(needed))


def _name(factors: Sequence[str], cell: tuple[int, ...]) -> str:
    return "+".join(factors[i] for i in cell) or BASE


def _missing(factors: Sequence[str], held: set[frozenset[str]]) -> list[str]:
    cells = cell_sets(len(factors))
    return [_name(factors, c) for c in cells if frozenset(factors[i] for i in c) not in held]


def factorial(
    rows: Sequence[JudgedItem],
    levers: Mapping[str, Sequence[str]],
    base: str,
    kinds: Mapping[str, str],
    *,
    n_boot: int,
    seed: int,
) -> list[Design]:
    """Every design of ``designs`` among the configurations ``levers`` maps to the levers they hold (``base`` holds
    none), estimated from the judged ``rows`` of a run whose reference is ``base``: per measure, each item weighs
    once (its samples averaged), and one seeded paired bootstrap over items (whole groups where items have one, as
    the frontier draws them) serves every contrast."""
    names, matrices = objective_matrices([r for r in rows if r.config in levers], base)
    column = {name: j for j, name in enumerate(names)}
    by_set = {frozenset(held): name for name, held in levers.items()}
    rng = np.random.default_rng(seed)
    percents = {}
    for objective, (matrix, clusters) in matrices.items():
        sign = -1.0 if objective == "tax" else 1.0  # the tax is the base's accuracy minus the configuration's
        percents[objective] = (
            sign * 100 * matrix.mean(axis=1),
            sign * bootstrap_percent(matrix, n_boot, rng, clusters),
        )
    out = []
    for factors in designs(levers, kinds):
        cells = cell_sets(len(factors))
        configs = [by_set.get(frozenset(factors[i] for i in c)) for c in cells]
        missing = [_name(factors, c) for c, config in zip(cells, configs, strict=True) if config is None]
        terms = [] if missing else _terms(factors, [column[c] for c in configs if c is not None], percents)
        cell_names = [_name(factors, c) for c in cells]
        out.append(Design(factors=list(factors), cells=cell_names, configs=configs, missing=missing, terms=terms))
    return out


def _terms(
    factors: Sequence[str], columns: list[int], percents: Mapping[str, tuple[np.ndarray, np.ndarray]]
) -> list[Term]:
    """The main effects and interactions of a complete design whose cells are the configurations at ``columns``."""
    terms = []
    for term, weights in contrast_weights(len(factors)).items():
        effects = {}
        for measure in (m for m in MEASURES if m in percents):
            point, draws = percents[measure]
            effects[measure] = Contrast(
                estimate=float(point[columns] @ weights), ci=percentile_ci(draws[:, columns] @ weights)
            )
        kind: Literal["main", "interaction"] = "main" if len(term) == 1 else "interaction"
        terms.append(Term(term=" x ".join(factors[i] for i in term), kind=kind, effects=effects))
    return terms
