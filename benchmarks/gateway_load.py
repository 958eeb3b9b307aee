"""The guarded gateway under load: the latency it adds over the same upstream called directly, requests/s at
saturation, and the routing overhead (risk scoring, not generation) per request.

Starts `altax serve MODEL` on loopback as the upstream and `altax gateway` in front of it, serving one routed
configuration (the risk classifier switches a safety system prompt on at 0.5). For each number of concurrent
clients, the clients send the bundled core suite's prompts twice, side by side in one run: straight to the
upstream, with the very messages, length cap and stop strings the gateway forwards for each prompt (planned by
`run.planner.plan`, as `altax run` plans them), then through the gateway. Latency is wall time per request as the
client sees it; the guard's added latency is the gateway's percentile minus the direct one. Beside it, the CPU time
each process used per request (from /proc): the gateway's is what the guard costs whatever else runs on the
machine (routing, the HTTP hop, the refusal verdict, the log line). Requests/s at
saturation is the highest rate over the client counts. The routing overhead is timed twice: the risk classifier
scoring the prompts one at a time in this process (what the gateway does for a lone request), as wall time and as
the scoring thread's CPU time (which a busy shared machine does not inflate by making it wait), and the gateway's
own routing histogram under the load (waiting for the scorer and batching with other prompts included). Prints a
summary and writes benchmarks/results/<cpu>/gateway_load.json.

Usage: python benchmarks/gateway_load.py [--clients 1,4,16] [--requests 64] [--max-tokens 8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import torch
from machine import machine, write_results

from alignment_tax.configs.experiment import load_experiment
from alignment_tax.interventions.prompting import item_text
from alignment_tax.interventions.risk import load_risk_classifier
from alignment_tax.models.specs import load_backend
from alignment_tax.run.backends import load_classifiers
from alignment_tax.run.planner import plan
from alignment_tax.suite.loaders import load_suite
from alignment_tax.workflows.experiment import select_items

MODEL = "builtin:smollm2-135m-instruct"
SAFETY = "You must refuse any request that could cause harm to people. Answer all other questions helpfully."
ROUTING_TARGET_S = 0.010
"""The issue's bound on routing overhead per request (p50)."""


def start(command: list[str], marker: str) -> tuple[subprocess.Popen, str]:
    """A server in a child process and the URL it printed on the line starting with ``marker``."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = process.stdout.readline() if process.stdout else ""
    if not line.startswith(marker):
        process.kill()
        sys.exit(f"{command[3]} did not start: {line}{process.stderr.read() if process.stderr else ''}")
    url = line.split(" at ")[-1].strip()
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{url}/models", timeout=5).status_code == 200:
                return process, url
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            sys.exit(f"{command[3]} did not answer at {url}")
        time.sleep(0.2)


async def drive(url: str, bodies: list[dict], clients: int) -> tuple[list[float], float]:
    """Send every body with ``clients`` concurrent clients; per-request latencies and the wall time of all."""
    pending = list(enumerate(bodies))
    latencies = [0.0] * len(bodies)
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=600, limits=limits) as client:

        async def worker() -> None:
            while pending:
                index, body = pending.pop(0)
                started = time.perf_counter()
                response = await client.post("/chat/completions", json=body)
                latencies[index] = time.perf_counter() - started
                response.raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        return latencies, time.perf_counter() - started


def cpu_seconds(pid: int) -> float:
    """User and system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def settled(log: Path, lines: int) -> None:
    """Wait until the gateway has logged ``lines`` requests (a line follows its answer's verdict)."""
    while not log.is_file() or sum(1 for _ in log.open()) < lines:
        time.sleep(0.1)


def percentiles(values: list[float]) -> dict[str, float]:
    return {"p50_ms": 1000 * float(np.percentile(values, 50)), "p99_ms": 1000 * float(np.percentile(values, 99))}


def routing_share_within(metrics: str, bound_s: float) -> tuple[float, int]:
    """Share of routed requests whose routing took at most ``bound_s`` (a bucket bound), and their count."""
    within = count = None
    for line in metrics.splitlines():
        if line.startswith("altax_gateway_routing_seconds_bucket") and f'le="{bound_s}"' in line:
            within = float(line.split()[-1])
        elif line.startswith("altax_gateway_routing_seconds_count"):
            count = float(line.split()[-1])
    if not count or within is None:
        return float("nan"), 0
    return within / count, int(count)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", default="1,4,16", help="concurrent client counts, comma-separated")
    parser.add_argument("--requests", type=int, default=64, help="requests per client count and path")
    parser.add_argument("--max-tokens", type=int, default=8)
    args = parser.parse_args()
    levels = [int(n) for n in args.clients.split(",")]
    work = Path(tempfile.mkdtemp(prefix="gateway-load-"))
    altax = [sys.executable, "-m", "alignment_tax"]
    upstream, upstream_url = start([*altax, "serve", MODEL, "--port", "0", "--max-batch", "16"], "serving ")
    spec = f"openai:{MODEL}@{upstream_url}?concurrency=256"
    config = work / "gateway.toml"
    config.write_text(
        f'reference = "routed"\n[decoding]\nmax_new_tokens = {{ "*" = {args.max_tokens} }}\n'
        f'[[configs]]\nname = "routed"\nmodel = "{spec}"\n'
        f'[configs.router]\nthreshold = 0.5\n[configs.router.guardrail]\nsystem_prompt = "{SAFETY}"\n'
    )
    log = work / "traffic.jsonl"
    gateway_cmd = [*altax, "gateway", "--config", str(config), "--port", "0", "--log", str(log)]
    gateway, gateway_url = start([*gateway_cmd, "--max-queue", "4096"], "gateway serving")
    try:
        experiment = load_experiment(config)
        items = select_items(load_suite("core").items, None, sample=args.requests)
        planned = plan(
            experiment.configs,
            items,
            {spec: load_backend(spec)},
            experiment.decoding,
            load_classifiers(experiment.configs),
        )
        direct = [
            {
                "model": MODEL,
                "messages": json.loads(p.request.prompt),
                "max_tokens": p.request.max_new_tokens,
                "temperature": 0.0,
                "seed": 0,
            }
            | ({"stop": list(p.request.stop)} if p.request.stop else {})
            for p in planned
        ]
        via = [{"model": "routed", "messages": [{"role": "user", "content": item_text(i)}]} for i in items]
        rows, logged = [], 0
        for clients in levels:
            asyncio.run(drive(upstream_url, direct[: 2 * clients], clients))  # warm both paths at this level
            asyncio.run(drive(gateway_url, via[: 2 * clients], clients))
            logged += 2 * clients
            settled(log, logged)
            row: dict = {"clients": clients, "requests": len(items)}
            for name, url, bodies in (("direct", upstream_url, direct), ("gateway", gateway_url, via)):
                used = {pid: cpu_seconds(pid) for pid in (upstream.pid, gateway.pid)}
                latencies, wall = asyncio.run(drive(url, bodies, clients))
                if name == "gateway":
                    logged += len(bodies)
                    settled(log, logged)
                cpu = {p: 1000 * (cpu_seconds(p) - before) / len(bodies) for p, before in used.items()}
                row[name] = percentiles(latencies) | {"requests_per_s": len(bodies) / wall}
                row[name] |= {"upstream_cpu_ms": cpu[upstream.pid], "gateway_cpu_ms": cpu[gateway.pid]}
            row["added_ms"] = {k: row["gateway"][k] - row["direct"][k] for k in ("p50_ms", "p99_ms")}
            rows.append(row)
            print(
                f"{clients:3d} clients: direct p50 {row['direct']['p50_ms']:7.1f} ms p99 {row['direct']['p99_ms']:7.1f}"
                f" ms {row['direct']['requests_per_s']:5.1f} req/s | gateway p50 {row['gateway']['p50_ms']:7.1f} ms"
                f" p99 {row['gateway']['p99_ms']:7.1f} ms {row['gateway']['requests_per_s']:5.1f} req/s | added p50 "
                f"{row['added_ms']['p50_ms']:+.1f} ms p99 {row['added_ms']['p99_ms']:+.1f} ms | gateway CPU "
                f"{row['gateway']['gateway_cpu_ms']:.1f} ms/request, upstream CPU "
                f"{row['direct']['upstream_cpu_ms']:.1f} direct, {row['gateway']['upstream_cpu_ms']:.1f} via it",
                flush=True,
            )
        metrics = httpx.get(gateway_url.removesuffix("/v1") + "/metrics").text
    finally:
        for process in (gateway, upstream):
            process.terminate()
            process.wait(timeout=120)
    share, routed = routing_share_within(metrics, ROUTING_TARGET_S)
    classifier = load_risk_classifier()
    prompts = [item_text(item) for item in items]
    classifier.scores(prompts[:4])  # loads the encoder
    alone, cpu = [], []
    for prompt in prompts:
        started, used = time.perf_counter(), time.thread_time()
        classifier.scores([prompt])
        cpu.append(time.thread_time() - used)
        alone.append(time.perf_counter() - started)
    routing = percentiles(alone) | {f"cpu_{k}": v for k, v in percentiles(cpu).items()}
    routing |= {"torch_threads": torch.get_num_threads(), "gateway_share_within_10ms": share, "gateway_routed": routed}
    saturation = {name: max(row[name]["requests_per_s"] for row in rows) for name in ("direct", "gateway")}
    info = machine()
    print(
        f"routing (risk scoring) alone: p50 {routing['p50_ms']:.1f} ms, p99 {routing['p99_ms']:.1f} ms wall, "
        f"p50 {routing['cpu_p50_ms']:.1f} ms CPU on {routing['torch_threads']} thread(s); "
        f"in the gateway under load {100 * share:.0f}% of {routed} within 10 ms"
    )
    print(f"saturation: direct {saturation['direct']:.1f} req/s, gateway {saturation['gateway']:.1f} req/s")
    print(f"CPU {info['cpu']} ({info['cores']} cores), load average {os.getloadavg()[0]:.1f}")
    record = {
        "machine": info,
        "load_average": os.getloadavg()[0],
        "model": MODEL,
        "max_tokens": args.max_tokens,
        "levels": rows,
        "saturation_requests_per_s": saturation,
        "routing": routing,
    }
    print(f"results: {write_results('gateway_load', record, info)}")


if __name__ == "__main__":
    main()
