"""Plotly figures of the HTML report: tax per category, the tax's decomposition, the frontier scatter."""

from __future__ import annotations

import json
from html import escape

import plotly.graph_objects as go
from plotly.colors import qualitative

from alignment_tax.analysis.frontier import Frontier
from alignment_tax.analysis.results import Results

Interval = tuple[float, float]
_LAYOUT = {
    "template": "plotly_white",
    "height": 440,
    "margin": {"l": 70, "r": 30, "t": 40, "b": 90},
    "legend": {"orientation": "h", "y": -0.2},
    "font": {"family": "system-ui, sans-serif", "size": 13},
}


def label(text: str) -> str:
    """Text for a Plotly label: Plotly reads a subset of HTML in labels, so every name is escaped."""
    return escape(text, quote=False)


def colours(results: Results) -> dict[str, str]:
    """One colour per configuration, the same in every chart."""
    palette = qualitative.Plotly
    return {name: palette[i % len(palette)] for i, name in enumerate(results.configs)}


def _errors(values: list[float], intervals: list[Interval], colour: str | None = None) -> dict:
    return {
        **({"color": colour} if colour else {}),
        "type": "data",
        "symmetric": False,
        "array": [high - v for v, (_, high) in zip(values, intervals, strict=True)],
        "arrayminus": [v - low for v, (low, _) in zip(values, intervals, strict=True)],
        "thickness": 1.2,
    }


def _spec(figure: go.Figure) -> dict:
    return json.loads(figure.to_json())


def category_figure(results: Results) -> dict | None:
    """Grouped bars: each configuration's tax per category with its paired 95% CI (clustered t)."""
    reference = results.configs[results.reference]
    categories = list(reference.categories)
    others = [n for n, c in results.configs.items() if not c.is_reference]
    if not categories or not others:
        return None
    figure = go.Figure()
    palette = colours(results)
    for name in others:
        taxed = [(c, t) for c in categories if (t := results.configs[name].categories[c].tax)]
        values = [t.tax for _, t in taxed]
        figure.add_bar(
            name=label(name),
            x=[label(c) for c, _ in taxed],
            y=values,
            error_y=_errors(values, [t.tax_ci for _, t in taxed]),
            marker_color=palette[name],
            hovertemplate="%{x}: %{y:.1f} pp<extra>" + label(name) + "</extra>",
        )
    figure.update_layout(**_LAYOUT, barmode="group", yaxis_title="tax, pp (reference − configuration)")
    return _spec(figure)


def decomposition_figure(results: Results) -> dict | None:
    """Relative bars per configuration: refusal-driven + capability loss - gains, with the net tax and CIs."""
    taxed = [(n, c.overall.tax) for n, c in results.configs.items() if c.overall and c.overall.tax]
    if not taxed:
        return None
    names = [label(n) for n, _ in taxed]
    parts = (
        ("refusal-driven", "#d62728", [t.refusal_driven for _, t in taxed], [t.refusal_driven_ci for _, t in taxed]),
        ("capability loss", "#ff7f0e", [t.capability_loss for _, t in taxed], [t.capability_loss_ci for _, t in taxed]),
        (
            "gains (subtracted)",
            "#2ca02c",
            [-t.gains for _, t in taxed],
            [(-t.gains_ci[1], -t.gains_ci[0]) for _, t in taxed],
        ),
    )
    figure = go.Figure()
    for name, colour, values, intervals in parts:
        figure.add_bar(
            name=name,
            x=names,
            y=values,
            marker_color=colour,
            error_y=_errors(values, intervals),
            hovertemplate="%{x}: %{y:.1f} pp<extra>" + name + "</extra>",
        )
    net = [t.tax for _, t in taxed]
    figure.add_scatter(
        name="net tax",
        x=names,
        y=net,
        mode="markers",
        marker={"symbol": "diamond", "size": 13, "color": "#222"},
        error_y=_errors(net, [t.tax_ci for _, t in taxed]),
        hovertemplate="%{x}: net tax %{y:.1f} pp<extra></extra>",
    )
    figure.update_layout(**_LAYOUT, barmode="relative", yaxis_title="pp of capability items")
    return _spec(figure)


def frontier_figure(frontier: Frontier, results: Results) -> dict | None:
    """Capability tax against safety coverage, coloured by over-refusal; frontier points are diamonds joined in
    order of tax, dominated ones circles; every point labelled with its name and frontier probability."""
    if "tax" not in frontier.objectives or "coverage" not in frontier.objectives:
        return None
    points = frontier.points
    # both objectives are measured, so every point has both (the strict zips below would say otherwise)
    x = [p.tax for p in points if p.tax is not None]
    y = [p.coverage for p in points if p.coverage is not None]

    def tax_ci(name: str) -> Interval:
        overall = results.configs[name].overall
        return overall.tax.tax_ci if overall and overall.tax else (0.0, 0.0)

    def coverage_ci(name: str) -> Interval:
        return results.configs[name].safety.coverage.ci or (0.0, 0.0)

    over = [p.over_refusal if p.over_refusal is not None else 0.0 for p in points]
    line = sorted((p for p in points if p.on_frontier), key=lambda p: (p.tax, -(p.coverage or 0)))
    figure = go.Figure()
    figure.add_scatter(
        name="frontier",
        x=[p.tax for p in line],
        y=[p.coverage for p in line],
        mode="lines",
        line={"dash": "dash", "color": "#555", "width": 1.5},
        hoverinfo="skip",
    )
    figure.add_scatter(
        name="configurations",
        x=x,
        y=y,
        mode="markers+text",
        text=[f"{label(p.config)} · P={p.probability:.2f}" for p in points],
        textposition="top center",
        hovertext=[
            f"{label(p.config)}<br>tax {p.tax:.1f} pp<br>coverage {p.coverage:.1f}%<br>over-refusal {o:.1f}%"
            f"<br>{'on the frontier' if p.on_frontier else 'dominated'} (P={p.probability:.2f})"
            for p, o in zip(points, over, strict=True)
        ],
        hoverinfo="text",
        error_x=_errors(x, [tax_ci(p.config) for p in points], "#888"),
        error_y=_errors(y, [coverage_ci(p.config) for p in points], "#888"),
        marker={
            "size": 16,
            "color": over,
            "cmin": 0,
            "cmax": max(10.0, *over),
            "colorscale": "OrRd",
            "colorbar": {"title": {"text": "over-refusal %"}},
            "symbol": ["diamond" if p.on_frontier else "circle" for p in points],
            "line": {"width": [2.5 if p.on_frontier else 1 for p in points], "color": "#333"},
        },
    )
    figure.update_layout(
        **_LAYOUT | {"height": 500},
        showlegend=False,
        xaxis_title="capability tax, pp (lower is better)",
        yaxis_title="safety coverage, % harmful refused (higher is better)",
    )
    return _spec(figure)
