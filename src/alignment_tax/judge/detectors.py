"""The refusal detectors by name; learned ones import their dependencies only when made."""

from __future__ import annotations

from collections.abc import Callable

from alignment_tax.errors import AltaxError
from alignment_tax.judge.refusal import LexicalDetector, RefusalDetector

DEFAULT_DETECTOR = "lexical"
"""The detector runs use. The ensemble beats the lexical layer on the held-out split but over-calls
refusals on the embedded model's short declarative answers, so it is not the default yet (docs/refusal.md)."""


def _embedding() -> RefusalDetector:
    from alignment_tax.judge.embedding import EmbeddingDetector

    return EmbeddingDetector()


def _ensemble() -> RefusalDetector:
    from alignment_tax.judge.ensemble import EnsembleDetector

    return EnsembleDetector()


def _llm_judge(spec: str | None = None) -> RefusalDetector:
    from alignment_tax.judge.llm_judge import LLMJudgeDetector

    return LLMJudgeDetector(spec)


DETECTORS: dict[str, Callable[[], RefusalDetector]] = {
    "lexical": LexicalDetector,
    "embedding": _embedding,
    "ensemble": _ensemble,
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
