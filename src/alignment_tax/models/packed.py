"""Linear layers with their weights prepacked for oneDNN, for float32 inference on the CPU.

On this project's CPUs (AMD EPYC with AVX-512) a oneDNN kernel with prepacked weights runs SmolLM2's
linear layers 1.1 to 2.1 times as fast as torch's default float32 matmul, by shape and row count
(``benchmarks/linear_kernels.py``), and a whole generation run about 1.4 times as fast. The results
are the same function up to float rounding (differences around 1e-6): the greedy answers of
``benchmarks/harness_comparison.py`` are identical with and without. Training needs plain ``nn.Linear``
layers back: ``unpack``.
"""

from __future__ import annotations

import torch


class PackedLinear(torch.nn.Module):
    """An ``nn.Linear`` for inference, its weight reordered once into oneDNN's blocked layout. A weight tied to another
    module (a language-model head tied to the input embeddings) keeps its dense tensor too, so that unpacking
    restores the tie; that tensor is the embeddings' own, so it costs no memory."""

    def __init__(self, linear: torch.nn.Linear, tied: bool = False):
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.tied_weight = linear.weight if tied else None
        with torch.no_grad():
            self.packed_weight = torch.ops.mkldnn._reorder_linear_weight(linear.weight.detach())
            self.bias = linear.bias.detach().clone() if linear.bias is not None else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Dense input and output: no conversion to and from oneDNN's tensor type around each call.
        return torch.ops.mkldnn._linear_pointwise(x, self.packed_weight, self.bias, "none", [], "")

    def to_linear(self) -> torch.nn.Linear:
        """The plain layer again (with the tied weight itself where there was one)."""
        linear = torch.nn.Linear(self.in_features, self.out_features, bias=self.bias is not None)
        with torch.no_grad():
            if self.tied_weight is not None:
                linear.weight = self.tied_weight
            else:
                linear.weight.copy_(self.packed_weight.to_dense())
            if self.bias is not None:
                linear.bias.copy_(self.bias)
        return linear


def can_pack(model: torch.nn.Module) -> bool:
    """Whether ``model`` runs float32 on the CPU with oneDNN available."""
    weight = next(model.parameters())
    return torch.backends.mkldnn.is_available() and weight.device.type == "cpu" and weight.dtype == torch.float32


def pack(model: torch.nn.Module) -> int:
    """Replace every ``nn.Linear`` of ``model`` by a ``PackedLinear``, in place; returns how many."""
    input_embeddings = getattr(model, "get_input_embeddings", None)  # a transformers model has it
    embeddings = input_embeddings() if input_embeddings is not None else None
    shared = embeddings.weight if embeddings is not None else None
    count = 0
    for module in list(model.modules()):
        for name, child in list(module.named_children()):
            if type(child) is torch.nn.Linear:
                setattr(module, name, PackedLinear(child, tied=child.weight is shared))
                count += 1
    return count


def unpack(model: torch.nn.Module) -> int:
    """Put plain ``nn.Linear`` layers back in place of every ``PackedLinear``; returns how many."""
    count = 0
    for module in list(model.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, PackedLinear):
                setattr(module, name, child.to_linear())
                count += 1
    return count
