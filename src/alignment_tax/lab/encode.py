"""Turn lab rows into token ids with the model's own chat template, the loss on target tokens only."""

from __future__ import annotations

from dataclasses import dataclass

from alignment_tax.errors import AltaxError
from alignment_tax.lab.data import LabRow

IGNORE = -100
"""Label of the tokens that carry no loss (prompt and padding)."""


@dataclass(frozen=True)
class Example:
    """One encoded row: the prompt and target ids joined, and labels that are IGNORE over the prompt."""

    row_id: str
    input_ids: list[int]
    labels: list[int]


def completion_text(backend, prompt: str, target: str) -> str:
    """What follows the rendered prompt when the assistant answers ``target``: the template's own end of
    turn for chat models (rendered with the answer, minus the prompt), else the target and end of text."""
    tokenizer = backend.tokenizer
    if tokenizer.chat_template:
        messages = [{"role": "user", "content": prompt}]
        full = tokenizer.apply_chat_template([*messages, {"role": "assistant", "content": target}], tokenize=False)
        head = backend.render(messages).prompt
        if full.startswith(head):
            return full[len(head) :]
        return target + (tokenizer.eos_token or "")
    return " " + target + (tokenizer.eos_token or "")


def encode_rows(backend, rows: list[LabRow], max_length: int) -> list[Example]:
    """Encode every row before any training, so a row that cannot fit fails early with its id."""
    tokenizer = backend.tokenizer
    special = not tokenizer.chat_template
    examples = []
    for row in rows:
        prompt = backend.render([{"role": "user", "content": row.prompt}]).prompt
        prompt_ids = tokenizer(prompt, add_special_tokens=special)["input_ids"]
        target_ids = tokenizer(completion_text(backend, row.prompt, row.target), add_special_tokens=False)["input_ids"]
        room = max_length - len(prompt_ids)
        if room < min(8, len(target_ids)):
            raise AltaxError(
                f"row {row.id!r}: its rendered prompt is {len(prompt_ids)} tokens, too long for --max-length "
                f"{max_length}; raise --max-length or shorten the prompt"
            )
        target_ids = target_ids[:room]
        examples.append(Example(row.id, prompt_ids + target_ids, [IGNORE] * len(prompt_ids) + target_ids))
    return examples


def collate(examples: list[Example], pad_id: int):
    """Right-padded tensors (input_ids, attention_mask, labels) for one batch."""
    import torch

    width = max(len(e.input_ids) for e in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    labels = torch.full((len(examples), width), IGNORE, dtype=torch.long)
    for i, example in enumerate(examples):
        n = len(example.input_ids)
        ids[i, :n] = torch.tensor(example.input_ids)
        mask[i, :n] = 1
        labels[i, :n] = torch.tensor(example.labels)
    return ids, mask, labels
