"""The default run's generation calls against an earlier revision's, side by side in one process, same answers.

Plans the default experiment (``altax run``: the ``core`` suite, every configuration, the default length
caps) and takes the requests one backend answers (``--backend``: a substring of its key, e.g.
``safety-lora``; ``--every K`` keeps every K-th request of each length cap and configuration). It
generates them two ways on the same loaded model, alternating in each round so that load drifts hit
both alike:

- ``before``: the calls ``run.executor.make_batches`` made at git revision ``--before`` and the decoder
  (``models/decoding.py``) of that revision;
- ``after``: this tree's calls and decoder.

The machine is shared, so the measure is the process's CPU time at one torch thread (``--threads``),
not the wall clock (both are recorded, with the load average). Every answer of both ways is compared,
text for text. Prints the ratio and writes benchmarks/results/CPU/generation_calls.json (``machine.py``).

Usage: python benchmarks/generation_calls.py [--backend safety-lora] [--every 1] [--before REV] [--rounds 1]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

import torch
from machine import machine, write_results

from alignment_tax.configs.experiment import default_experiment
from alignment_tax.models import hf
from alignment_tax.models.specs import load_backend
from alignment_tax.run.backends import load_backends, load_classifiers
from alignment_tax.run.executor import call_size, make_batches
from alignment_tax.run.planner import plan
from alignment_tax.suite.loaders import load_suite

ROOT = Path(__file__).resolve().parent.parent
BEFORE = "6b1b11c"
"""The revision before calls mixed length caps and the decoder stopped copying whole caches on every change."""


def module_at(revision: str, path: str, name: str) -> ModuleType:
    """Module ``path`` as it was at git ``revision``, imported under ``name``."""
    source = subprocess.run(["git", "show", f"{revision}:{path}"], cwd=ROOT, capture_output=True, check=True).stdout
    folder = Path(tempfile.mkdtemp())
    (folder / f"{name}.py").write_bytes(source)
    spec = importlib.util.spec_from_file_location(name, folder / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="safety-lora", help="substring of the backend key to run")
    parser.add_argument("--every", type=int, default=1, help="keep every K-th request")
    parser.add_argument("--before", default=BEFORE, help="git revision to compare against")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    old_decoding = module_at(args.before, "src/alignment_tax/models/decoding.py", "before_decoding")
    old_executor = module_at(args.before, "src/alignment_tax/run/executor.py", "before_executor")
    new_decode = hf.decode

    def before_decode(model, prompts, *, max_new_tokens, **options):
        (cap,) = set(max_new_tokens)  # the earlier calls share one length cap
        return old_decoding.decode(model, prompts, max_new_tokens=cap, **options)

    experiment = default_experiment()
    items = list(load_suite(experiment.suite).items)
    backends = load_backends(experiment.configs, load_backend)
    planned = plan(experiment.configs, items, backends, experiment.decoding, load_classifiers(experiment.configs))
    key = next(k for k in backends if args.backend in k)
    backend = backends[key]
    mine = [p for p in planned if p.backend == key]
    if args.every > 1:
        groups: dict[tuple, list] = {}
        for p in mine:
            groups.setdefault((p.request.max_new_tokens, p.planned.config), []).append(p)
        mine = [p for group in groups.values() for p in group[:: args.every]]
    size = call_size(64)
    calls = {
        "before": (old_executor.make_batches(backend, mine, size), before_decode),
        "after": (make_batches(backend, mine, size), new_decode),
    }
    backend.generate([mine[0].request])  # load the weights, warm up
    runs: dict[str, list[dict]] = {way: [] for way in calls}
    answers: dict[str, dict[str, str]] = {}
    for round_ in range(args.rounds):
        for way in list(calls) if round_ % 2 == 0 else list(reversed(calls)):
            batches, decode = calls[way]
            hf.decode = decode
            load = os.getloadavg()[0]
            wall, cpu = time.perf_counter(), time.process_time()
            texts = {}
            for batch in batches:
                outputs = backend.generate([p.request for p in batch], 64)
                texts.update({p.request.key: out.text for p, out in zip(batch, outputs, strict=True)})
            run = {
                "cpu_s": time.process_time() - cpu,
                "wall_s": time.perf_counter() - wall,
                "load_before": load,
                "load_after": os.getloadavg()[0],
                "calls": len(batches),
            }
            runs[way].append(run)
            answers[way] = texts
            print(f"{way:6s} round {round_}: " + ", ".join(f"{k} {v:.1f}" for k, v in run.items()), flush=True)
    hf.decode = new_decode
    same = sum(answers["before"][k] == answers["after"][k] for k in answers["before"])
    ratio = min(r["cpu_s"] for r in runs["before"]) / min(r["cpu_s"] for r in runs["after"])
    print(f"{key}: {len(answers['before'])} requests, before/after CPU time {ratio:.2f}x, same answers {same}")
    record = {
        "machine": machine(),
        "backend": key,
        "requests": len(answers["before"]),
        "before_revision": args.before,
        "threads": args.threads,
        "runs": runs,
        "ratio_cpu": ratio,
        "same_answers": same,
    }
    print(write_results("generation_calls", record))


if __name__ == "__main__":
    main()
