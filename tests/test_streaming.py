"""models.streaming: the pieces of a growing answer join to the finished answer, never past a stop string or a
secret, whatever the steps."""

from __future__ import annotations

import pytest

from alignment_tax.models.streaming import TextPieces


def handed_out(steps: list[str], final: str, hold: tuple[str, ...] = ()) -> list[str]:
    pieces = TextPieces(hold)
    out = [pieces.update(text) for text in steps]
    return [piece for piece in [*out, pieces.finish(final)] if piece]


def test_pieces_join_to_the_answer_and_hold_back_an_unsettled_tail():
    steps = ["Paris", "Paris is", "Paris is the", "Paris is the capital \ufffd", "Paris is the capital é."]
    pieces = handed_out(steps, "Paris is the capital é.")
    assert "".join(pieces) == "Paris is the capital é."
    assert pieces[:3] == ["Paris", " is", " the"] and not any(p.endswith((" ", "\ufffd")) for p in pieces[:-1])


@pytest.mark.parametrize("hold", [("\nQuestion:",), ("sk-secret-key",)])
def test_nothing_from_a_held_string_on_is_handed_out_before_the_end(hold):
    (held,) = hold
    grown = "Answer one." + held + " more"
    steps = [grown[:n] for n in range(1, len(grown) + 1)]
    final = "Answer one." if held.startswith("\n") else grown.replace(held, "[redacted]")
    pieces = handed_out(steps, final, hold)
    assert "".join(pieces) == final
    assert not any(held[:4] in piece for piece in pieces[:-1])  # not even the start of it, before the end
