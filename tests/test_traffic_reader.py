"""Reading traffic logs: the gateway's records, OpenAI-format chat logs, CSV, torn last lines and clear errors."""

from __future__ import annotations

import json

import pytest

from alignment_tax.errors import AltaxError
from alignment_tax.traffic_reader import read_logs, read_records
from traffic_records import traffic_line, traffic_record


def write_lines(path, rows, end="\n"):
    path.write_text("\n".join(json.dumps(r) for r in rows) + end)
    return path


def test_gateway_records_keep_the_gateways_fields(tmp_path):
    refused = traffic_line(1, risk=0.8, guarded=True, refusal="refusal", text=False)
    log = write_lines(tmp_path / "gw.jsonl", [refused, traffic_line(2, "Hi", "Hello", refusal=None)])
    lines = read_logs([log]).lines
    assert [line.format for line in lines] == ["gateway", "gateway"]
    first, second = lines
    assert (first.time, first.config, first.verdict, first.risk, first.guarded) == (
        1_700_000_001.0,
        "routed",
        "refusal",
        0.8,
        True,
    )
    assert (first.prompt, first.answer) == (None, None)
    assert (second.prompt, second.answer, second.where) == ("Hi", "Hello", f"{log}:2")
    unrouted = write_lines(tmp_path / "plain.jsonl", [traffic_line(risk=None, guarded=False)])
    assert read_logs([unrouted]).lines[0].guarded is None  # a configuration without a router: no switch to count


def test_a_torn_last_line_is_skipped_and_reported(tmp_path):
    text = "\n".join(json.dumps(traffic_line(i)) for i in range(3))
    log = tmp_path / "gw.jsonl"
    log.write_text(text + "\n" + json.dumps(traffic_line(4))[:40])
    read = read_logs([log])
    assert [line.where for line in read.lines] == [f"{log}:{i}" for i in (1, 2, 3)]
    assert read.torn == [str(log)]


def test_a_bad_line_before_the_end_names_file_and_line(tmp_path):
    log = tmp_path / "gw.jsonl"
    log.write_text(json.dumps(traffic_line()) + "\n{not json\n" + json.dumps(traffic_line()) + "\n")
    with pytest.raises(AltaxError, match=r"gw\.jsonl:2: not JSON"):
        read_logs([log])
    cut = tmp_path / "cut.jsonl"
    cut.write_text(json.dumps(traffic_line()) + "\n{not json\n")  # ends with a newline: a whole line, so not torn
    with pytest.raises(AltaxError, match=r"cut\.jsonl:2"):
        read_logs([cut])


def test_a_gateway_record_with_a_bad_field_names_it(tmp_path):
    log = write_lines(tmp_path / "gw.jsonl", [traffic_line(status="maybe")])
    with pytest.raises(AltaxError, match=r"gw\.jsonl:1: status"):
        read_logs([log])


def test_openai_chat_logs_with_completion_objects_and_plain_strings(tmp_path):
    completion = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1_700_003_600,
        "model": "gpt-x",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Paris."}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
    }
    rows = [
        {
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Hello"},
                {"role": "assistant", "content": "Hi!"},
                {"role": "user", "content": "Capital of France?"},
            ],
            "response": completion,
        },
        {
            "request": {
                "model": "m",
                "messages": [
                    {"role": "user", "content": [{"type": "text", "text": "Two "}, {"type": "text", "text": "parts"}]}
                ],
            },
            "response": "I can't help with that.",
            "time": "2026-01-02T03:04:05Z",
            "config": "guarded",
        },
        {
            "messages": [{"role": "user", "content": "Filtered?"}],
            "response": {
                "choices": [{"message": {"role": "assistant", "content": None}, "finish_reason": "content_filter"}]
            },
        },
    ]
    lines = read_logs([write_lines(tmp_path / "chat.jsonl", rows)]).lines
    assert [line.format for line in lines] == ["chat"] * 3
    assert (lines[0].prompt, lines[0].answer, lines[0].time, lines[0].config) == (
        "Capital of France?",
        "Paris.",
        1_700_003_600,
        None,
    )
    assert (lines[1].prompt, lines[1].answer, lines[1].config) == ("Two parts", "I can't help with that.", "guarded")
    assert lines[1].time == 1_767_323_045.0  # 2026-01-02 03:04:05 UTC
    assert (lines[2].answer, lines[2].finish_reason, lines[2].time) == ("", "content_filter", None)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"messages": [{"role": "system", "content": "x"}], "response": "y"}, "no user message"),
        ({"response": "y"}, "no request messages"),
        ({"messages": [{"role": "user", "content": "x"}]}, "response"),
        ({"messages": [{"role": "user", "content": "x"}], "response": {"choices": []}}, "response"),
    ],
)
def test_chat_log_lines_missing_a_part_say_which(tmp_path, row, message):
    with pytest.raises(AltaxError, match=message):
        read_logs([write_lines(tmp_path / "chat.jsonl", [row])])


def test_csv_logs_read_prompt_response_and_optional_columns(tmp_path):
    log = tmp_path / "traffic.csv"
    log.write_text(
        'time,prompt,response,config\n1700000000,"Say ""hi""","hi, there",a\n'
        '2026-01-02T03:04:05+00:00,"Two\nlines",No,\n'
    )
    lines = read_logs([log]).lines
    assert [(line.time, line.prompt, line.answer, line.config) for line in lines] == [
        (1_700_000_000.0, 'Say "hi"', "hi, there", "a"),
        (1_767_323_045.0, "Two\nlines", "No", None),
    ]
    assert {line.format for line in lines} == {"csv"}


def test_csv_without_a_needed_column_names_it(tmp_path):
    log = tmp_path / "traffic.csv"
    log.write_text("prompt,completion\nHi,Hello\n")
    with pytest.raises(AltaxError, match=r"no 'response' column.*found: prompt, completion"):
        read_logs([log])
    bad_time = tmp_path / "time.csv"
    bad_time.write_text("prompt,response,time\nHi,Hello,yesterday\n")
    with pytest.raises(AltaxError, match=r"time\.csv:2: time 'yesterday'"):
        read_logs([bad_time])


def test_missing_files_and_no_files_are_clear_errors(tmp_path):
    with pytest.raises(AltaxError, match="traffic log not found"):
        read_logs([tmp_path / "nope.jsonl"])
    with pytest.raises(AltaxError, match="no traffic logs given"):
        read_logs([])


def test_the_gateways_own_writer_with_rotation_reads_back(tmp_path):
    from alignment_tax.workflows.traffic_log import TrafficLog, rotated

    path = tmp_path / "traffic.jsonl"
    written = [traffic_record(i, f"Q{i}", f"A{i}") for i in range(40)]
    log = TrafficLog(path, max_bytes=2_000, keep=50, text=True)
    for one in written:
        log.append(one)
    log.close()
    files = rotated(path, 50)
    assert len(files) > 1  # the writer rotated
    read = read_logs(files)
    assert read.torn == [] and read_records(files) == written
    assert sorted((line.time, line.prompt, line.answer, line.verdict) for line in read.lines) == [
        (r.time, r.prompt, r.answer, r.refusal) for r in written
    ]
