"""Gateway traffic records for tests, built as the gateway builds them (``records.TrafficRecord``)."""

from __future__ import annotations

import dataclasses

from alignment_tax.records import TrafficRecord
from alignment_tax.workflows.traffic_log import sha256


def traffic_record(
    n: int = 1,
    prompt: str = "What is the capital of France?",
    answer: str = "Paris.",
    *,
    text: bool = True,
    **changes,
) -> TrafficRecord:
    """Request ``n`` (its time and id follow from it) of a routed configuration, answered and judged, with the
    hashes of ``prompt`` and ``answer`` and their text unless ``text`` is False; ``changes`` set other fields."""
    record = TrafficRecord(
        time=1_700_000_000.0 + n,
        request_id=f"r{n:03d}",
        config="routed",
        model="builtin:smollm2-135m-instruct",
        endpoint="/v1/chat/completions",
        status="ok",
        risk=0.25,
        guarded=False,
        refusal="compliance",
        prompt_tokens=12,
        completion_tokens=3,
        latency_s=0.5,
        prompt_sha256=sha256(prompt),
        answer_sha256=sha256(answer),
        prompt=prompt if text else None,
        answer=answer if text else None,
    )
    return dataclasses.replace(record, **changes)


def traffic_line(n: int = 1, *args, **changes) -> dict:
    """The JSON object of ``traffic_record(n, ...)`` as the gateway's log holds it."""
    return dataclasses.asdict(traffic_record(n, *args, **changes))
