"""Ids of runs and probes: the creation time, then random hex, so they sort by time and do not collide."""

from __future__ import annotations

import secrets
import time


def new_id() -> str:
    """A fresh id, e.g. ``20260101-120000-a1b2c3``."""
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)
