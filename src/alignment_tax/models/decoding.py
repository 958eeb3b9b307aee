"""A decoding loop that drops each sequence from the batch the moment it finishes.

``transformers.generate`` keeps computing finished rows until the longest one ends, so one long
answer makes a whole batch pay for its length. Here the KV cache, attention mask and positions
shrink with the batch, which is what makes short-answer categories cheap.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Collection
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


def decode_batch(
    model,
    input_ids,
    attention_mask,
    *,
    max_new_tokens: int,
    eos_ids: Collection[int],
    is_stopped: Callable[[list[int]], bool] | None = None,
    temperature: float = 0.0,
    seed: int = 0,
) -> list[Decoded]:
    """Greedy (or seeded sampling) decoding of a left-padded batch with per-row early exit."""
    import torch
    from transformers import DynamicCache

    rows = input_ids.shape[0]
    tokens: list[list[int]] = [[] for _ in range(rows)]
    stopped = [False] * rows
    active = torch.arange(rows)
    cache = DynamicCache(config=model.config)
    positions = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)
    step_ids, mask = input_ids, attention_mask
    generator = torch.Generator(device=input_ids.device).manual_seed(seed) if temperature > 0 else None
    with torch.inference_mode():
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
