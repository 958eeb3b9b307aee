"""The CLI's shape: it imports no model backend, and its commands fail in one line before loading a model."""

import ast
from pathlib import Path

from typer.testing import CliRunner

import alignment_tax.cli
from alignment_tax.cli import app

CLI = Path(alignment_tax.cli.__file__).parent


def _imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at its top or inside functions."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_no_cli_module_imports_a_model_backend():
    offenders = {
        f"{path.name}: {name}"
        for path in sorted(CLI.glob("*.py"))
        for name in _imported_modules(path)
        if name == "alignment_tax.models" or name.startswith("alignment_tax.models.")
    }
    assert not offenders, "the CLI calls workflows, which load backends: " + ", ".join(sorted(offenders))
    assert "alignment_tax.models.specs" in _imported_modules(CLI.parent / "workflows" / "serving.py")  # the check sees


def test_steer_extract_refuses_an_unknown_method_before_loading_a_model():
    result = CliRunner().invoke(app, ["steer", "extract", "--method", "nope"])
    assert result.exit_code == 2 and "unknown method 'nope'; choose one of caa, mean-diff" in result.output


def test_steer_sweep_refuses_a_bad_mode_or_a_missing_direction_before_loading_a_model(tmp_path, monkeypatch):
    monkeypatch.setenv("ALTAX_CACHE_DIR", str(tmp_path))
    common = ["steer", "sweep", "--layers", "8", "--results-dir", str(tmp_path / "results")]
    mode = CliRunner().invoke(app, [*common, "--mode", "twist"])
    assert mode.exit_code == 2 and "--mode must be add or ablate, not 'twist'" in mode.output
    missing = CliRunner().invoke(app, [*common, "--direction", "nope"])
    assert missing.exit_code == 2 and "no steering direction 'nope'" in missing.output
    assert not (tmp_path / "results").exists()


def test_serve_needs_the_key_variable_it_names(monkeypatch):
    monkeypatch.delenv("ALTAX_TEST_UNSET_KEY", raising=False)
    result = CliRunner().invoke(app, ["serve", "builtin:x", "--api-key-env", "ALTAX_TEST_UNSET_KEY"])
    assert result.exit_code == 2 and "ALTAX_TEST_UNSET_KEY: that environment variable is not set" in result.output


def test_help_shows_bracketed_defaults_as_text():
    result = CliRunner().invoke(app, ["report", "--help"], env={"COLUMNS": "200"})
    assert "[env ALTAX_RESULTS_DIR, default ./altax-results]" in result.stdout
    assert "[default: RUN/report.html]" in result.stdout


def test_ctrl_c_says_how_to_resume_and_exits_130(monkeypatch):
    from alignment_tax.suite import loaders

    def interrupted():
        raise KeyboardInterrupt

    monkeypatch.setattr(loaders, "bundled_suites", interrupted)
    result = CliRunner().invoke(app, ["suites"])
    assert result.exit_code == 130 and "interrupted: finished batches are stored; run again to resume" in result.stderr
