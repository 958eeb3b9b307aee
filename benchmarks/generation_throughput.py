"""Items per second of the generation stage on the embedded model, side by side in one run.

Compares batch sizes (1, 8, 16, 32) with length-sorted batches, and length-sorted against
suite-order batches at the default batch size. Prints a table and writes a JSON record to
benchmarks/results/. Usage: python benchmarks/generation_throughput.py [--items N]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

from alignment_tax.configs.experiment import default_experiment
from alignment_tax.configs.schema import Decoding
from alignment_tax.models.specs import load_backend
from alignment_tax.run.planner import plan
from alignment_tax.suite.loaders import load_suite


def measure(backend, requests, batch_size: int, sort: bool) -> float:
    """Items per second generating ``requests`` in batches (the cache is not involved)."""
    ordered = sorted(requests, key=lambda r: -backend.prompt_length(r.prompt)) if sort else list(requests)
    started = time.perf_counter()
    for start in range(0, len(ordered), batch_size):
        backend.generate(ordered[start : start + batch_size])
    return len(ordered) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=64, help="items to generate per setting")
    args = parser.parse_args()
    experiment = default_experiment()
    suite = load_suite("core")
    # every other item of the non-code categories: one length cap (48 tokens) so batches are comparable
    items = [i for i in suite.items if i.category not in ("code", "creative_writing", "benign")][::2][: args.items]
    config = experiment.configs[0]
    backend = load_backend(config.model)
    requests = [p.request for p in plan([config], items, {config.model: backend}, Decoding())]
    backend.generate(requests[:2])  # load weights and warm up
    settings = [(1, True), (8, True), (16, True), (32, True), (16, False)]
    rows = [{"batch_size": b, "length_sorted": s, "items_per_s": measure(backend, requests, b, s)} for b, s in settings]
    base = rows[0]["items_per_s"]
    for row in rows:
        row["ratio_vs_batch_1"] = row["items_per_s"] / base
        print(
            f"batch {row['batch_size']:>2}  sorted={row['length_sorted']!s:<5}  "
            f"{row['items_per_s']:6.2f} items/s  x{row['ratio_vs_batch_1']:.2f}"
        )
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    record = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "machine": platform.platform(),
        "items": len(requests),
        "rows": rows,
    }
    (out / "generation_throughput.json").write_text(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
