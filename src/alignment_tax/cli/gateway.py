"""`altax gateway`: serve an experiment file's configurations as an OpenAI-compatible guarded gateway."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from alignment_tax.cli.app import app, console
from alignment_tax.errors import AltaxError
from alignment_tax.judge.detectors import DEFAULT_DETECTOR


def _default_log() -> Path:
    return Path(os.environ.get("ALTAX_RESULTS_DIR", "altax-results")) / "traffic.jsonl"


@app.command()
def gateway(
    config: Annotated[Path, typer.Option("--config", "-c", help="Experiment file (.toml or .yaml).")],
    config_name: Annotated[
        list[str] | None,
        typer.Option("--config-name", help="Serve this configuration (repeat for more) \\[default: all of them]."),
    ] = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port; 0 picks a free one (the URL is printed).", min=0)] = 8000,
    log: Annotated[
        Path | None, typer.Option("--log", help="Traffic log (JSON lines) \\[default: RESULTS_DIR/traffic.jsonl].")
    ] = None,
    log_text: Annotated[bool, typer.Option("--log-text", help="Keep prompt and answer text (else hashes).")] = False,
    log_max_mb: Annotated[float, typer.Option(min=0.001, help="Rotate the log past this many megabytes.")] = 64.0,
    log_keep: Annotated[int, typer.Option(min=1, help="Rotated log files kept (LOG.1 is the newest).")] = 5,
    max_queue: Annotated[int, typer.Option(min=1, help="Requests admitted at once; more get HTTP 429.")] = 64,
    timeout: Annotated[float, typer.Option(min=0.001, help="Seconds a request may take before HTTP 504.")] = 120.0,
    api_key_env: Annotated[
        str | None, typer.Option(help="Require the key held in this environment variable (Bearer auth).")
    ] = None,
    detector: Annotated[str, typer.Option(help="Refusal detector giving each answer's verdict.")] = DEFAULT_DETECTOR,
    max_batch: Annotated[int, typer.Option(min=1, help="Concurrent requests generated together.")] = 16,
    batch_wait: Annotated[float, typer.Option(min=0, help="Seconds to wait for more requests to batch.")] = 0.01,
) -> None:
    """Answer /v1/chat/completions and /v1/completions under the file's configurations (a request's `model` names
    one): prompts, steering and risk routing as `altax run` applies them, one traffic-log line per request."""
    from alignment_tax.configs.experiment import load_experiment
    from alignment_tax.workflows.gateway import Gateway
    from alignment_tax.workflows.gateway_http import Limits, open_gateway
    from alignment_tax.workflows.traffic_log import TrafficLog

    api_key = None
    if api_key_env is not None:
        api_key = os.environ.get(api_key_env)
        if not api_key:
            raise AltaxError(f"--api-key-env {api_key_env}: that environment variable is not set; export it")
    experiment = load_experiment(config)
    served = Gateway(experiment, config_name or (), detector=detector, max_batch=max_batch, wait_s=batch_wait)
    log_path = log or _default_log()
    traffic = TrafficLog(log_path, max_bytes=int(log_max_mb * 1e6), keep=log_keep, text=log_text)
    server = open_gateway(served, traffic, Limits(max_queue, timeout), host, port, api_key)
    console.print(f"gateway serving {', '.join(served.configs)} at {server.url}", highlight=False, soft_wrap=True)
    console.print(f"traffic log: {log_path}", highlight=False, soft_wrap=True)
    try:
        server.run()
    except KeyboardInterrupt:
        console.print("stopped: every admitted request was answered or rejected, and logged", highlight=False)
