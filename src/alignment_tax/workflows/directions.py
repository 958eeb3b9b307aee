"""Extracting a steering direction for every layer of a model from the calibration set, and saving it."""

from __future__ import annotations

from pathlib import Path

from alignment_tax.errors import AltaxError
from alignment_tax.interventions.directions import (
    METHODS,
    Direction,
    default_direction_name,
    extract_direction,
    save_direction,
)
from alignment_tax.models.specs import load_backend


def extract_and_save(model: str, method: str, name: str | None = None, seed: int = 0) -> tuple[Direction, Path]:
    """Load ``model``, extract its ``method`` direction (``seed`` pairs prompts with openings for caa) and save it
    in the user cache under ``name`` [default: METHOD-MODEL]; returns the direction and where it was saved."""
    if method not in METHODS:
        raise AltaxError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    backend = load_backend(model)
    if not hasattr(backend, "model"):
        raise AltaxError(f"steering needs a model loaded with transformers (builtin: or hf:), not {model!r}")
    direction = extract_direction(backend, method, seed=seed)
    return direction, save_direction(direction, name or default_direction_name(model, method))
