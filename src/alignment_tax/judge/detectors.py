"""The refusal detector registry: detectors by name (``NAME`` or ``NAME:ARGUMENT``), learned ones importing their
dependencies only when made; other packages add theirs through entry points."""

from __future__ import annotations

from collections.abc import Callable

from alignment_tax.errors import AltaxError
from alignment_tax.judge.refusal import LexicalDetector, RefusalDetector
from alignment_tax.registry import Registered, Registry

DEFAULT_DETECTOR = "reader"
"""The detector every command uses unless told otherwise: ``altax run`` and ``altax judge refusals`` alike. On the
held-out test split the reader scores 93.7% binary / 90.8% 3-class (lexical 83.5 / 73.1); on the embedded model's
own held-out answers (dev and test, 135) it makes no more errors than lexical (10 against 10 binary, 10 against
12 three-class), the condition for runs to use it (docs/refusal.md)."""

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
