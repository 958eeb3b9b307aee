"""Read experiment files (TOML or YAML) and build the default and two-model experiments."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

import yaml
from pydantic import ValidationError
from pydantic_core import PydanticSerializationError

from alignment_tax.configs.schema import Configuration, Experiment
from alignment_tax.errors import AltaxError
from alignment_tax.jsonl import field_error, read_text


def parse_experiment(data: dict, source: str) -> Experiment:
    """Validate an already-parsed experiment mapping; errors name the file and the field."""
    try:
        experiment = Experiment.model_validate(data)
        experiment.model_dump_json()
    except ValidationError as error:
        raise field_error(source, error) from None
    except PydanticSerializationError:
        raise AltaxError(
            f"{source}: a string holds a lone surrogate escape (\\ud800-\\udfff); write the character"
        ) from None
    return experiment


def load_experiment(path: str | Path) -> Experiment:
    """Load an experiment from a ``.toml``, ``.yaml`` or ``.yml`` file (UTF-8, a byte-order mark allowed)."""
    path = Path(path)
    if path.suffix not in (".toml", ".yaml", ".yml"):
        raise AltaxError(f"{path}: experiment files are .toml, .yaml or .yml")
    text = read_text(path, "experiment file")
    kind = "TOML" if path.suffix == ".toml" else "YAML"
    try:
        data = tomllib.loads(text) if kind == "TOML" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as error:  # TOMLDecodeError and bad YAML dates and numbers are ValueErrors
        raise AltaxError(f"{path}: not valid {kind}: {' '.join(str(error).split())}") from None
    except RecursionError:
        raise AltaxError(f"{path}: not valid {kind}: nested too deeply") from None
    if data is None:
        data = {}
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
