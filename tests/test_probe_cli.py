"""One probe command: `altax probe --run RUN` sets the probe beside a stored run's verdicts, and its old name
`altax judge probe RUN` still works for one release with a notice."""

from typer.testing import CliRunner

from alignment_tax.cli import app
from test_judge_probing import stored  # noqa: F401  (the fixture: a scripted run whose model gives log-probs)


def test_probe_run_and_its_old_name_print_the_same_table(stored):  # noqa: F811
    settings, run_id, _ = stored
    common = ["--detector", settings.detector, "--threshold", "-1", "--results-dir", str(settings.results_dir)]
    new = CliRunner().invoke(app, ["probe", "--run", run_id, *common])
    assert new.exit_code == 0, new.output
    assert f"probe threshold -1 (log-odds); detector {settings.detector} on run {run_id}" in new.stdout
    safe = next(line for line in new.stdout.splitlines() if "│ safe " in line)
    mean_p = f"{100 * (0.61 + 0.03) / 2:.1f}%"  # half refused: P(Sorry) + P(I) is 0.61 there, 0.03 elsewhere
    assert [cell.strip() for cell in safe.split("│")[2:-1]] == ["50.0%", mean_p, "50.0%", "100.0%", "1.000"]
    assert "is now" not in new.stderr

    old = CliRunner().invoke(app, ["judge", "probe", run_id, *common])
    assert old.exit_code == 0, old.output
    table = new.stdout[new.stdout.index("┏") :]  # the first call also printed its progress: it probed the prompts
    assert old.stdout == table
    assert "`altax judge probe RUN` is now `altax probe --run RUN`" in old.stderr
    assert "probe" not in CliRunner().invoke(app, ["judge", "--help"]).stdout.split()


def test_probe_run_takes_no_experiment_options():
    result = CliRunner().invoke(app, ["probe", "--run", "latest", "--limit", "2"])
    assert result.exit_code == 2 and "leave out --experiment, --limit" in result.output
