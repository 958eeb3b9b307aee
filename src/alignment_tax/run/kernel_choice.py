"""The linear-layer kernel every model loaded by this process uses, as a command chose it."""

from __future__ import annotations

import os

from alignment_tax.models.kernels import KERNEL_ENV, requested_kernel


def use_kernel(kernel: str) -> None:
    """Make ``kernel`` the choice of every model loaded in this process (an unknown name is an error now,
    before any model work), through the ``ALTAX_KERNEL`` variable models/kernels.py reads as a model loads."""
    os.environ[KERNEL_ENV] = kernel
    requested_kernel()
