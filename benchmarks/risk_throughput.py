"""Prompts per second of the router's risk classifier after loading: in batches, and one prompt at a time.

Scores the bundled core suite's prompts (as the router reads them) with the packaged classifier (full-precision
MiniLM) and, side by side in the same run, with the same head over the int8 encoder the judge uses (faster, but
a prompt's score then depends on its batch mates), each after a warm-up, best of ``--repeats``.
Prints the numbers and writes benchmarks/results/risk_throughput.json.

Usage: python benchmarks/risk_throughput.py [--repeats R] [--singles N]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import torch

from alignment_tax.interventions.prompting import item_text
from alignment_tax.interventions.risk import RiskClassifier, load_risk_classifier
from alignment_tax.suite.loaders import load_suite


def best_of(repeats: int, work) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return best


def measure(classifier: RiskClassifier, prompts: list[str], singles: list[str], repeats: int) -> dict:
    load_start = time.perf_counter()
    classifier.scores(prompts[:8])  # loads the encoder
    load_s = time.perf_counter() - load_start
    batch_s = best_of(repeats, lambda: classifier.scores(prompts))
    single_s = best_of(repeats, lambda: [classifier.scores([p]) for p in singles])
    return {
        "encoder": "int8" if classifier.meta.quantized else "float32",
        "prompts": len(prompts),
        "batched_per_second": len(prompts) / batch_s,
        "single_per_second": len(singles) / single_s,
        "single_latency_ms": 1000 * single_s / len(singles),
        "load_s": load_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--singles", type=int, default=50, help="prompts scored one call each")
    args = parser.parse_args()
    prompts = list(dict.fromkeys(item_text(item) for item in load_suite("core").items))
    packaged = load_risk_classifier()
    int8 = RiskClassifier(
        packaged.meta.model_copy(update={"quantized": True}), packaged.weight, packaged.mean, packaged.scale
    )
    rows = [measure(c, prompts, prompts[: args.singles], args.repeats) for c in (packaged, int8)]
    threads, load = torch.get_num_threads(), os.getloadavg()[0]
    print(f"{len(prompts)} suite prompts, {os.cpu_count()} CPUs, torch threads {threads}, load average {load:.1f}")
    for row in rows:
        print(
            f"{row['encoder']:8s} batched {row['batched_per_second']:6.0f} prompts/s, one at a time "
            f"{row['single_per_second']:5.0f} prompts/s ({row['single_latency_ms']:.1f} ms each); "
            f"load {row['load_s']:.1f}s"
        )
    out = Path(__file__).parent / "results" / "risk_throughput.json"
    out.parent.mkdir(exist_ok=True)
    machine = {"platform": platform.platform(), "cpus": os.cpu_count(), "load_average": load, "threads": threads}
    out.write_text(json.dumps({"machine": machine, "classifier": packaged.fingerprint, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
