"""Would prompt-lookup (n-gram) speculative decoding speed up ``altax run`` on this CPU? Measured, not assumed.

Prompt lookup proposes the next ``k`` tokens by finding the last ``n`` generated tokens earlier in the
prompt (or the answer so far) and copying what followed; one forward pass of ``k + 1`` tokens per row
verifies them and greedy decoding keeps the longest agreeing prefix plus one token. Two measurements:

- acceptance, exact for greedy decoding: on a store's real answers (``--store``, e.g. a fresh
  ``altax run --limit 4``), each answer's tokens are replayed against the drafts prompt lookup would
  have proposed, giving the verification steps it needs against one step per token today;
- cost: on the embedded model as ``altax run`` loads it (its chosen linear kernel), the time of one
  decoding step of ``rows`` rows over a cache of ``--context`` positions, 1 new token per row against
  ``k + 1``.

Their product is the predicted time of speculative decoding relative to today's (below 1 is faster).
Prints a table and writes benchmarks/results/CPU/prompt_lookup.json (one folder per CPU, ``machine.py``).

Usage: python benchmarks/prompt_lookup.py --store RESULTS/store.sqlite [--ngram 2] [--draft 4 8]
"""

from __future__ import annotations

import argparse
import sqlite3
import time
from pathlib import Path

import torch
from machine import machine, write_results

from alignment_tax.models.decoding import cache_kwargs
from alignment_tax.models.specs import load_backend

SPEC = "builtin:smollm2-135m-instruct"


def draft(context: list[int], ngram: int, k: int) -> list[int]:
    """The ``k`` tokens that followed the latest earlier occurrence of ``context``'s last ``ngram`` tokens."""
    tail = context[-ngram:]
    for start in range(len(context) - ngram - 1, -1, -1):
        if context[start : start + ngram] == tail:
            return context[start + ngram : start + ngram + k]
    return []


def steps_needed(prompt: list[int], answer: list[int], ngram: int, k: int) -> int:
    """Verification passes greedy prompt-lookup decoding takes to produce ``answer`` after ``prompt``."""
    done, steps = 0, 0
    while done < len(answer):
        proposed = draft(prompt + answer[:done], ngram, k)
        agreed = 0
        while agreed < len(proposed) and done + agreed < len(answer) and proposed[agreed] == answer[done + agreed]:
            agreed += 1
        done += agreed + 1
        steps += 1
    return steps


def step_seconds(model, rows: int, context: int, new: int, repeats: int) -> float:
    """Best time of one forward pass of ``new`` tokens per row after ``context`` cached positions."""
    from transformers import DynamicCache

    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(100, 20000, (rows, context + new), generator=generator)
    cache = DynamicCache(config=model.config)
    best = float("inf")
    with torch.inference_mode():
        model(input_ids=ids[:, :context], **cache_kwargs(model, cache), use_cache=True)
        for _ in range(repeats):
            started = time.perf_counter()
            model(input_ids=ids[:, context:], **cache_kwargs(model, cache), use_cache=True, logits_to_keep=new)
            best = min(best, time.perf_counter() - started)
            cache.crop(-new)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--ngram", type=int, default=2)
    parser.add_argument("--draft", type=int, nargs="+", default=[2, 4, 8])
    parser.add_argument("--rows", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--context", type=int, default=160, help="cached positions (a typical prompt)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    backend = load_backend(SPEC)
    tokenize = backend.tokenizer
    db = sqlite3.connect(f"file:{args.store}?mode=ro", uri=True)
    answers = db.execute("SELECT prompt, text, n_tokens FROM generations WHERE n_tokens > 0 ORDER BY key").fetchall()
    db.close()
    pairs = [
        (tokenize(p, add_special_tokens=False)["input_ids"], tokenize(t, add_special_tokens=False)["input_ids"][:n])
        for p, t, n in answers
    ]
    tokens = sum(len(a) for _, a in pairs)
    model = backend.model
    info = {**machine(), "torch_threads": torch.get_num_threads(), "kernel": backend.kernel.kernel}
    rows = []
    for k in args.draft:
        steps = sum(steps_needed(p, a, args.ngram, k) for p, a in pairs)
        for width in args.rows:
            one = step_seconds(model, width, args.context, 1, args.repeats)
            wide = step_seconds(model, width, args.context, k + 1, args.repeats)
            row = {
                "draft": k,
                "rows": width,
                "steps_per_token": steps / tokens,
                "step_cost_ratio": wide / one,
                "predicted_time_ratio": steps / tokens * wide / one,
            }
            rows.append(row)
            print(
                f"k={k} rows={width:>3}: {row['steps_per_token']:.3f} steps per token, a {k + 1}-token step costs "
                f"{row['step_cost_ratio']:.2f}x a 1-token step -> predicted time x{row['predicted_time_ratio']:.2f}"
            )
    print(f"{len(pairs)} answers, {tokens} tokens; {info['cpu']} ({' '.join(info['cpu_flags'])}), {info['kernel']}")
    record = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": info,
        "store": str(args.store),
        "answers": len(pairs),
        "tokens": tokens,
        "ngram": args.ngram,
        "context": args.context,
        "rows": rows,
    }
    write_results("prompt_lookup", record, info)


if __name__ == "__main__":
    main()
