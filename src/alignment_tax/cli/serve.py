"""`altax serve`: put any model spec behind an OpenAI-compatible HTTP server."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from alignment_tax.cli.app import app, console
from alignment_tax.errors import AltaxError


@app.command()
def serve(
    model: Annotated[str, typer.Argument(help="Model spec to serve, e.g. builtin:smollm2-135m-instruct.")],
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port; 0 picks a free one (the URL is printed).", min=0)] = 8000,
    name: Annotated[str | None, typer.Option(help="Model name clients ask for \\[default: the spec].")] = None,
    api_key_env: Annotated[
        str | None, typer.Option(help="Require the key held in this environment variable (Bearer auth).")
    ] = None,
    max_batch: Annotated[int, typer.Option(min=1, help="Concurrent requests generated together.")] = 16,
    batch_wait: Annotated[float, typer.Option(min=0, help="Seconds to wait for more requests to batch.")] = 0.01,
) -> None:
    """Serve a model at http://HOST:PORT/v1 (models, chat/completions, completions) until interrupted."""
    from alignment_tax.workflows.serving import open_server

    api_key = None
    if api_key_env is not None:
        api_key = os.environ.get(api_key_env)
        if not api_key:
            raise AltaxError(f"--api-key-env {api_key_env}: that environment variable is not set; export it")
    name = name or model
    server = open_server(model, host, port, name, api_key, max_batch=max_batch, wait_s=batch_wait)
    url = f"http://{host}:{server.server_address[1]}/v1"
    console.print(f"serving {name} at {url}", highlight=False, soft_wrap=True)
    console.print(f"use it as openai:{name}@{url}", highlight=False, soft_wrap=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
