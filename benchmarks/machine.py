"""The machine a benchmark ran on (CPU model, the SIMD flags that pick kernels) and its per-CPU results folder."""

from __future__ import annotations

import json
import os
import platform
import re
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
KERNEL_FLAGS = ("avx", "avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "amx_tile", "amx_bf16", "amx_int8")
"""CPU flags that decide which matmul kernels torch, MKL and oneDNN use."""


def _cpuinfo(field: str) -> str:
    info = Path("/proc/cpuinfo")
    lines = info.read_text().splitlines() if info.is_file() else []
    return next((line.split(":", 1)[1].strip() for line in lines if line.split(":")[0].strip() == field), "")


def machine() -> dict:
    """CPU model, its kernel-relevant flags, cores, threads asked for and the platform."""
    flags = set(_cpuinfo("flags").split())
    return {
        "cpu": _cpuinfo("model name") or platform.processor() or platform.machine(),
        "cpu_flags": [f for f in KERNEL_FLAGS if f in flags],
        "cores": os.cpu_count(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "platform": platform.platform(),
    }


def cpu_key(info: dict) -> str:
    """A folder name for the CPU: its model, plus AMX or AVX-512 when present (one model name, "AMD EPYC", hides
    both an AVX2-only Zen 3 and an AVX-512 Zen 4)."""
    slug = re.sub(r"[^a-z0-9]+", "-", re.sub(r"\((r|tm)\)", "", info["cpu"].lower())).strip("-")
    flags = info["cpu_flags"]
    return f"{slug}-amx" if "amx_tile" in flags else f"{slug}-avx512" if "avx512f" in flags else slug


def results_path(name: str, info: dict | None = None) -> Path:
    """Where benchmark ``name`` keeps this machine's results: ``results/<cpu>/<name>.json``."""
    return RESULTS / cpu_key(info or machine()) / f"{name}.json"


def write_results(name: str, record: dict, info: dict | None = None) -> Path:
    """Write ``record`` as this machine's results of benchmark ``name`` (``results_path``); returns the path."""
    path = results_path(name, info)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2) + "\n")
    return path
