"""Read experiment files (TOML or YAML) and build the default and two-model experiments."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

import yaml
from pydantic import ValidationError

from alignment_tax.configs.schema import Configuration, Experiment
from alignment_tax.errors import AltaxError


def _validation_message(source: str, error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "(top level)"
    return f"{source}: {where}: {first['msg']}"


def parse_experiment(data: dict, source: str) -> Experiment:
    """Validate an already-parsed experiment mapping; errors name the file and the field."""
    try:
        return Experiment.model_validate(data)
    except ValidationError as error:
        raise AltaxError(_validation_message(source, error)) from None


def load_experiment(path: str | Path) -> Experiment:
    """Load an experiment from a ``.toml``, ``.yaml`` or ``.yml`` file."""
    path = Path(path)
    if not path.is_file():
        raise AltaxError(f"experiment file not found: {path}")
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix == ".toml":
            data = tomllib.loads(text)
        elif path.suffix in (".yaml", ".yml"):
            data = yaml.safe_load(text) or {}
        else:
            raise AltaxError(f"{path}: experiment files are .toml, .yaml or .yml")
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as error:
        raise AltaxError(f"{path}: not valid {path.suffix[1:].upper()}: {error}") from None
    if not isinstance(data, dict):
        raise AltaxError(f"{path}: the top level must be a table of settings")
    return parse_experiment(data, str(path))


def default_experiment() -> Experiment:
    """The bundled default: the embedded model as reference, a general and a medical safety prompt."""
    text = resources.files("alignment_tax.configs").joinpath("default.toml").read_text(encoding="utf-8")
    return parse_experiment(tomllib.loads(text), "default.toml")


def experiment_with(path: str | Path | None, **overrides: object) -> Experiment:
    """The experiment in ``path`` (the default one without a path) with the given fields replaced; overrides
    that are None are left out, and the result is validated again."""
    experiment = load_experiment(path) if path else default_experiment()
    updates = {key: value for key, value in overrides.items() if value is not None}
    if not updates:
        return experiment
    return parse_experiment(experiment.model_dump() | updates, str(path or "the default experiment"))


def pair_experiment(reference: str, aligned: str, suite: str) -> Experiment:
    """The common two-model case: ``reference`` against ``aligned`` on one suite."""
    return Experiment(
        suite=suite,
        reference="reference",
        configs=[
            Configuration(name="reference", model=reference),
            Configuration(name="aligned", model=aligned),
        ],
    )
