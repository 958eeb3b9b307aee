"""The router's risk scoring of a lone prompt, as the gateway scores it: its encoders side by side.

"Before" is the float32 graph on ONNX Runtime, one thread (the gateway's scoring until the router moved to int8);
"after" is ``RiskClassifier.scores`` itself (what `altax run` and `altax gateway` both call): the int8 graph on
ONNX Runtime, ``ROUTING_THREADS`` intra-op threads, each prompt alone. Beside them, the float32 MiniLM on torch
(the scoring before ONNX Runtime) and the int8 graph on two threads (not adopted). Every setting reads the rows
with the packaged classifier's head, so the times compare encoders. The bundled core suite's prompts are scored
one call each, each prompt under every setting in turn (rotating the order) so that load on a shared machine falls
on all of them alike: p50/p99 per setting, the ratio to before, and p50 by the prompt's length in tokens.
Then every prompt of the held-out risk split and of the suite in one call per setting (as `altax run` scores
them; its seconds too): the largest score difference from before, each verdict at 0.3/0.5/0.7 that changed,
accuracy at 0.5 and AUC; and each held-out prompt scored alone against in one batch. Prints a summary and writes
benchmarks/results/<cpu>/risk_throughput.json.

Usage: python benchmarks/risk_throughput.py [--singles N]
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable, Sequence

import numpy as np
import torch
from machine import machine, write_results

from alignment_tax.embeddings import Encoder
from alignment_tax.interventions.prompting import item_text
from alignment_tax.interventions.risk import ROUTING_THREADS, load_risk_classifier, shared_encoder
from alignment_tax.interventions.risk_train import DATA_DIR, THRESHOLDS, auc, load_split
from alignment_tax.onnx_encoder import OnnxEncoder
from alignment_tax.suite.loaders import load_suite

Score = Callable[[Sequence[str]], np.ndarray]


def singles(settings: dict[str, tuple[Score, int]], prompts: list[str]) -> dict[str, list[float]]:
    """Seconds per prompt scored alone under each setting (scorer, threads), settings in rotating order."""
    times: dict[str, list[float]] = {name: [] for name in settings}
    names = list(settings)
    for i, prompt in enumerate(prompts):
        for name in names[i % len(names) :] + names[: i % len(names)]:
            score, threads = settings[name]
            torch.set_num_threads(threads)
            start = time.perf_counter()
            score([prompt])
            times[name].append(time.perf_counter() - start)
    return times


def by_tokens(times: dict[str, list[float]], lengths: np.ndarray) -> dict:
    """p50 per setting over the prompts of each span of token counts (the encoder's cost grows with them)."""
    out = {}
    for low in (1, 17, 33, 49):
        chosen = (lengths >= low) & (lengths <= low + 15)
        if chosen.any():
            p50 = {name: 1000 * float(np.median(np.array(t)[chosen])) for name, t in times.items()}
            out[f"{low}-{low + 15}"] = {"prompts": int(chosen.sum()), "p50_ms": p50}
    return out


def verdicts(before: np.ndarray, after: np.ndarray, labels: np.ndarray | None = None) -> dict:
    """How the scores of the same prompts differ, the verdicts that changed per threshold, and the held-out
    accuracy and AUC of each when the labels are known."""
    out: dict = {"n": len(before), "max_abs_diff": float(np.abs(before - after).max())}
    out["changed"] = {str(t): int(((before >= t) != (after >= t)).sum()) for t in THRESHOLDS}
    if labels is not None:
        for name, p in (("before", before), ("after", after)):
            out[name] = {"accuracy": float(((p >= 0.5) == (labels == 1)).mean()), "auc": auc(p, labels)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--singles", type=int, default=200, help="suite prompts scored one call each")
    args = parser.parse_args()
    classifier = load_risk_classifier()
    meta = classifier.meta
    routed_encoder = shared_encoder(meta.max_tokens, meta.quantized)
    encoders = {
        "float32": OnnxEncoder(meta.max_tokens, ROUTING_THREADS),
        "torch": Encoder(meta.max_tokens, quantize=False),
        "int8, 2 threads": OnnxEncoder(meta.max_tokens, 2, int8=True),
    }

    def on(encoder) -> Score:
        return lambda texts: classifier.probabilities(encoder.encode(list(texts)))

    def routed(texts: Sequence[str]) -> np.ndarray:
        return np.array(classifier.scores(texts))

    settings = {  # (scorer, threads; torch's are set before each call, ONNX Runtime's are its session's)
        "before": (on(encoders["float32"]), ROUTING_THREADS),
        "after": (routed, ROUTING_THREADS),
        "torch float32": (on(encoders["torch"]), 1),
        "int8, 2 threads": (on(encoders["int8, 2 threads"]), 2),
    }
    suite = list(dict.fromkeys(item_text(item) for item in load_suite("core").items))
    test = load_split(DATA_DIR, "test")
    held_out = [row.prompt for row in test]
    labels = np.array([row.label == "risky" for row in test], dtype=np.int64)
    record: dict = {"machine": machine(), "classifier": classifier.fingerprint, "threads": {}, "load_average": {}}
    record["threads"] = {name: threads for name, (_, threads) in settings.items()}
    record["load_average"]["start"] = os.getloadavg()
    for score, _ in settings.values():
        score(suite[:8])  # warm-up (loads the encoder)
    times = singles(settings, suite[: args.singles])
    record["load_average"]["end"] = os.getloadavg()
    rows = {
        name: {"p50_ms": 1000 * float(np.median(t)), "p99_ms": 1000 * float(np.percentile(t, 99)), "prompts": len(t)}
        for name, t in times.items()
    }
    for row in rows.values():
        row["ratio_p50"] = rows["before"]["p50_ms"] / row["p50_ms"]
        row["ratio_p99"] = rows["before"]["p99_ms"] / row["p99_ms"]
    record["singles"] = rows
    lengths = np.array([routed_encoder.tokens([p], "np")["input_ids"].shape[1] for p in suite[: args.singles]])
    record["singles_by_tokens"] = by_tokens(times, lengths)
    scored, record["batch_s"] = {}, {}
    for name, (score, threads) in settings.items():
        torch.set_num_threads(threads)
        start = time.perf_counter()
        scored[name] = (score(held_out), score(suite))
        record["batch_s"][name] = time.perf_counter() - start
    labelled = {name: verdicts(scored["before"][0], h, labels) for name, (h, _) in scored.items() if name != "before"}
    record["held_out"] = labelled
    record["suite"] = {name: verdicts(scored["before"][1], s) for name, (_, s) in scored.items() if name != "before"}
    alone = np.array([routed([p])[0] for p in held_out])
    record["alone_against_batch_max_abs_diff"] = float(np.abs(alone - routed(held_out)).max())

    info = record["machine"]
    print(f"CPU {info['cpu']} ({info['cores']} cores, {info['cpu_flags']}), load average {record['load_average']}")
    for name, row in rows.items():
        print(
            f"{name:22s} {record['threads'][name]} thread(s), one prompt per call: p50 {row['p50_ms']:6.2f} ms "
            f"({row['ratio_p50']:.2f}x before), p99 {row['p99_ms']:6.1f} ms ({row['ratio_p99']:.2f}x); "
            f"{len(held_out) + len(suite)} prompts in two calls {record['batch_s'][name]:.1f} s"
        )
    for span, found in record["singles_by_tokens"].items():
        p50s = ", ".join(f"{name} {ms:.2f} ms" for name, ms in found["p50_ms"].items())
        print(f"prompts of {span} tokens ({found['prompts']}), p50: {p50s}")
    for name, found in labelled.items():
        print(
            f"held out, {name}: {found['n']} prompts, max |score - before| {found['max_abs_diff']:.2e}, verdicts "
            f"changed {found['changed']}, accuracy {found['before']['accuracy']:.4f} -> "
            f"{found['after']['accuracy']:.4f}, AUC {found['before']['auc']:.4f} -> {found['after']['auc']:.4f}; "
            "suite: max |diff| "
            f"{record['suite'][name]['max_abs_diff']:.2e}, verdicts changed {record['suite'][name]['changed']}"
        )
    print(f"a held-out prompt alone against in one batch: max |diff| {record['alone_against_batch_max_abs_diff']:.2e}")
    print(f"results: {write_results('risk_throughput', record)}")


if __name__ == "__main__":
    main()
