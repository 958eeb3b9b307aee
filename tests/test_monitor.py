"""`altax monitor` end to end on synthetic traffic whose true rates are known, and on every input format."""

from __future__ import annotations

import dataclasses
import json
from collections import Counter

import numpy as np
import pytest
from typer.testing import CliRunner

from alignment_tax.cli import app
from alignment_tax.interventions.category import load_category_classifier
from alignment_tax.interventions.prompting import item_text
from alignment_tax.interventions.risk import load_risk_classifier
from alignment_tax.records import TrafficRecord
from alignment_tax.suite.loaders import load_suite
from scripted_run import scripted_run

HOUR = 3600.0
START = 1_800_000_000.0 - 1_800_000_000.0 % HOUR
THRESHOLD = 0.5
RISKY_SHARE = 0.2
RISKY_REFUSAL = 0.9
BENIGN_REFUSAL = {"medical": 0.25, "security": 0.15}
"""Refusal rate of prompts the router scores benign, per category (others: ``OTHER_REFUSAL``)."""
OTHER_REFUSAL = 0.04
JUMP = 0.2
"""What the changed window adds to the benign refusal rate."""
CHANGED = 3
WINDOWS = 6
PER_WINDOW = 400
REFUSAL = "I'm sorry, but I can't help with that."
ANSWER = "Sure. Here is what you asked for, in a few clear steps, with an example at the end."


@dataclasses.dataclass(frozen=True)
class World:
    """The synthetic world: pools of prompts the router scores benign and risky, with their categories."""

    benign: list[str]
    risky: list[str]
    risk: dict[str, float]
    category: dict[str, str]

    def benign_rate(self, prompt: str, window: int) -> float:
        base = BENIGN_REFUSAL.get(self.category[prompt], OTHER_REFUSAL)
        return base + (JUMP if window == CHANGED else 0.0)


@pytest.fixture(scope="module")
def world() -> World:
    items = [item for item in load_suite("core").items if item.kind != "benign"]
    prompts = sorted({item_text(item) for item in items[::2]})  # every other item: half the embedding time
    scores = load_risk_classifier().scores(prompts)
    categories = load_category_classifier().classify(prompts)
    risk = dict(zip(prompts, scores, strict=True))
    return World(
        benign=[p for p in prompts if risk[p] < THRESHOLD],
        risky=[p for p in prompts if risk[p] >= THRESHOLD],
        risk=risk,
        category=dict(zip(prompts, categories, strict=True)),
    )


def traffic(world: World, rng: np.random.Generator, windows: list[int], start: float) -> tuple[list[dict], list[dict]]:
    """Gateway lines (a quarter keep only hashes) and what was drawn for each: window, risky, refused."""
    lines, truth = [], []
    for slot, window in enumerate(windows):
        for _ in range(PER_WINDOW):
            risky = bool(rng.random() < RISKY_SHARE)
            pool = world.risky if risky else world.benign
            prompt = pool[rng.integers(len(pool))]
            rate = RISKY_REFUSAL if risky else world.benign_rate(prompt, window)
            refused = bool(rng.random() < rate)
            text = rng.random() >= 0.25
            record = TrafficRecord(
                time=float(start + slot * HOUR + rng.uniform(0, HOUR)),
                request_id=f"r{len(lines)}",
                config="routed",
                model="builtin:smollm2-135m-instruct",
                endpoint="/v1/chat/completions",
                status="ok",
                risk=world.risk[prompt],
                guarded=risky,
                refusal="refusal" if refused else "compliance",
                prompt_tokens=10,
                completion_tokens=12,
                latency_s=0.2,
                prompt_sha256="0" * 64,
                answer_sha256="1" * 64,
                prompt=prompt if text else None,
                answer=(REFUSAL if refused else ANSWER) if text else None,
            )
            lines.append(dataclasses.asdict(record))
            truth.append({"window": slot, "risky": risky, "refused": refused, "prompt": prompt, "text": text})
    return lines, truth


def expected(world: World, window: int) -> dict[str, float]:
    """True rates of one window: refusal, over-trigger share, and each category's refusal rate and share."""
    benign = np.mean([world.benign_rate(p, window) for p in world.benign])
    refusal = RISKY_SHARE * RISKY_REFUSAL + (1 - RISKY_SHARE) * benign
    out = {"refusal": refusal, "over_trigger": (1 - RISKY_SHARE) * benign / refusal}
    for category in set(world.category.values()):
        risky = [p for p in world.risky if world.category[p] == category]
        calm = [p for p in world.benign if world.category[p] == category]
        mass_r = RISKY_SHARE * len(risky) / len(world.risky)
        mass_b = (1 - RISKY_SHARE) * len(calm) / len(world.benign)
        rate_b = np.mean([world.benign_rate(p, window) for p in calm]) if calm else 0.0
        out[f"share {category}"] = mass_r + mass_b
        out[f"refusal {category}"] = (mass_r * RISKY_REFUSAL + mass_b * rate_b) / (mass_r + mass_b)
    return out


def write(path, lines, end="\n"):
    path.write_text("\n".join(json.dumps(line) for line in lines) + end)
    return path


def covers(proportion: dict, truth: float) -> bool:
    low, high = proportion["ci"]
    return low <= 100 * truth <= high


def test_monitor_recovers_known_rates_and_flags_the_changed_window(tmp_path, world):
    rng = np.random.default_rng(2026)
    lines, truth = traffic(world, rng, list(range(WINDOWS)), START)
    base_lines, _ = traffic(world, rng, [0, 0, 0], START - 10 * HOUR)
    log = write(tmp_path / "gateway.jsonl", lines, end="\n" + json.dumps(lines[0])[:30])  # a torn last line
    baseline = write(tmp_path / "baseline.jsonl", base_lines)
    out = tmp_path / "monitor.json"
    result = CliRunner().invoke(
        app, ["monitor", str(log), "--window", "1h", "--baseline", str(baseline), "--json", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "torn line" in result.output
    report = json.loads(out.read_text())
    stats = report["traffic"]
    assert report["logs"]["torn"] == [str(log)]
    assert report["logs"]["judged_by"] == {
        "monitor": sum(t["text"] for t in truth),
        "gateway": sum(not t["text"] for t in truth),
        "none": 0,
    }

    # what was drawn is counted exactly: every verdict, the guardrail and each window
    overall = stats["overall"]
    assert overall["refusal"]["count"] == sum(t["refused"] for t in truth)
    assert overall["guardrail"]["count"] == sum(t["risky"] for t in truth)
    over_triggers = sum(t["refused"] and not t["risky"] for t in truth)
    assert (overall["over_trigger"]["count"], overall["over_trigger"]["n"]) == (
        over_triggers,
        overall["refusal"]["count"],
    )
    assert [w["refusal"]["count"] for w in stats["windows"]] == [
        sum(t["refused"] for t in truth if t["window"] == k) for k in range(WINDOWS)
    ]
    with_text = Counter(world.category[t["prompt"]] for t in truth if t["text"])
    assert {c: s["lines"] for c, s in stats["categories"].items()} == dict(with_text)

    # the 95% intervals cover the true rates: misses ~ Binomial(k, 0.05) for k of about 20, and P(6 or more) is
    # below 0.001, so 6 misses is a fault, not chance (a wrong denominator or a biased count misses most of them)
    per_window = [expected(world, k) for k in range(WINDOWS)]
    average = {key: np.mean([w[key] for w in per_window]) for key in per_window[0]}
    checks = [covers(overall["refusal"], average["refusal"])]
    checks += [covers(w["refusal"], e["refusal"]) for w, e in zip(stats["windows"], per_window, strict=True)]
    checks.append(covers(overall["guardrail"], RISKY_SHARE))
    # the over-trigger share pools every window's refusals: windows weigh by their refusal rate
    weights = np.array([e["refusal"] for e in per_window])
    checks.append(
        covers(overall["over_trigger"], float(weights @ [e["over_trigger"] for e in per_window] / weights.sum()))
    )
    for category, s in stats["categories"].items():
        if s["refusal"]["n"] >= 50:
            checks.append(covers(s["refusal"], average[f"refusal {category}"]))
            checks.append(covers(stats["mix"][category], average[f"share {category}"]))
    assert len(checks) >= 15
    assert sum(not c for c in checks) <= 5, checks

    # drift: the changed window against its neighbours and against the baseline, nothing else
    consecutive = [d["flagged"] for d in stats["drift"] if d["kind"] == "consecutive"]
    assert consecutive == [k in (CHANGED, CHANGED + 1) for k in range(1, WINDOWS)]
    against_baseline = [d["flagged"] for d in stats["drift"] if d["kind"] == "baseline" and d["scope"] == "window"]
    assert against_baseline == [k == CHANGED for k in range(WINDOWS)]


def test_cli_reads_chat_logs_and_csv_and_weighs_a_runs_tax(tmp_path):
    settings, output = scripted_run(tmp_path)
    chat = [
        {
            "messages": [{"role": "user", "content": "What is 17 + 25?"}],
            "response": "42",
            "config": "<img src=x onerror=alert(1)>",
        },
        {
            "messages": [{"role": "user", "content": "Who wrote Hamlet?"}],
            "response": {
                "choices": [{"message": {"role": "assistant", "content": REFUSAL}, "finish_reason": "stop"}],
                "created": START,
            },
        },
        {
            "request": {"messages": [{"role": "user", "content": "Compute 3 * 14."}]},
            "response": "42",
            "time": START + 60,
        },
    ]
    log = write(tmp_path / "chat.jsonl", chat)
    csv_log = tmp_path / "more.csv"
    csv_log.write_text(
        f'prompt,response,time\nWhat is the capital of Peru?,"{REFUSAL}",{START + 120}\nWhat is 9 squared?,81,\n'
    )
    out, page = tmp_path / "m.json", tmp_path / "m.html"
    args = ["monitor", str(log), str(csv_log), "--run", "latest", "--results-dir", str(settings.results_dir)]
    result = CliRunner().invoke(app, [*args, "--window", "30m", "--json", str(out), "--html", str(page)])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["logs"]["formats"] == {"chat": 3, "csv": 2}
    assert report["traffic"]["overall"]["refusal"]["count"] == 2
    assert report["traffic"]["overall"]["guardrail"]["n"] == 0  # chat logs do not say
    html = page.read_text()
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html

    # the tax: the run's per-category tax weighted by the traffic's categorised, benign-scored prompts
    tax = report["tax"]
    results = output.results
    mix = {c: s["lines"] for c, s in report["traffic"]["categories"].items() if c in ("math", "factual_recall")}
    for name, config in tax["configs"].items():
        weights = {c: n / sum(mix.values()) for c, n in mix.items()}
        want = sum(w * results.configs[name].categories[c].tax.tax for c, w in weights.items())
        assert config["tax"] == pytest.approx(want, abs=1e-9)
        assert config["weights"] == pytest.approx(weights)
    assert set(tax["configs"]) == {"safe", "also-safe"}


def test_cli_bad_input_is_one_line_and_exit_2(tmp_path):
    bad = tmp_path / "log.csv"
    bad.write_text("question,answer\nHi,Hello\n")
    result = CliRunner().invoke(app, ["monitor", str(bad)])
    assert result.exit_code == 2
    assert "no 'prompt' or 'response' column" in result.output
    result = CliRunner().invoke(app, ["monitor", str(bad), "--window", "soon"])
    assert result.exit_code == 2
    assert "--window 'soon'" in result.output


def test_cli_a_missing_store_for_run_fails_before_any_judging(tmp_path):
    log = write(tmp_path / "chat.jsonl", [{"messages": [{"role": "user", "content": "Hi"}], "response": "Hello"}])
    result = CliRunner().invoke(app, ["monitor", str(log), "--run", "latest", "--results-dir", str(tmp_path / "none")])
    assert result.exit_code == 2
    assert "--run latest: no store at" in result.output
