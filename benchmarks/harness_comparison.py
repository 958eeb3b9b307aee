"""Items per second against lm-evaluation-harness and inspect_ai, side by side in one run, same model and items.

Runs, in one go and on the same prepared SmolLM2-135M-Instruct folder (float32, CPU), the same
items (the first ``--per-category`` items of every category of the bundled ``core`` suite under
the default experiment's ``safety-prompt`` configuration, rendered with the model's chat template),
greedy decoding, the same length cap and stop strings, at each of ``--batch-sizes`` (sequences in
the model at once, the same for every system):

- ``altax``: the generation stage of ``altax run`` as it is: ``plan`` + ``run.executor.execute``
  (calls longest first, here of one configuration; shared-prefix KV reuse; continuous batching
  with per-row early exit; oneDNN-prepacked linear layers; every call written to a fresh SQLite store);
- ``lm-eval``: ``lm_eval.models.huggingface.HFLM(pretrained=FOLDER, batch_size=B)`` with
  ``generate_until`` requests on the rendered prompts (length-sorted batches, ``model.generate``);
- ``inspect``: an inspect_ai ``Task`` over the same chat messages, ``eval`` with the ``hf`` provider
  (``model_path=FOLDER``, greedy, ``max_connections`` = its batch size), no scorer;
- ``altax-dense`` and ``altax-whole-prompts``: ablations, the ``altax`` path with torch's default
  linear layers instead of prepacked ones, or with every prompt prefilled whole (no shared prefix);
- ``altax-pipeline``: for information, a whole ``workflows.experiment.run_experiment`` (model load, generation,
  judging, analysis, results.json) into a fresh temporary results directory.

Each system runs in its own subprocess with the same torch thread count; model loading and a
two-item warm-up are outside the timed part for ``altax``, ``lm-eval`` and ``inspect`` (the
pipeline row includes everything). lm-evaluation-harness and inspect_ai run from a separate
interpreter (``--harness-python``, else ``$ALTAX_BENCH_PYTHON``, else ``.venv-bench/bin/python`` or
/work/venv-bench/bin/python when one exists, else this one) because
their dependencies pin older python-dateutil and fsspec than the project's venv has; that venv
reads torch and transformers from the project's venv, so all three run the same builds.

Also measured: the peak float32 matmul FLOP/s of this machine at the same thread count (the faster
of torch's default matmul and a oneDNN-prepacked one), and the
fraction of it reached in batched decoding, counted as 2 x non-embedding parameters per generated
token (also shown counting the tied LM head, which every generated token does multiply by).

Prints a table and writes benchmarks/results/CPU/harness_comparison.json, one folder per CPU model
(``machine.py``: the model name, its kernel-relevant flags such as AVX-512 and AMX, cores, threads);
earlier invocations on the same CPU are kept, summarised, under ``history``.

Usage: python benchmarks/harness_comparison.py [--per-category N] [--max-new-tokens T] [--rounds R]
Setup (once; see benchmarks/requirements-harness.txt and docs/backends.md, "Speed"):
        python3 -m venv .venv-bench
        .venv/bin/python -c "import site; print(site.getsitepackages()[0])" \
            > "$(.venv-bench/bin/python -c 'import site; print(site.getsitepackages()[0])')/zz_altax_base.pth"
        .venv-bench/bin/pip install -r benchmarks/requirements-harness.txt
        .venv-bench/bin/pip uninstall -y setuptools
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from machine import machine, results_path

SPEC = "builtin:smollm2-135m-instruct"
ALL_SYSTEMS = ("altax", "lm-eval", "inspect", "altax-dense", "altax-whole-prompts", "altax-pipeline")
CONFIG = "safety-prompt"
HARNESS_PYTHONS = (Path(__file__).parent.parent / ".venv-bench/bin/python", Path("/work/venv-bench/bin/python"))


# ---------------------------------------------------------------------------------------------
# Shared helpers (run in every process)


def cut_at_stop(text: str, stop: list[str]) -> str:
    """The text before the first stop string, stripped: how all three outputs are compared."""
    cut = min((text.find(s) for s in stop if s in text), default=-1)
    return (text[:cut] if cut >= 0 else text).strip()


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def set_threads(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


# ---------------------------------------------------------------------------------------------
# Workers: one system each, in its own process. Each writes {"seconds", "outputs", ...} to --out.


def worker_altax(spec: dict, wrap=None) -> dict:
    """The generation stage of ``altax run``: plan, then the local executor into a fresh store."""
    import dataclasses
    import sqlite3

    from alignment_tax.models.specs import load_backend
    from alignment_tax.run.executor import execute
    from alignment_tax.run.planner import plan
    from alignment_tax.store import Store

    config, items, decoding = altax_setup(spec)
    backend = load_backend(SPEC)
    backend.model  # noqa: B018 - load the weights outside the timed part
    if wrap is not None:
        backend = wrap(backend)
    warm = [p.request for p in plan([config], items[:2], {SPEC: backend}, decoding)]
    backend.generate([dataclasses.replace(r, max_new_tokens=4) for r in warm])
    with tempfile.TemporaryDirectory() as folder:
        store = Store(Path(folder) / "store.sqlite")
        started = time.perf_counter()
        planned = plan([config], items, {SPEC: backend}, decoding)
        generated = execute(backend, planned, store, batch_size=spec["batch_size"], fresh=True)
        seconds = time.perf_counter() - started
        store.close()
        rows = dict(
            (
                (k, (t, n))
                for k, t, n in sqlite3.connect(Path(folder) / "store.sqlite").execute(
                    "SELECT key, text, n_tokens FROM generations"
                )
            )
        )
    outputs = [rows[p.request.key] for p in planned]
    assert generated == len(planned)
    return {
        "seconds": seconds,
        "outputs": [text for text, _ in outputs],
        "generated_tokens": [n for _, n in outputs],
        "prompt_tokens": [backend.prompt_length(p.request.prompt) for p in planned],
    }


def worker_altax_dense(spec: dict) -> dict:
    """Ablation: the altax path with torch's default float32 linear layers (no oneDNN prepacking)."""
    from alignment_tax.models import packed

    packed.can_pack = lambda model: False
    return worker_altax(spec)


def worker_altax_whole_prompts(spec: dict) -> dict:
    """Ablation: the altax path with shared-prefix reuse switched off, every batch prefilled whole."""
    from alignment_tax.models import decoding

    decoding.split_shared_prefix = lambda rows: ([], [list(r) for r in rows])
    return worker_altax(spec)


def worker_pipeline(spec: dict) -> dict:
    """A whole ``run_experiment`` (load, generate, judge, analyse, write results) into a fresh directory."""
    from alignment_tax.configs.schema import Experiment
    from alignment_tax.workflows.experiment import Settings, run_experiment

    config, _, decoding = altax_setup(spec)
    experiment = Experiment(
        suite="core", reference=config.name, limit=spec["per_category"], decoding=decoding, configs=[config]
    )
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        output = run_experiment(experiment, Settings(results_dir=Path(folder), batch_size=spec["batch_size"]))
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "results_path_name": output.results_path.name}


def worker_lm_eval(spec: dict) -> dict:
    """lm-evaluation-harness: HFLM, batch size 16, ``generate_until`` on the rendered prompts."""
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM

    lm = HFLM(
        pretrained=spec["folder"], batch_size=spec["batch_size"], device="cpu", dtype="float32", add_bos_token=False
    )
    kwargs = {"until": spec["stop"], "max_gen_toks": spec["max_new_tokens"], "do_sample": False, "temperature": 0.0}

    def requests(items: list[dict], max_gen_toks: int) -> list:
        return [
            Instance("generate_until", {}, (item["prompt"], {**kwargs, "max_gen_toks": max_gen_toks}), i)
            for i, item in enumerate(items)
        ]

    lm.generate_until(requests(spec["items"][:2], 4), disable_tqdm=True)
    timed = requests(spec["items"], spec["max_new_tokens"])
    started = time.perf_counter()
    outputs = lm.generate_until(timed, disable_tqdm=True)
    return {"seconds": time.perf_counter() - started, "outputs": outputs}


def worker_inspect(spec: dict) -> dict:
    """inspect_ai: a Task over the same chat messages, ``eval`` with the hf provider, no scorer."""
    import logging

    from inspect_ai import Task, eval
    from inspect_ai.dataset import Sample
    from inspect_ai.model import ChatMessageSystem, ChatMessageUser, GenerateConfig, get_model
    from inspect_ai.solver import generate

    logging.getLogger("inspect_ai").setLevel(logging.ERROR)
    model = get_model(
        "hf/local",
        config=GenerateConfig(temperature=0.0),
        model_path=spec["folder"],
        device="cpu",
        do_sample=False,
        dtype="float32",
    )  # loads the weights (outside the timed part)

    def task(items: list[dict]) -> Task:
        samples = [
            Sample(
                input=[ChatMessageSystem(content=item["system"]), ChatMessageUser(content=item["user"])], id=item["id"]
            )
            for item in items
        ]
        return Task(dataset=samples, solver=generate(), scorer=None)

    rendered = [
        model.api.hf_chat([ChatMessageSystem(content=i["system"]), ChatMessageUser(content=i["user"])], [])
        for i in spec["items"]
    ]
    same_prompts = sum(r == i["prompt"] for r, i in zip(rendered, spec["items"], strict=True))
    options = {
        "display": "none",
        "max_connections": spec["batch_size"],
        "temperature": 0.0,
        "stop_seqs": spec["stop"],
        "score": False,
    }
    with tempfile.TemporaryDirectory() as folder:
        eval(task(spec["items"][:2]), model=model, log_dir=folder, max_tokens=4, **options)
        started = time.perf_counter()
        logs = eval(task(spec["items"]), model=model, log_dir=folder, max_tokens=spec["max_new_tokens"], **options)
        seconds = time.perf_counter() - started
        log = logs[0]
        if log.status != "success":
            raise RuntimeError(f"inspect eval ended with status {log.status}: {log.error}")
        by_id = {s.id: s.output.completion for s in log.samples}
    return {
        "seconds": seconds,
        "outputs": [by_id[i["id"]] for i in spec["items"]],
        "prompts_identical_to_altax": same_prompts,
    }


def altax_setup(spec: dict):
    """The configuration, items and decoding settings every system gets (built the same way everywhere)."""
    from alignment_tax.configs.experiment import default_experiment
    from alignment_tax.configs.schema import Decoding
    from alignment_tax.suite.loaders import load_suite
    from alignment_tax.workflows.experiment import select_items

    config = next(c for c in default_experiment().configs if c.name == CONFIG)
    items = select_items(load_suite("core").items, spec["per_category"])
    categories = sorted({i.category for i in items})
    decoding = Decoding(max_new_tokens=dict.fromkeys(categories, spec["max_new_tokens"]), stop={"*": spec["stop"]})
    return config, items, decoding


WORKERS = {
    "altax": worker_altax,
    "altax-whole-prompts": worker_altax_whole_prompts,
    "altax-dense": worker_altax_dense,
    "altax-pipeline": worker_pipeline,
    "lm-eval": worker_lm_eval,
    "inspect": worker_inspect,
}


def worker_main(name: str, spec_path: Path, out_path: Path) -> None:
    spec = json.loads(spec_path.read_text())
    set_threads(spec["threads"])
    before = loadavg()
    result = WORKERS[name](spec)
    import importlib.metadata as md

    versions = {}
    for dist in ("torch", "transformers", "lm_eval", "inspect_ai", "alignment-tax"):
        with contextlib.suppress(md.PackageNotFoundError):
            versions[dist] = md.version(dist)
    import torch

    result.update(
        {"load_before": before, "load_after": loadavg(), "threads": torch.get_num_threads(), "versions": versions}
    )
    out_path.write_text(json.dumps(result))


# ---------------------------------------------------------------------------------------------
# The driver


def prepare_spec(args) -> dict:
    """Render the items once with alignment-tax's own planner (the prompts lm-eval receives)."""
    from alignment_tax.interventions.prompting import build_messages
    from alignment_tax.models.builtin import prepare
    from alignment_tax.models.specs import load_backend
    from alignment_tax.run.planner import plan

    folder, _ = prepare(SPEC.split(":", 1)[1])
    spec = {
        "folder": str(folder),
        "per_category": args.per_category,
        "max_new_tokens": args.max_new_tokens,
        "stop": args.stop,
        "threads": args.threads,
    }
    config, items, decoding = altax_setup(spec)
    backend = load_backend(SPEC)  # tokenizer only; the weights load on first use
    planned = plan([config], items, {SPEC: backend}, decoding)
    spec["items"] = []
    for item, p in zip(items, planned, strict=True):
        messages = build_messages(config, item)
        system = "\n".join(m["content"] for m in messages if m["role"] == "system")
        user = [m["content"] for m in messages if m["role"] == "user"]
        assert len(user) == 1, "the benchmark configuration has no few-shot turns"
        spec["items"].append(
            {"id": item.id, "category": item.category, "system": system, "user": user[0], "prompt": p.request.prompt}
        )
    return spec


def run_worker(name: str, python: str, spec_path: Path, timeout: int) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        out = Path(handle.name)
    try:
        done = subprocess.run(
            [python, __file__, "--worker", name, "--spec", str(spec_path), "--out", str(out)],
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, "TOKENIZERS_PARALLELISM": "false", "INSPECT_LOG_LEVEL": "error"},
        )
        if done.returncode != 0:
            tail = (done.stderr or done.stdout)[-3000:]
            raise RuntimeError(f"{name} worker failed (exit {done.returncode}):\n{tail}")
        return json.loads(out.read_text())
    finally:
        out.unlink(missing_ok=True)


def peak_matmul_flops(threads: int, sizes=(1024, 2048, 3072), reps: int = 5) -> dict:
    """Best float32 matmul FLOP/s over a few square sizes at ``threads`` threads (2 n^3 per product), with
    torch's default matmul and with a oneDNN-prepacked weight; the peak is the faster of the two."""
    import torch

    from alignment_tax.models.packed import PackedLinear

    torch.set_num_threads(threads)
    best: dict[str, dict[str, float]] = {"torch.mm": {}, "onednn": {}}
    for n in sizes:
        a, layer = torch.randn(n, n), torch.nn.Linear(n, n, bias=False)
        with torch.inference_mode():
            packed = PackedLinear(layer)
            for kernel, run, weight in (("torch.mm", torch.mm, layer.weight), ("onednn", packed, None)):
                arguments = (a, weight) if weight is not None else (a,)
                run(*arguments)
                times = []
                for _ in range(reps):
                    started = time.perf_counter()
                    run(*arguments)
                    times.append(time.perf_counter() - started)
                best[kernel][str(n)] = 2 * n**3 / min(times)
    return {"by_kernel_and_size": best, "peak": max(v for by_size in best.values() for v in by_size.values())}


def parameter_counts(folder: str) -> dict:
    """Total, input-embedding and non-embedding parameters from the safetensors header (no weights loaded)."""
    import struct

    header_file = Path(folder) / "model.safetensors"
    with header_file.open("rb") as handle:
        size = struct.unpack("<Q", handle.read(8))[0]
        header = json.loads(handle.read(size))
    counts = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        n = 1
        for dim in entry["shape"]:
            n *= dim
        counts[name] = n
    total = sum(counts.values())
    embedding = sum(n for name, n in counts.items() if "embed_tokens" in name)
    lm_head = sum(n for name, n in counts.items() if name.startswith("lm_head"))
    return {
        "total": total,
        "embedding": embedding,
        "untied_lm_head": lm_head,
        "non_embedding": total - embedding - lm_head,
    }


def agreement(a: list[str], b: list[str], stop: list[str]) -> float:
    return sum(cut_at_stop(x, stop) == cut_at_stop(y, stop) for x, y in zip(a, b, strict=True)) / len(a)


def run_round(args, spec: dict, spec_paths: dict[int, Path], harness_python: str, tokenizer) -> dict:
    """Every system at every batch size once, in turn; results keyed ``SYSTEM@BATCH``."""
    systems = [s for s in ALL_SYSTEMS if s not in args.skip]
    rows = {}
    for batch_size, spec_path in spec_paths.items():
        for name in systems:
            python = sys.executable if name.startswith("altax") else harness_python
            before = loadavg()
            result = run_worker(name, python, spec_path, args.timeout)
            result["load_before_driver"] = before
            result["items_per_s"] = len(spec["items"]) / result["seconds"]
            if "outputs" in result and "generated_tokens" not in result:
                result["generated_tokens"] = [
                    len(tokenizer(cut_at_stop(o, spec["stop"]), add_special_tokens=False)["input_ids"]) + 1
                    for o in result["outputs"]
                ]
            key = f"{name}@{batch_size}"
            rows[key] = result
            print(f"  {key:<25} {result['seconds']:7.2f} s  {result['items_per_s']:6.2f} items/s  load {before}")
    return rows


def system(key: str) -> str:
    return key.rpartition("@")[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-category", type=int, default=6, help="first N items of every core category")
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--stop", nargs="*", default=["\n\n\n"], help="stop strings (end of turn always stops)")
    parser.add_argument(
        "--batch-sizes", type=int, nargs="+", default=[16, 64], help="sequences in the model at once; each is run"
    )
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's default)")
    parser.add_argument("--rounds", type=int, default=2, help="times to run every system, in turn")
    parser.add_argument("--harness-python", default=None, help="interpreter with lm_eval and inspect_ai")
    parser.add_argument("--skip", nargs="*", default=[], help="systems to leave out")
    parser.add_argument("--timeout", type=int, default=900, help="seconds per system run")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--spec", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker_main(args.worker, args.spec, args.out)
        return

    import torch
    from transformers import AutoTokenizer

    args.threads = args.threads or torch.get_num_threads()
    found = [str(p) for p in HARNESS_PYTHONS if p.exists()]
    harness_python = args.harness_python or os.environ.get("ALTAX_BENCH_PYTHON") or (found or [sys.executable])[0]
    load_start = loadavg()
    spec = prepare_spec(args)
    tokenizer = AutoTokenizer.from_pretrained(spec["folder"])
    params = parameter_counts(spec["folder"])
    print(
        f"{len(spec['items'])} items, {args.max_new_tokens} new tokens max, batch sizes {args.batch_sizes}, "
        f"{args.threads} threads, {os.cpu_count()} cores, load {load_start}"
    )
    roofline = peak_matmul_flops(args.threads)
    print(f"peak float32 matmul: {roofline['peak'] / 1e9:.1f} GFLOP/s")
    rounds, spec_paths = [], {}
    for batch_size in args.batch_sizes:
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
            json.dump({**spec, "batch_size": batch_size}, handle)
            spec_paths[batch_size] = Path(handle.name)
    try:
        for r in range(args.rounds):
            print(f"round {r + 1}:")
            rounds.append(run_round(args, spec, spec_paths, harness_python, tokenizer))
    finally:
        for path in spec_paths.values():
            path.unlink(missing_ok=True)
    load_end = loadavg()
    roofline_after = peak_matmul_flops(args.threads)

    # Summaries: the best round of each system (the least disturbed by other work), and every round.
    summary = {}
    for name in rounds[0]:
        best = max((rnd[name] for rnd in rounds), key=lambda row: row["items_per_s"])
        summary[name] = {
            "items_per_s_best": best["items_per_s"],
            "items_per_s_rounds": [rnd[name]["items_per_s"] for rnd in rounds],
            "seconds_rounds": [rnd[name]["seconds"] for rnd in rounds],
        }
    # The faster harness at its best batch size; and, for each batch size, the faster harness at that size.
    harnesses = [n for n in summary if system(n) in ("lm-eval", "inspect")]
    faster = max(harnesses, key=lambda n: summary[n]["items_per_s_best"]) if harnesses else None
    for name, row in summary.items():
        if faster:
            row["ratio_vs_faster_harness"] = row["items_per_s_best"] / summary[faster]["items_per_s_best"]
            row["ratio_vs_faster_harness_rounds"] = [
                rnd[name]["items_per_s"] / rnd[faster]["items_per_s"] for rnd in rounds
            ]
            same = [n for n in harnesses if n.rpartition("@")[2] == name.rpartition("@")[2]]
            fastest_same = max(same, key=lambda n: summary[n]["items_per_s_best"])
            row["ratio_vs_faster_harness_same_batch"] = (
                row["items_per_s_best"] / summary[fastest_same]["items_per_s_best"]
            )

    peak = max(roofline["peak"], roofline_after["peak"])
    decode = {}
    for name in summary:
        if system(name) not in ("altax", "lm-eval", "inspect", "altax-dense", "altax-whole-prompts"):
            continue
        best = max((rnd[name] for rnd in rounds), key=lambda row: row["items_per_s"])
        tokens = sum(best["generated_tokens"])
        per_s = tokens / best["seconds"]
        decode[name] = {
            "generated_tokens": tokens,
            "generated_tokens_per_s": per_s,
            "flops_per_s_non_embedding": 2 * params["non_embedding"] * per_s,
            "fraction_of_peak_non_embedding": 2 * params["non_embedding"] * per_s / peak,
            "fraction_of_peak_with_lm_head": 2 * (params["non_embedding"] + params["embedding"]) * per_s / peak,
        }
        if "prompt_tokens" in best:
            # Prompt tokens pass through the blocks only (logits_to_keep=1); generated ones also through the
            # LM head. An effective rate: altax computes a batch's shared prefix once, not once per row.
            prompt = sum(best["prompt_tokens"])
            decode[name]["prompt_tokens"] = prompt
            decode[name]["fraction_of_peak_prompt_and_generated"] = (
                2
                * (params["non_embedding"] * (prompt + tokens) + params["embedding"] * tokens)
                / best["seconds"]
                / peak
            )

    # Identical answers: every system's against altax at the first batch size, and altax's round 1 vs round 2.
    agree = {}
    base_key = f"altax@{args.batch_sizes[0]}"
    base = rounds[0].get(base_key)
    if base:
        for name, row in rounds[0].items():
            if name != base_key and "outputs" in row:
                agree[f"{base_key}_vs_{name}"] = agreement(base["outputs"], row["outputs"], spec["stop"])
        if len(rounds) > 1:
            agree[f"{base_key}_round1_vs_round2"] = agreement(
                base["outputs"], rounds[1][base_key]["outputs"], spec["stop"]
            )

    print()
    print(f"{'system@batch':<25} {'items/s (best)':>14} {'rounds':>16} {'vs ' + str(faster):>18} {'vs same batch':>14}")
    for name, row in summary.items():
        per_round = ", ".join(f"{x:.2f}" for x in row["items_per_s_rounds"])
        ratio = f"x{row['ratio_vs_faster_harness']:.2f}" if faster else ""
        same = f"x{row['ratio_vs_faster_harness_same_batch']:.2f}" if faster else ""
        print(f"{name:<25} {row['items_per_s_best']:>14.2f} {per_round:>16} {ratio:>18} {same:>14}")
    print()
    print(
        f"parameters: {params['total'] / 1e6:.1f}M total, {params['embedding'] / 1e6:.1f}M embedding (tied LM head), "
        f"{params['non_embedding'] / 1e6:.1f}M non-embedding; peak matmul {peak / 1e9:.1f} GFLOP/s"
    )
    for name, row in decode.items():
        print(
            f"{name:<22} {row['generated_tokens_per_s']:7.1f} generated tokens/s = "
            f"{row['flops_per_s_non_embedding'] / 1e9:6.2f} GFLOP/s = "
            f"{100 * row['fraction_of_peak_non_embedding']:.1f}% "
            f"of peak ({100 * row['fraction_of_peak_with_lm_head']:.1f}% counting the LM head)"
        )
        if "fraction_of_peak_prompt_and_generated" in row:
            print(
                f"{'':<22} counting prompt tokens too: "
                f"{100 * row['fraction_of_peak_prompt_and_generated']:.1f}% of peak"
            )
    for key, value in agree.items():
        if value is not None:
            print(f"identical answers {key}: {100 * value:.0f}%")
    print(f"load average: start {load_start}, end {load_end}")

    import importlib.metadata as md

    record = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {
            **machine(),
            "torch_threads": args.threads,
            "load_average_start": load_start,
            "load_average_end": load_end,
        },
        "versions": {
            "python": platform.python_version(),
            "altax_process": {d: md.version(d) for d in ("torch", "transformers", "alignment-tax")},
            "harness_process": next(
                (rnd[n]["versions"] for rnd in rounds for n in ("lm-eval", "inspect") if n in rnd), {}
            ),
            "harness_python": harness_python,
        },
        "setup": {
            "model": SPEC,
            "model_folder": spec["folder"],
            "dtype": "float32",
            "device": "cpu",
            "configuration": CONFIG,
            "items": len(spec["items"]),
            "per_category": args.per_category,
            "categories": sorted({i["category"] for i in spec["items"]}),
            "max_new_tokens": args.max_new_tokens,
            "stop": args.stop,
            "batch_sizes": args.batch_sizes,
            "decoding": "greedy",
            "timed": "generation only, model loaded and warmed up before (altax-pipeline: everything)",
        },
        "parameters": params,
        "peak_matmul_flops": {"before": roofline, "after": roofline_after, "used": peak},
        "summary": summary,
        "faster_harness": faster,
        "decode_roofline": decode,
        "identical_answers": agree,
        "rounds": [
            {
                name: {k: v for k, v in row.items() if k not in ("outputs", "generated_tokens", "prompt_tokens")}
                for name, row in rnd.items()
            }
            for rnd in rounds
        ],
        "outputs_round1": {name: row["outputs"] for name, row in rounds[0].items() if "outputs" in row},
    }
    history, out = [], results_path("harness_comparison", record["machine"])
    if out.is_file():
        previous = json.loads(out.read_text())
        history = previous.get("history", [])
        history.append(
            {
                "when": previous.get("when"),
                "load_average_start": previous["machine"]["load_average_start"],
                "load_average_end": previous["machine"]["load_average_end"],
                "items_per_s_rounds": {n: r["items_per_s_rounds"] for n, r in previous["summary"].items()},
                "ratio_vs_faster_harness": {
                    n: r.get("ratio_vs_faster_harness") for n, r in previous["summary"].items()
                },
            }
        )
    record["history"] = history[-10:]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()
