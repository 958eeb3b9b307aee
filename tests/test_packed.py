"""models.packed: oneDNN-prepacked linear layers give the dense layers' function, and unpack restores them."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from alignment_tax.models.decoding import decode  # noqa: E402
from alignment_tax.models.packed import PackedLinear, can_pack, pack, unpack  # noqa: E402

pytestmark = pytest.mark.skipif(not torch.backends.mkldnn.is_available(), reason="torch was built without oneDNN")


def tiny(tie: bool = True):
    torch.manual_seed(0)
    config = transformers.LlamaConfig(
        vocab_size=96,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        tie_word_embeddings=tie,
        mlp_bias=True,
    )
    return transformers.AutoModelForCausalLM.from_config(config).eval()


def test_packed_layers_compute_the_same_function_and_tokens():
    dense, packed = tiny(), tiny()
    assert can_pack(packed)
    linears = sum(type(m) is torch.nn.Linear for m in packed.modules())
    assert pack(packed) == linears == 2 * 7 + 1  # q k v o gate up down per layer, and the head
    assert not any(type(m) is torch.nn.Linear for m in packed.modules())
    ids = torch.randint(2, 96, (3, 11))
    with torch.inference_mode():
        torch.testing.assert_close(packed(input_ids=ids).logits, dense(input_ids=ids).logits, atol=1e-4, rtol=1e-4)
    prompts = [ids[i].tolist() for i in range(3)]
    ours = decode(packed, prompts, pad_id=0, rows=2, max_new_tokens=20, eos_ids={1})
    theirs = decode(dense, prompts, pad_id=0, rows=2, max_new_tokens=20, eos_ids={1})
    assert [d.tokens for d in ours] == [d.tokens for d in theirs]


@pytest.mark.parametrize("tie", [True, False])
def test_unpack_restores_plain_trainable_layers_and_the_tie(tie):
    model, reference = tiny(tie), tiny(tie)
    pack(model)
    assert unpack(model) == 15
    assert not any(isinstance(m, PackedLinear) for m in model.modules())
    assert (model.lm_head.weight is model.get_input_embeddings().weight) == tie
    for (name, ours), (_, theirs) in zip(model.named_parameters(), reference.named_parameters(), strict=True):
        torch.testing.assert_close(ours, theirs, msg=name)
    ids = torch.randint(2, 96, (2, 7))
    model(input_ids=ids, labels=ids).loss.backward()
    assert model.model.layers[0].self_attn.q_proj.weight.grad is not None
