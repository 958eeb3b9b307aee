"""The gateway's traffic log: whole lines, text only when asked, rotation by size, torn lines after a crash."""

from __future__ import annotations

import dataclasses
import json

import pytest

from alignment_tax.errors import AltaxError
from alignment_tax.traffic_reader import read_records
from alignment_tax.workflows.traffic_log import TrafficLog, rotated, sha256
from traffic_records import traffic_record as record


def test_lines_are_records_and_text_is_kept_only_when_asked(tmp_path):
    hashed, texts = tmp_path / "hashed.jsonl", tmp_path / "text.jsonl"
    for path, keep in ((hashed, False), (texts, True)):
        log = TrafficLog(path, max_bytes=10**6, keep=2, text=keep)
        for n in range(50):
            log.append(record(n))
        log.close()
    plain = read_records([hashed])
    assert [r.request_id for r in plain] == [f"r{n:03d}" for n in range(50)]
    assert all(r.prompt is None and r.answer is None and r.prompt_sha256 == sha256(record(0).prompt) for r in plain)
    assert "Paris" not in hashed.read_text() and "capital" not in hashed.read_text()
    assert read_records([texts]) == [record(n) for n in range(50)]
    assert all(
        json.loads(line) == dataclasses.asdict(record(n)) for n, line in enumerate(texts.read_text().splitlines())
    )


def test_rotation_keeps_every_line_in_order_within_the_limit(tmp_path):
    path = tmp_path / "traffic.jsonl"
    size = len(json.dumps(dataclasses.asdict(record(0)))) + 1
    log = TrafficLog(path, max_bytes=size * 10, keep=2, text=True)
    for n in range(35):
        log.append(record(n))
    log.close()
    files = rotated(path, 2)
    assert files == [path.with_name("traffic.jsonl.2"), path.with_name("traffic.jsonl.1"), path]
    assert all(f.stat().st_size <= size * 10 for f in files)
    kept = [r.request_id for r in read_records(files)]
    assert kept == [f"r{n:03d}" for n in range(10, 35)]  # the oldest file rotated out, nothing else missing


def test_a_torn_last_line_is_skipped_by_the_reader_and_cut_by_the_next_writer(tmp_path):
    path = tmp_path / "traffic.jsonl"
    log = TrafficLog(path, max_bytes=10**6, keep=1)
    log.append(record(1))
    log.close()
    whole = path.read_bytes()
    path.write_bytes(whole + whole[: len(whole) // 2])  # the machine died mid-write
    assert [r.request_id for r in read_records([path])] == ["r001"]
    log = TrafficLog(path, max_bytes=10**6, keep=1)
    log.append(record(2))
    log.close()
    assert [r.request_id for r in read_records([path])] == ["r001", "r002"]


def test_a_damaged_line_inside_the_log_is_an_error_naming_it(tmp_path):
    path = tmp_path / "traffic.jsonl"
    line = json.dumps(dataclasses.asdict(record(1)))
    path.write_text(f"{line}\n{{not json\n{line}\n")
    with pytest.raises(AltaxError, match=r"traffic\.jsonl:2: not JSON"):
        read_records([path])
    path.write_text(json.dumps({"time": 1.0, "api_key": "sk-x"}) + "\n")
    with pytest.raises(AltaxError, match=r"traffic\.jsonl:1: not a gateway traffic record"):
        read_records([path])
    path.write_text(f"{line}\n{json.dumps(dataclasses.asdict(record(2, status='maybe')))}\n")
    with pytest.raises(AltaxError, match=r"traffic\.jsonl:2: status"):
        read_records([path])


def test_a_log_that_cannot_be_opened_says_so(tmp_path):
    (tmp_path / "folder").mkdir()
    with pytest.raises(AltaxError, match="cannot open the traffic log"):
        TrafficLog(tmp_path / "folder", max_bytes=10, keep=1)
