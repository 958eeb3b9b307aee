"""torch's default float32 linear layer against the oneDNN-prepacked one altax uses on the CPU, side by side.

For each row count M a decoding or prefill step multiplies (the rows of the batch, or its prompt tokens),
times ``nn.Linear`` and ``models.packed.PackedLinear`` over the same stack of layers shaped like
SmolLM2-135M's (576 -> 1536, 1536 -> 576, 576 -> 576), more weights than the CPU caches hold, so
each multiplication reads its weights from memory as in a real forward pass. Also checks the two agree.

Prints a table and writes benchmarks/results/linear_kernels.json.
Usage: python benchmarks/linear_kernels.py [--threads N] [--repeats R]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import torch

from alignment_tax.models.packed import PackedLinear

RESULTS = Path(__file__).parent / "results" / "linear_kernels.json"
SHAPES = ((576, 1536), (1536, 576), (576, 576))
ROWS = (1, 4, 16, 32, 64, 256, 1024)


def timed(layers, x, repeats: int) -> float:
    """Seconds per layer call, best of ``repeats`` passes over all ``layers``."""
    best = float("inf")
    with torch.inference_mode():
        for layer in layers[:3]:
            layer(x)
        for _ in range(repeats):
            started = time.perf_counter()
            for layer in layers:
                layer(x)
            best = min(best, (time.perf_counter() - started) / len(layers))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's default)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--layers", type=int, default=60, help="layers of each shape (weights well over the caches)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    rows_out = []
    print(f"{'shape':>11} {'M':>5} {'nn.Linear ms':>13} {'packed ms':>10} {'speed-up':>9} {'max |diff|':>11}")
    for n_in, n_out in SHAPES:
        dense = [torch.nn.Linear(n_in, n_out, bias=False) for _ in range(args.layers)]
        packed = [PackedLinear(layer) for layer in dense]
        for m in ROWS:
            x = torch.randn(m, n_in)
            with torch.inference_mode():
                diff = float((dense[0](x) - packed[0](x)).abs().max())
            a, b = timed(dense, x, args.repeats), timed(packed, x, args.repeats)
            flops = 2 * m * n_in * n_out
            rows_out.append(
                {
                    "shape": [n_in, n_out],
                    "rows": m,
                    "linear_s": a,
                    "packed_s": b,
                    "speedup": a / b,
                    "linear_gflops": flops / a / 1e9,
                    "packed_gflops": flops / b / 1e9,
                    "max_abs_diff": diff,
                }
            )
            print(f"{n_in:>5}x{n_out:<5} {m:>5} {a * 1e3:>13.3f} {b * 1e3:>10.3f} {a / b:>8.2f}x {diff:>11.1e}")
    record = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"platform": platform.platform(), "cores": os.cpu_count(), "load_average": os.getloadavg()},
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "results": rows_out,
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()
