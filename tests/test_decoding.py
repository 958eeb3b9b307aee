"""models.decoding on tiny random transformers models: the same tokens as ``model.generate``, whatever the rows."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from alignment_tax.models.decoding import (  # noqa: E402
    FAMILY_COST,
    SPARE_POSITIONS,
    decode,
    prefix_groups,
    split_shared_prefix,
)

PAD = 0


def tiny(kind: str):
    torch.manual_seed(0)
    common = dict(vocab_size=96, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4)
    if kind == "llama":
        config = transformers.LlamaConfig(num_key_value_heads=2, **common)
    else:  # sliding-window layers: rows are not joined, all prompts run as one batch
        config = transformers.MistralConfig(num_key_value_heads=2, sliding_window=4096, **common)
    config.pad_token_id, config.eos_token_id = PAD, 1
    return transformers.AutoModelForCausalLM.from_config(config).eval()


def prompts(n: int = 7) -> list[list[int]]:
    generator = torch.Generator().manual_seed(1)
    shared = torch.randint(2, 96, (9,), generator=generator).tolist()
    return [shared + torch.randint(2, 96, (3 + 2 * i % 5,), generator=generator).tolist() for i in range(n)]


def reference(model, prompt: list[int], max_new_tokens: int) -> list[int]:
    """Greedy tokens of ``model.generate`` on one unpadded prompt, up to (not including) end of sequence."""
    with torch.inference_mode():
        out = model.generate(
            torch.tensor([prompt]), max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=PAD, eos_token_id=1
        )[0, len(prompt) :].tolist()
    return out[: out.index(1)] if 1 in out else out


@pytest.fixture(scope="module", params=["llama", "mistral-sliding"])
def generated(request):
    """A tiny model of each kind, the prompts, and ``model.generate``'s tokens for each prompt: computed once for
    every number of rows the decoder is tried with. More new tokens than a cache keeps spare, so the spare room
    grows too."""
    model, batch = tiny(request.param), prompts()
    return model, batch, [reference(model, p, SPARE_POSITIONS + 10) for p in batch]


@pytest.mark.parametrize("rows", [None, 1, 2, 3])
def test_same_tokens_as_generate_for_any_rows(generated, rows):
    model, batch, expected = generated
    assert len(split_shared_prefix(batch)[0]) == 9
    together = decode(model, batch, pad_id=PAD, rows=rows, max_new_tokens=SPARE_POSITIONS + 10, eos_ids={1})
    assert [d.tokens for d in together] == expected
    assert all(d.stopped == (len(d.tokens) < SPARE_POSITIONS + 10) for d in together)


@pytest.mark.parametrize("rows", [None, 2, 3])
def test_each_row_stops_at_its_own_length_cap(generated, rows):
    """Rows of one call with different caps leave in between the others (the last rows move into their places)."""
    model, batch, expected = generated
    caps = [3 + 11 * i % 40 for i in range(len(batch))]
    decoded = decode(model, batch, pad_id=PAD, rows=rows, max_new_tokens=caps, eos_ids={1})
    assert [d.tokens for d in decoded] == [tokens[:cap] for tokens, cap in zip(expected, caps, strict=True)]


def families(sizes: list[int], shared: int) -> list[list[int]]:
    """Prompts of several configurations: each family of ``sizes`` starts with its own ``shared`` tokens."""
    generator = torch.Generator().manual_seed(2)
    out = []
    for size in sizes:
        start = torch.randint(2, 96, (shared,), generator=generator).tolist()
        out += [start + torch.randint(2, 96, (2 + i % 4,), generator=generator).tolist() for i in range(size)]
    return out


def test_prompt_families_split_where_their_prefixes_part():
    prompts = families([6, 5, 1], shared=40)
    assert prefix_groups(prompts) == [list(range(6)), list(range(6, 11)), [11]]
    assert prefix_groups(list(reversed(prompts))) == [[0], list(range(1, 6)), list(range(6, 12))]
    one = families([8], shared=20)
    for row in (3, 4):  # two rows share 30 more tokens, sorted first: too little to pay for a family of their own
        one[row][20:20] = [0] * 30
    assert prefix_groups(one) == [list(range(8))]
    assert (8 - 1) * 20 < 50 + (6 - 1) * 20 < (8 - 1) * 20 + FAMILY_COST  # a split saves tokens, less than its cost
    assert prefix_groups([]) == [] and prefix_groups([[5, 6]]) == [[0]]


@pytest.mark.parametrize("rows", [None, 2, 5])
def test_families_of_prompts_decoded_together_give_each_its_own_tokens(rows):
    model = tiny("llama")
    batch = families([4, 3, 1], shared=30)
    mixed = [batch[i] for i in (0, 4, 1, 7, 5, 2, 3, 6)]  # families interleaved: chunks still take one family
    decoded = decode(model, mixed, pad_id=PAD, rows=rows, max_new_tokens=12, eos_ids={1})
    for d, p in zip(decoded, mixed, strict=True):
        assert d.tokens == reference(model, p, 12)


def test_rows_that_stop_early_make_room_for_waiting_prompts():
    model, batch = tiny("llama"), prompts(6)
    stops = iter(range(10**6))
    seen: list[int] = []

    def is_stopped(tokens: list[int]) -> bool:  # every third call ends a row
        seen.append(len(tokens))
        return next(stops) % 3 == 2

    decoded = decode(model, batch, pad_id=PAD, rows=2, max_new_tokens=50, eos_ids={1}, is_stopped=is_stopped)
    assert all(d.stopped and 1 <= len(d.tokens) <= 50 for d in decoded)
    for d, p in zip(decoded, batch, strict=True):
        assert d.tokens == reference(model, p, len(d.tokens))


def test_nothing_to_generate():
    model = tiny("llama")
    assert decode(model, [], pad_id=PAD, max_new_tokens=5, eos_ids={1}) == []
    assert decode(model, [[5, 6]], pad_id=PAD, max_new_tokens=0, eos_ids={1})[0].tokens == []
    assert decode(model, [[5, 6], [7]], pad_id=PAD, max_new_tokens=[0, 0], eos_ids={1})[1].tokens == []
    for caps in ([0, 3], [3]):
        with pytest.raises(ValueError):
            decode(model, [[5, 6], [7]], pad_id=PAD, max_new_tokens=caps, eos_ids={1})
