"""Responses per second of the refusal detectors, side by side in one run, on short and on long answers.

Two answer sets: ``short``, the embedded model's real answers (the labelled rows whose source is
builtin:smollm2-135m-instruct, or a stored run's generations with ``--store``), and ``long``, every
distinct labelled answer of 150-400 words (the splits and any batch3/*.jsonl files), each with its prompt.
Two measures per detector and set:

- after loading: the detector built once, a warm-up batch, then the best of ``--repeats`` passes;
- whole command: a fresh Python process that imports the package, loads the detector and judges
  ``--total`` answers (the set again and again, one call per pass over the set, so no answer's work
  is shared with a copy of itself), timed from start to exit.

Prints a table and writes benchmarks/results/CPU/judge_throughput.json (one folder per CPU model, ``machine.py``).

Usage: python benchmarks/judge_throughput.py [--store PATH] [--total N] [--repeats R] [--detectors a,b]
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from machine import machine, write_results

from alignment_tax.jsonl import read_models
from alignment_tax.judge.detectors import get_detector
from alignment_tax.judge.evaluation import EMBEDDED_SOURCE
from alignment_tax.judge.refusal_data import DATA_DIR, SPLITS, LabelledResponse, load_rows

DETECTORS = ("lexical", "embedding", "ensemble", "reader")
LONG_WORDS = (150, 400)
CHILD = """
import json, sys
from alignment_tax.judge.detectors import get_detector
pairs = [tuple(p) for p in json.load(open(sys.argv[2]))]
detector, total, done = get_detector(sys.argv[1]), int(sys.argv[3]), 0
while done < total:
    done += len(detector.classify(pairs[: total - done]))
"""


def labelled() -> list[LabelledResponse]:
    """Every labelled row: the splits, then any batch not yet placed in them."""
    rows = [r for split in SPLITS for r in load_rows(DATA_DIR, split)]
    batches = sorted((DATA_DIR / "batch3").glob("*.jsonl"))
    return rows + [r for path in batches for r in read_models(path, LabelledResponse)]


def answer_sets(store: Path | None) -> dict[str, list[tuple[str, str]]]:
    """Distinct (prompt, answer) pairs: the embedded model's answers, and long chat-style answers."""
    rows = labelled()
    if store is None:
        short = [(r.prompt, r.response) for r in rows if r.source == EMBEDDED_SOURCE]
    else:
        db = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
        short = [("", text) for (text,) in db.execute("SELECT text FROM generations ORDER BY key")]
        db.close()
    low, high = LONG_WORDS
    long = [(r.prompt, r.response) for r in rows if low <= len(r.response.split()) <= high]
    return {name: list(dict.fromkeys(pairs)) for name, pairs in (("short", short), ("long", long))}


def after_loading(name: str, pairs: list[tuple[str, str]], repeats: int) -> dict:
    start = time.perf_counter()
    detector = get_detector(name)
    detector.classify(pairs[:16])  # warm-up
    load_s = time.perf_counter() - start
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        detector.classify(pairs)
        best = min(best, time.perf_counter() - start)
    return {"per_second": len(pairs) / best, "load_s": load_s}


def whole_command(name: str, pairs: list[tuple[str, str]], total: int) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(pairs, f)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", CHILD, name, f.name, str(total)], check=True)
    seconds = time.perf_counter() - start
    os.unlink(f.name)
    return {"total": total, "seconds": seconds, "per_second": total / seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, default=None, help="a store.sqlite whose generations are the short set")
    parser.add_argument("--total", type=int, default=2000, help="answers judged by each whole command")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--detectors", default=",".join(DETECTORS))
    args = parser.parse_args()
    sets = answer_sets(args.store)
    rows = []
    load_before = os.getloadavg()[0]
    for name in args.detectors.split(","):
        for set_name, pairs in sets.items():
            words = sum(len(r.split()) for _, r in pairs) / max(1, len(pairs))
            row = {"detector": name, "set": set_name, "answers": len(pairs), "mean_words": words}
            row |= {"after_loading": after_loading(name, pairs, args.repeats)}
            row |= {"whole_command": whole_command(name, pairs, args.total)}
            rows.append(row)
            print(
                f"{name:10s} {set_name:5s} ({len(pairs)} answers, {words:.0f} words on average): "
                f"{row['after_loading']['per_second']:8.0f}/s after loading "
                f"({row['after_loading']['load_s']:.1f}s load), whole command "
                f"{row['whole_command']['per_second']:6.0f}/s ({args.total} in {row['whole_command']['seconds']:.1f}s)",
                flush=True,
            )
    load = (load_before, os.getloadavg()[0])
    info = {**machine(), "load_average": load}
    flags = " ".join(info["cpu_flags"])
    print(f"{info['cpu']} ({flags}), {info['cores']} CPUs, OMP_NUM_THREADS={info['omp_num_threads']}, load {load}")
    write_results("judge_throughput", {"machine": info, "store": str(args.store), "rows": rows}, info)


if __name__ == "__main__":
    main()
