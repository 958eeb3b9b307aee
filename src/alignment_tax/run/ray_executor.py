"""The Ray executor: batches go to actors holding one model replica each; the driver stores results as they return."""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Sequence
from typing import Any

from alignment_tax.configs.schema import Steering
from alignment_tax.errors import AltaxError
from alignment_tax.interventions.steering import SteeredBackend
from alignment_tax.models.base import Backend
from alignment_tax.run.executor import GENERATION_BATCH, Progress, pending_batches, store_batch
from alignment_tax.run.planner import PlannedGeneration
from alignment_tax.store import Store

IN_FLIGHT = 2
"""Batches queued per replica, so a replica never waits for the driver between batches."""


class Replica:
    """A Ray actor body: one loaded model that generates calls, steered by whatever steering a call names
    (the same weights serve every steered configuration of the model)."""

    def __init__(self, spec: str):
        from alignment_tax.models.specs import load_backend

        self.backend = load_backend(spec)
        self.steered: dict[str, Backend] = {}

    def _backend(self, steering: Steering | None) -> Backend:
        if steering is None:
            return self.backend
        key = steering.model_dump_json()
        if key not in self.steered:
            self.steered[key] = SteeredBackend(self.backend, steering)
        return self.steered[key]

    def fingerprint(self, steering: Steering | None = None) -> str:
        return self._backend(steering).fingerprint

    def generate(self, requests, rows: int | None = None, steering: Steering | None = None):
        started = time.perf_counter()
        outputs = self._backend(steering).generate(requests, rows)
        return outputs, time.perf_counter() - started


def _steering(backend: Backend) -> Steering | None:
    return backend.steering if isinstance(backend, SteeredBackend) else None


class RayExecutor:
    """Runs on the Ray cluster at ``address`` (a new local one when None). One replica per CPU the
    cluster has (or per GPU, each asking for one, when it has GPUs), up to ``replicas``; replicas are
    kept per model spec until ``close``."""

    def __init__(self, address: str | None, replicas: int | None = None):
        host = address.rpartition(":")[0] if address else "127.0.0.1"
        if host in ("127.0.0.1", "localhost"):
            # Ray swaps loopback for the machine's outward address unless told it is not clustering beyond it.
            os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
        try:
            import ray
        except ImportError:
            raise AltaxError("the Ray executor needs ray: pip install 'alignment-tax[ray]'") from None
        self._ray = ray
        if address:
            _check_reachable(address)
        try:
            ray.init(address=address, logging_level=logging.ERROR, log_to_driver=False, include_dashboard=False)
        except (ConnectionError, RuntimeError, ValueError) as error:
            raise AltaxError(
                f"cannot join the Ray cluster at {address}: {str(error).splitlines()[0]}; "
                "start one with `ray start --head` or fix the address"
            ) from None
        resources = ray.cluster_resources()
        gpus = int(resources.get("GPU", 0))
        self._gpus = 1 if gpus else 0  # one GPU per replica where the cluster has them
        available = gpus or max(1, int(resources.get("CPU", 1)))
        self.replicas = min(replicas or available, available)
        self._pools: dict[str, list] = {}
        self._checked: set[str] = set()

    def _pool(self, backend: Backend) -> list:
        """The replicas of ``backend``'s model (one pool per model spec, shared by its steered variants), checked
        to load it, and steer it, with the driver's fingerprint."""
        if backend.spec not in self._pools:
            actor = self._ray.remote(num_cpus=1, num_gpus=self._gpus)(Replica)
            self._pools[backend.spec] = [actor.remote(backend.spec) for _ in range(self.replicas)]
        pool = self._pools[backend.spec]
        if backend.fingerprint not in self._checked:
            found = set(self._get([a.fingerprint.remote(_steering(backend)) for a in pool]))
            if found != {backend.fingerprint}:
                raise AltaxError(
                    f"Ray workers load {backend.spec} as {', '.join(sorted(found))}, not {backend.fingerprint}: "
                    "give every node the same model files, direction files and package versions"
                )
            self._checked.add(backend.fingerprint)
        return pool

    def _get(self, refs):
        try:
            return self._ray.get(refs)
        except self._ray.exceptions.RayTaskError as error:
            cause = error.as_instanceof_cause()
            if isinstance(cause, AltaxError):
                raise AltaxError(str(cause).splitlines()[-1]) from None
            raise
        except self._ray.exceptions.RayActorError as error:
            raise AltaxError(f"a Ray replica died ({type(error).__name__}); run again to resume") from None

    def __call__(
        self,
        backend: Backend,
        planned: Sequence[PlannedGeneration],
        store: Store,
        *,
        batch_size: int = GENERATION_BATCH,
        fresh: bool = False,
        progress: Progress | None = None,
    ) -> int:
        """Like the local ``execute``: the same calls and rows (so the same tokens), each written as it returns."""
        todo, cached = pending_batches(backend, planned, store, batch_size, fresh, progress)
        if not todo:
            return 0
        pool, waiting, generated = self._pool(backend), list(reversed(todo)), 0
        running: dict[Any, tuple[Any, list[PlannedGeneration]]] = {}  # Ray's object refs and actor handles
        idle = [actor for actor in pool for _ in range(IN_FLIGHT)]
        while waiting or running:
            while waiting and idle:
                actor, batch = idle.pop(), waiting.pop()
                requests = [p.request for p in batch]
                running[actor.generate.remote(requests, batch_size, _steering(backend))] = (actor, batch)
            (done,), _ = self._ray.wait(list(running), num_returns=1)
            actor, batch = running.pop(done)
            idle.append(actor)
            outputs, seconds = self._get(done)
            count = store_batch(store, batch, outputs, seconds, cached)
            generated += count
            if progress:
                progress(count)
        return generated

    def close(self) -> None:
        for pool in self._pools.values():
            for actor in pool:
                self._ray.kill(actor)
        self._ray.shutdown()


def _check_reachable(address: str) -> None:
    host, _, port = address.rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except (OSError, ValueError):
        raise AltaxError(
            f"cannot reach the Ray cluster at {address}: start one with `ray start --head` or fix HOST:PORT"
        ) from None
