"""Serving one model spec over HTTP: load its backend, wrap it in the OpenAI-compatible service, bind the port."""

from __future__ import annotations

from http.server import ThreadingHTTPServer

from alignment_tax.errors import AltaxError
from alignment_tax.models.serve import Service, make_server
from alignment_tax.models.specs import load_backend


def open_server(
    model: str,
    host: str,
    port: int,
    name: str,
    api_key: str | None = None,
    *,
    max_batch: int = 16,
    wait_s: float = 0.01,
) -> ThreadingHTTPServer:
    """A server (bound, not yet serving) answering for ``model`` under the model name ``name``; ``port`` 0 picks
    a free port. A port that cannot be bound is a project error that says to pick another."""
    service = Service(load_backend(model), name, api_key, max_batch=max_batch, wait_s=wait_s)
    try:
        return make_server(service, host, port)
    except OSError as error:
        raise AltaxError(f"cannot listen on {host}:{port} ({error.strerror}); pick another --port") from None
