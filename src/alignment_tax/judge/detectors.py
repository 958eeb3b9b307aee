"""The refusal detectors by name; learned ones import their dependencies only when made."""

from __future__ import annotations

from collections.abc import Callable

from alignment_tax.errors import AltaxError
from alignment_tax.judge.refusal import LexicalDetector, RefusalDetector

DEFAULT_DETECTOR = "lexical"
"""The detector runs use. The ensemble beats the lexical layer on the held-out split (89% against 74%
binary) but, on the embedded model's own answers, calls 5% of the compliant ones refusals or partials
(lexical 0.2%), mostly incoherent attempts at harmful or sensitive requests; at that model's low
refusal rates this costs more than the refusals it finds, so runs keep lexical (docs/refusal.md)."""


def _embedding() -> RefusalDetector:
    from alignment_tax.judge.embedding import EmbeddingDetector

    return EmbeddingDetector()


def _ensemble() -> RefusalDetector:
    from alignment_tax.judge.ensemble import EnsembleDetector

    return EnsembleDetector()


def _reader() -> RefusalDetector:
    from alignment_tax.judge.reader import ReaderDetector

    return ReaderDetector()


def _llm_judge(spec: str | None = None) -> RefusalDetector:
    from alignment_tax.judge.llm_judge import LLMJudgeDetector

    return LLMJudgeDetector(spec)


DETECTORS: dict[str, Callable[[], RefusalDetector]] = {
    "lexical": LexicalDetector,
    "embedding": _embedding,
    "ensemble": _ensemble,
    "reader": _reader,
    "llm-judge": _llm_judge,
}
"""Detectors by name; learned ones import their dependencies only when made.
``llm-judge:MODEL_SPEC`` picks the judge model (see docs/refusal.md)."""


def check_detector(name: str) -> None:
    """Raise a clear error for an unknown detector name, without building the detector."""
    if name.partition(":")[0] != "llm-judge" and name not in DETECTORS:
        known = ", ".join(sorted(DETECTORS))
        raise AltaxError(f"unknown refusal detector {name!r}; known detectors: {known}")


def get_detector(name: str) -> RefusalDetector:
    """A fresh detector by registry name (``llm-judge:SPEC`` names a judge model)."""
    base, _, spec = name.partition(":")
    if base == "llm-judge" and spec:
        return _llm_judge(spec)
    try:
        factory = DETECTORS[name]
    except KeyError:
        known = ", ".join(sorted(DETECTORS))
        raise AltaxError(f"unknown refusal detector {name!r}; known detectors: {known}") from None
    return factory()
