"""Bad requests of many kinds: each gets a 4xx with an OpenAI-shaped JSON error that names the
problem, and the server stays healthy."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from engine.tiny_models import CURSORS, document_at
from http_fixtures import Running, running

from forecode.api.http.settings import ServerSettings
from forecode.api.service import CompletionService

ROOT = Path(__file__).resolve().parents[3]

MAX_BODY = 64 * 1024
MAX_PROMPT = 10_000
DOC, _ = document_at(CURSORS[0])


@dataclass(frozen=True)
class Bad:
    name: str
    status: int
    says: str  # a word the message must contain: the field or the problem
    path: str = "/v1/completions"
    method: str = "POST"
    json_body: Callable[[Path], Any] | None = None  # given the workspace root
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    param: str | None = None


def code(**fields: Any) -> Callable[[Path], Any]:
    """A /v1/code/completions body; a value that is a function gets the workspace root."""
    return lambda root: {k: (v(root) if callable(v) else v) for k, v in ({"text": DOC, "cursor": CURSORS[0]} | fields).items()}


def openai(**fields: Any) -> Callable[[Path], Any]:
    return lambda root: {"prompt": "def f(", "max_tokens": 4} | fields


def _chunked_too_large() -> Iterator[bytes]:
    yield b'{"prompt": "'
    for _ in range(MAX_BODY // 1024 + 1):
        yield b"x" * 1024
    yield b'"}'


CASES = [
    Bad("malformed JSON", 400, "not valid JSON", content=b'{"prompt": "x",', headers={"content-type": "application/json"}),
    Bad("invalid UTF-8", 400, "not valid UTF-8", content=b'{"prompt": "\xff\xfe"}', headers={"content-type": "application/json"}),
    Bad("a JSON array, not an object", 400, "must be a JSON object", content=b'["x"]', headers={"content-type": "application/json"}),
    Bad("not JSON content type", 415, "must be JSON", content=b"prompt=x", headers={"content-type": "text/plain"}),
    Bad("no content type", 415, "must be JSON", content=b'{"prompt": "x"}'),
    Bad("missing prompt", 400, "prompt is required", json_body=lambda root: {"max_tokens": 4}, param="prompt"),
    Bad("prompt of the wrong type", 400, "prompt", json_body=openai(prompt=12), param="prompt"),
    Bad("a list of two prompts", 400, "one prompt per request", json_body=openai(prompt=["a", "b"]), param="prompt"),
    Bad("max_tokens as a string", 400, "max_tokens", json_body=openai(max_tokens="5"), param="max_tokens"),
    Bad("negative max_tokens", 400, "greater than or equal to 1", json_body=openai(max_tokens=-1), param="max_tokens"),
    Bad("huge max_tokens", 400, "max_tokens", json_body=openai(max_tokens=10**9), param="max_tokens"),
    Bad("negative temperature", 400, "temperature", json_body=openai(temperature=-0.5), param="temperature"),
    Bad("top_p above 1", 400, "top_p", json_body=openai(top_p=1.5), param="top_p"),
    Bad("top_p of 0", 400, "top_p", json_body=openai(top_p=0), param="top_p"),
    Bad("n too big", 400, "n: Input should be less than or equal to 16", json_body=openai(n=100), param="n"),
    Bad("n as a float", 400, "n:", json_body=openai(n=2.5), param="n"),
    Bad("stream as a number", 400, "stream", json_body=openai(stream=1), param="stream"),
    Bad("an empty stop string", 400, "must not be empty", json_body=openai(stop=[""]), param="stop"),
    Bad("five stop strings", 400, "at most 4 stop sequences", json_body=openai(stop=list("abcde")), param="stop"),
    Bad("a misspelt field", 400, "unknown field 'max_token'", json_body=openai(max_token=4), param="max_token"),
    Bad("logprobs too many", 400, "logprobs", json_body=openai(logprobs=10), param="logprobs"),
    Bad("echo", 400, "echo is not supported", json_body=openai(echo=True), param="echo"),
    Bad("streamed logprobs", 400, "logprobs are not streamed", json_body=openai(stream=True, logprobs=1), param="logprobs"),
    Bad("body too large", 413, "the limit is", json_body=openai(prompt="x" * (MAX_BODY + 1))),
    Bad("chunked body too large", 413, "over the limit", content=b"", headers={"content-type": "application/json"}),
    Bad("prompt too long", 413, "prompt is 20000 characters", json_body=openai(prompt="x" * 20_000), param="prompt"),
    Bad("cursor past the end", 400, "cursor 9999 is outside the document", "/v1/code/completions", json_body=code(cursor=9999)),
    Bad("negative cursor", 400, "cursor", "/v1/code/completions", json_body=code(cursor=-1), param="cursor"),
    Bad("position past the last line", 400, "position.line 40 is outside", "/v1/code/completions",
        json_body=code(cursor=None, position={"line": 40, "character": 0})),
    Bad("both cursor and position", 400, "either cursor", "/v1/code/completions",
        json_body=code(position={"line": 0, "character": 0}), param="cursor"),
    Bad("no text and no path", 400, "give the document", "/v1/code/completions", json_body=code(text=None), param="text"),
    Bad("debug as a string", 400, "debug", "/v1/code/completions", json_body=code(debug="yes"), param="debug"),
    Bad("a file that does not exist", 400, "does not exist", "/v1/code/completions",
        json_body=code(text=None, workspace_root=str, path="missing.py")),
    Bad("workspace_root outside the roots", 403, "outside the workspace roots", "/v1/code/completions",
        json_body=code(workspace_root="/etc"), param="workspace_root"),
    Bad("a relative workspace_root", 403, "outside the workspace roots", "/v1/code/completions",
        json_body=code(workspace_root="."), param="workspace_root"),
    Bad("a .. escape in workspace_root", 403, "outside the workspace roots", "/v1/code/completions",
        json_body=code(workspace_root=lambda root: f"{root}/../outside"), param="workspace_root"),
    Bad("a .. escape in path", 403, "outside the workspace roots", "/v1/code/completions",
        json_body=code(text=None, workspace_root=str, path="../outside/secret.py"), param="path"),
    Bad("an absolute path outside", 403, "outside the workspace roots", "/v1/code/completions",
        json_body=code(text=None, path="/etc/passwd"), param="path"),
    Bad("a symlink out of the root", 403, "outside the workspace roots", "/v1/code/completions",
        json_body=code(text=None, workspace_root=str, path="link/secret.py"), param="path"),
    Bad("a symlinked workspace_root", 403, "outside the workspace roots", "/v1/code/completions",
        json_body=code(workspace_root=lambda root: f"{root}/link"), param="workspace_root"),
    Bad("wrong method", 405, "method GET is not allowed", method="GET"),
    Bad("POST to /health", 405, "not allowed", "/health"),
    Bad("an unknown route", 404, "no route POST /v2/completions", "/v2/completions", json_body=openai()),
]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tmp/ws is the allowed root; tmp/outside holds a secret; ws/link points at it."""
    tmp = tmp_path_factory.mktemp("bad_requests")
    root, outside = tmp / "ws", tmp / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "secret.py").write_text("SECRET = 'do not serve me'\n")
    (root / "link").symlink_to(outside)
    return root


@pytest.fixture(scope="module")
def limited(module_service: CompletionService, workspace: Path) -> Iterator[Running]:
    """One server for all the cases, with small limits."""
    settings = ServerSettings(model_name="memorised", roots=(workspace,), max_body_bytes=MAX_BODY, max_prompt_chars=MAX_PROMPT)
    with running(module_service, settings) as server:
        yield server


@pytest.mark.parametrize("bad", CASES, ids=[c.name for c in CASES])
def test_a_bad_request_gets_a_4xx_that_names_the_problem(bad: Bad, limited: Running, workspace: Path) -> None:
    with limited.client() as http:
        content: Any = bad.content
        headers = dict(bad.headers)
        if bad.name == "chunked body too large":
            content = _chunked_too_large()
        if bad.json_body is not None:
            content = json.dumps(bad.json_body(workspace)).encode()
            headers.setdefault("content-type", "application/json")
        r = http.request(bad.method, bad.path, content=content, headers=headers)
        assert r.status_code == bad.status, r.text
        error = r.json()["error"]
        assert set(error) >= {"message", "type", "param"}
        assert bad.says in error["message"], error
        assert bad.param is None or error["param"] == bad.param, error
        assert "Traceback" not in r.text and "SECRET" not in r.text
        print(f"| {bad.name} | {bad.method} {bad.path} | {r.status_code} | {error['type']} | {error['message']} |")
        assert http.get("/health").json()["status"] == "ok"


def test_the_server_answers_after_every_kind_of_bad_request(limited: Running, workspace: Path) -> None:
    with limited.client() as http:
        for bad in CASES:
            if bad.json_body is not None:
                assert http.request(bad.method, bad.path, json=bad.json_body(workspace)).status_code == bad.status
        r = http.post("/v1/completions", json={"prompt": DOC[: CURSORS[0]], "suffix": DOC[CURSORS[0]:], "max_tokens": 32})
        assert r.status_code == 200 and r.json()["choices"][0]["text"] == document_at(CURSORS[0])[1]


def test_the_bad_requests_script_finds_every_answer_a_clear_4xx(server: Running, capsys: pytest.CaptureFixture[str]) -> None:
    """scripts/bad_requests.py, as the closing note and docs run it against a live server."""
    spec = importlib.util.spec_from_file_location("bad_requests", ROOT / "scripts" / "bad_requests.py")
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert script.main(server.base) == 0
    out = capsys.readouterr().out
    assert len(script.CASES) >= 20 and out.count(" ok ") == len(script.CASES)
    assert "health after: 200" in out
