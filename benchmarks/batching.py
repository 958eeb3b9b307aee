"""Calls holding several configurations against one configuration per call, at several batch sizes, side by side.

Runs the generation stage of ``altax run`` (``plan`` + ``run.executor.execute`` into a fresh SQLite
store, every request generated) for the default experiment's configurations that answer with the
embedded model as it is (no adapter, no steering, no router: ``reference``, ``safety-prompt``,
``medical-safety-prompt``) over the first ``--per-category`` items of every category of the ``core``
suite, with the default per-category length caps, at each of ``--batch-sizes``, two ways:

- ``merged``: one ``execute`` over all of them, as ``altax run`` does: a call holds the requests of
  every configuration, each configuration's prompts a family with its own shared prefix;
- ``per-config``: one ``execute`` per configuration, so that a call holds one configuration's
  requests (the batching before calls held several).

Settings alternate within each round so that load drifts hit all alike; the load average is recorded.
Every setting's answers are compared with the first one's, text for text (greedy decoding: batch
composition and padding change float rounding, which must change no answer). Prints a table and
writes benchmarks/results/CPU/batching.json (``machine.py``).

Usage: python benchmarks/batching.py [--per-category N] [--batch-sizes 16,64] [--rounds R]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import torch
from machine import machine, write_results

from alignment_tax.configs.experiment import default_experiment
from alignment_tax.models.specs import load_backend
from alignment_tax.run.executor import execute
from alignment_tax.run.planner import plan
from alignment_tax.store import Store
from alignment_tax.suite.loaders import load_suite
from alignment_tax.workflows.experiment import select_items

CONFIGS = ("reference", "safety-prompt", "medical-safety-prompt")
WAYS = ("merged", "per-config")


def generate(backend, planned, batch_size: int, way: str) -> tuple[float, dict[str, str]]:
    """Seconds to generate every planned request (``way``: merged or per-config calls) and the answers by key."""
    calls = [planned] if way == "merged" else [[p for p in planned if p.planned.config == c] for c in CONFIGS]
    with tempfile.TemporaryDirectory() as folder, Store(Path(folder) / "store.sqlite") as store:
        started = time.perf_counter()
        for call in calls:
            execute(backend, call, store, batch_size=batch_size, fresh=True)
        seconds = time.perf_counter() - started
        texts = {key: g.text for key, g in store.generations(p.request.key for p in planned).items()}
    return seconds, texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-category", type=int, default=4, help="items per category of the core suite")
    parser.add_argument("--batch-sizes", default="16,64", help="sequences in flight, comma-separated")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    experiment = default_experiment()
    configs = [c for c in experiment.configs if c.name in CONFIGS]
    spec = configs[0].model
    assert all(c.model == spec and c.steering is None and c.router is None for c in configs)
    items = select_items(load_suite(experiment.suite).items, args.per_category)
    backend = load_backend(spec)
    planned = plan(configs, items, {spec: backend}, experiment.decoding)
    backend.generate([p.request for p in planned[:2]])  # load the weights, choose the kernel, warm up
    settings = [(b, way) for b in map(int, args.batch_sizes.split(",")) for way in WAYS]
    rounds, answers = [], {}
    for _ in range(args.rounds):
        timed = {}
        for batch_size, way in settings:
            load = os.getloadavg()[0]
            seconds, texts = generate(backend, planned, batch_size, way)
            name = f"{way}@{batch_size}"
            print(f"{name:<16} {seconds:7.1f} s  load {load:.2f}", flush=True)
            answers.setdefault(name, texts)
            timed[name] = {
                "seconds": seconds,
                "load_before": round(load, 2),
                "load_after": round(os.getloadavg()[0], 2),
            }
        rounds.append(timed)
    first = next(iter(answers.values()))
    requests = len(first)
    summary = {}
    for name in answers:
        best = min(r[name]["seconds"] for r in rounds)
        summary[name] = {
            "requests_per_s_best": requests / best,
            "seconds_rounds": [r[name]["seconds"] for r in rounds],
            "identical_answers_to_first": sum(answers[name][k] == first[k] for k in first) / requests,
        }
    baseline = summary[f"per-config@{settings[0][0]}"]["requests_per_s_best"]
    for name, row in summary.items():
        row["ratio"] = row["requests_per_s_best"] / baseline
        print(
            f"{name:<16} {row['requests_per_s_best']:6.2f} requests/s  x{row['ratio']:.2f}"
            f"  identical answers {row['identical_answers_to_first']:.1%}"
        )
    info = machine()
    record = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {**info, "torch_threads": torch.get_num_threads()},
        "kernel": backend.kernel.describe() if backend.kernel else None,
        "configurations": list(CONFIGS),
        "items": len(items),
        "requests": requests,
        "per_category": args.per_category,
        "ratio": f"requests/s against per-config@{settings[0][0]}",
        "summary": summary,
        "rounds": rounds,
    }
    write_results("batching", record, info)


if __name__ == "__main__":
    main()
