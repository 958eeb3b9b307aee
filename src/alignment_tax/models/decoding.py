"""A decoding loop that drops each sequence from the batch the moment it finishes.

``transformers.generate`` keeps computing finished rows until the longest one ends, so one long
answer makes a whole batch pay for its length. Here the KV cache, attention mask and positions
shrink with the batch, which is what makes short-answer categories cheap. The tokens every row of a
batch starts with (chat header, system prompt, few-shot turns) are computed once and their KV cache
shared by all rows, so a configuration's long preamble costs one row's compute per batch.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Decoded:
    """New token ids of one row, and whether it ended on its own (end of sequence or a stop string)."""

    tokens: list[int]
    stopped: bool


def cache_kwargs(model, cache) -> dict:
    """The KV cache as the keyword this transformers' forward takes (5.x renamed ``past_key_values``)."""
    name = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"
    return {name: cache}


def split_shared_prefix(rows: Sequence[Sequence[int]]) -> tuple[list[int], list[list[int]]]:
    """The longest token prefix all ``rows`` share, leaving each row at least one token, and what follows it
    in each row. A single row shares nothing (there is no one to share with)."""
    if len(rows) < 2:
        return [], [list(r) for r in rows]
    limit, shared = min(len(r) for r in rows) - 1, 0
    first = rows[0]
    while shared < limit and all(r[shared] == first[shared] for r in rows):
        shared += 1
    return list(first[:shared]), [list(r[shared:]) for r in rows]


def left_pad(rows: Sequence[Sequence[int]], pad_id: int, device="cpu"):
    """``(input_ids, attention_mask)`` tensors of ``rows`` padded on the left to the longest."""
    import torch

    width = max(len(r) for r in rows)
    ids = torch.tensor([[pad_id] * (width - len(r)) + list(r) for r in rows], device=device)
    mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows], device=device)
    return ids, mask


def decode_batch(
    model,
    input_ids,
    attention_mask,
    *,
    prefix: Sequence[int] = (),
    max_new_tokens: int,
    eos_ids: Collection[int],
    is_stopped: Callable[[list[int]], bool] | None = None,
    temperature: float = 0.0,
    seed: int = 0,
) -> list[Decoded]:
    """Greedy (or seeded sampling) decoding of a left-padded batch with per-row early exit.

    ``prefix`` holds token ids every row starts with; ``input_ids`` then holds only what follows, left-padded.
    The prefix runs once at batch size one and its KV cache is repeated for each row; the padding then sits
    between prefix and rest, masked, and positions are those of the unpadded prompt."""
    import torch
    from transformers import DynamicCache

    rows = input_ids.shape[0]
    tokens: list[list[int]] = [[] for _ in range(rows)]
    stopped = [False] * rows
    active = torch.arange(rows)
    cache = DynamicCache(config=model.config)
    positions = (attention_mask.long().cumsum(-1) - 1).clamp(min=0) + len(prefix)
    step_ids, mask = input_ids, attention_mask
    generator = torch.Generator(device=input_ids.device).manual_seed(seed) if temperature > 0 else None
    with torch.inference_mode():
        if prefix:
            shared = torch.tensor([list(prefix)], device=input_ids.device)
            model(input_ids=shared, **cache_kwargs(model, cache), use_cache=True, logits_to_keep=1)
            cache.batch_repeat_interleave(rows)
            mask = torch.cat([mask.new_ones((rows, len(prefix))), mask], dim=1)
        for _ in range(max_new_tokens):
            logits = model(
                input_ids=step_ids,
                attention_mask=mask,
                position_ids=positions,
                **cache_kwargs(model, cache),
                use_cache=True,
                logits_to_keep=1,
            ).logits[:, -1, :]
            if generator is None:
                chosen = logits.argmax(-1)
            else:
                probs = torch.softmax(logits.float() / temperature, dim=-1)
                chosen = torch.multinomial(probs, 1, generator=generator).squeeze(1)
            keep = []
            for row, token in enumerate(chosen.tolist()):
                origin = int(active[row])
                if token in eos_ids:
                    stopped[origin] = True
                    continue
                tokens[origin].append(token)
                if is_stopped is not None and is_stopped(tokens[origin]):
                    stopped[origin] = True
                    continue
                keep.append(row)
            if not keep:
                break
            if len(keep) < len(active):
                index = torch.tensor(keep, device=input_ids.device)
                cache.batch_select_indices(index)
                active, chosen, mask, positions = active[index.cpu()], chosen[index], mask[index], positions[index]
            step_ids = chosen[:, None]
            mask = torch.cat([mask, mask.new_ones((len(keep), 1))], dim=1)
            positions = positions[:, -1:] + 1
    return [Decoded(t, s) for t, s in zip(tokens, stopped, strict=True)]
