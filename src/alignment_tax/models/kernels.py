"""Which float32 linear-layer kernel runs a model fastest on this CPU: timed on the model's own layers once
per machine, layer shapes and thread count, then cached.

The candidates compute the same function up to float rounding (about 1e-6; greedy answers identical in
``benchmarks/harness_comparison.py``): torch's default matmul (``dense``: MKL on Intel builds, its own
kernels elsewhere) and oneDNN with prepacked weights (``onednn``, ``models/packed.py``). Which is faster
depends on the CPU: prepacking ran SmolLM2 1.4x faster on an AMD EPYC and 10% slower on an Intel Xeon
whose MKL matmul is strong, so nothing is assumed. ``ALTAX_KERNEL`` (``altax run --kernel``) forces one.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from alignment_tax.errors import AltaxError
from alignment_tax.models.packed import PackedLinear, can_pack, pack

KERNELS = ("dense", "onednn")
KERNEL_ENV = "ALTAX_KERNEL"
CHOICES = ("auto", *KERNELS)
TIMED_ROWS = (16, 64)
"""Row counts timed: a decoding step at the default batch size and at a wide one."""
TIMED_BYTES = 128 << 20
"""At most this much of the model's linear weights is timed: more than CPU caches hold, so weights stream
from memory as in a real forward pass, yet a large model is timed in a fraction of a second too."""
MARGIN = 0.05
"""oneDNN must be this much faster to be chosen; closer than that, the default stays."""
PASSES = 2


@dataclass(frozen=True)
class KernelChoice:
    """The kernel a model runs with, how it was decided (``measured``, ``cached``, ``forced``, or
    ``only choice`` where the model cannot be packed), and the timings behind a measurement (ms of
    linear layers per timed step)."""

    kernel: str
    how: str
    timings_ms: dict[str, float] = field(default_factory=dict)

    def describe(self) -> str:
        timed = ", ".join(f"{name} {ms:.1f} ms" for name, ms in self.timings_ms.items())
        return f"{self.kernel} ({self.how}{': ' + timed if timed else ''})"


def requested_kernel() -> str:
    """The kernel asked for in ``ALTAX_KERNEL`` (``auto`` when unset); an unknown name is an error."""
    name = os.environ.get(KERNEL_ENV, "auto") or "auto"
    if name not in CHOICES:
        raise AltaxError(f"{KERNEL_ENV}={name!r} is not a kernel; choose one of {', '.join(CHOICES)}")
    return name


def choose_kernel(model: torch.nn.Module) -> KernelChoice:
    """Pick the kernel for ``model`` (forced, cached or measured now) and apply it in place."""
    requested = requested_kernel()
    if not can_pack(model):
        if requested == "onednn":
            raise AltaxError("the onednn kernel needs a float32 model on a CPU with oneDNN; use --kernel dense or auto")
        return KernelChoice("dense", "only choice")
    if requested != "auto":
        choice = KernelChoice(requested, "forced")
    else:
        key = _machine_key(model)
        cached = _read_cache().get(key)
        if cached in KERNELS:
            choice = KernelChoice(cached, "cached")
        else:
            choice = measure(model)
            _write_cache(key, choice.kernel)
    if choice.kernel == "onednn":
        pack(model)
    return choice


def _linear_layers(model: torch.nn.Module) -> list[torch.nn.Linear]:
    """An evenly spaced subset of the model's linear layers, at most ``TIMED_BYTES`` of weights."""
    layers = [m for m in model.modules() if type(m) is torch.nn.Linear]
    total = sum(layer.weight.numel() * layer.weight.element_size() for layer in layers)
    step = max(1, -(-total // TIMED_BYTES))
    return layers[::step]


def measure(model: torch.nn.Module) -> KernelChoice:
    """Time both kernels on the model's own layers, passes interleaved so that load drifts hit both alike."""
    dense = _linear_layers(model)
    candidates: dict[str, list[torch.nn.Linear] | list[PackedLinear]] = {
        "dense": dense,
        "onednn": [PackedLinear(layer) for layer in dense],
    }
    inputs = {rows: {layer.in_features: torch.randn(rows, layer.in_features) for layer in dense} for rows in TIMED_ROWS}
    best = dict.fromkeys(candidates, float("inf"))
    with torch.inference_mode():
        for _ in range(PASSES + 1):  # the first pass warms up
            for name, layers in candidates.items():
                started = time.perf_counter()
                for rows in TIMED_ROWS:
                    for layer in layers:
                        layer(inputs[rows][layer.in_features])
                best[name] = min(best[name], time.perf_counter() - started)
    kernel = "onednn" if best["onednn"] < (1 - MARGIN) * best["dense"] else "dense"
    return KernelChoice(kernel, "measured", {name: 1000 * seconds for name, seconds in best.items()})


def _machine_key(model: torch.nn.Module) -> str:
    """What the fastest kernel depends on: CPU, torch build, threads, and the model's linear shapes."""
    shapes = sorted({(m.in_features, m.out_features) for m in model.modules() if type(m) is torch.nn.Linear})
    parts = [_cpu_name(), platform.machine(), torch.__version__, str(torch.get_num_threads()), json.dumps(shapes)]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _cache_file() -> Path:
    from alignment_tax.models.builtin import cache_root

    return cache_root() / "kernels.json"


def _read_cache() -> dict[str, str]:
    try:
        data = json.loads(_cache_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_cache(key: str, kernel: str) -> None:
    """Remember a measured choice; an unwritable cache only means measuring again next time."""
    path = _cache_file()
    data = {**_read_cache(), key: kernel}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
        partial.replace(path)
    except OSError:
        pass
