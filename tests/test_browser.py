"""The HTML report in real headless Chromium: charts render, the item browser filters, untrusted text stays text."""

import subprocess
import sys
from pathlib import Path

import pytest

from alignment_tax.suite.schema import CAPABILITY_CATEGORIES
from scripted_run import ODD, XSS, scripted_run

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
EXPERIMENT = """
suite = "core"
reference = "plain"
limit = 1

[decoding]  # short answers keep the run quick; the page is what is tested
max_new_tokens = {CAPS}

[[configs]]
name = "plain"
model = "builtin:smollm2-135m-instruct"

[[configs]]
name = "guarded"
model = "builtin:smollm2-135m-instruct"
system_prompt = "Refuse anything dangerous by saying: I'm sorry, but I can't help with that."
""".replace("{CAPS}", "{ " + ", ".join(f"{c} = 32" for c in (*CAPABILITY_CATEGORIES, "harmful", "benign")) + " }")
MARKS = {
    "chart-categories": ".barlayer .point path",
    "chart-decomposition": ".barlayer .point path",
    "chart-frontier": ".scatterlayer .point",
}

if not CHROMIUM.exists():
    pytest.skip("needs Debian's chromium at /usr/bin/chromium (apt-get install -y chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright package (the test extra)")


def altax(*args: str) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "alignment_tax", *args], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    return done


@pytest.fixture(scope="session")
def real_report(tmp_path_factory) -> Path:
    """The report of a real run of the embedded model: one item per category, two configurations."""
    folder = tmp_path_factory.mktemp("real")
    (folder / "experiment.toml").write_text(EXPERIMENT)
    results = str(folder / "results")
    altax("run", "--config", str(folder / "experiment.toml"), "--results-dir", results)
    out = folder / "report.html"
    altax("report", "--out", str(out), "--results-dir", results)
    return out


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


def open_report(browser, path: Path):
    """A page with the report loaded and its charts drawn; console errors, page errors and dialogs recorded."""
    page = browser.new_page(viewport={"width": 1300, "height": 1000})
    page.problems, page.dialogs = [], []
    page.on("console", lambda m: page.problems.append(m.text) if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda error: page.problems.append(str(error)))
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    page.on("request", lambda r: page.problems.append(f"request {r.url}") if not r.url.startswith("file:") else None)
    page.goto(path.as_uri())
    page.wait_for_selector("body[data-charts-ready]", timeout=30_000)
    assert page.evaluate("document.body.dataset.chartsReady") == "true"
    return page


def visible_items(page) -> list[str]:
    return page.locator("#items article.item").evaluate_all("nodes => nodes.map(n => n.dataset.category)")


@pytest.mark.slow  # a real run of the embedded model, as `altax run` makes it
def test_report_of_a_real_run_renders_and_filters(browser, real_report):
    page = open_report(browser, real_report)
    for chart, marks in MARKS.items():
        assert page.locator(f"#{chart} svg.main-svg").count() >= 1, chart
        assert page.locator(f"#{chart} {marks}").count() >= 2, chart
    assert page.locator("#chart-frontier .textpoint text").count() == 2  # every point labelled
    assert page.locator("#headline tbody tr").count() == 2

    everything = visible_items(page)
    assert len(everything) == 11  # 9 capability categories, harmful and benign: one item each
    page.select_option("#filter-category", "math")
    assert visible_items(page) == ["math"]
    assert page.locator("#items .answer").count() == 2  # reference and guarded
    page.select_option("#filter-category", "*")
    flips = page.locator("#filter-flip option").evaluate_all("options => options.map(o => o.value)")[2:]
    for flip in flips:  # each flip type seen in this run: only items with that flip remain
        page.select_option("#filter-flip", flip)
        shown = len(visible_items(page))
        assert 0 < shown <= len(everything)
        assert page.locator("#items .badge.flip").all_inner_texts() == [flip] * shown
    page.select_option("#filter-flip", "*")
    page.fill("#filter-text", "zzz-no-such-text")
    assert visible_items(page) == [] and "0 of 11" in page.inner_text("#item-count")

    ARTIFACTS.mkdir(exist_ok=True)
    page.fill("#filter-text", "")
    page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
    assert page.problems == [] and page.dialogs == []


def test_untrusted_text_renders_as_text_and_runs_nothing(browser, tmp_path):
    settings, output = scripted_run(tmp_path)
    out = tmp_path / "xss.html"
    altax("report", output.run.run_id, "--out", str(out), "--results-dir", str(settings.results_dir))
    page = open_report(browser, out)
    page.fill("#filter-text", "Echo the tag")
    assert len(visible_items(page)) == 1
    shown = page.locator("#items pre.response").all_inner_texts()
    assert shown == [XSS] * 3  # the payload, verbatim, as text in every configuration's answer
    assert page.locator("#items pre.prompt").inner_text().startswith("Echo the tag </script><script>")
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.locator("#items img, #items script, #items b, #items i").count() == 0
    assert page.locator("script").count() == 3
    ticks = page.locator("#chart-categories .xtick text").evaluate_all("nodes => nodes.map(n => n.textContent)")
    assert ODD in ticks
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "report-untrusted.png"), full_page=True)
    assert page.dialogs == [] and page.problems == []
