"""The prompt category classifier: which of the nine capability categories a prompt asks for."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from scipy.special import softmax

from alignment_tax.errors import AltaxError
from alignment_tax.interventions.risk import WEIGHTS_DIR, shared_encoder

PREFIX = "category-"
ARRAYS = ("weight", "bias", "mean", "scale")


class CategoryMeta(BaseModel):
    """The JSON beside a category classifier's arrays: its classes, how it reads text, where it came from and
    its held-out numbers (measured once, when it was trained)."""

    model_config = ConfigDict(extra="allow")

    name: str
    categories: list[str] = Field(min_length=2)
    encoder: str
    max_tokens: int = Field(gt=0)
    quantized: bool
    c: float = Field(gt=0)
    seed: int
    data_sha256: str


@dataclass(frozen=True)
class CategoryClassifier:
    """Multinomial logistic regression over the router's standardised MiniLM prompt embeddings (the same rows
    the risk classifier reads, so a prompt is embedded once for both)."""

    meta: CategoryMeta
    weight: np.ndarray
    bias: np.ndarray
    mean: np.ndarray
    scale: np.ndarray

    @property
    def categories(self) -> list[str]:
        return self.meta.categories

    def probabilities(self, embeddings: np.ndarray) -> np.ndarray:
        """One row of class probabilities per embedding, columns in the order of ``categories``."""
        return softmax(((embeddings - self.mean) / self.scale) @ self.weight.T + self.bias, axis=1)

    def predict(self, embeddings: np.ndarray) -> list[str]:
        """The most probable category of each embedding."""
        return [self.categories[i] for i in self.probabilities(embeddings).argmax(axis=1)]

    def classify(self, texts: Sequence[str]) -> list[str]:
        """The most probable category of each prompt."""
        if not texts:
            return []
        return self.predict(shared_encoder(self.meta.max_tokens, self.meta.quantized).encode(list(texts)))


def category_paths(name_or_path: str | Path) -> tuple[Path, Path]:
    """The ``.npz`` and ``.json`` of a packaged name, or of a path to either file."""
    text = str(name_or_path)
    if "/" not in text and not text.endswith((".npz", ".json")):
        return WEIGHTS_DIR / f"{PREFIX}{text}.npz", WEIGHTS_DIR / f"{PREFIX}{text}.json"
    stem = Path(text).with_suffix("") if text.endswith((".npz", ".json")) else Path(text)
    return stem.with_suffix(".npz"), stem.with_suffix(".json")


def load_category_classifier(name: str = "default") -> CategoryClassifier:
    """A packaged classifier by name, or a trained one by path (``.npz`` with its ``.json`` beside it)."""
    npz, meta_path = category_paths(name)
    if not npz.is_file() or not meta_path.is_file():
        raise AltaxError(
            f"no category classifier at {npz} with {meta_path.name} beside it; "
            "train one with `python -m alignment_tax.interventions.category_train`"
        )
    try:
        meta = CategoryMeta.model_validate_json(meta_path.read_text(encoding="utf-8"))
    except ValidationError as exc:
        raise AltaxError(
            f"{meta_path} is not category-classifier metadata: {exc.errors()[0]['msg']}; retrain it"
        ) from None
    with np.load(npz) as arrays:
        missing = [key for key in ARRAYS if key not in arrays]
        if missing:
            raise AltaxError(f"{npz} lacks arrays {missing}; retrain it")
        parts = {key: arrays[key].astype(np.float32) for key in ARRAYS}
    k, d = parts["weight"].shape
    shapes = (parts["bias"].shape, parts["mean"].shape, parts["scale"].shape)
    if k != len(meta.categories) or shapes != ((k,), (d,), (d,)):
        raise AltaxError(f"{npz} holds arrays of shapes that do not fit {len(meta.categories)} categories; retrain it")
    return CategoryClassifier(meta, **parts)
