"""Spot degenerate answers: empty, looping or garbage text that no scorer should read."""

from __future__ import annotations

import re
from collections import Counter

_MIN_GARBAGE_CHARS = 10
_MIN_ALNUM_SHARE = 0.25
_MAX_PERIOD = 50
_MIN_REPEATS = 4
_MIN_SINGLE_TOKEN_RUN = 8
_LOOP_SHARE = 0.5
_LINE_SHARE = 0.6
_MIN_LINE_REPEATS = 4
_CHAR_LOOP = re.compile(r"(.{1,20}?)\1{7,}", re.DOTALL)
_MIN_CHAR_LOOP = 30


def _token_loop(tokens: list[str]) -> str | None:
    """A stretch where a block of 1..50 tokens repeats back to back and covers most of the text."""
    n = len(tokens)
    for period in range(1, min(_MAX_PERIOD, n // _MIN_REPEATS) + 1):
        run = best = 0
        for i in range(n - period):
            run = run + 1 if tokens[i] == tokens[i + period] else 0
            best = max(best, run)
        span = best + period
        repeats = span / period
        enough = repeats >= (_MIN_SINGLE_TOKEN_RUN if period == 1 else _MIN_REPEATS)
        if enough and span >= _LOOP_SHARE * n:
            return f"looping: a {period}-token block repeats {repeats:.0f} times"
    return None


def _line_loop(text: str) -> str | None:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) < _MIN_LINE_REPEATS:
        return None
    line, count = Counter(lines).most_common(1)[0]
    if count >= _MIN_LINE_REPEATS and count >= _LINE_SHARE * len(lines) and sum(map(str.isalnum, line)) >= 5:
        return f"looping: one line is {count} of {len(lines)} lines"
    return None


def _char_loop(compact: str) -> str | None:
    for m in _CHAR_LOOP.finditer(compact):
        unit, span = m.group(1), len(m.group(0))
        if span >= _MIN_CHAR_LOOP and span >= _LOOP_SHARE * len(compact) and not unit.isdigit():
            return f"looping: {unit[:10]!r} repeated {span // len(unit)} times"
    return None


def is_degenerate(text: str) -> str | None:
    """Why ``text`` is degenerate (empty, looping, garbage), or None when it is a real answer."""
    if not text.strip():
        return "empty"
    compact = "".join(text.split())
    alnum = sum(c.isalnum() for c in compact)
    if len(compact) >= _MIN_GARBAGE_CHARS and alnum < _MIN_ALNUM_SHARE * len(compact):
        return f"garbage: {alnum} of {len(compact)} characters are letters or digits"
    return _token_loop(text.split()) or _line_loop(text) or _char_loop(compact)
