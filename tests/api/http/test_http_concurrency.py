"""Several clients at once, supersede, disconnect, deadline, overload and the metrics they leave."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from engine.tiny_models import CURSORS, document_at
from http_fixtures import Running, StartServer

from forecode.api.service import CompletionService
from forecode.completer import CompletionRequest, CompletionResult, Completer

DOC, REST = document_at(CURSORS[0])


def code_body(**fields: Any) -> dict[str, Any]:
    return {"text": DOC, "cursor": CURSORS[0]} | fields


def wait_for(condition: Callable[[], bool], what: str) -> None:
    """Wait (up to a generous bound, so a busy machine only makes it slower) for a state change."""
    deadline = time.monotonic() + 20
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.01)


def in_thread(server: Running, path: str, body: dict[str, Any]) -> tuple[threading.Thread, list[httpx.Response]]:
    replies: list[httpx.Response] = []

    def post() -> None:
        with server.client() as http:
            replies.append(http.post(path, json=body))

    thread = threading.Thread(target=post)
    thread.start()
    return thread, replies


def raw_request(server: Running, path: str, body: dict[str, Any]) -> socket.socket:
    """A request on a bare socket, so the test can hang up on it."""
    data = json.dumps(body).encode()
    host, port = server.base.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)))
    sock.sendall(f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                 f"Content-Length: {len(data)}\r\n\r\n".encode() + data)
    return sock


def metric(server: Running, name: str, **labels: str) -> float:
    text = httpx.get(f"{server.base}/metrics").text
    total = 0.0
    for line in text.splitlines():
        m = re.fullmatch(rf"{name}(?:\{{(.*)\}})? (\S+)", line)
        if m and all(f'{k}="{v}"' in (m.group(1) or "") for k, v in labels.items()):
            total += float(m.group(2))
    return total


def test_several_clients_at_once_are_all_served(server: Running) -> None:
    started = [in_thread(server, "/v1/code/completions", code_body(document_id=f"doc-{k}")) for k in range(6)]
    for thread, _ in started:
        thread.join(60)
    assert [r[0].status_code for _, r in started] == [200] * 6
    assert {r[0].json()["suggestions"][0]["text"] for _, r in started} == {REST}
    assert metric(server, "forecode_http_requests_total", route="/v1/code/completions", status="200") == 6


@pytest.mark.parametrize("same_document", [{"document_id": "editor-1"},
                                           {"workspace_root": "ROOT", "path": "pkg/a.py"}])
def test_a_newer_request_for_the_same_document_supersedes_the_older(server: Running,
                                                                    same_document: dict[str, str]) -> None:
    same = {k: (str(server.settings.roots[0]) if v == "ROOT" else v) for k, v in same_document.items()}
    with server.service.hold():  # the engine is busy, so the first request waits
        older, older_reply = in_thread(server, "/v1/code/completions", code_body(**same))
        wait_for(lambda: server.service.waiting == 1, "the first request to queue")
        newer, newer_reply = in_thread(server, "/v1/code/completions", code_body(**same))
        older.join(20)
    newer.join(20)
    assert older_reply[0].status_code == 409
    assert older_reply[0].json()["error"]["type"] == "superseded"
    assert newer_reply[0].status_code == 200 and newer_reply[0].json()["suggestions"][0]["text"] == REST
    assert server.service.stats.cancelled == {"superseded": 1}
    assert metric(server, "forecode_errors_total", kind="superseded") == 1


def test_other_documents_do_not_supersede(server: Running) -> None:
    with server.service.hold():
        first, first_reply = in_thread(server, "/v1/code/completions", code_body(document_id="a"))
        wait_for(lambda: server.service.waiting == 1, "the first request to queue")
        second, second_reply = in_thread(server, "/v1/code/completions", code_body(document_id="b"))
        wait_for(lambda: server.service.waiting == 2, "the second request to queue")
    first.join(20)
    second.join(20)
    assert first_reply[0].status_code == second_reply[0].status_code == 200


def test_a_client_that_hangs_up_while_waiting_is_cancelled(server: Running) -> None:
    with server.service.hold():
        sock = raw_request(server, "/v1/code/completions", code_body())
        wait_for(lambda: server.service.waiting == 1, "the request to queue")
        sock.close()
        wait_for(lambda: server.service.stats.cancelled.get("disconnected") == 1, "the cancellation")
        assert server.service.waiting == 0  # it left the queue before the engine was free
    with server.client() as http:
        assert http.post("/v1/code/completions", json=code_body()).status_code == 200


class GatedCompleter(Completer):
    """The real completer, with the generation held (in the worker thread) once it has sent its
    first text, until the test opens the gate; it keeps what each generation ended with."""

    def __init__(self, completer: Completer) -> None:
        super().__init__(completer.engine)
        self.gate = threading.Event()
        self.held = threading.Event()
        self.results: list[CompletionResult] = []

    def complete(self, request: CompletionRequest, cancelled: Callable[[], bool] | None = None,
                 on_text: Callable[[int, str], None] | None = None) -> CompletionResult:
        def gated(index: int, text: str) -> None:
            first = bool(text) and not self.held.is_set()
            if first:
                self.held.set()
            if on_text is not None:
                on_text(index, text)
            if first:
                self.gate.wait(20)

        result = super().complete(request, cancelled, gated)
        self.results.append(result)
        return result


def test_a_streaming_client_that_hangs_up_stops_its_generation(start_server: StartServer,
                                                               memorised_completer: Completer) -> None:
    completer = GatedCompleter(memorised_completer)
    server = start_server(using=CompletionService(completer))
    sock = raw_request(server, "/v1/completions", {"prompt": DOC[: CURSORS[0]], "suffix": DOC[CURSORS[0]:],
                                                   "max_tokens": 32, "stream": True})
    first = b""
    while b"data: " not in first:
        first += sock.recv(4096)  # the first piece of text has arrived
    assert completer.held.is_set()
    sock.close()
    wait_for(lambda: metric(server, "forecode_errors_total", kind="disconnected") == 1, "the server to notice")
    completer.gate.set()  # the generation resumes, sees its ticket cancelled, and stops
    wait_for(lambda: bool(completer.results), "the generation to end")
    [suggestion] = completer.results[0].suggestions
    assert suggestion.finish_reason == "cancelled"
    assert len(suggestion.text) < len(REST)
    with server.client() as http:  # the engine is free again
        r = http.post("/v1/completions", json={"prompt": DOC[: CURSORS[0]], "suffix": DOC[CURSORS[0]:], "max_tokens": 32})
        assert r.status_code == 200 and r.json()["choices"][0]["text"] == REST


def test_a_request_past_its_deadline_gets_504(start_server: StartServer, memorised_completer: Completer) -> None:
    service = CompletionService(memorised_completer, timeout_s=0.2)
    server = start_server(using=service)
    with service.hold(), server.client() as http:
        r = http.post("/v1/code/completions", json=code_body())
    assert r.status_code == 504 and r.json()["error"]["type"] == "timeout"
    assert service.stats.cancelled == {"timeout": 1}


def test_a_full_queue_gets_503_with_retry_after(start_server: StartServer, memorised_completer: Completer) -> None:
    service = CompletionService(memorised_completer, max_waiting=1)
    server = start_server(using=service)
    with service.hold():
        waiting, waiting_reply = in_thread(server, "/v1/code/completions", code_body())
        wait_for(lambda: service.waiting == 1, "the first request to queue")
        with server.client() as http:
            r = http.post("/v1/code/completions", json=code_body())
    waiting.join(20)
    assert r.status_code == 503 and r.headers["retry-after"] == "1"
    assert r.json()["error"]["type"] == "overloaded"
    assert waiting_reply[0].status_code == 200


class BrokenCompleter(Completer):
    def complete(self, request: CompletionRequest, cancelled: Callable[[], bool] | None = None,
                 on_text: Callable[[int, str], None] | None = None) -> CompletionResult:
        raise RuntimeError("a bug deep inside, with a secret path /home/me")


def test_an_unexpected_error_is_a_500_json_and_the_server_stays_up(start_server: StartServer,
                                                                   memorised_completer: Completer) -> None:
    server = start_server(using=CompletionService(BrokenCompleter(memorised_completer.engine)))
    with server.client() as http:
        r = http.post("/v1/code/completions", json=code_body())
        assert r.status_code == 500
        assert r.json()["error"]["type"] == "server_error"
        assert "Traceback" not in r.text and "/home/me" not in r.text
        assert http.get("/health").json()["status"] == "ok"


def test_metrics_count_requests_latency_tokens_and_errors(server: Running) -> None:
    with server.client() as http:
        assert http.post("/v1/completions", json={"prompt": DOC[: CURSORS[0]], "suffix": DOC[CURSORS[0]:],
                                                  "max_tokens": 32}).status_code == 200
        assert http.post("/v1/completions", json={"prompt": 1}).status_code == 400
        text = http.get("/metrics").text
    assert 'forecode_http_requests_total{method="POST",route="/v1/completions",status="200"} 1.0' in text
    assert 'forecode_http_requests_total{method="POST",route="/v1/completions",status="400"} 1.0' in text
    assert 'forecode_http_request_duration_seconds_bucket{le="+Inf",route="/v1/completions"} 2.0' in text
    assert 'forecode_errors_total{kind="invalid_request_error"} 1.0' in text
    assert "forecode_requests_waiting 0.0" in text
    assert metric(server, "forecode_generated_tokens_total", route="/v1/completions") > 0


def test_a_client_that_hangs_up_halfway_through_its_body_leaves_the_server_well(server: Running) -> None:
    host, port = server.base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 1000\r\n\r\n{\"prompt\": \"def")
    wait_for(lambda: metric(server, "forecode_errors_total", kind="disconnected") == 1, "the server to notice")
    assert metric(server, "forecode_errors_total", kind="server_error") == 0
    with server.client() as http:
        assert http.get("/health").json()["status"] == "ok"
