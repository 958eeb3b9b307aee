"""Responses per second of the refusal detectors after loading, side by side in one run.

Judges the same responses with the lexical layer alone, the embedding detector and the ensemble
(lexical + embedding), each after a warm-up batch, best of ``--repeats``. The responses are the
labelled test split, or the generations of a stored run (``--store``), which are real model outputs.
Prints a table and writes benchmarks/results/judge_throughput.json.

Usage: python benchmarks/judge_throughput.py [--store PATH] [--limit N] [--repeats R]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import time
from pathlib import Path

import torch

from alignment_tax.judge.detectors import get_detector
from alignment_tax.judge.train import DATA_DIR, load_split

DETECTORS = ("lexical", "embedding", "ensemble")


def responses(store: Path | None, limit: int) -> list[str]:
    """Stored generations (read-only), or the labelled test split's responses."""
    if store is None:
        return [r.response for r in load_split(DATA_DIR, "test")][:limit]
    db = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    rows = [r[0] for r in db.execute("SELECT text FROM generations ORDER BY key LIMIT ?", (limit,))]
    db.close()
    return rows


def measure(name: str, pairs: list[tuple[str, str]], repeats: int) -> dict:
    load_start = time.perf_counter()
    detector = get_detector(name)
    detector.classify(pairs[:16])  # warm-up
    load_s = time.perf_counter() - load_start
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        detector.classify(pairs)
        best = min(best, time.perf_counter() - start)
    return {
        "detector": name,
        "responses": len(pairs),
        "seconds": best,
        "per_second": len(pairs) / best,
        "load_s": load_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, default=None, help="a store.sqlite whose generations to judge")
    parser.add_argument("--limit", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    texts = responses(args.store, args.limit)
    pairs = [("", text) for text in texts]
    rows = [measure(name, pairs, args.repeats) for name in DETECTORS]
    lexical = rows[0]["per_second"]
    source = f"store {args.store}" if args.store else "test split"
    threads, load = torch.get_num_threads(), os.getloadavg()[0]
    print(f"{len(pairs)} responses ({source}), {os.cpu_count()} CPUs, torch threads {threads}, load average {load:.1f}")
    for row in rows:
        print(
            f"{row['detector']:10s} {row['per_second']:9.0f} responses/s  "
            f"({row['seconds']:.2f}s, {lexical / row['per_second']:.1f}x lexical's time; load {row['load_s']:.1f}s)"
        )
    out = Path(__file__).parent / "results" / "judge_throughput.json"
    out.parent.mkdir(exist_ok=True)
    payload = {
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "load_average": os.getloadavg()[0]},
        "source": str(args.store) if args.store else "test split",
        "rows": rows,
    }
    out.write_text(json.dumps(payload, indent=2) + "\n")


if __name__ == "__main__":
    main()
