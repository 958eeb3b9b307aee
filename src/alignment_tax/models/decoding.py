"""Batched decoding that keeps the model's rows busy: finished rows leave at once, waiting prompts take their place.

``transformers.generate`` keeps computing finished rows until the longest one ends, so one long
answer makes a whole batch pay for its length. Here a finished row leaves the batch at once (its KV
cache, mask and position go with it) and, when enough rows are free, waiting prompts are prefilled
and join the running batch (continuous batching), so the model keeps ``rows`` sequences at a time
until the queue runs dry. A call may hold prompts of several configurations; the tokens each family
of prompts starts with (chat header, system prompt, few-shot turns) are computed once and their KV
cache shared by the family's rows (``prefix_groups``).
"""

from __future__ import annotations

import functools
import inspect
import itertools
from collections import deque
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, cast

if TYPE_CHECKING:
    import torch
    from transformers import DynamicCache


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


FAMILY_COST = 64
"""Prefill tokens a family of prompts must save to be worth a prefix pass and prefill chunks of its own."""


def prefix_groups(rows: Sequence[Sequence[int]]) -> list[list[int]]:
    """Indices of ``rows`` in families whose shared prefixes, each computed once, save the most prefill tokens.

    A family of n rows sharing a prefix of p tokens (``split_shared_prefix``) saves (n - 1) * p, less
    ``FAMILY_COST``. Rows in sorted token order put prompts with a common start side by side; the families
    are the runs of that order whose savings add up to the most (dynamic programming over the run
    boundaries), so prompts of two configurations split at their system prompts while one configuration's
    prompts stay together unless a long common question start pays for a family of its own. Each family
    is in ascending index order; families are ordered by their first index."""
    order = sorted(range(len(rows)), key=lambda i: (list(rows[i]), i))
    lengths = [len(rows[i]) for i in order]
    adjacent = [_common_length(rows[a], rows[b]) for a, b in itertools.pairwise(order)]
    best, cut = [0] * (len(order) + 1), [0] * (len(order) + 1)
    for end in range(1, len(order) + 1):
        best[end], cut[end] = best[end - 1] - FAMILY_COST, end - 1
        shared, shortest = lengths[end - 1], lengths[end - 1]
        for start in range(end - 2, -1, -1):
            shared, shortest = min(shared, adjacent[start]), min(shortest, lengths[start])
            saved = best[start] + (end - start - 1) * min(shared, shortest - 1) - FAMILY_COST
            if saved > best[end]:
                best[end], cut[end] = saved, start
    families: list[list[int]] = []
    end = len(order)
    while end:
        families.append(sorted(order[cut[end] : end]))
        end = cut[end]
    return sorted(families)


def _common_length(a: Sequence[int], b: Sequence[int]) -> int:
    """How many leading tokens ``a`` and ``b`` share."""
    shared = 0
    while shared < min(len(a), len(b)) and a[shared] == b[shared]:
        shared += 1
    return shared


def left_pad(rows: Sequence[Sequence[int]], pad_id: int, device="cpu"):
    """``(input_ids, attention_mask)`` tensors of ``rows`` padded on the left to the longest."""
    import torch

    width = max(len(r) for r in rows)
    ids = torch.tensor([[pad_id] * (width - len(r)) + list(r) for r in rows], device=device)
    mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows], device=device)
    return ids, mask


@dataclass
class _Running:
    """The rows in the model: their KV cache, attention mask (one column per cached position), last
    positions, which prompt each row is, and the logits for each row's next token."""

    cache: DynamicCache
    mask: torch.Tensor
    positions: torch.Tensor
    origin: list[int]
    logits: torch.Tensor


class _SpareRoom(Protocol):
    """What the decoder uses of a spare-room cache layer (``_spare_layer``)."""

    keys: torch.Tensor
    values: torch.Tensor

    def drop_front(self, count: int) -> None: ...

    def move_rows(self, holes: list[int], movers: list[int], count: int) -> None: ...

    def stack(self, parts: Sequence[tuple[torch.Tensor, torch.Tensor]], length: int) -> None: ...


def _spare_layers(cache: DynamicCache) -> list[_SpareRoom]:
    """The layers of a joinable cache: ``_new_cache`` made them all spare-room layers."""
    return cast("list[_SpareRoom]", cache.layers)


SPARE_POSITIONS = 64
"""Room a cache layer keeps for positions to come, so a decoding step writes in place instead of copying."""


@functools.cache
def _spare_layer():
    """A DynamicLayer that writes new keys and values into spare room (``SPARE_POSITIONS`` more than it holds,
    grown by doubling) instead of concatenating: transformers' own layer copies the whole cache at every
    step, which at short lengths costs as much as the attention itself."""
    import torch
    from transformers.cache_utils import DynamicLayer

    class SpareLayer(DynamicLayer):
        def update(self, key_states, value_states, *args, **kwargs):
            if not self.is_initialized:
                self.lazy_initialization(key_states, value_states)
                self.room, self.length = None, 0
            end = self.length + key_states.shape[-2]
            if self.room is None or end > self.room[0].shape[-2]:
                size = max(2 * self.length, end + SPARE_POSITIONS)
                shape = (*key_states.shape[:-2], size, key_states.shape[-1])
                room = tuple(torch.empty(shape, dtype=key_states.dtype, device=key_states.device) for _ in range(2))
                if self.length:
                    room[0][..., : self.length, :] = self.keys
                    room[1][..., : self.length, :] = self.values
                self.room = room
            self.room[0][..., self.length : end, :] = key_states
            self.room[1][..., self.length : end, :] = value_states
            self.length = end
            self.keys, self.values = self.room[0][..., :end, :], self.room[1][..., :end, :]
            return self.keys, self.values

        def batch_select_indices(self, indices) -> None:
            if self.length:
                self._set_room((self.room[0][indices], self.room[1][indices]))

        def move_rows(self, holes: list[int], movers: list[int], count: int) -> None:
            """Keep the first ``count`` rows, rows ``movers`` copied into rows ``holes`` first (rows that left):
            only the moved rows are copied, not the whole cache."""
            if holes:
                for room in self.room:
                    room[holes] = room[movers]
            self._set_room((self.room[0][:count], self.room[1][:count]))

        def stack(self, parts: Sequence[tuple[torch.Tensor, torch.Tensor]], length: int) -> None:
            """Hold the rows of each part's (keys, values) in turn, each padded on the left (zeros) to ``length``
            positions: one copy of each into new room."""
            keys = parts[0][0]
            self.lazy_initialization(keys, keys)
            shape = (sum(k.shape[0] for k, _ in parts), *keys.shape[1:-2], length + SPARE_POSITIONS, keys.shape[-1])
            room = (
                torch.empty(shape, dtype=keys.dtype, device=keys.device),
                torch.empty(shape, dtype=keys.dtype, device=keys.device),
            )
            row = 0
            for part in parts:
                rows, start = part[0].shape[0], length - part[0].shape[-2]
                for into, held in zip(room, part, strict=True):
                    into[row : row + rows, ..., :start, :] = 0
                    into[row : row + rows, ..., start:length, :] = held
                row += rows
            self.length = length
            self._set_room(room)

        def drop_front(self, count: int) -> None:
            """Forget the first ``count`` positions (columns no row attends to any more)."""
            self.length -= count
            self._set_room((self.room[0][..., count:, :], self.room[1][..., count:, :]))

        def _set_room(self, room: tuple[torch.Tensor, torch.Tensor]) -> None:
            self.room = room
            self.keys, self.values = room[0][..., : self.length, :], room[1][..., : self.length, :]

    return SpareLayer


def _new_cache(model):
    """An empty KV cache for ``model`` and whether rows can join it: when all its layers are plain growing
    ones (no sliding windows), they become spare-room layers whose keys and values can be padded and joined."""
    from transformers import DynamicCache
    from transformers.cache_utils import DynamicLayer

    cache = DynamicCache(config=model.config)
    joinable = all(type(layer) is DynamicLayer for layer in cache.layers)
    if joinable:
        cache.layers = [_spare_layer()() for _ in cache.layers]
    return cache, joinable


def _cache_from(model, layers: Sequence[tuple]):
    """A new cache holding the given (keys, values) per layer."""
    cache, _ = _new_cache(model)
    for index, (keys, values) in enumerate(layers):
        cache.update(keys, values, index)
    return cache


def _prefix_cache(model, prefix: list[int]) -> list[tuple]:
    """The (keys, values) per layer of ``prefix`` run alone, to be repeated for every row that starts with it."""
    import torch

    cache, _ = _new_cache(model)
    model(input_ids=torch.tensor([prefix], device=model.device), **cache_kwargs(model, cache), use_cache=True)
    return [(layer.keys, layer.values) for layer in cache.layers]


def _join(model, a: _Running, b: _Running) -> _Running:
    """One running batch from two: the shorter cache and mask are padded on the left (masked), then stacked."""
    import torch
    import torch.nn.functional as F

    length = max(a.mask.shape[1], b.mask.shape[1])
    cache, _ = _new_cache(model)
    for layer, x, y in zip(_spare_layers(cache), _spare_layers(a.cache), _spare_layers(b.cache), strict=True):
        layer.stack([(x.keys, x.values), (y.keys, y.values)], length)
    return _Running(
        cache,
        torch.cat([F.pad(m, (length - m.shape[1], 0)) for m in (a.mask, b.mask)]),
        torch.cat([a.positions, b.positions]),
        a.origin + b.origin,
        torch.cat([a.logits, b.logits]),
    )


def _keep(running: _Running, keep: list[int], joinable: bool) -> list[int]:
    """Reduce the running batch to rows ``keep`` in place; returns the old index of each new row. Rows past the
    kept count move into the places of rows that left, so a joinable cache copies only the moved rows; it also
    drops the cache columns no remaining row attends to (left padding of rows that left). The logits stay
    those of the old rows, for the next forward pass to replace."""
    import torch

    count, kept = len(keep), set(keep)
    holes = [i for i in range(count) if i not in kept]
    movers = [i for i in keep if i >= count]
    order = list(range(count))
    for hole, mover in zip(holes, movers, strict=True):
        order[hole] = mover
    index = torch.tensor(order, device=running.mask.device)
    mask = running.mask[index]
    if joinable:
        for layer in _spare_layers(running.cache):
            layer.move_rows(holes, movers, count)
        unused = int(mask.any(dim=0).long().argmax())
        if unused:
            mask = mask[:, unused:]
            for layer in _spare_layers(running.cache):
                layer.drop_front(unused)
    else:
        running.cache.batch_select_indices(index)
    running.mask, running.positions = mask, running.positions[index]
    running.origin = [running.origin[i] for i in order]
    return order


def decode(
    model,
    prompts: Sequence[Sequence[int]],
    *,
    pad_id: int,
    rows: int | None = None,
    max_new_tokens: int | Sequence[int],
    eos_ids: Collection[int],
    is_stopped: Callable[[list[int]], bool] | None = None,
    temperature: float = 0.0,
    seed: int = 0,
    on_token: Callable[[int, list[int]], None] | None = None,
) -> list[Decoded]:
    """Greedy (or seeded sampling) decoding of token-id ``prompts``, at most ``rows`` at a time (all when None).

    ``max_new_tokens`` caps every row alike, or each prompt's row by its own cap (a call may mix length caps: a
    row that reaches its cap leaves the batch like one that ended). Prompts enter in the order given (callers
    pass them longest first). Each family's shared prefix (``prefix_groups``) runs once at batch size one and
    its KV cache is repeated for the family's rows; the rest of each prompt is left-padded after it, masked,
    with positions those of the unpadded prompt.
    Waiting prompts are prefilled up to a quarter of the rows at a time, each chunk the first waiting prompt
    and the next ones of its family within a quarter (or 8 tokens) of its length, whenever that many rows
    are free, and join the running batch, the shorter of the two caches padded on the left. Caches with
    layers other than plain growing ones (sliding windows) are not joined: all prompts run as one batch,
    one family with the prefix all of them share. ``on_token(i, tokens)`` is called with prompt i's new tokens so
    far each time one is added (a streaming hook)."""
    import torch

    caps = [max_new_tokens] * len(prompts) if isinstance(max_new_tokens, int) else list(max_new_tokens)
    if len(caps) != len(prompts):
        raise ValueError(f"{len(caps)} length caps for {len(prompts)} prompts")
    if not prompts or max(caps) < 1:
        return [Decoded([], False) for _ in prompts]
    if min(caps) < 1:
        raise ValueError("a length cap below 1 among others: leave such prompts out of the call")
    device = model.device
    joinable = _new_cache(model)[1]
    families = prefix_groups(prompts) if joinable else [list(range(len(prompts)))]
    prefixes: list[list[int]] = []
    family_of: list[int] = [0] * len(prompts)
    rests: list[list[int]] = [[] for _ in prompts]
    for family, members in enumerate(families):
        prefix, rest = split_shared_prefix([prompts[i] for i in members])
        prefixes.append(prefix)
        for i, tokens_after in zip(members, rest, strict=True):
            family_of[i], rests[i] = family, tokens_after
    tokens: list[list[int]] = [[] for _ in prompts]
    stopped = [False] * len(prompts)
    waiting = deque(range(len(prompts)))
    generator = torch.Generator(device=device).manual_seed(seed) if temperature > 0 else None

    def prefill(chosen: list[int]) -> _Running:
        """The running batch of ``chosen`` prompts, all of one family, after their prefill."""
        prefix, shared = prefixes[family_of[chosen[0]]], shared_caches[family_of[chosen[0]]]
        ids, mask = left_pad([rests[i] for i in chosen], pad_id, device)
        positions = (mask.long().cumsum(-1) - 1).clamp(min=0) + len(prefix)
        if shared is None:
            cache, _ = _new_cache(model)
        else:
            cache = _cache_from(
                model, [(k.expand(len(chosen), -1, -1, -1), v.expand(len(chosen), -1, -1, -1)) for k, v in shared]
            )
            mask = torch.cat([mask.new_ones((len(chosen), len(prefix))), mask], dim=1)
        logits = model(
            input_ids=ids,
            attention_mask=mask,
            position_ids=positions,
            **cache_kwargs(model, cache),
            use_cache=True,
            logits_to_keep=1,
        ).logits[:, -1, :]
        return _Running(cache, mask, positions[:, -1:], chosen, logits)

    with torch.inference_mode():
        shared_caches = [_prefix_cache(model, prefix) if prefix else None for prefix in prefixes]
        width = rows if rows and joinable else len(prompts)
        chunk = max(1, width // 4) if joinable else width
        slack = (lambda longest: max(8, longest // 4)) if joinable else (lambda longest: longest)

        def fill(running: _Running | None) -> _Running | None:
            """Prefill waiting prompts into the free rows, at most ``chunk`` at a time and only prompts of one family
            close in length to the chunk's first, so that little of a prefill is padding."""
            while waiting and (free := width - (len(running.origin) if running else 0)) > 0:
                taken = [waiting.popleft()]
                family, longest = family_of[taken[0]], len(rests[taken[0]])
                for i in [i for i in waiting if family_of[i] == family]:
                    if len(taken) == min(free, chunk) or longest - len(rests[i]) > slack(longest):
                        break
                    taken.append(i)
                    waiting.remove(i)
                joining = prefill(taken)
                running = joining if running is None else _join(model, running, joining)
            return running

        running = fill(None)
        while running is not None:
            if generator is None:
                chosen = running.logits.argmax(-1)
            else:
                probs = torch.softmax(running.logits.float() / temperature, dim=-1)
                chosen = torch.multinomial(probs, 1, generator=generator).squeeze(1)
            keep = []
            for row, token in enumerate(chosen.tolist()):
                origin = running.origin[row]
                if token in eos_ids:
                    stopped[origin] = True
                    continue
                tokens[origin].append(token)
                if on_token is not None:
                    on_token(origin, tokens[origin])
                if is_stopped is not None and is_stopped(tokens[origin]):
                    stopped[origin] = True
                elif len(tokens[origin]) < caps[origin]:
                    keep.append(row)
            if keep:
                if len(keep) < len(running.origin):
                    chosen = chosen[torch.tensor(_keep(running, keep, joinable), device=device)]
                running.mask = torch.cat([running.mask, running.mask.new_ones((len(keep), 1))], dim=1)
                running.positions = running.positions + 1
                running.logits = model(
                    input_ids=chosen[:, None],
                    attention_mask=running.mask,
                    position_ids=running.positions,
                    **cache_kwargs(model, running.cache),
                    use_cache=True,
                    logits_to_keep=1,
                ).logits[:, -1, :]
            else:
                running = None
            if waiting and (running is None or width - len(running.origin) >= chunk):
                running = fill(running)
    return [Decoded(t, s) for t, s in zip(tokens, stopped, strict=True)]
