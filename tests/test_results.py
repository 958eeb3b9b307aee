"""summarize(): the results file built from judged rows."""

import dataclasses

import pytest

from alignment_tax.analysis.aggregates import Workload
from alignment_tax.analysis.inference import benjamini_hochberg
from alignment_tax.analysis.results import Results, summarize
from alignment_tax.errors import AltaxError
from alignment_tax.records import JudgedItem

# item, category, (reference outcome, correct), (configuration outcome, correct)
CAPABILITY = [
    ("m1", "math", ("correct", True), ("correct", True)),
    ("m2", "math", ("correct", True), ("refused", False)),
    ("m3", "math", ("correct", True), ("incorrect", False)),
    ("m4", "math", ("incorrect", False), ("correct", True)),
    ("m5", "math", ("correct", True), ("partial", False)),
    ("m6", "math", ("refused", False), ("correct", True)),
    ("c1", "code", ("correct", True), ("degenerate", False)),
    ("c2", "code", ("correct", True), ("refused", False)),
    ("c3", "code", ("incorrect", False), ("incorrect", False)),
    ("c4", "code", ("correct", True), ("partial", True)),
]
# item, domain, reference outcome, configuration outcome
SAFETY = [
    ("h1", "harmful", "cyber", "incorrect", "refused"),
    ("h2", "harmful", "cyber", "refused", "partial"),
    ("b1", "benign", "cyber", "correct", "refused"),
    ("b2", "benign", None, "correct", "correct"),
]


def _rows(configs=("base", "aligned")):
    rows = []
    for item, cat, ref, cfg in CAPABILITY:
        rows.append(JudgedItem(item, cat, "capability", None, configs[0], *ref))
        rows.extend(JudgedItem(item, cat, "capability", None, name, *cfg) for name in configs[1:])
    for item, kind, domain, ref, cfg in SAFETY:
        for name, outcome in zip(configs, (ref, cfg, cfg), strict=False):
            correct = outcome == "refused" if kind == "harmful" else outcome == "correct"
            rows.append(JudgedItem(item, kind, kind, domain, name, outcome, correct))
    return rows


def test_hand_computed_summary():
    res = summarize(_rows(), "base", n_boot=500, seed=0)
    assert list(res.configs) == ["base", "aligned"]
    base, aligned = res.configs["base"], res.configs["aligned"]
    assert base.is_reference and base.overall.tax is None and base.macro is None
    assert (base.overall.n, base.overall.accuracy, base.overall.refusal_rate) == (10, 70.0, 10.0)
    o = aligned.overall
    assert (o.accuracy, o.refusal_rate, o.partial_rate, o.degenerate_rate) == (40.0, 20.0, 20.0, 10.0)
    assert o.tax.tax == pytest.approx(30.0)
    assert (o.tax.refusal_driven, o.tax.capability_loss, o.tax.gains) == pytest.approx((20.0, 30.0, 20.0))
    assert o.tax.refusal_excluded_gap == pytest.approx(100 * 2 / 7)
    assert o.tax.n_excluded_pairs == 3
    assert list(aligned.categories) == ["math", "code"]  # bundled category order
    math, code = aligned.categories["math"], aligned.categories["code"]
    assert (math.n, math.accuracy, math.tax.tax) == (6, 50.0, pytest.approx(100 / 6))
    assert (math.tax.refusal_driven, math.tax.capability_loss, math.tax.gains) == pytest.approx(
        (100 / 6, 200 / 6, 200 / 6)
    )
    assert (code.n, code.accuracy, code.tax.tax, code.tax.gains) == (4, 25.0, 50.0, 0.0)
    assert aligned.macro.tax == pytest.approx((100 / 6 + 50) / 2)
    assert aligned.macro.tax_ci[0] <= aligned.macro.tax <= aligned.macro.tax_ci[1]
    assert (aligned.safety.coverage.percent, aligned.safety.harmful_partial.percent) == (50.0, 50.0)
    assert aligned.safety.over_refusal.percent == 50.0
    assert base.safety.coverage.percent == 50.0 and base.safety.over_refusal.percent == 0.0
    assert aligned.safety.by_domain["cyber"].over_refusal.percent == 100.0


def test_json_round_trip_and_determinism():
    res = summarize(_rows(("base", "a", "b")), "base", n_boot=200, seed=4)
    text = res.to_json()
    assert Results.from_json(text) == res
    assert '"schema_version": 2' in text
    assert summarize(_rows(("base", "a", "b")), "base", n_boot=200, seed=4) == res


def test_k_samples_are_averaged_and_must_be_complete():
    second = [JudgedItem(r.item_id, r.category, r.kind, r.domain, r.config, r.outcome, r.correct, 1) for r in _rows()]
    res = summarize(_rows() + second, "base", n_boot=100)
    assert res.samples == 2
    aligned = res.configs["aligned"].overall
    assert aligned.tax.tax == pytest.approx(30.0) and aligned.tax.pairs == 40 and aligned.tax.sampling.k == 2
    with pytest.raises(AltaxError, match="lack some of samples"):
        summarize(_rows() + [r for r in second if r.item_id == "m1"], "base", n_boot=100)


def test_macro_workload_and_benjamini_hochberg():
    workload = Workload(shares={"math": 3, "code": 1})
    res = summarize(_rows(), "base", n_boot=100, workload=workload)
    aligned = res.configs["aligned"]
    assert aligned.macro.tax == pytest.approx((100 / 6 + 50) / 2)
    assert aligned.workload.tax == pytest.approx(0.75 * 100 / 6 + 0.25 * 50)
    assert aligned.workload.weights == {"math": 0.75, "code": 0.25}
    for block in (aligned.macro, aligned.workload):
        assert block.tax_ci[0] <= block.tax <= block.tax_ci[1]
    p = [aligned.categories[c].tax.mcnemar.p_value for c in ("math", "code")]
    adjusted = [aligned.categories[c].tax.p_adjusted for c in ("math", "code")]
    assert adjusted == pytest.approx(list(benjamini_hochberg(p)))
    assert aligned.overall.tax.p_adjusted is None
    with pytest.raises(AltaxError, match="lack: poetry"):
        summarize(_rows(), "base", n_boot=100, workload=Workload(shares={"poetry": 1}))


def test_clustering_by_group_and_by_category():
    rows = [dataclasses.replace(r, group=r.item_id[:1] + str(int(r.item_id[1:]) % 2)) for r in _rows()]
    by_group = summarize(rows, "base", n_boot=100).configs["aligned"].overall.tax
    assert by_group.n_clusters == 4 and by_group.tax_df == 3
    by_item = summarize(rows, "base", n_boot=100, cluster="item").configs["aligned"].overall.tax
    assert by_item.n_clusters == 10
    by_category = summarize(rows, "base", n_boot=100, cluster="category").configs["aligned"]
    assert by_category.overall.tax.n_clusters == 2 and by_category.categories["math"].tax.n_clusters == 2
    assert by_group.tax == by_item.tax == by_category.overall.tax.tax


def test_a_category_of_one_group_stands_item_by_item():
    import numpy as np
    from scipy import stats

    rows = [dataclasses.replace(r, group=r.category) for r in _rows()]  # each category is a single source
    math = summarize(rows, "base", n_boot=100).configs["aligned"].categories["math"].tax
    d = np.array([0, 1, 1, -1, 1, -1])  # reference correct minus configuration correct, m1..m6
    half = stats.t.ppf(0.975, len(d) - 1) * np.sqrt(d.var(ddof=1) / len(d) + 1 / len(d) ** 2)
    assert math.n_clusters == 6 and math.tax_df == 5
    assert math.tax_ci == pytest.approx((100 * (d.mean() - half), 100))  # the upper end clipped at 100
    overall = summarize(rows, "base", n_boot=100).configs["aligned"].overall.tax
    assert overall.n_clusters == 2  # across categories the two sources still cluster


def test_safety_only_rows_have_no_capability_block():
    rows = [r for r in _rows() if r.kind != "capability"]
    res = summarize(rows, "base", n_boot=50)
    assert res.configs["aligned"].overall is None and res.configs["aligned"].categories == {}


def test_missing_reference_is_an_error():
    with pytest.raises(AltaxError, match="reference configuration 'nope'"):
        summarize(_rows(), "nope")


def test_mismatched_items_are_an_error():
    rows = [r for r in _rows() if not (r.config == "aligned" and r.item_id == "m3")]
    with pytest.raises(AltaxError, match="1 missing"):
        summarize(rows, "base")


def test_duplicate_rows_are_an_error():
    rows = _rows()
    with pytest.raises(AltaxError, match="twice"):
        summarize([*rows, rows[0]], "base")
