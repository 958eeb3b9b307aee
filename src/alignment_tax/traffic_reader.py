"""Traffic logs as rows the monitor reads: the gateway's JSONL, OpenAI-format chat logs (JSONL) and CSV.

A JSONL line is a gateway record when it carries ``request_id`` and ``prompt_sha256`` (``records.TrafficRecord``),
else a chat log line: the request's ``messages`` (at the top or under ``request``) and a ``response`` that is
either OpenAI's chat-completion object or the answer's text, with an optional ``time`` (Unix seconds or ISO 8601;
a chat completion's ``created`` serves too) and ``config``. A CSV needs ``prompt`` and ``response`` columns
(optional: ``time``, ``config``, ``finish_reason``). A last line cut off without its newline (a writer killed
mid-line) is skipped and counted; a bad line anywhere else raises with its file and line."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from alignment_tax.errors import AltaxError
from alignment_tax.jsonl import field_error, read_text
from alignment_tax.records import TrafficRecord

CSV_COLUMNS = ("prompt", "response")
CSV_OPTIONAL = ("time", "config", "finish_reason")
LINE_HELP = (
    "a gateway record (request_id, prompt_sha256, ...) or a chat log line "
    '({"messages": [...], "response": "..." or a chat completion})'
)

Format = Literal["gateway", "chat", "csv"]


@dataclass(frozen=True)
class TrafficLine:
    """One served request as the monitor reads it, whatever the log's format.

    ``prompt`` is the last user turn; ``answer`` the text served (None when the log keeps only hashes, or there
    was no answer); ``verdict``, ``risk`` and ``guarded`` are what the gateway recorded (None in other logs;
    ``guarded`` is None too where the configuration routes nothing, the gateway's ``risk`` being None there, so
    that the guardrail's switch-on rate counts routed requests only)."""

    where: str
    format: Format
    time: float | None
    config: str | None
    status: str
    prompt: str | None
    answer: str | None
    finish_reason: str | None = None
    verdict: str | None = None
    risk: float | None = None
    guarded: bool | None = None


@dataclass(frozen=True)
class LogLines:
    """The lines of one or more log files, and the files whose torn last line was skipped."""

    lines: list[TrafficLine]
    torn: list[str]


class _Part(BaseModel):
    type: str = "text"
    text: str | None = None


class _Message(BaseModel):
    role: str
    content: str | list[_Part] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(p.text or "" for p in self.content if p.type == "text")
        return self.content or ""


class _Request(BaseModel):
    messages: list[_Message] = Field(min_length=1)


class _Choice(BaseModel):
    message: _Message | None = None
    text: str | None = None
    finish_reason: str | None = None


class _Completion(BaseModel):
    choices: list[_Choice] = Field(min_length=1)
    created: float | None = None


class _ChatLine(BaseModel):
    """A chat log line: the request's messages at the top or under ``request``, and the response."""

    model_config = ConfigDict(extra="ignore")

    messages: list[_Message] | None = None
    request: _Request | None = None
    response: str | _Completion
    time: float | datetime | None = None
    config: str | None = None
    model: str | None = None


_RECORD = TypeAdapter(TrafficRecord)


def _seconds(value: float | datetime | None) -> float | None:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    return value


def _user_prompt(messages: Sequence[_Message], where: str) -> str:
    users = [m for m in messages if m.role == "user"]
    if not users:
        raise AltaxError(f"{where}: the request has no user message; {LINE_HELP}")
    return users[-1].text()


def _chat_line(data: dict, where: str) -> TrafficLine:
    try:
        line = _ChatLine.model_validate(data)
    except ValidationError as error:
        raise field_error(where, error) from None
    messages = line.messages or (line.request.messages if line.request else None)
    if not messages:
        raise AltaxError(f"{where}: no request messages (give `messages` or `request.messages`); {LINE_HELP}")
    answer, finish, created = line.response, None, None
    if isinstance(answer, _Completion):
        choice = answer.choices[0]
        finish, created = choice.finish_reason, answer.created
        answer = choice.message.text() if choice.message else (choice.text or "")
    time = _seconds(line.time) if line.time is not None else created
    config = line.config or line.model
    return TrafficLine(where, "chat", time, config, "ok", _user_prompt(messages, where), answer, finish)


def _record(data: dict, where: str) -> TrafficRecord:
    try:
        return _RECORD.validate_python(data)
    except ValidationError as error:
        raise field_error(where, error) from None


def _is_record(data: dict) -> bool:
    return "request_id" in data and "prompt_sha256" in data


def _gateway_line(record: TrafficRecord, where: str) -> TrafficLine:
    return TrafficLine(
        where,
        "gateway",
        record.time,
        record.config,
        record.status,
        record.prompt,
        record.answer,
        verdict=record.refusal,
        risk=record.risk,
        guarded=None if record.risk is None else record.guarded,
    )


def _objects(text: str, source: str) -> tuple[list[tuple[dict, str]], bool]:
    """The JSON objects of JSONL ``text`` with where each stands, and whether a torn last line (no newline, not a
    JSON object) was skipped."""
    raw = text.split("\n")
    objects: list[tuple[dict, str]] = []
    for number, line in enumerate(raw, start=1):
        if not line.strip():
            continue
        where = f"{source}:{number}"
        try:
            data = json.loads(line)
        except ValueError as error:
            if number == len(raw):  # the last line, and the text does not end with a newline
                return objects, True
            raise AltaxError(f"{where}: not JSON ({error}); each line is {LINE_HELP}") from None
        if not isinstance(data, dict):
            if number == len(raw):
                return objects, True
            raise AltaxError(f"{where}: a JSON object is needed, not {type(data).__name__}; each line is {LINE_HELP}")
        objects.append((data, where))
    return objects, False


def parse_jsonl(text: str, source: str) -> tuple[list[TrafficLine], bool]:
    """The lines of JSONL ``text``, and whether a torn last line (no newline, not JSON) was skipped."""
    objects, torn = _objects(text, source)
    lines = [
        _gateway_line(_record(data, where), where) if _is_record(data) else _chat_line(data, where)
        for data, where in objects
    ]
    return lines, torn


def read_records(paths: Sequence[str | Path]) -> list[TrafficRecord]:
    """The gateway's records in its log files (``workflows.traffic_log.rotated`` lists them oldest first), in
    order. A torn last line is skipped; any other line that is not a gateway record raises naming its file and
    line."""
    records = []
    for path in map(Path, paths):
        for data, where in _objects(read_text(path, "traffic log"), str(path))[0]:
            if not _is_record(data):
                raise AltaxError(f"{where}: not a gateway traffic record (no request_id and prompt_sha256)")
            records.append(_record(data, where))
    return records


def _csv_time(value: str, where: str) -> float | None:
    if not value.strip():
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return _seconds(datetime.fromisoformat(value.strip()))
    except ValueError:
        raise AltaxError(f"{where}: time {value!r} is neither Unix seconds nor an ISO 8601 date") from None


def parse_csv(text: str, source: str) -> list[TrafficLine]:
    """The rows of a CSV with a header: ``prompt`` and ``response`` needed, ``time``, ``config`` and
    ``finish_reason`` read when present."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    limit = csv.field_size_limit(max(len(text), csv.field_size_limit()))
    try:
        header = reader.fieldnames or []
        missing = [c for c in CSV_COLUMNS if c not in header]
        if missing:
            found = ", ".join(header) or "no header"
            raise AltaxError(
                f"{source}: no {' or '.join(repr(c) for c in missing)} column; a CSV log needs prompt and response "
                f"columns (optional: {', '.join(CSV_OPTIONAL)}); found: {found}"
            )
        out = []
        for row in reader:
            where = f"{source}:{reader.line_num}"
            get = {key: row.get(key) or "" for key in (*CSV_COLUMNS, *CSV_OPTIONAL)}
            out.append(
                TrafficLine(
                    where,
                    "csv",
                    _csv_time(get["time"], where),
                    get["config"] or None,
                    "ok",
                    get["prompt"],
                    get["response"],
                    get["finish_reason"] or None,
                )
            )
        return out
    except csv.Error as error:
        raise AltaxError(f"{source}:{reader.line_num}: not valid CSV: {error}") from None
    finally:
        csv.field_size_limit(limit)


def read_logs(paths: Sequence[str | Path]) -> LogLines:
    """Every line of the log files, in the order given (a ``.csv`` is CSV, anything else JSONL)."""
    if not paths:
        raise AltaxError("no traffic logs given: pass the gateway's log files or chat logs (JSONL or CSV)")
    lines: list[TrafficLine] = []
    torn = []
    for path in map(Path, paths):
        text = read_text(path, "traffic log")
        if path.suffix.lower() == ".csv":
            lines += parse_csv(text, str(path))
            continue
        read, cut = parse_jsonl(text, str(path))
        lines += read
        if cut:
            torn.append(str(path))
    return LogLines(lines, torn)
