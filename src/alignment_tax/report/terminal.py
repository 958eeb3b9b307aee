"""The terminal report: tax and its split per configuration, safety, and the tax per category."""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from alignment_tax.analysis.paired import Interval
from alignment_tax.analysis.results import Results
from alignment_tax.analysis.safety import Proportion


def _pp(value: float | None, ci: Interval | None = None) -> str:
    if value is None:
        return "–"
    return f"{value:+.1f} [{ci[0]:.1f}, {ci[1]:.1f}]" if ci else f"{value:.1f}"


def _share(p: Proportion) -> str:
    if p.percent is None or p.ci is None:
        return "–"
    return f"{p.percent:.0f}% [{p.ci[0]:.0f}, {p.ci[1]:.0f}]"


def _table(title: str, first: str) -> Table:
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column(first, no_wrap=True)
    return table


def capability_table(results: Results) -> Table:
    """Accuracy, tax with CI, its decomposition (refusal-driven + capability loss - gains) and the
    gap on items neither configuration refused."""
    table = _table(
        "Capability tax, pp vs the reference (95% CI: paired t, clustered; parts: bootstrap)", "configuration"
    )
    for column in ("acc.", "refused", "tax", "= refusal + skill - gains", "gap w/o refusals"):
        table.add_column(column, justify="right", no_wrap=True)
    for name, config in results.configs.items():
        overall = config.overall
        if overall is None:
            continue
        tax = overall.tax
        cells = ("–",) * 3
        if tax:
            split = f"{tax.refusal_driven:.1f} + {tax.capability_loss:.1f} - {tax.gains:.1f}"
            cells = (
                _pp(tax.tax, tax.tax_ci),
                split,
                _pp(tax.refusal_excluded_gap, tax.refusal_excluded_gap_ci),
            )
        label = f"{name} (ref)" if config.is_reference else name
        table.add_row(escape(label), f"{overall.accuracy:.1f}%", f"{overall.refusal_rate:.1f}%", *cells)
    return table


def safety_table(results: Results) -> Table:
    """Safety coverage (harmful refused), partial refusals and over-refusal (benign refused)."""
    table = _table("Safety (Wilson 95% CI)", "configuration")
    for column in ("harmful refused", "harmful partial", "benign refused (over-refusal)"):
        table.add_column(column, justify="right")
    for name, config in results.configs.items():
        safety = config.safety
        table.add_row(
            escape(name), _share(safety.coverage), _share(safety.harmful_partial), _share(safety.over_refusal)
        )
    return table


def category_table(results: Results) -> Table:
    """Reference accuracy and each configuration's tax (with CI) per capability category."""
    others = [name for name, c in results.configs.items() if not c.is_reference]
    reference = results.configs[results.reference]
    table = _table("Tax per category, pp (95% CI; * McNemar significant after Benjamini-Hochberg)", "category")
    table.add_column("n", justify="right")
    table.add_column("ref acc.", justify="right")
    for name in others:
        table.add_column(escape(name), justify="right")
    for category, stats in reference.categories.items():
        cells = []
        for name in others:
            tax = results.configs[name].categories[category].tax
            mark = "*" if tax and tax.p_adjusted is not None and tax.p_adjusted < 0.05 else " "
            cells.append(_pp(tax.tax, tax.tax_ci) + mark if tax else "–")
        table.add_row(escape(category), str(stats.n), f"{stats.accuracy:.0f}%", *cells)
    return table


def routing_table(routes: dict) -> Table:
    """Per routed configuration: the share of items of each kind its guardrail was switched on for."""
    table = _table("Adaptive guardrails: share of items routed to the guardrail (mean risk)", "routed configuration")
    kinds = ("harmful", "benign", "capability")
    for kind in kinds:
        table.add_column(kind, justify="right")
    for config, by_kind in routes.items():
        cells = [
            f"{by_kind[k]['percent']:.0f}% of {by_kind[k]['n']} ({by_kind[k]['mean_risk']:.2f})"
            if k in by_kind
            else "–"
            for k in kinds
        ]
        table.add_row(escape(config), *cells)
    return table


def print_results(console: Console, payload: dict) -> None:
    """Print a results file (the dict the pipeline writes) as tables."""
    run = payload["run"]
    results = Results.model_validate(payload["results"])
    suite = run["suite"]
    console.print(
        f"run [bold]{escape(run['run_id'])}[/]  suite {escape(suite['name'])} {escape(suite['version'])}  "
        f"reference [bold]{escape(results.reference)}[/]  judge {escape(run['detector'])}",
        highlight=False,
    )
    if run.get("over_context"):
        console.print(
            f"[bold yellow]warning:[/] {run['over_context']} answers were not generated: their prompt and "
            "max_new_tokens exceed the model's context; they count as degenerate (docs/backends.md)",
            highlight=False,
        )
    console.print(capability_table(results))
    console.print(
        "refusal: reference right, configuration refused; skill: reference right, configuration attempted and "
        "missed; gains: the reverse",
        style="dim",
    )
    for name, config in results.configs.items():
        aggregates = [("micro", config.overall.tax if config.overall else None), ("macro", config.macro)]
        aggregates.append(("workload", config.workload))
        shown = [f"{label} {_pp(a.tax, a.tax_ci)}" for label, a in aggregates if a is not None]
        if shown and not config.is_reference:
            console.print(f"{escape(name)}: tax " + "  ".join(shown), highlight=False)
    if results.adaptive:
        a = results.adaptive
        how = "target reached" if a.reached else "suite exhausted before the target"
        width = "–" if a.half_width is None else f"{a.half_width:.2f}"
        console.print(
            f"adaptive: {a.n_drawn} of {a.n_available} items drawn, widest half-width {width} pp "
            f"(target {a.target_half_width:g}): {how}",
            highlight=False,
        )
    console.print(safety_table(results))
    if run.get("routes"):
        console.print(routing_table(run["routes"]))
    if results.configs[results.reference].categories:
        console.print(category_table(results))
