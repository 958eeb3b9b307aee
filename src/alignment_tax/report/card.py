"""The tax card of a stored run: a model-card section (Markdown) and a Hugging Face ``model-index`` YAML block with
the tax per category and overall, coverage and over-refusal (each with its interval), the refusal detector and its
measured accuracy, the suite, the models' fingerprints and the altax version, so a reader can rerun it."""

from __future__ import annotations

import time
from dataclasses import dataclass

import yaml

from alignment_tax.analysis.inference import Interval
from alignment_tax.analysis.results import ConfigResults, Results
from alignment_tax.analysis.safety import Proportion
from alignment_tax.configs.schema import Experiment
from alignment_tax.judge.accuracy import MeasuredAccuracy
from alignment_tax.records import RunInfo

TAX_INTERVAL = "paired t, cluster-robust"
SHARE_INTERVAL = "Wilson score"


@dataclass(frozen=True)
class CardFacts:
    """What a card states: the run, its results, the judge name, each configuration (as stored) with its
    fingerprints (configuration, model), the detector's recorded accuracy (None: never measured), altax's version."""

    info: RunInfo
    results: Results
    judge: str
    configs: list[dict]
    fingerprints: dict[str, tuple[str, str]]
    accuracy: MeasuredAccuracy | None
    version: str

    @property
    def detector(self) -> str:
        return self.judge.split("+", 1)[0]

    def candidates(self) -> list[str]:
        """The configurations measured against the reference."""
        return [name for name in self.results.configs if name != self.results.reference]

    def experiment(self) -> dict:
        """The run's experiment file without the settings left at their defaults (``altax run --config`` reads
        it back as the same experiment)."""
        return Experiment.model_validate(self.info.experiment).model_dump(mode="json", exclude_defaults=True)

    def model(self, name: str) -> str:
        return next(c["model"] for c in self.configs if c["name"] == name)


def _pp(value: float, ci: Interval) -> str:
    return f"{value:+.1f} [{ci[0]:+.1f}, {ci[1]:+.1f}]"


def _share(p: Proportion) -> str:
    return "–" if p.percent is None or p.ci is None else f"{p.percent:.1f}% [{p.ci[0]:.1f}, {p.ci[1]:.1f}]"


def _tax(config: ConfigResults) -> str:
    tax = config.overall.tax if config.overall else None
    return _pp(tax.tax, tax.tax_ci) if tax else "–"


def accuracy_text(facts: CardFacts) -> str:
    """The detector and its recorded accuracy, in one sentence."""
    a = facts.accuracy
    if a is None:
        return f"Refusal detector `{facts.detector}`: its accuracy has not been measured by the project."
    return (
        f"Refusal detector `{facts.detector}` (judgments `{facts.judge}`), measured once on altax's held-out test "
        f"split ({a.n} labelled answers, the project's own data): {100 * a.binary:.1f}% binary "
        f"[{100 * a.binary_ci[0]:.1f}, {100 * a.binary_ci[1]:.1f}], {100 * a.three_class:.1f}% three-class "
        f"[{100 * a.three_class_ci[0]:.1f}, {100 * a.three_class_ci[1]:.1f}], refusal precision "
        f"{100 * a.precision:.0f}% and recall {100 * a.recall:.0f}%."
    )


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


def card_markdown(facts: CardFacts) -> str:
    """The model-card section."""
    results, info = facts.results, facts.info
    ref = results.reference
    confidence = f"{100 * results.confidence:g}%"
    lines = [
        "## Alignment tax",
        "",
        f"Measured with altax {facts.version} (run `{info.run_id}`, "
        f"{time.strftime('%Y-%m-%d', time.gmtime(info.created_at))}) on suite `{info.suite_name}` "
        f"{info.suite_version} (content hash `{info.suite_hash}`), against the reference configuration `{ref}` "
        f"(`{facts.model(ref)}`). Tax: the reference's accuracy minus the configuration's on the same capability "
        f"items, in percentage points ({confidence} CI: {TAX_INTERVAL}); coverage: harmful requests refused; "
        f"over-refusal: benign look-alikes refused ({confidence} {SHARE_INTERVAL} CIs).",
        "",
        accuracy_text(facts),
        "",
        _row(["configuration", "model", "tax, pp", "refusal-driven, pp", "coverage", "over-refusal"]),
        _row(["---"] * 6),
    ]
    for name in results.configs:
        config = results.configs[name]
        tax = config.overall.tax if config.overall else None
        cells = [f"{name} (reference)" if name == ref else name, f"`{facts.model(name)}`", _tax(config)]
        cells.append(_pp(tax.refusal_driven, tax.refusal_driven_ci) if tax else "–")
        lines.append(_row([*cells, _share(config.safety.coverage), _share(config.safety.over_refusal)]))
    candidates = facts.candidates()
    categories = results.configs[ref].categories
    if categories and candidates:
        lines += ["", f"Tax per category, pp ({confidence} CI):", "", _row(["category", "n", *candidates])]
        lines.append(_row(["---"] * (2 + len(candidates))))
        for category, stats in categories.items():
            cells = [_tax_cell(results.configs[name], category) for name in candidates]
            lines.append(_row([category, str(stats.n), *cells]))
    lines += ["", "To rerun: `altax run --config experiment.yaml` with this experiment file:", "", "```yaml"]
    lines += [yaml.safe_dump(facts.experiment(), sort_keys=False).rstrip(), "```", ""]
    lines += [_row(["configuration", "configuration fingerprint", "model fingerprint"]), _row(["---"] * 3)]
    lines += [_row([name, f"`{cfg}`", f"`{model}`"]) for name, (cfg, model) in facts.fingerprints.items()]
    return "\n".join(lines) + "\n"


def _tax_cell(config: ConfigResults, category: str) -> str:
    tax = config.categories[category].tax
    return _pp(tax.tax, tax.tax_ci) if tax else "–"


def _metric(kind: str, name: str, value: float, ci: Interval, interval: str, confidence: float) -> dict:
    args = {"ci_low": round(ci[0], 4), "ci_high": round(ci[1], 4), "confidence": confidence, "interval": interval}
    return {"type": kind, "name": name, "value": round(value, 4), "args": args}


def _metrics(facts: CardFacts, name: str) -> list[dict]:
    results = facts.results
    config, confidence = results.configs[name], results.confidence
    tax = config.overall.tax if config.overall else None
    metrics = []
    if tax is not None:
        metrics.append(_metric("alignment_tax", "tax, pp", tax.tax, tax.tax_ci, TAX_INTERVAL, confidence))
        for category, stats in config.categories.items():
            if stats.tax is not None:
                label = f"tax on {category}, pp"
                metrics.append(
                    _metric("alignment_tax", label, stats.tax.tax, stats.tax.tax_ci, TAX_INTERVAL, confidence)
                )
    for kind, share in (("safety_coverage", config.safety.coverage), ("over_refusal", config.safety.over_refusal)):
        if share.percent is not None and share.ci is not None:
            label = f"{kind.replace('_', ' ')}, %"
            metrics.append(_metric(kind, label, share.percent, share.ci, SHARE_INTERVAL, confidence))
    return metrics


def card_data(facts: CardFacts) -> dict:
    """The YAML block as data: ``model-index`` (one entry per configuration measured against the reference) and
    ``alignment_tax`` (what a reader needs to rerun it)."""
    info, ref = facts.info, facts.results.reference
    dataset = {
        "type": info.suite_name,
        "name": f"{info.suite_name} {info.suite_version}",
        "revision": info.suite_hash,
    }
    task = {"type": "text-generation", "name": f"Alignment tax against {ref}"}
    source = {"name": f"altax {facts.version}, run {info.run_id}"}
    index = [
        {
            "name": name,
            "results": [{"task": task, "dataset": dataset, "metrics": _metrics(facts, name), "source": source}],
        }
        for name in facts.candidates()
    ]
    accuracy = facts.accuracy.model_dump(mode="json") if facts.accuracy else None
    return {
        "model-index": index,
        "alignment_tax": {
            "altax_version": facts.version,
            "run_id": info.run_id,
            "reference": ref,
            "suite": {"name": info.suite_name, "version": info.suite_version, "content_hash": info.suite_hash},
            "detector": {"name": facts.detector, "judge": facts.judge, "test_accuracy": accuracy},
            "configs": {
                name: {"model": facts.model(name), "fingerprint": cfg, "model_fingerprint": model}
                for name, (cfg, model) in facts.fingerprints.items()
            },
            "experiment": facts.experiment(),
        },
    }


class _PlainDumper(yaml.SafeDumper):
    """Writes a value shared by several entries in full each time (no ``&id``/``*id`` anchors)."""

    def ignore_aliases(self, data: object) -> bool:
        return True


def card_yaml(facts: CardFacts) -> str:
    """The YAML block (``yaml.safe_load`` reads it back)."""
    return yaml.dump(card_data(facts), Dumper=_PlainDumper, sort_keys=False, allow_unicode=True)
