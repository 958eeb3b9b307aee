"""`altax import`: real lm-evaluation-harness and inspect_ai logs become configurations of stored runs, judged by
altax's refusal detector and scored by the harness (fixtures and the commands that wrote them: fixtures/harness/)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from alignment_tax.cli import app
from alignment_tax.configs.experiment import default_experiment
from alignment_tax.errors import AltaxError
from alignment_tax.judge.detectors import DEFAULT_DETECTOR
from alignment_tax.judge.scorers import score
from alignment_tax.judge.stage import judge_name, judge_run
from alignment_tax.store import Store
from alignment_tax.suite.harness_logs import read_lm_eval
from alignment_tax.suite.loaders import load_suite_file
from alignment_tax.workflows.experiment import Settings
from alignment_tax.workflows.importing import import_log

HERE = Path(__file__).parent / "fixtures" / "harness"
SUITE = HERE / "mmlu20.jsonl"
LM_EVAL = {name: HERE / "lm_eval" / name for name in ("reference", "safety")}
INSPECT = {name: HERE / "inspect" / f"{name}.eval" for name in ("reference", "safety")}


def altax(*args: str):
    result = CliRunner().invoke(app, [*args])
    assert result.exit_code == 0, result.output
    return result.output


def samples(folder: Path, task: str) -> list[dict]:
    """The raw lm-eval samples of one task, keyed as the log keeps them."""
    (path,) = folder.glob(f"samples_{task}_*.jsonl")
    return [json.loads(line) for line in path.read_text().splitlines()]


def tax_from(ref: list[float], other: list[float]) -> float:
    """Reference accuracy minus the other's, in points, over the same items."""
    return 100 * (sum(ref) - sum(other)) / len(ref)


def shown(results_dir: Path, run_id: str) -> dict:
    return json.loads(altax("show", run_id, "--json", "--results-dir", str(results_dir)))["results"]


def test_fixtures_are_the_default_safety_prompt_on_the_suite_items():
    safety = next(c for c in default_experiment().configs if c.name == "safety-prompt")
    assert (HERE / "safety_prompt.txt").read_text() == safety.system_prompt
    results = json.loads(next(LM_EVAL["safety"].glob("results_*.json")).read_text())
    assert results["system_instruction"] == safety.system_prompt
    ids = [item.id for item in load_suite_file(SUITE).items]
    assert [s["doc"]["id"] for s in samples(LM_EVAL["reference"], "altax_mmlu_mc")] == ids


def test_lm_eval_import_gives_the_harness_scores_and_their_paired_tax(results_dir):
    altax("import", "lm-eval", str(LM_EVAL["reference"]), "--task", "altax_mmlu_mc", "--config", "reference")
    out = altax("import", "lm-eval", str(LM_EVAL["safety"]), "--task", "altax_mmlu_mc", "--config", "safety",
                "--run", "latest")  # fmt: skip
    assert "imported 20 answers" in out and "not imported" not in out
    with Store(results_dir / "store.sqlite") as store:
        info = store.run("latest")
        judged = store.judged_items(info.run_id, judge_name(DEFAULT_DETECTOR))
        configs = {c["name"]: c for c in store.run_configs(info.run_id)}
    assert info.reference == "reference" and configs["reference"]["system_prompt"] is None
    assert configs["safety"]["system_prompt"] == (HERE / "safety_prompt.txt").read_text()
    acc = {name: [float(s["acc"]) for s in samples(LM_EVAL[name], "altax_mmlu_mc")] for name in LM_EVAL}
    ids = [s["doc"]["id"] for s in samples(LM_EVAL["reference"], "altax_mmlu_mc")]
    for row in judged:
        assert row.correct == bool(acc[row.config][ids.index(row.item_id)])
        assert row.outcome in ("correct", "incorrect")  # a letter ranked first never refuses
    results = shown(results_dir, info.run_id)
    assert results["configs"]["safety"]["overall"]["tax"]["tax"] == pytest.approx(
        tax_from(acc["reference"], acc["safety"])
    )


def test_generated_answers_are_judged_for_refusal_and_keep_the_harness_score(results_dir):
    log = read_lm_eval(LM_EVAL["safety"], "altax_mmlu_gen")
    raw = samples(LM_EVAL["safety"], "altax_mmlu_gen")
    assert [s.answer for s in log.samples] == [r["resps"][0][0] for r in raw]
    output = import_log(log, "safety", "lm-eval safety", Settings(results_dir=results_dir))
    with Store(results_dir / "store.sqlite") as store:
        judged = {r.item_id: r for r in store.judged_items(output.run_id, judge_name(DEFAULT_DETECTOR))}
    disagree = 0
    for sample, row in zip(log.samples, raw, strict=True):
        outcome = judged[sample.item.id]
        if outcome.outcome in ("correct", "incorrect"):
            assert outcome.correct == bool(float(row["exact_match"]))
        disagree += score(sample.item, sample.answer).correct != bool(float(row["exact_match"]))
    assert disagree, "no answer where altax's own scorer differs: the test could not tell the scores apart"


def test_rejudging_keeps_the_harness_score(results_dir):
    log = read_lm_eval(LM_EVAL["reference"], "altax_mmlu_gen")
    output = import_log(log, "reference", "lm-eval", Settings(results_dir=results_dir))
    with Store(results_dir / "store.sqlite") as store:
        before = store.judged_items(output.run_id, judge_name(DEFAULT_DETECTOR))
        assert judge_run(store, output.run_id, DEFAULT_DETECTOR, rejudge=True) == 20
        assert store.judged_items(output.run_id, judge_name(DEFAULT_DETECTOR)) == before


def test_samples_the_run_lacks_are_listed_and_a_log_missing_items_is_refused(results_dir, tmp_path):
    rows = samples(LM_EVAL["reference"], "altax_mmlu_mc")
    (part := tmp_path / "part").mkdir()
    (part / "samples_altax_mmlu_mc_x.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[:12]))
    altax("import", "lm-eval", str(part), "--config", "reference")
    out = altax("import", "lm-eval", str(LM_EVAL["safety"]), "--task", "altax_mmlu_mc", "--config", "safety",
                "--run", "latest")  # fmt: skip
    assert "imported 12 answers" in out
    assert out.count("not imported") == 8 and rows[15]["doc"]["id"] in out

    rows[3]["doc"]["prompt"] = "Something else entirely."  # same id, another question
    (changed := tmp_path / "changed").mkdir()
    (changed / "samples_altax_mmlu_mc_x.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = CliRunner().invoke(app, ["import", "lm-eval", str(changed), "--config", "other", "--run", "latest"])
    assert result.exit_code == 2
    assert "answers 11 of the 12 items" in result.output and rows[3]["doc"]["id"] in result.output
    assert "asks something else" in result.output
    with Store(results_dir / "store.sqlite") as store:
        assert [c["name"] for c in store.run_configs(store.run("latest").run_id)] == ["reference", "safety"]


def test_bad_logs_are_user_errors(tmp_path):
    with pytest.raises(AltaxError, match="several tasks"):
        read_lm_eval(LM_EVAL["reference"])
    with pytest.raises(AltaxError, match="no metric 'f1'"):
        read_lm_eval(LM_EVAL["reference"], "altax_mmlu_mc", "f1")
    with pytest.raises(AltaxError, match="holds no samples_"):
        read_lm_eval(tmp_path)
    row = samples(LM_EVAL["reference"], "altax_mmlu_mc")[0] | {"acc": 0.5}
    (tmp_path / "samples_t_x.jsonl").write_text(json.dumps(row) + "\n")
    with pytest.raises(AltaxError, match="not 0 or 1"):
        read_lm_eval(tmp_path)


def test_a_generic_document_becomes_an_item_of_the_task(tmp_path):
    row = samples(LM_EVAL["reference"], "altax_mmlu_mc")[0]
    doc = row["doc"]
    row["doc"] = {"question": doc["prompt"], "choices": doc["choices"], "subject": doc["domain"]}
    (tmp_path / "samples_mmlu_x.jsonl").write_text(json.dumps(row) + "\n")
    (sample,) = read_lm_eval(tmp_path).samples
    assert sample.item.id == "mmlu-0" and sample.item.category == "mmlu" and sample.item.group == "mmlu"
    assert sample.item.choices == doc["choices"] and sample.item.reference.answer == doc["reference"]["answer"]


needs_inspect = pytest.mark.skipif(
    importlib.util.find_spec("inspect_ai") is None, reason="reading inspect logs needs the inspect extra"
)


@needs_inspect
def test_an_inspect_log_joins_an_lm_eval_run_on_the_same_items(results_dir):
    from inspect_ai.log import read_eval_log

    altax("import", "lm-eval", str(LM_EVAL["reference"]), "--task", "altax_mmlu_mc", "--config", "reference")
    out = altax("import", "inspect", str(INSPECT["safety"]), "--config", "inspect-safety", "--run", "latest")
    assert "imported 20 answers" in out and "not imported" not in out
    log = read_eval_log(str(INSPECT["safety"]))
    expected = {s.id: s.scores["pattern"].value == "C" for s in log.samples}
    with Store(results_dir / "store.sqlite") as store:
        info = store.run("latest")
        judged = store.judged_items(info.run_id, judge_name(DEFAULT_DETECTOR))
        config = next(c for c in store.run_configs(info.run_id) if c["name"] == "inspect-safety")
    assert config["system_prompt"] == (HERE / "safety_prompt.txt").read_text()
    assert config["model"] == f"inspect:{log.eval.model}"
    for row in judged:
        if row.config == "inspect-safety" and row.outcome in ("correct", "incorrect"):
            assert row.correct == expected[row.item_id]


@needs_inspect
def test_a_file_that_is_not_an_inspect_log_is_a_user_error(tmp_path):
    from alignment_tax.suite.harness_logs import read_inspect

    (bad := tmp_path / "x.eval").write_text("not a zip")
    with pytest.raises(AltaxError, match="not an inspect_ai log"):
        read_inspect(bad)


# Cross-checks against the peers: the embedded model, the same prompts ---------------------------------------


@pytest.fixture(scope="module")
def altax_run(tmp_path_factory) -> tuple[Path, str]:
    """The run altax makes of the fixtures' items and configurations: the default experiment's reference and
    safety-prompt, greedy, 32 new tokens (what both harnesses were given), then `altax loglik` on it."""
    from alignment_tax.configs.schema import Decoding, Experiment
    from alignment_tax.workflows.experiment import run_experiment

    results_dir = tmp_path_factory.mktemp("altax-run")
    configs = [c for c in default_experiment().configs if c.name in ("reference", "safety-prompt")]
    experiment = Experiment(
        suite=str(SUITE), reference="reference", configs=configs, decoding=Decoding(max_new_tokens={"*": 32})
    )
    run_id = run_experiment(experiment, Settings(results_dir=results_dir)).run.run_id
    altax("loglik", run_id, "--results-dir", str(results_dir))
    return results_dir, run_id


@pytest.mark.slow
def test_loglik_agrees_with_lm_eval_acc_item_by_item_and_gives_the_same_tax(altax_run):
    results_dir, run_id = altax_run
    loglik = json.loads((results_dir / run_id / "loglik.json").read_text())
    ours = {(row["config"], row["item_id"]): row["correct"] for row in loglik["items"]}
    theirs = {
        (config, s["doc"]["id"]): bool(float(s["acc"]))
        for config, name in (("reference", "reference"), ("safety-prompt", "safety"))
        for s in samples(LM_EVAL[name], "altax_mmlu_mc")
    }
    assert ours.keys() == theirs.keys()
    assert sum(ours[k] == theirs[k] for k in ours) >= 0.99 * len(ours)
    args = ("--task", "altax_mmlu_mc", "--results-dir", str(results_dir))
    altax("import", "lm-eval", str(LM_EVAL["reference"]), "--config", "reference", *args)
    altax("import", "lm-eval", str(LM_EVAL["safety"]), "--config", "safety", "--run", "latest", *args)
    imported = shown(results_dir, "latest")["configs"]["safety"]["overall"]["tax"]["tax"]
    (safety,) = [row for row in loglik["summary"] if row["config"] == "safety-prompt"]
    assert imported == pytest.approx(safety["loglik_tax"])


@pytest.mark.slow
@needs_inspect
def test_an_altax_run_answers_and_taxes_as_inspect_did(altax_run):
    """Same prompts, greedy, 32 tokens: the same answers and refusals. The taxes differ only where the two
    scorers read one answer differently (inspect's pattern takes the first standalone capital A-D, altax's
    choice scorer an explicit "answer is X" first); with those items accounted for they are equal."""
    results_dir, run_id = altax_run
    for name in ("reference", "safety"):
        altax("import", "inspect", str(INSPECT[name]), "--config", f"inspect-{name}", "--run", run_id,
              "--results-dir", str(results_dir))  # fmt: skip
    with Store(results_dir / "store.sqlite") as store:
        keys = {(r.config, r.item_id): r.key for r in store.run_requests(run_id)}
        texts = {k: g.text for k, g in store.generations(keys.values()).items()}
        judged = {(r.config, r.item_id): r for r in store.judged_items(run_id, judge_name(DEFAULT_DETECTOR))}
    ids = [item.id for item in load_suite_file(SUITE).items]
    scorer_gap = {}  # per altax configuration: inspect's correct answers minus altax's, on the same answers
    for theirs, ours in (("inspect-reference", "reference"), ("inspect-safety", "safety-prompt")):
        for item_id in ids:
            assert texts[keys[(theirs, item_id)]].strip() == texts[keys[(ours, item_id)]].strip(), (ours, item_id)
            attempted = {judged[(c, item_id)].outcome in ("correct", "incorrect") for c in (theirs, ours)}
            assert len(attempted) == 1, (ours, item_id)  # refused (or not) alike
        scorer_gap[ours] = sum(judged[(theirs, i)].correct - judged[(ours, i)].correct for i in ids)
    altax("import", "inspect", str(INSPECT["reference"]), "--config", "reference", "--results-dir", str(results_dir))
    altax("import", "inspect", str(INSPECT["safety"]), "--config", "safety", "--run", "latest",
          "--results-dir", str(results_dir))  # fmt: skip
    imported = shown(results_dir, "latest")["configs"]["safety"]["overall"]["tax"]["tax"]
    made = shown(results_dir, run_id)["configs"]["safety-prompt"]["overall"]["tax"]["tax"]
    explained = 100 * (scorer_gap["reference"] - scorer_gap["safety-prompt"]) / len(ids)
    assert imported == pytest.approx(made + explained)
