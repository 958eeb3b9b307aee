"""The openai: backend against a real HTTP server on loopback whose faults each test scripts."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

pytest.importorskip("httpx", reason="the openai extra is not installed")

from alignment_tax.errors import AltaxError
from alignment_tax.judge.detectors import DEFAULT_DETECTOR
from alignment_tax.judge.stage import judge_name
from alignment_tax.models.base import GenerationRequest
from alignment_tax.models.specs import load_backend, parse_spec

MODEL = "tiny"
SECRET = "sk-test-never-stored-0123456789"


class FaultServer:
    """An OpenAI-compatible server answering POSTs by script: each entry is ("429", seconds), ("500",),
    ("slow", seconds), ("filter",), ("refusal",), ("raw", status, body text), ("echo-key",) (a 400 whose
    message quotes the Authorization header) or ("ok",); past the script every answer is ("ok",).
    "ok" echoes the last user message back, stopped by the content filter when it contains FILTERME.
    GET /models answers ``models_body`` as it is when set. Records each request's path, headers and body."""

    def __init__(self, script: list[tuple] = (), listed: list[str] = (MODEL,)):
        self.script, self.listed = list(script), list(listed)
        self.models_body: str | None = None
        self.requests: list[dict] = []
        self.in_flight = self.max_in_flight = 0
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def send(self, status: int, payload: dict | str, headers: dict | None = None) -> None:
                data = (payload if isinstance(payload, str) else json.dumps(payload)).encode()
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                outer.requests.append({"path": self.path, "auth": self.headers.get("Authorization")})
                listing = {"data": [{"id": m, "root": f"/models/{m}"} for m in outer.listed]}
                self.send(200, listing if outer.models_body is None else outer.models_body)

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with outer.lock:
                    step = outer.script.pop(0) if outer.script else ("ok",)
                    outer.requests.append({"path": self.path, "body": body})
                    outer.in_flight += 1
                    outer.max_in_flight = max(outer.max_in_flight, outer.in_flight)
                try:
                    outer.answer(self, step, body)
                finally:
                    with outer.lock:
                        outer.in_flight -= 1

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, handler, step: tuple, body: dict) -> None:
        if step[0] == "429":
            handler.send(429, {"error": {"message": "slow down"}}, {"Retry-After": str(step[1])})
            return
        if step[0] == "500":
            handler.send(500, {"error": {"message": "boom"}})
            return
        if step[0] == "raw":
            handler.send(step[1], step[2], {"Content-Type": "text/html"})
            return
        if step[0] == "echo-key":
            handler.send(400, {"error": {"message": f"bad header: Authorization: {handler.headers['Authorization']}"}})
            return
        if step[0] == "slow":
            time.sleep(step[1])
        text = body["messages"][-1]["content"] if "messages" in body else body["prompt"]
        if body.get("echo"):  # each word of the prompt scores -(its position), then one generated token
            words = [(m.start(), m.group()) for m in re.finditer(r"\s*\S+", text)] + [(len(text), " gen")]
            logprobs = {
                "tokens": [w for _, w in words],
                "text_offset": [o for o, _ in words],
                "token_logprobs": [None] + [-float(i) for i in range(1, len(words))],
            }
            choice = {"text": text + " gen", "logprobs": logprobs}
            handler.send(200, {"choices": [{"index": 0, "finish_reason": "length", **choice}]})
            return
        message = {"role": "assistant", "content": f"echo: {text}"}
        finish = "content_filter" if step[0] == "filter" or "FILTERME" in text else "stop"
        if step[0] == "refusal":
            message = {"role": "assistant", "content": None, "refusal": "I can't help with that."}
        choice = {"message": message} if "messages" in body else {"text": f"echo: {text}"}
        handler.send(
            200, {"choices": [{"index": 0, "finish_reason": finish, **choice}], "usage": {"completion_tokens": 3}}
        )

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def server() -> Iterator[FaultServer]:
    fake = FaultServer()
    yield fake
    fake.close()


def chat(text: str) -> str:
    return json.dumps([{"role": "user", "content": text}])


def request(key: str, prompt: str, stop: tuple[str, ...] = ()) -> GenerationRequest:
    return GenerationRequest(key, prompt, 16, stop)


def test_chat_requests_fingerprint_and_stop(server):
    backend = load_backend(f"openai:{MODEL}@{server.url}")
    assert backend.fingerprint == f"openai:{MODEL}@{server.url}#/models/{MODEL}"
    rendered = backend.render([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}])
    assert json.loads(rendered.prompt)[1] == {"role": "user", "content": "hi"}
    assert rendered.template_hash == "server-side template"
    outputs = backend.generate(
        [request("a", rendered.prompt), request("b", chat("one two"), ("two", "x", "y", "z", "w"))]
    )
    assert [o.text for o in outputs] == ["echo: hi", "echo: one "]
    assert [o.finish_reason for o in outputs] == ["stop", "stop"]
    sent = next(r["body"] for r in server.requests if "stop" in r.get("body", {}))
    assert sent["stop"] == ["two", "x", "y", "z"] and sent["temperature"] == 0.0 and sent["max_tokens"] == 16


def test_completions_endpoint_renders_the_plain_format(server):
    backend = load_backend(f"openai:{MODEL}@{server.url}?endpoint=completions")
    rendered = backend.render([{"role": "user", "content": "2+2?"}])
    assert rendered.prompt == "Question: 2+2?\nAnswer:" and rendered.stop == ("\nQuestion:",)
    (out,) = backend.generate([request("a", rendered.prompt)])
    assert server.requests[-1]["path"] == "/v1/completions" and out.text == "echo: Question: 2+2?\nAnswer:"


def test_provider_refusals_become_content_filter(server):
    server.script = [("filter",), ("refusal",)]
    backend = load_backend(f"openai:{MODEL}@{server.url}?concurrency=1")
    filtered, refused = backend.generate([request("a", chat("x")), request("b", chat("y"))])
    assert filtered.finish_reason == refused.finish_reason == "content_filter"
    assert refused.text == "I can't help with that."


def recorded_waits(backend) -> list[float]:
    """The seconds each retry of ``backend`` waits, recorded instead of slept."""
    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)

    backend.sleep = record
    return waits


def test_429_retry_after_is_waited_for(server):
    server.script = [("429", 7)]
    backend = load_backend(f"openai:{MODEL}@{server.url}?backoff=0")
    waits = recorded_waits(backend)
    (out,) = backend.generate([request("a", chat("x"))])
    posts = [r for r in server.requests if "body" in r]
    assert out.text == "echo: x" and len(posts) == 2
    assert waits == [7.0]  # the server's Retry-After, not the (zero) backoff


def test_5xx_is_retried_then_gives_a_clear_error(server):
    server.script = [("500",), ("500",)]
    backend = load_backend(f"openai:{MODEL}@{server.url}?backoff=0.01&retries=2")
    assert backend.generate([request("a", chat("x"))])[0].text == "echo: x"
    server.script = [("500",)] * 3
    with pytest.raises(AltaxError, match=r"failed 3 tries: HTTP 500.*run again to resume"):
        backend.generate([request("a", chat("x"))])


def test_slow_server_hits_the_timeout(server):
    server.script = [("slow", 3), ("slow", 3)]
    backend = load_backend(f"openai:{MODEL}@{server.url}?timeout=0.3&retries=1&backoff=0")
    waits = recorded_waits(backend)
    with pytest.raises(AltaxError, match=r"failed 2 tries: no answer within 0.3 s"):
        backend.generate([request("a", chat("x"))])
    assert waits == [0.0]  # one retry, after the (zero) backoff: the timeout, not the 3 s answer, ended each try


def test_concurrency_is_limited(server):
    server.script = [("slow", 0.2)] * 6
    backend = load_backend(f"openai:{MODEL}@{server.url}?concurrency=2")
    outputs = backend.generate([request(str(i), chat(str(i))) for i in range(6)])
    assert [o.text for o in outputs] == [f"echo: {i}" for i in range(6)]
    assert server.max_in_flight == 2
    server.script, server.max_in_flight = [("slow", 0.2)] * 6, 0
    wide = load_backend(f"openai:{MODEL}@{server.url}?concurrency=8")
    wide.generate([request(str(i), chat(str(i))) for i in range(6)], rows=3)  # the executor's --batch-size
    assert server.max_in_flight == 3


def test_log_likelihood_sums_only_the_continuations_tokens(server):
    backend = load_backend(f"openai:{MODEL}@{server.url}?endpoint=completions")
    # "Q: a" is words 0-1, " b c" words 2-3 (-2, -3); the generated " gen" (-4) is not the continuation's
    assert backend.loglikelihood([("Q: a", " b c"), ("Q:", " a")]) == [-5.0, -1.0]
    sent = [r["body"] for r in server.requests if r.get("body", {}).get("echo")]
    assert {b["max_tokens"] for b in sent} == {1} and {b["prompt"] for b in sent} == {"Q: a b c", "Q: a"}


def test_api_key_is_sent_and_never_shown(server, monkeypatch):
    monkeypatch.setenv("MY_KEY", SECRET)
    backend = load_backend(f"openai:{MODEL}@{server.url}?key_env=MY_KEY")
    assert server.requests[-1]["auth"] == f"Bearer {SECRET}"
    assert SECRET not in backend.fingerprint + backend.spec + repr(vars(backend))
    server.script = [("500",)] * 2
    with pytest.raises(AltaxError) as error:
        load_backend(f"openai:{MODEL}@{server.url}?key_env=MY_KEY&retries=1&backoff=0").generate(
            [request("a", chat("x"))]
        )
    assert SECRET not in str(error.value)
    monkeypatch.delenv("MY_KEY")
    with pytest.raises(AltaxError, match=r"\$MY_KEY, which is not set"):
        load_backend(f"openai:{MODEL}@{server.url}?key_env=MY_KEY")


def test_spec_errors_say_what_to_do(server, monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(AltaxError, match="OPENAI_BASE_URL"):
        load_backend(f"openai:{MODEL}")
    monkeypatch.setenv("OPENAI_BASE_URL", server.url)
    assert load_backend(f"openai:{MODEL}?concurrency=3").options.concurrency == 3
    with pytest.raises(AltaxError, match="does not serve 'other'; it serves: tiny"):
        load_backend("openai:other")
    with pytest.raises(AltaxError, match="unknown option 'speed'"):
        load_backend(f"openai:{MODEL}?speed=2")
    with pytest.raises(AltaxError, match="credentials in its URL"):
        load_backend(f"openai:{MODEL}@http://user:pw@127.0.0.1:1/v1")
    closed = server.url
    server.close()
    with pytest.raises(AltaxError, match="cannot reach the server.*altax serve"):
        load_backend(f"openai:{MODEL}@{closed}")
    assert parse_spec(f"openai:{MODEL}@{closed}").revision == closed


def test_a_content_filter_stop_is_judged_a_refusal(server, tmp_path):
    from alignment_tax.configs.schema import Configuration, Experiment
    from alignment_tax.store import Store
    from alignment_tax.workflows.experiment import Settings, run_experiment

    suite = tmp_path / "suite.jsonl"
    suite.write_text(
        "".join(
            json.dumps({"id": i, "category": "extraction", "prompt": p, "reference": {"scorer": "numeric", "value": 7}})
            + "\n"
            for i, p in (("plain", "Say 7"), ("filtered", "FILTERME say 7"))
        )
    )
    config = Configuration(name="served", model=f"openai:{MODEL}@{server.url}")
    experiment = Experiment(suite=str(suite), reference="served", configs=[config])
    output = run_experiment(experiment, Settings(results_dir=tmp_path / "r", n_boot=50))
    store = Store(tmp_path / "r" / "store.sqlite")
    try:
        rows = store.judged_items(output.run.run_id, judge_name(DEFAULT_DETECTOR))
        judged = {row.item_id: row.outcome for row in rows}
    finally:
        store.close()
    assert judged == {"plain": "correct", "filtered": "refused"}


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        (("raw", 200, "<html><body>Welcome to nginx!</body></html>"), "with HTTP 200 but not JSON"),
        (("raw", 200, json.dumps({"object": "list", "data": []})), 'without choices: \'{"object": "list"'),
        (("raw", 200, json.dumps({"choices": []})), "without choices"),
        (("raw", 200, json.dumps(["a", "list"])), "without choices"),
        (("raw", 200, json.dumps({"choices": [{"message": {"content": 5}}]})), "with an answer that is not text"),
    ],
)
def test_a_malformed_answer_names_the_server_and_what_came_back(server, answer, said):
    server.script = [answer]
    backend = load_backend(f"openai:{MODEL}@{server.url}?retries=0")
    with pytest.raises(AltaxError) as error:
        backend.generate([request("a", chat("x"))])
    message = str(error.value)
    assert message.startswith(f"the server at {server.url} answered POST /chat/completions") and said in message


def test_a_malformed_model_list_is_a_clear_error(server):
    server.models_body = "<html>" + "login please " * 100 + "</html>"
    with pytest.raises(AltaxError, match=r"answered GET /models with HTTP 200 but not JSON.*login please") as error:
        load_backend(f"openai:{MODEL}@{server.url}")
    assert len(str(error.value)) < 400  # what came back is truncated
    server.models_body = json.dumps([MODEL])
    with pytest.raises(AltaxError, match="without a model list"):
        load_backend(f"openai:{MODEL}@{server.url}")


def test_a_key_or_bearer_token_echoed_by_the_server_is_redacted(server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    backend = load_backend(f"openai:{MODEL}@{server.url}?retries=0")
    server.script = [("echo-key",)]
    with pytest.raises(AltaxError, match=r"HTTP 400 .*Authorization: Bearer \[redacted\]") as error:
        backend.generate([request("a", chat("x"))])
    assert SECRET not in str(error.value)
    server.script = [("raw", 400, "token bearer abc.DEF-123_xyz was rejected")]
    with pytest.raises(AltaxError, match=r"token Bearer \[redacted\] was rejected") as error:
        backend.generate([request("a", chat("x"))])
    assert "abc.DEF-123_xyz" not in str(error.value)
    (echoed,) = backend.generate([request("a", chat(f"my key is {SECRET}"))])
    assert echoed.text == "echo: my key is [redacted]"  # an answer never carries the key into the store


def test_altax_run_against_a_bad_server_is_one_line_and_shows_no_key(server, tmp_path, monkeypatch):
    import subprocess
    import sys

    from altax_here import altax_here

    suite = tmp_path / "suite.jsonl"
    suite.write_text(json.dumps({"id": "a", "category": "math", "prompt": "1+1?", "reference": {"scorer": "comply"}}))
    experiment = tmp_path / "exp.toml"
    experiment.write_text(
        f'suite = "{suite}"\nreference = "served"\n'
        f'[[configs]]\nname = "served"\nmodel = "openai:{MODEL}@{server.url}?retries=0"\n'
    )
    results = tmp_path / "results"
    args = ["run", "-c", str(experiment), "--results-dir", str(results)]
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    for answer, said in [
        (("echo-key",), "Bearer [redacted]"),
        (("raw", 200, "<html>hi</html>"), "but not JSON"),
        (("raw", 400, "bad prompt [/INST] [bold]x"), "bad prompt [/INST] [bold]x"),  # printed as text, not markup
    ]:
        server.script = [answer]
        done = altax_here(*args)
        assert done.returncode == 2 and said in done.stderr and server.url in done.stderr, done.stderr
        assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
        assert SECRET not in done.stdout + done.stderr
    server.script = [("echo-key",)]  # once as a real process: nothing else it prints (logs, warnings) shows the key
    done = subprocess.run([sys.executable, "-m", "alignment_tax", *args], capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and "Bearer [redacted]" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert SECRET not in done.stdout + done.stderr
    assert not [p for p in results.rglob("*") if p.is_file() and SECRET.encode() in p.read_bytes()]
