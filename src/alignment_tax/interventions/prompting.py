"""Prompt-level interventions: system prompt, few-shot examples and task framing, as chat messages."""

from __future__ import annotations

from collections.abc import Sequence

from alignment_tax.configs.schema import Configuration
from alignment_tax.models.base import Message
from alignment_tax.suite.schema import Item


def item_text(item: Item) -> str:
    """The prompt of an item, with its lettered choices when it is multiple choice."""
    if not item.choices:
        return item.prompt
    letters = "\n".join(f"{chr(ord('A') + i)}. {choice}" for i, choice in enumerate(item.choices))
    return f"{item.prompt}\n{letters}"


def build_messages(config: Configuration, item: Item) -> list[Message]:
    """Chat messages for one item under one configuration."""
    return configure_messages(config, [{"role": "user", "content": item_text(item)}])


def configure_messages(config: Configuration, conversation: Sequence[Message]) -> list[Message]:
    """A conversation under one configuration: its system prompt (which replaces any the conversation brings),
    its few-shot turns, then the conversation.

    Framing wraps every user turn (few-shot ones included) so examples look like the real task.
    """
    frame = config.framing

    def framed(text: str) -> str:
        return "".join(part for part in (frame.prefix, text, frame.suffix))

    messages: list[Message] = []
    if config.system_prompt is not None:
        messages.append({"role": "system", "content": config.system_prompt})
    else:
        messages.extend(m for m in conversation if m["role"] == "system")
    for shot in config.few_shot:
        messages.append({"role": "user", "content": framed(shot.user)})
        messages.append({"role": "assistant", "content": shot.assistant})
    for message in conversation:
        if message["role"] == "user":
            messages.append({"role": "user", "content": framed(message["content"])})
        elif message["role"] != "system":
            messages.append(dict(message))
    return messages
