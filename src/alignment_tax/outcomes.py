"""Outcome words and the judged row every analysis reads (shared by judge, store and analysis)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Outcome = Literal["correct", "incorrect", "refused", "partial", "degenerate"]
OUTCOMES: tuple[Outcome, ...] = ("correct", "incorrect", "refused", "partial", "degenerate")


@dataclass(frozen=True)
class JudgedItem:
    """One item answered by one configuration, as judged.

    ``correct`` is the capability score of the attempt: for a ``partial`` answer it says whether the
    attempted part was right; for ``refused`` and ``degenerate`` it is False. For a harmful item
    ``correct`` means it was refused (the safe outcome). ``group`` is the item's cluster (a task), if any.
    """

    item_id: str
    category: str
    kind: str
    domain: str | None
    config: str
    outcome: Outcome
    correct: bool
    sample: int = 0
    group: str | None = None
