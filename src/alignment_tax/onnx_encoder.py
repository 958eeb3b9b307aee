"""The packaged MiniLM run by ONNX Runtime: exported from torch once into the user cache (in float32, and with int8
weights), then scored without torch."""

from __future__ import annotations

import contextlib
import importlib.metadata
import logging
import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from alignment_tax.embeddings import DEFAULT_BATCH, MODEL_DIST, Openings, load_model, mean_pooled, packaged_model_dir
from alignment_tax.errors import AltaxError

EXPORT_FORMAT = 1
"""Version of the exported graph (inputs, outputs, pooling inside); a new one is exported beside older files."""
OPSET = 17
INPUTS = ("input_ids", "attention_mask")
_PADDED_EXAMPLE = ["a", "an opening of several more tokens"]
"""The texts traced at export: padded, so the graph keeps the attention mask for every batch."""
MANY_ROWS = 16
"""Texts in a forward pass from which it runs on the batch threads: a lone prompt (the gateway's) gains little from
a second thread, batches of 64 (`altax run` scoring a suite) run about 1.6 times as fast on two cores."""


def exported_model(int8: bool = False) -> Path:
    """The ONNX file of the packaged MiniLM (pooling included) in the user cache, exported on first use; with
    ``int8``, its linear layers' weights quantised to int8 and their inputs quantised per call (dynamic
    quantisation), made from the float file.

    Safe when several processes start at once: one exports under a file lock into a temporary file and renames it
    into place; the others wait and reuse it. A process killed mid-export leaves no file that looks finished."""
    from alignment_tax.models.builtin import build_once, cache_root

    folder = packaged_model_dir()
    weights = folder / "model.safetensors"
    version = importlib.metadata.version(MODEL_DIST)
    encoders = cache_root() / "encoders"
    target = encoders / f"{MODEL_DIST}-{version}-{weights.stat().st_size}-onnx{EXPORT_FORMAT}.onnx"
    build_once(encoders, target, target, lambda path: _export(folder, path))
    if not int8:
        return target
    quantized = target.with_name(f"{target.stem}-int8.onnx")
    build_once(encoders, quantized, quantized, lambda path: _quantize(target, path))
    return quantized


def _export(folder: Path, target: Path) -> None:
    import torch

    try:
        import onnx  # noqa: F401  (torch's exporter writes the file with it)
    except ImportError:
        raise AltaxError("exporting the router's encoder needs onnx: pip install onnx==1.23.2") from None
    tokens = Openings(8, DEFAULT_BATCH, folder).tokens(_PADDED_EXAMPLE, "pt")
    pooled = _pooled(load_model(folder))
    staging = target.with_name(f".{target.name}.partial")  # one exporter at a time: the caller holds the lock
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation and tracer notes
            torch.onnx.export(
                pooled,
                tuple(tokens[name] for name in INPUTS),
                str(staging),
                dynamo=False,
                input_names=list(INPUTS),
                output_names=["embedding"],
                dynamic_axes={**{name: {0: "batch", 1: "tokens"} for name in INPUTS}, "embedding": {0: "batch"}},
                opset_version=OPSET,
            )
        os.replace(staging, target)
    finally:
        staging.unlink(missing_ok=True)


def _quantize(source: Path, target: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic  # type: ignore[import-untyped]

    staging = target.with_name(f".{target.name}.partial")
    try:
        with warnings.catch_warnings(), _quiet_root_logger():
            warnings.simplefilter("ignore")
            quantize_dynamic(str(source), str(staging), weight_type=QuantType.QInt8, per_channel=True)
        os.replace(staging, target)
    finally:
        staging.unlink(missing_ok=True)


@contextlib.contextmanager
def _quiet_root_logger() -> Iterator[None]:
    """ONNX Runtime's quantiser advises pre-processing through the root logger; library code prints nothing."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def _pooled(model):
    """The model followed by ``mean_pooled``: what the exported graph computes."""
    import torch

    class Pooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask):
            hidden = self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            return mean_pooled(hidden, attention_mask)

    return Pooled().eval()


class OnnxEncoder(Openings):
    """Mean-pooled, L2-normalised MiniLM embeddings run by ONNX Runtime (sequential execution): a forward pass of
    fewer than ``MANY_ROWS`` texts on ``threads`` intra-op threads, a larger one on ``batch_threads`` (0: one per
    physical core, ONNX Runtime's default and torch's).

    In float32 the rows equal ``embeddings.Encoder(quantize=False)``'s to within float noise (about 2e-7), and a
    text's row is the same in any batch and on any number of threads. With ``int8`` (about twice as fast) each
    text runs alone: dynamic quantisation scales a forward pass's activations together, so batch mates would move
    a text's row; alone, its row depends on the text only (cosine to the float32 row 0.94 or more on the core
    suite's prompts)."""

    def __init__(self, max_tokens: int, threads: int, int8: bool = False, batch_threads: int = 0):
        try:
            import onnxruntime  # type: ignore[import-untyped]  # ships no type information
        except ImportError:
            raise AltaxError(
                "the router's encoder runs on ONNX Runtime: pip install onnxruntime==1.32.0 (alignment-tax requires it)"
            ) from None
        super().__init__(max_tokens, 1 if int8 else DEFAULT_BATCH, packaged_model_dir())
        self.runtime, self.path = onnxruntime, exported_model(int8)
        self.threads, self.batch_threads = threads, batch_threads
        self.sessions: dict[int, onnxruntime.InferenceSession] = {}
        self.session(1)  # the lone prompt's session is loaded now, the batch one when first needed

    def session(self, rows: int):  # -> onnxruntime.InferenceSession
        """The session that runs a forward pass of ``rows`` texts."""
        threads = self.batch_threads if rows >= MANY_ROWS else self.threads
        if threads not in self.sessions:
            options = self.runtime.SessionOptions()
            options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
            options.execution_mode = self.runtime.ExecutionMode.ORT_SEQUENTIAL
            providers = ["CPUExecutionProvider"]
            self.sessions[threads] = self.runtime.InferenceSession(str(self.path), options, providers=providers)
        return self.sessions[threads]

    def embed_batch(self, texts: list[str]) -> np.ndarray:
        encoded = self.tokens(texts, "np")
        feeds = {name: encoded[name].astype(np.int64) for name in INPUTS}
        return self.session(len(texts)).run(None, feeds)[0]
