"""An answer's text handed out while it is generated, in pieces that the finished answer keeps."""

from __future__ import annotations

import re
from collections.abc import Sequence

_UNSETTLED = re.compile(r"[\s\ufffd]+$")
"""A tail the next token may still change: white space (a tokenizer's clean-up drops a space before punctuation)
and replacement characters (the first bytes of a character not yet whole)."""


class TextPieces:
    """The new text of a growing answer, holding back what the finished answer may still cut or change: the text
    from the first of ``hold`` on (a stop string, a secret the answer is redacted of), the last characters that
    could be the start of one of them, and an unsettled tail. The pieces handed out join to a prefix of the
    finished answer; ``finish`` hands out the rest of it."""

    def __init__(self, hold: Sequence[str] = ()):
        self.hold = tuple(s for s in hold if s)
        self.tail = max((len(s) for s in self.hold), default=1) - 1
        self.sent = ""

    def update(self, text: str) -> str:
        """The piece of ``text``, the answer so far, that is safe to hand out and not yet handed out ('' if none)."""
        cut = min((text.find(s) for s in self.hold if s in text), default=-1)
        safe = text[:cut] if cut >= 0 else text[: len(text) - self.tail]
        return self._piece(_UNSETTLED.sub("", safe))

    def finish(self, text: str) -> str:
        """What the finished answer ``text`` adds to the pieces handed out."""
        return self._piece(text)

    def _piece(self, safe: str) -> str:
        if len(safe) <= len(self.sent) or not safe.startswith(self.sent):
            return ""
        piece, self.sent = safe[len(self.sent) :], safe
        return piece
