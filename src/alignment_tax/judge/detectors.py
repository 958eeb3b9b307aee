"""The refusal detector registry: detectors by name (``NAME`` or ``NAME:ARGUMENT``), learned ones importing their
dependencies only when made; other packages add theirs through entry points."""

from __future__ import annotations

from collections.abc import Callable

from alignment_tax.errors import AltaxError
from alignment_tax.judge.refusal import LexicalDetector, RefusalDetector
from alignment_tax.registry import Registered, Registry

DEFAULT_DETECTOR = "lexical"
"""The detector runs use. The ensemble beats the lexical layer on the held-out split (89% against 74%
binary) but, on the embedded model's own answers, calls 5% of the compliant ones refusals or partials
(lexical 0.2%), mostly incoherent attempts at harmful or sensitive requests; at that model's low
refusal rates this costs more than the refusals it finds, so runs keep lexical (docs/refusal.md)."""

DETECTORS: Registry[Callable[..., RefusalDetector]] = Registry("refusal detector", "alignment_tax.detectors")
"""The detector factories by name; other packages add theirs through the entry-point group
``alignment_tax.detectors`` (docs/extending.md)."""
detector = DETECTORS.register
"""The decorator registering a detector factory: ``@detector("name")``, ``takes_argument=True`` for a factory
called with what follows the colon (``llm-judge:MODEL_SPEC`` picks the judge model, docs/refusal.md)."""

detector("lexical")(LexicalDetector)


@detector("embedding")
def _embedding() -> RefusalDetector:
    from alignment_tax.judge.embedding import EmbeddingDetector

    return EmbeddingDetector()


@detector("ensemble")
def _ensemble() -> RefusalDetector:
    from alignment_tax.judge.ensemble import EnsembleDetector

    return EnsembleDetector()


@detector("reader")
def _reader() -> RefusalDetector:
    from alignment_tax.judge.reader import ReaderDetector

    return ReaderDetector()


@detector("llm-judge", takes_argument=True)
def _llm_judge(spec: str | None = None) -> RefusalDetector:
    from alignment_tax.judge.llm_judge import LLMJudgeDetector

    return LLMJudgeDetector(spec)


def _entry(name: str) -> tuple[Registered, str | None]:
    base, _, argument = name.partition(":")
    entry = DETECTORS.entry(base)
    if argument and not entry.takes_argument:
        raise AltaxError(f"refusal detector {base!r} takes no argument after the colon; use {base!r}")
    return entry, argument or None


def check_detector(name: str) -> None:
    """Raise a clear error for an unknown detector name, without building the detector."""
    _entry(name)


def get_detector(name: str) -> RefusalDetector:
    """A fresh detector by registry name (``NAME:ARGUMENT`` passes the argument to a factory that takes one)."""
    entry, argument = _entry(name)
    return entry.factory(argument) if argument else entry.factory()
