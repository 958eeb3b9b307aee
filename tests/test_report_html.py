"""The HTML report as a file: self-contained, every untrusted string escaped, `altax report` writes it."""

import base64
import hashlib
import json
import re

import pytest

from alignment_tax.analysis.frontier import frontier
from alignment_tax.analysis.results import Results
from alignment_tax.judge.stage import judge_name
from alignment_tax.report.exports import item_outcomes
from alignment_tax.report.figures import category_figure, decomposition_figure, frontier_figure
from alignment_tax.report.html import embed_json, refusal_share, render_report
from alignment_tax.store import Store
from altax_here import altax_here
from scripted_run import ITEMS, XSS, scripted_run

SCRIPT = re.compile(r"<script([^>]*)>(.*?)</script>", re.S)


@pytest.fixture
def page(tmp_path):
    """A scripted run's report page, and the run's results."""
    settings, output = scripted_run(tmp_path)
    payload = json.loads(output.results_path.read_text())
    store = Store(settings.store_path)
    rows = store.judged_items(output.run.run_id, judge_name(settings.detector))
    front = frontier(rows, "base", n_boot=100)
    html = render_report(payload, front, item_outcomes(store, output.run.run_id, judge_name(settings.detector)))
    store.close()
    return html, Results.model_validate(payload["results"])


def test_embed_json_cannot_close_its_block():
    data = {"text": "</script><!-- <script>alert(1)</script> & \u2028"}
    text = embed_json(data)
    assert not set("<>&") & set(text) and json.loads(text) == data


def test_page_has_only_its_own_scripts_and_fetches_nothing(page):
    html, _ = page
    scripts = SCRIPT.findall(html)
    assert [attrs for attrs, _ in scripts] == [' type="application/json" id="altax-data"', "", ""]
    assert html.count("<script") == 3 and html.count("</script>") == 3
    assert not re.search(r"<(link|iframe|object|embed|img)\b|\bsrc=", re.sub(SCRIPT, "", html))
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html)[1]
    assert "default-src 'none'" in csp
    for _, source in scripts[1:]:
        digest = base64.b64encode(hashlib.sha256(source.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in csp


def test_untrusted_text_reaches_the_page_only_as_data(page):
    html, _ = page
    data = json.loads(SCRIPT.findall(html)[0][1])
    responses = [a["response"] for item in data["browser"]["items"] for a in item["answers"].values()]
    assert XSS in responses
    outside_data = html.replace(SCRIPT.findall(html)[0][1], "")
    assert "window.__pwned" not in outside_data and "<i>odd" not in outside_data
    assert "&lt;i&gt;odd&lt;/i&gt; &amp; " in json.dumps(data["figures"]["chart-categories"])


def test_browser_data_has_every_item_and_flip(page):
    html, _ = page
    browser = json.loads(SCRIPT.findall(html)[0][1])["browser"]
    assert browser["reference"] == "base" and browser["configs"] == ["base", "safe", "also-safe"]
    assert [item["id"] for item in browser["items"]] == [item["id"] for item in ITEMS]
    m2 = next(item for item in browser["items"] if item["id"] == "m2")
    assert m2["answers"]["safe"]["flip"] == "correct → refused" and m2["answers"]["base"]["flip"] == "reference"


def test_headline_numbers(page):
    html, results = page
    assert refusal_share(results.configs["safe"]) == 100.0 and refusal_share(results.configs["base"]) is None
    assert "+20.0 [" in html and "100%" in html and "also-safe" in html
    assert "could pay 100% less tax" in html


def test_charts_are_skipped_without_their_data(page):
    _, results = page
    only_reference = results.model_copy(update={"configs": {"base": results.configs["base"]}})
    assert category_figure(only_reference) is None and decomposition_figure(only_reference) is None


def test_frontier_chart_needs_tax_and_coverage(tmp_path):
    settings, output = scripted_run(tmp_path, items=[i for i in ITEMS if i.get("kind") != "harmful"])
    store = Store(settings.store_path)
    front = frontier(store.judged_items(output.run.run_id, judge_name(settings.detector)), "base", n_boot=20)
    store.close()
    results = Results.model_validate(json.loads(output.results_path.read_text())["results"])
    assert front.objectives == ["tax", "over_refusal"] and frontier_figure(front, results) is None


def test_altax_report_writes_the_page(tmp_path):
    settings, output = scripted_run(tmp_path)
    args = ["report", "--results-dir", str(settings.results_dir)]
    done = altax_here(*args)
    assert done.returncode == 0, done.stderr
    default = settings.results_dir / output.run.run_id / "report.html"
    assert f"report: {default}" in done.stdout.replace("\n", "") and default.stat().st_size > 1_000_000
    out = tmp_path / "elsewhere" / "r.html"
    done = altax_here(*args, output.run.run_id, "--out", str(out))
    assert done.returncode == 0 and out.read_text().startswith("<!DOCTYPE html>")
    missing = altax_here(*args, "nope")
    assert missing.returncode == 2 and "no run 'nope'" in missing.stderr


def test_routed_configurations_get_the_adaptive_guardrail_section(page):
    from rich.console import Console

    from alignment_tax.analysis.routing import route_summary
    from alignment_tax.records import Route
    from alignment_tax.report.html import routing_section
    from alignment_tax.report.terminal import routing_table
    from alignment_tax.suite.schema import Item

    html, _ = page
    assert "id='routing'" not in html and routing_section({}) == ""
    items = [Item.model_validate(item) for item in ITEMS]
    harmful = {item.id for item in items if item.kind == "harmful"}
    routes = [Route("routed", item.id, 0.9 if item.id in harmful else 0.1, item.id in harmful) for item in items]
    summary = route_summary(routes, items)
    n_harmful = len(harmful)
    section = routing_section(summary)
    assert f"100% of {n_harmful} (risk 0.90)" in section and "0% of" in section
    console = Console(record=True, width=200)
    console.print(routing_table(summary))
    assert f"100% of {n_harmful} (0.90)" in console.export_text()
