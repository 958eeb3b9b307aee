"""The HTML report: one self-contained page (headline, charts, frontier, item browser) that works offline."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from html import escape
from pathlib import Path

from alignment_tax.analysis.frontier import Frontier, frontier
from alignment_tax.analysis.results import Results, refusal_share
from alignment_tax.analysis.safety import Proportion
from alignment_tax.analysis.sensitivity import Sensitivity
from alignment_tax.files import write_file
from alignment_tax.report.exports import ItemOutcome, item_outcomes
from alignment_tax.report.figures import category_figure, decomposition_figure, frontier_figure
from alignment_tax.report.sensitivity_table import NOTE as SENSITIVITY_NOTE
from alignment_tax.report.sensitivity_table import accuracy_note, sensitivity_cells
from alignment_tax.store import Store

ASSETS = Path(__file__).with_name("assets")
_SLOT = re.compile(r"\{\{(\w+)\}\}")
STATIC_CSP = "default-src 'none'; style-src 'unsafe-inline'"
"""The policy of a page without scripts: nothing is fetched, only its own styles apply."""


def fill(template: str, slots: dict[str, str]) -> str:
    """An asset's ``{{slot}}`` marks replaced by ``slots`` (in one pass: text put in is never read for marks)."""
    return _SLOT.sub(lambda m: slots[m[1]], (ASSETS / template).read_text())


def page(
    title: str, heading: str, meta: list[tuple[str, str]], main: str, csp: str = STATIC_CSP, scripts: str = ""
) -> str:
    """A whole page in the report's shell (policy, styles, header with the run's facts): ``main`` and
    ``scripts`` are markup; the title, heading and facts are text, escaped here."""
    slots = {
        "csp": csp,
        "title": escape(title),
        "style": (ASSETS / "report.css").read_text(),
        "heading": escape(heading),
        "meta": "".join(f"<span><b>{escape(k)}</b> {escape(v)}</span>" for k, v in meta),
        "main": main,
        "scripts": scripts,
    }
    return fill("page.html", slots)


def embed_json(data: object) -> str:
    """JSON to place inside ``<script type="application/json">``: ``<``, ``>`` and ``&`` become ``\\u``
    escapes, so no text in it can close the block or open markup."""
    text = json.dumps(data, ensure_ascii=False, allow_nan=False)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def _script_hash(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode()).digest()).decode() + "'"


def _pp(value: float | None, ci: tuple[float, float] | None = None, sign: str = "+") -> str:
    if value is None:
        return "–"
    text = f"{value:{sign}.1f}"
    return f"{text} [{ci[0]:{sign}.1f}, {ci[1]:{sign}.1f}]" if ci else text


def _share(p: Proportion) -> str:
    return "–" if p.percent is None or p.ci is None else f"{p.percent:.0f}% [{p.ci[0]:.0f}, {p.ci[1]:.0f}]"


def _row(cells: list[str], tag: str = "td") -> str:
    return "<tr>" + "".join(f"<{tag}>{escape(c)}</{tag}>" for c in cells) + "</tr>"


def _table(head: list[str], rows: list[list[str]]) -> str:
    body = "".join(_row(r) for r in rows)
    return f"<div class='table'><table><thead>{_row(head, 'th')}</thead><tbody>{body}</tbody></table></div>"


def headline_table(results: Results, front: Frontier) -> str:
    """The headline: tax with CI, refusal share, refusal-excluded gap, safety and frontier per configuration."""
    points = {p.config: p for p in front.points}
    rows = []
    for name, config in results.configs.items():
        tax = config.overall.tax if config.overall else None
        share = refusal_share(config)
        point = points.get(name)
        place = "–" if point is None else ("on" if point.on_frontier else "off") + f", P={point.probability:.2f}"
        rows.append(
            [
                f"{name} (reference)" if config.is_reference else name,
                f"{config.overall.accuracy:.1f}%" if config.overall else "–",
                _pp(tax.tax, tax.tax_ci) if tax else "–",
                f"{share:.0f}%" if share is not None else "–",
                _pp(tax.refusal_excluded_gap, tax.refusal_excluded_gap_ci) if tax else "–",
                _share(config.safety.coverage),
                _share(config.safety.harmful_partial),
                _share(config.safety.over_refusal),
                place,
            ]
        )
    head = ["configuration", "accuracy", "tax, pp [95% CI]", "refusal share of loss", "gap w/o refusals, pp"]
    head += ["safety coverage", "harmful partial", "over-refusal", "frontier"]
    return _table(head, rows)


def frontier_table(front: Frontier) -> str:
    """Frontier membership, its bootstrap probability and the saving of each dominated configuration."""
    rows = []
    for p in front.points:
        saving = p.saving
        rows.append(
            [
                p.config,
                "on the frontier" if p.on_frontier else "dominated",
                f"{p.probability:.2f}",
                saving.against if saving else "–",
                _pp(saving.points, saving.points_ci, sign="") if saving else "–",
                f"{saving.percent:.0f}%" if saving and saving.percent is not None else "–",
            ]
        )
    head = ["configuration", "place", "P(on frontier)", "cheapest frontier config with at least its safety"]
    return _table(head + ["saving, pp [95% CI]", "saving, % of its tax"], rows)


ROUTED_KINDS = ("harmful", "benign", "capability")


def routing_section(routes: dict) -> str:
    """Fixed against adaptive guardrails: how often each routed configuration switched its guardrail on, per item
    kind (the results file's ``run.routes``); empty when the run has no routed configuration."""
    if not routes:
        return ""
    rows = []
    for config, kinds in routes.items():
        cells = [
            f"{kinds[k]['percent']:.0f}% of {kinds[k]['n']} (risk {kinds[k]['mean_risk']:.2f})" if k in kinds else "–"
            for k in ROUTED_KINDS
        ]
        rows.append([config, *cells])
    table = _table(["routed configuration", *(f"guardrail on, {k}" for k in ROUTED_KINDS)], rows)
    note = (
        "A routed configuration applies its guardrail only to prompts the risk classifier scores at or above its "
        "threshold, so its tax, coverage and over-refusal in the headline are those of an adaptive guardrail; "
        "compare them with the fixed configuration that always applies the same guardrail. Ideally the guardrail "
        "is on for harmful requests and off for benign and capability items (mean risk score in brackets)."
    )
    heading = "<h2>Fixed against adaptive guardrails</h2>"
    return f"<section id='routing'>{heading}<p class='note'>{escape(note)}</p>{table}</section>"


def detector_section(sens: Sensitivity | None) -> str:
    """The detector-sensitivity table (empty without one): the run under each detector, conclusions that change
    marked."""
    if sens is None:
        return ""
    head, rows, changed = sensitivity_cells(sens)
    table = _table(
        head, [[*row[:-1], f"changes: {row[-1]}" if mark else ""] for row, mark in zip(rows, changed, strict=True)]
    )
    heading = "<h2>Detector sensitivity</h2>"
    notes = "".join(f"<p class='note'>{escape(note)}</p>" for note in (SENSITIVITY_NOTE, accuracy_note(sens)))
    return f"<section id='detectors'>{heading}{notes}{table}</section>"


def summary(results: Results, front: Frontier) -> str:
    """Two sentences: which configurations are on the frontier and what the dominated ones could save."""
    on = [p.config for p in front.points if p.on_frontier]
    text = f"Frontier (non-dominated on {', '.join(o.replace('_', '-') for o in front.objectives)}): {', '.join(on)}."
    if front.mean_saving_percent is not None:
        text += (
            f" Dominated configurations with a positive tax could pay {front.mean_saving_percent:.0f}% less tax "
            "on average by moving to the cheapest frontier configuration with at least their safety."
        )
    return f"<p class='lead'>{escape(text)}</p>"


def browser_data(items: list[ItemOutcome], reference: str) -> dict:
    """The item browser's data: configurations (reference first) and, per item, each configuration's answer."""
    configs = [reference] + list(dict.fromkeys(r.config for r in items if r.config != reference))
    by_item: dict[str, dict] = {}
    for row in items:
        if row.sample != 0:
            continue
        entry = by_item.setdefault(
            row.item_id,
            {
                "id": row.item_id,
                "category": row.category,
                "kind": row.kind,
                "prompt": row.prompt,
                "choices": row.choices,
                "answers": {},
            },
        )
        entry["answers"][row.config] = {
            "outcome": row.outcome,
            "correct": row.correct,
            "flip": row.flip,
            "response": row.response,
        }
    return {"reference": reference, "configs": configs, "items": list(by_item.values())}


def render_report(
    payload: dict, front: Frontier, items: list[ItemOutcome], sensitivity: Sensitivity | None = None
) -> str:
    """The report page from a results file (the dict the pipeline writes), the frontier, per-item outcomes and,
    when given, the run under several detectors."""
    from plotly.offline import get_plotlyjs

    run = payload["run"]
    results = Results.model_validate(payload["results"])
    figures = {
        "chart-categories": category_figure(results),
        "chart-decomposition": decomposition_figure(results),
        "chart-frontier": frontier_figure(front, results),
    }
    data = {"figures": figures, "browser": browser_data(items, results.reference)}
    plotly_js, app_js = get_plotlyjs(), (ASSETS / "report.js").read_text()
    suite = run.get("suite", {})
    meta = [
        ("run", run.get("run_id", "?")),
        ("created", time.strftime("%Y-%m-%d %H:%M", time.localtime(run.get("created_at", 0)))),
        ("suite", f"{suite.get('name', '?')} {suite.get('version', '')}"),
        ("reference", results.reference),
        ("judge", run.get("detector", "?")),
        ("bootstrap", f"{results.n_boot} resamples, seed {results.seed}"),
    ]
    corner = ", ".join(f"{o.replace('_', '-')} {v:g}" for o, v in front.reference_point.items())
    hv = f"Hypervolume {front.hypervolume:,.0f} pp^{len(front.objectives)} against the reference point ({corner}):"
    hv += f" {100 * front.hypervolume_share:.2f}% of the box between that point and the ideal one."
    slots = {
        "summary": summary(results, front),
        "headline": headline_table(results, front),
        "frontier_table": frontier_table(front),
        "hypervolume": escape(hv),
        "routing": routing_section(run.get("routes", {})),
        "detectors": detector_section(sensitivity),
    }
    scripts = (
        f'<script type="application/json" id="altax-data">{embed_json(data)}</script>\n'
        f"<script>{plotly_js}</script>\n<script>{app_js}</script>"
    )
    csp = (
        f"default-src 'none'; script-src {_script_hash(plotly_js)} {_script_hash(app_js)}; "
        "style-src 'unsafe-inline'; img-src data:; font-src data:"
    )
    title = f"Alignment tax report · {run.get('run_id', '')}"
    return page(title, "Alignment tax report", meta, fill("report.html", slots), csp, scripts)


def write_report(store: Store, payload: dict, out: Path, sensitivity: Sensitivity | None = None) -> Path:
    """Write the report of the run a results file describes, reading per-item answers from the store; with
    ``sensitivity`` it gains the detector table."""
    run_id, judge = payload["run"]["run_id"], payload["run"]["detector"]
    results = payload["results"]
    rows = store.judged_items(run_id, judge)
    front = frontier(rows, results["reference"], n_boot=results["n_boot"], seed=results["seed"])
    page = render_report(payload, front, item_outcomes(store, run_id, judge), sensitivity)
    return write_file(out, lambda handle: handle.write(page.encode("utf-8")))
