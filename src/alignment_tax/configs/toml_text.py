"""Write an experiment as a TOML experiment file that ``load_experiment`` reads back to the same experiment."""

from __future__ import annotations

import tomli_w

from alignment_tax.configs.schema import Experiment


def experiment_toml(experiment: Experiment, header: str = "") -> str:
    """``experiment`` as TOML (unset fields left out, one ``[[configs]]`` table each); ``header`` lines become
    comments at the top."""
    comments = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines())
    return comments + tomli_w.dumps(experiment.model_dump(mode="json", exclude_none=True))
