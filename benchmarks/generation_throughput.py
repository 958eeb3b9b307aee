"""Items per second of the generation stage on the embedded model, side by side in one run.

Compares, on the same items and length cap, on the same loaded model (its linear layers prepacked,
``models/packed.py``, for every row): one prompt at a time; batches decoded with
``transformers.generate`` (finished rows keep computing until the longest ends); batches decoded
by ``HFBackend.generate`` (shared prefix, finished rows leave the batch), length-sorted or in suite
order, at two batch sizes; and one call of all items kept at 16 rows, refilled as rows finish
(continuous batching, as ``altax run`` does). Prints a table of ratios and writes
benchmarks/results/generation_throughput.json.

Usage: python benchmarks/generation_throughput.py [--items N] [--max-new-tokens T]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch

from alignment_tax.configs.experiment import default_experiment
from alignment_tax.configs.schema import Decoding
from alignment_tax.models.specs import load_backend
from alignment_tax.run.planner import plan
from alignment_tax.suite.loaders import load_suite


def generate_with_transformers(backend, requests) -> None:
    """The baseline: one ``model.generate`` call per batch, greedy."""
    encoded = backend.tokenizer(
        [r.prompt for r in requests], return_tensors="pt", padding=True, add_special_tokens=False
    )
    with torch.inference_mode():
        backend.model.generate(
            **encoded,
            max_new_tokens=requests[0].max_new_tokens,
            do_sample=False,
            top_p=None,
            top_k=None,
            pad_token_id=backend.tokenizer.pad_token_id,
        )


def measure(backend, requests, batch_size: int, sort: bool, early_exit: bool, refill: bool = False) -> float:
    """Items per second generating ``requests`` in batches (the cache is not involved); with ``refill``, one
    call of all requests at ``batch_size`` rows."""
    ordered = sorted(requests, key=lambda r: -backend.prompt_length(r.prompt)) if sort else list(requests)
    generate = backend.generate if early_exit else lambda batch: generate_with_transformers(backend, batch)
    started = time.perf_counter()
    if refill:
        backend.generate(ordered, batch_size)
    else:
        for start in range(0, len(ordered), batch_size):
            generate(ordered[start : start + batch_size])
    return len(ordered) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=32, help="items to generate per setting")
    parser.add_argument("--max-new-tokens", type=int, default=48)
    args = parser.parse_args()
    config = default_experiment().configs[0]
    items = list(load_suite("core").items[::7][: args.items])  # every category, suite order
    backend = load_backend(config.model)
    decoding = Decoding(max_new_tokens={i.category: args.max_new_tokens for i in items})
    requests = [p.request for p in plan([config], items, {config.model: backend}, decoding)]
    backend.generate(requests[:2])  # load the weights and warm up
    settings = [  # (batch size, length-sorted, early exit, refilled)
        (1, True, True, False),
        (16, True, False, False),
        (16, True, True, False),
        (16, False, True, False),
        (32, True, True, False),
        (16, True, True, True),
    ]
    rows = [
        {
            "batch_size": b,
            "length_sorted": s,
            "early_exit": e,
            "refilled": r,
            "items_per_s": measure(backend, requests, b, s, e, r),
        }
        for b, s, e, r in settings
    ]
    baseline = rows[1]["items_per_s"]
    for row in rows:
        row["ratio_vs_transformers_generate_16"] = row["items_per_s"] / baseline
        print(
            f"batch {row['batch_size']:>2}  sorted={row['length_sorted']!s:<5}  early_exit={row['early_exit']!s:<5}"
            f"  refilled={row['refilled']!s:<5}"
            f"  {row['items_per_s']:6.2f} items/s  x{row['ratio_vs_transformers_generate_16']:.2f}"
        )
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    record = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "machine": platform.platform(),
        "threads": torch.get_num_threads(),
        "items": len(requests),
        "max_new_tokens": args.max_new_tokens,
        "rows": rows,
    }
    (out / "generation_throughput.json").write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()
