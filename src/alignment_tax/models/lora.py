"""PEFT LoRA adapters over a Hugging Face base model: fingerprint the adapter, merge it into the weights."""

from __future__ import annotations

import hashlib
import importlib.util
import warnings
from pathlib import Path

from alignment_tax.errors import AltaxError

INSTALL = "pip install 'alignment-tax[lora]'"
PACKAGED = Path(__file__).parent / "adapters"
"""Adapters shipped with the package, one folder per name (``builtin:MODEL+NAME``)."""


def split_adapter(target: str) -> tuple[str, str | None]:
    """``BASE+ADAPTER`` as (base, adapter); a target without ``+`` has no adapter."""
    base, plus, adapter = target.partition("+")
    if plus and not (base and adapter):
        raise AltaxError(f"{target!r} must look like BASE+ADAPTER (a model and a PEFT adapter folder or hub id)")
    return base, adapter or None


def named_adapter(name: str, *folders: Path) -> str:
    """The folder of adapter ``name``: packaged first, then under each of ``folders``, else a local path."""
    for root in (PACKAGED, *folders):
        if (root / name / "adapter_config.json").is_file():
            return str(root / name)
    if Path(name).expanduser().is_dir():
        return str(Path(name).expanduser())
    known = sorted({p.name for root in (PACKAGED, *folders) if root.is_dir() for p in root.iterdir() if p.is_dir()})
    where = " or ".join(str(f) for f in (PACKAGED, *folders))
    raise AltaxError(
        f"no adapter named {name!r} in {where}; known: {', '.join(known) or 'none'} "
        "(train one with `altax align`, or give an adapter folder)"
    )


def adapter_fingerprint(adapter: str) -> str:
    """``lora:`` and a hash of a local adapter's files (config and weights), or the hub id of a remote one."""
    if importlib.util.find_spec("peft") is None:
        raise AltaxError(f"LoRA adapters need peft: {INSTALL}")
    folder = Path(adapter)
    if not folder.is_dir():
        return f"lora:{adapter}"
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.name.startswith("adapter_"))
    if not any(p.name == "adapter_config.json" for p in files):
        raise AltaxError(f"{adapter} has no adapter_config.json; point to a folder saved by PEFT's save_pretrained")
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return f"lora:{digest.hexdigest()[:16]}"


def attach(model, adapter: str, spec: str):
    """The base model with the adapter merged into its weights (as fast as the base at inference)."""
    from peft import PeftModel

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # a transformers deprecation raised inside PEFT
            merged = PeftModel.from_pretrained(model, adapter).merge_and_unload()
    except (OSError, ValueError) as error:
        raise AltaxError(f"cannot load the adapter of {spec!r}: {str(error).splitlines()[0]}") from None
    return merged
