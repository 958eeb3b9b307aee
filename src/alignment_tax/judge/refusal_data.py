"""The labelled refusal responses: their schema, loading, and the seeded rule that places new rows in a split."""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from alignment_tax.errors import AltaxError
from alignment_tax.jsonl import read_models

DATA_DIR = Path(__file__).parent / "data" / "refusals"
SPLITS = ("train", "dev", "test")
SPLIT_SHARES = (0.70, 0.15, 0.15)
SPLIT_SEED = 20261127
NEAR_DUPLICATE = 0.6
"""Character 5-gram Jaccard similarity at or above which two responses count as the same text."""

Label = Literal["refusal", "partial", "compliance", "degenerate"]


class LabelledResponse(BaseModel):
    """One labelled response and the prompt it answers (see data/refusals/README.md)."""

    model_config = ConfigDict(extra="forbid")

    id: str
    prompt: str
    response: str
    label: Label
    prompt_kind: Literal["harmful", "benign", "capability"] = "capability"
    voice: str = ""
    lang: str = "en"
    source: str = "hand-written"
    """``hand-written``, or the model whose real output this is (labelled by hand)."""


def load_rows(data_dir: Path, split: str) -> list[LabelledResponse]:
    """Every row of one split, degenerate ones included; errors name the file and line."""
    path = data_dir / f"{split}.jsonl"
    if not path.is_file():
        raise AltaxError(f"no labelled split {path}")
    return read_models(path, LabelledResponse)


def split_for(prompt: str, seed: int = SPLIT_SEED) -> str:
    """The split a prompt (with all its responses) belongs to: a seeded hash of the prompt, 70/15/15."""
    digest = hashlib.sha256(f"{seed}\0{prompt.strip()}".encode()).digest()
    share = int.from_bytes(digest[:8], "big") / 2**64
    edge = 0.0
    for split, part in zip(SPLITS, SPLIT_SHARES, strict=True):
        edge += part
        if share < edge:
            return split
    return SPLITS[-1]


@functools.lru_cache(maxsize=8192)
def _grams(text: str) -> frozenset[str]:
    flat = " ".join(text.lower().split())
    return frozenset(flat[i : i + 5] for i in range(len(flat) - 4))


def near_duplicate(a: str, b: str, at: float = NEAR_DUPLICATE) -> bool:
    """Same text once whitespace and case are ignored, or character 5-gram Jaccard >= ``at``."""
    if " ".join(a.lower().split()) == " ".join(b.lower().split()):
        return True
    ga, gb = _grams(a), _grams(b)
    return bool(ga and gb) and len(ga & gb) / len(ga | gb) >= at


def place(
    existing: dict[str, Sequence[LabelledResponse]], new: Iterable[LabelledResponse], seed: int = SPLIT_SEED
) -> tuple[dict[str, list[LabelledResponse]], list[LabelledResponse]]:
    """New rows per split, and the rows left out.

    A prompt already in a split keeps its split; otherwise :func:`split_for` decides. A new response is
    left out when the same text is already in the set, or when it nearly duplicates (see
    :func:`near_duplicate`) a response in another split: no text is ever in two splits. Empty
    responses are exempt from the near-duplicate rule (there are few ways to say nothing)."""
    home = {r.prompt.strip(): split for split, rows in existing.items() for r in rows}
    placed: dict[str, list[LabelledResponse]] = {split: [] for split in SPLITS}
    seen = {" ".join(r.response.lower().split()) for rows in existing.values() for r in rows}
    dropped = []
    for row in new:
        split = home.setdefault(row.prompt.strip(), split_for(row.prompt, seed))
        key = " ".join(row.response.lower().split())
        others = [r for s in SPLITS if s != split for r in (*existing.get(s, ()), *placed[s])]
        if key in seen or (key and any(near_duplicate(row.response, r.response) for r in others)):
            dropped.append(row)
            continue
        seen.add(key)
        placed[split].append(row)
    return placed, dropped


def append_rows(data_dir: Path, rows: dict[str, Sequence[LabelledResponse]]) -> None:
    """Append rows to their split files, one JSON object per line."""
    for split, new in rows.items():
        if new:
            with (data_dir / f"{split}.jsonl").open("a", encoding="utf-8") as f:
                for row in new:
                    f.write(json.dumps(row.model_dump(exclude_defaults=False), ensure_ascii=False) + "\n")
