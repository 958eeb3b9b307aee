"""Write an experiment as a TOML experiment file that ``load_experiment`` reads back to the same experiment."""

from __future__ import annotations

import json
import re

from alignment_tax.configs.schema import Experiment

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _key(key: str) -> str:
    return key if _BARE_KEY.match(key) else json.dumps(key, ensure_ascii=False)


def _value(value: object) -> str:
    """A TOML value: a JSON string is a valid TOML basic string, numbers and booleans are written alike."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items() if v is not None) + " }"
    raise TypeError(f"no TOML form for {type(value).__name__}")


def _table(data: dict) -> list[str]:
    return [f"{_key(key)} = {_value(value)}" for key, value in data.items() if value is not None]


def experiment_toml(experiment: Experiment, header: str = "") -> str:
    """``experiment`` as TOML: top-level settings, then one ``[[configs]]`` table each; ``header`` lines become
    comments at the top."""
    data = experiment.model_dump(mode="json")
    configs = data.pop("configs")
    lines = [f"# {line}" if line else "#" for line in header.splitlines()]
    lines += _table(data)
    for config in configs:
        lines += ["", "[[configs]]", *_table(config)]
    return "\n".join(lines) + "\n"
