"""Prompts per second of the generation-free refusal probe on the embedded model, recorded per CPU.

Renders the first ``--items`` items of the bundled ``core`` suite (every category, suite order) under
the default experiment's reference configuration, loads the model and warms it up, then times
the probe's log-odds (``next_token_logprobs`` of ``judge.probe.probe_candidates``, then ``judge.probe.log_odds``;
one forward pass per prompt, batches of 16 like ``altax probe``) over
them, best of ``--repeats``. Prints one line and writes benchmarks/results/CPU/probe_throughput.json
(one folder per CPU model, ``machine.py``).

Usage: python benchmarks/probe_throughput.py [--items N] [--repeats R]
"""

from __future__ import annotations

import argparse
import os
import time

import torch
from machine import machine, write_results

from alignment_tax.configs.experiment import default_experiment
from alignment_tax.configs.schema import Decoding
from alignment_tax.judge.probe import log_odds, probe_candidates
from alignment_tax.models.specs import load_backend
from alignment_tax.run.planner import plan
from alignment_tax.suite.loaders import load_suite


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=240)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    experiment = default_experiment()
    config = next(c for c in experiment.configs if c.name == experiment.reference)
    suite = load_suite("core").items
    items = list(suite[:: max(1, len(suite) // args.items)][: args.items])
    backend = load_backend(config.model)
    prompts = [p.request.prompt for p in plan([config], items, {config.model: backend}, Decoding())]
    load = [os.getloadavg()[0]]
    candidates = probe_candidates()
    log_odds(backend.next_token_logprobs(prompts[:4], candidates))  # load the weights, choose the kernel, warm up
    best = float("inf")
    for _ in range(args.repeats):
        started = time.perf_counter()
        log_odds(backend.next_token_logprobs(prompts, candidates))
        best = min(best, time.perf_counter() - started)
    load.append(os.getloadavg()[0])
    info = {**machine(), "torch_threads": torch.get_num_threads(), "load_average": load}
    kernel = backend.kernel.kernel if backend.kernel else "none"
    record = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": info,
        "model": config.model,
        "kernel": kernel,
        "prompts": len(prompts),
        "mean_prompt_tokens": sum(backend.prompt_length(p) for p in prompts) / len(prompts),
        "seconds_best": best,
        "prompts_per_s": len(prompts) / best,
    }
    print(
        f"probe: {record['prompts_per_s']:.1f} prompts/s ({len(prompts)} prompts, best of {args.repeats}, "
        f"kernel {kernel}) on {info['cpu']} ({' '.join(info['cpu_flags'])}), load {load}"
    )
    write_results("probe_throughput", record, info)


if __name__ == "__main__":
    main()
