"""The ensemble detector: one calibrated head over the MiniLM embedding and the lexical layer's features."""

from __future__ import annotations

from alignment_tax.judge.embedding import EmbeddingDetector


class EnsembleDetector(EmbeddingDetector):
    """Lexical structure (refusal phrases, where they sit, how much answer surrounds them) beside the
    embedding of the opening, weighed by a softmax head trained on the labelled responses; its
    temperature and its ``undetermined`` threshold are chosen on the dev split. Provider signals
    (a content-filter stop) are applied before any detector, in :func:`judge_many`."""

    name = "ensemble"
    head_name = "ensemble"
