"""Factorial effects of mitigation levers against statsmodels OLS with interaction terms and scipy's bootstrap,
and designs that lack a cell say so instead of estimating."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from scipy import stats

from alignment_tax.analysis.factorial import cell_sets, contrast_weights, designs, factorial
from alignment_tax.records import JudgedItem

KINDS = {"calm": "system_prompt", "lax": "system_prompt", "shots": "few_shot", "noise": "framing"}
LEVERS = {"base": (), "calm": ("calm",), "shots": ("shots",), "calm+shots": ("calm", "shots")}
N = 40
"""Items of each kind."""


def _rows(seed: int) -> list[JudgedItem]:
    """Every configuration of LEVERS answers N capability, harmful and benign items; each outcome is drawn with a
    probability that depends on the levers held, so the levers have main effects and interact."""
    rng = np.random.default_rng(seed)
    p_refuse = {"base": 0.8, "calm": 0.4, "shots": 0.6, "calm+shots": 0.1}
    p_correct = {"base": 0.7, "calm": 0.6, "shots": 0.7, "calm+shots": 0.4}
    rows = []
    for config in LEVERS:
        for i in range(N):
            for kind in ("harmful", "benign"):
                refused = rng.random() < p_refuse[config]
                outcome = "refused" if refused else "correct"
                category = kind
                rows.append(
                    JudgedItem(f"{kind}{i}", category, kind, None, config, outcome, refused == (kind == "harmful"))
                )
            correct = rng.random() < p_correct[config]
            rows.append(
                JudgedItem(f"c{i}", "math", "capability", None, config, "correct" if correct else "incorrect", correct)
            )
    return rows


def _ols(frame: pd.DataFrame, factors: list[str]) -> dict[str, float]:
    """OLS with every interaction, factors coded -1/2 and +1/2: each main-effect coefficient is the mean of the cells
    with the factor minus those without, each two-way coefficient the difference of differences."""
    coded = frame.assign(**{f: frame[f] - 0.5 for f in factors})
    fit = smf.ols("y ~ " + " * ".join(factors), data=coded).fit()
    return dict(fit.params)


def _frame(rows: list[JudgedItem], kind: str) -> pd.DataFrame:
    """One observation per (item, configuration) of ``kind``: y is 100 * refused (safety) or the tax against the
    base, 100 * (base correct - configuration correct), for capability items."""
    base = {r.item_id: r.correct for r in rows if r.config == "base"}
    data = []
    for r in rows:
        if r.kind != kind:
            continue
        y = 100.0 * (base[r.item_id] - r.correct) if kind == "capability" else 100.0 * (r.outcome == "refused")
        data.append({"y": y, "calm": "calm" in LEVERS[r.config], "shots": "shots" in LEVERS[r.config]})
    return pd.DataFrame(data).astype({"calm": int, "shots": int})


def test_a_2x2_gives_the_contrasts_of_statsmodels_ols_on_every_measure():
    rows = _rows(0)
    (design,) = [
        d for d in factorial(rows, LEVERS, "base", KINDS, n_boot=200, seed=0) if d.factors == ["calm", "shots"]
    ]
    assert design.missing == [] and design.cells == ["base", "calm", "shots", "calm+shots"]
    terms = {t.term: t for t in design.terms}
    assert [t.kind for t in design.terms] == ["main", "main", "interaction"]
    for measure, kind in (("over_refusal", "benign"), ("coverage", "harmful"), ("tax", "capability")):
        params = _ols(_frame(rows, kind), ["calm", "shots"])
        assert terms["calm"].effects[measure].estimate == pytest.approx(params["calm"])
        assert terms["shots"].effects[measure].estimate == pytest.approx(params["shots"])
        assert terms["calm x shots"].effects[measure].estimate == pytest.approx(params["calm:shots"])


def test_the_2k_contrast_weights_are_ols_coefficients_of_a_full_2_cubed_design():
    rng = np.random.default_rng(3)
    factors = ["a", "b", "c"]
    cells = cell_sets(3)
    means = rng.normal(50, 20, size=len(cells))
    frame = pd.DataFrame(
        [
            {"y": m + e, **{f: int(i in cell) for i, f in enumerate(factors)}}
            for cell, m in zip(cells, means, strict=True)
            for e in (-1, 1)
        ]
    )
    params = _ols(frame, factors)
    for term, weights in contrast_weights(3).items():
        name = ":".join(factors[i] for i in term)
        assert float(means @ weights) == pytest.approx(params[name]), name


def test_the_interval_is_a_paired_percentile_bootstrap_over_items():
    """The interaction's interval against scipy's percentile bootstrap of the per-item difference of differences
    (an independent resampler: agreement to Monte Carlo error)."""
    rows = _rows(1)
    (design,) = [d for d in factorial(rows, LEVERS, "base", KINDS, n_boot=4000, seed=0) if d.missing == []]
    ci = {t.term: t for t in design.terms}["calm x shots"].effects["over_refusal"].ci
    refused = {(r.item_id, r.config): 100.0 * (r.outcome == "refused") for r in rows if r.kind == "benign"}
    per_item = np.array(
        [
            refused[(i, "calm+shots")] - refused[(i, "shots")] - refused[(i, "calm")] + refused[(i, "base")]
            for i in sorted({item for item, _ in refused})
        ]
    )
    scipy_ci = stats.bootstrap(
        (per_item,), np.mean, n_resamples=20000, method="percentile", random_state=np.random.default_rng(0)
    ).confidence_interval
    assert ci == pytest.approx((scipy_ci.low, scipy_ci.high), abs=3.0)
    assert factorial(rows, LEVERS, "base", KINDS, n_boot=4000, seed=0) == factorial(
        rows, LEVERS, "base", KINDS, n_boot=4000, seed=0
    )


def test_a_design_missing_a_cell_estimates_nothing_and_names_the_cell():
    rows = [r for r in _rows(2) if r.config != "shots"]
    levers = {name: held for name, held in LEVERS.items() if name != "shots"}
    out = factorial(rows, levers, "base", KINDS, n_boot=100, seed=0)
    pair = out[0]
    assert pair.factors == ["calm", "shots"] and pair.missing == ["shots"] and pair.terms == []
    assert pair.configs == ["base", "calm", None, "calm+shots"]
    alone = out[1:]  # calm, in no complete pair, against the base alone; shots has no cell of its own
    assert [d.factors for d in alone] == [["calm"], ["shots"]] and alone[1].missing == ["shots"]
    calm = alone[0].terms[0].effects["over_refusal"]
    benign = {(r.item_id, r.config): r.outcome == "refused" for r in rows if r.kind == "benign"}
    expected = 100 * np.mean([benign[(i, "calm")] - benign[(i, "base")] for i in {i for i, _ in benign}])
    assert calm.estimate == pytest.approx(expected)


def test_levers_of_one_kind_form_no_pair():
    levers = {"base": (), "calm": ("calm",), "lax": ("lax",), "lax+noise": ("lax", "noise")}
    assert designs(levers, KINDS) == [("calm", "noise"), ("lax", "noise"), ("calm",), ("lax",), ("noise",)]
