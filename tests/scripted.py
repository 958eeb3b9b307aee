"""A scripted backend for unit tests: its answers are spelled out by the test (never a default or a demo)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

from alignment_tax.models.base import Generation, GenerationRequest, Message, Rendered


class ScriptedBackend:
    """Answers each prompt with ``answer(prompt)``; records every batch it was asked for."""

    spec = "scripted:test"
    fingerprint = "scripted-v1"

    def __init__(self, answer: Callable[[str], str]):
        self.answer = answer
        self.batches: list[list[str]] = []

    def render(self, messages: Sequence[Message]) -> Rendered:
        prompt = "\n".join(f"{m['role']}: {m['content']}" for m in messages) + "\nassistant:"
        return Rendered(prompt, hashlib.sha256(b"scripted").hexdigest()[:16])

    def prompt_length(self, prompt: str) -> int:
        return len(prompt.split())

    def generate(self, requests: Sequence[GenerationRequest], rows: int | None = None) -> list[Generation]:
        self.batches.append([r.key for r in requests])
        return [Generation(self.answer(r.prompt), "stop", 3) for r in requests]
