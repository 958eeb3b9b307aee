"""The terminal report: headline per configuration and the tax per category, from a results file."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from alignment_tax.analysis.paired import Interval
from alignment_tax.analysis.results import Results
from alignment_tax.analysis.safety import Proportion


def _pp(value: float | None, ci: Interval | None = None, signed: bool = True) -> str:
    if value is None:
        return "–"
    text = f"{value:+.1f}" if signed else f"{value:.1f}"
    return f"{text} [{ci[0]:+.1f}, {ci[1]:+.1f}]" if ci else text


def _share(p: Proportion) -> str:
    if p.percent is None or p.ci is None:
        return "–"
    return f"{p.percent:.0f}% [{p.ci[0]:.0f}, {p.ci[1]:.0f}]"


def headline_table(results: Results) -> Table:
    """One row per configuration: accuracy, tax with CI, its decomposition, safety."""
    table = Table(title="Alignment tax (percentage points vs the reference, paired 95% CI)", title_justify="left")
    for column in ("configuration", "accuracy", "refused", "tax", "refusal-driven", "capability loss", "gains",
                   "gap w/o refusals", "safety coverage", "over-refusal"):
        table.add_column(column, justify="left" if column == "configuration" else "right")
    for name, config in results.configs.items():
        overall = config.overall
        tax = overall.tax if overall else None
        label = f"{name} (reference)" if config.is_reference else name
        table.add_row(
            label,
            f"{overall.accuracy:.1f}%" if overall else "–",
            f"{overall.refusal_rate:.1f}%" if overall else "–",
            _pp(tax.tax, tax.tax_ci) if tax else "–",
            _pp(tax.refusal_driven, signed=False) if tax else "–",
            _pp(tax.capability_loss, signed=False) if tax else "–",
            _pp(tax.gains, signed=False) if tax else "–",
            _pp(tax.refusal_excluded_gap, tax.refusal_excluded_gap_ci) if tax else "–",
            _share(config.safety.coverage),
            _share(config.safety.over_refusal),
        )
    return table


def category_table(results: Results) -> Table:
    """Reference accuracy and each configuration's tax (with CI) per capability category."""
    others = [name for name, c in results.configs.items() if not c.is_reference]
    reference = results.configs[results.reference]
    table = Table(title="Tax per category (pp, paired 95% CI)", title_justify="left")
    table.add_column("category")
    table.add_column("n", justify="right")
    table.add_column(f"{results.reference} acc.", justify="right")
    for name in others:
        table.add_column(name, justify="right")
    for category, stats in reference.categories.items():
        cells = []
        for name in others:
            tax = results.configs[name].categories[category].tax
            cells.append(_pp(tax.tax, tax.tax_ci) if tax else "–")
        table.add_row(category, str(stats.n), f"{stats.accuracy:.0f}%", *cells)
    return table


def print_results(console: Console, payload: dict) -> None:
    """Print a results file (the dict written by the pipeline) as tables."""
    run = payload["run"]
    results = Results.model_validate(payload["results"])
    suite = run["suite"]
    console.print(
        f"run [bold]{run['run_id']}[/]  suite {suite['name']} {suite['version']}  "
        f"reference [bold]{results.reference}[/]  judge {run['detector']}",
        highlight=False,
    )
    console.print(headline_table(results))
    if results.configs[results.reference].categories:
        console.print(category_table(results))
