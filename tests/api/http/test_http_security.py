"""The safe defaults: loopback unless a token is configured, bearer tokens, the roots allow-list."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_errors import one_line_error
from engine.tiny_models import CURSORS, document_at
from http_fixtures import TOKEN, Running, StartServer, running

from forecode.api.http.errors import ApiError
from forecode.api.http.security import bearer_ok, check_bind, inside_roots, is_loopback, load_token
from forecode.api.http.settings import ServerSettings
from forecode.api.service import CompletionService
from forecode.errors import InputError


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]"])
def test_loopback_addresses_need_no_token(host: str) -> None:
    assert is_loopback(host)
    check_bind(host, None)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "example.com"])
def test_other_addresses_are_refused_without_a_token_and_accepted_with_one(host: str) -> None:
    with pytest.raises(InputError, match=f"refusing to bind {host}.*without an access token"):
        check_bind(host, None)
    check_bind(host, TOKEN)


def test_serve_refuses_a_public_address_without_a_token(capsys: pytest.CaptureFixture[str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FORECODE_TOKEN", raising=False)
    err = one_line_error(["serve", "--host", "0.0.0.0"], capsys)
    assert "refusing to bind 0.0.0.0" in err and "FORECODE_TOKEN" in err


def test_serve_accepts_a_public_address_with_FORECODE_TOKEN(capsys: pytest.CaptureFixture[str],
                                                            monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """With the token set the bind check passes; the bad --root that follows stops it before
    any model loads or port opens."""
    monkeypatch.setenv("FORECODE_TOKEN", TOKEN)
    err = one_line_error(["serve", "--host", "0.0.0.0", "--root", str(tmp_path / "nowhere")], capsys)
    assert "is not a directory" in err and "refusing" not in err


def test_tokens_come_from_a_file_or_the_environment_never_too_short(tmp_path: Path) -> None:
    file = tmp_path / "token"
    file.write_text(TOKEN + "\n")
    assert load_token(file, {}) == TOKEN
    assert load_token(None, {"FORECODE_TOKEN": TOKEN}) == TOKEN
    assert load_token(None, {}) is None
    with pytest.raises(InputError, match="at least 16 characters"):
        load_token(None, {"FORECODE_TOKEN": "short"})
    with pytest.raises(InputError, match="cannot read the token file"):
        load_token(tmp_path / "missing", {})


def test_bearer_tokens_compare_exactly() -> None:
    assert bearer_ok(f"Bearer {TOKEN}", TOKEN) and bearer_ok(f"bearer {TOKEN}", TOKEN)
    assert not bearer_ok(None, TOKEN)
    assert not bearer_ok(f"Basic {TOKEN}", TOKEN)
    assert not bearer_ok(f"Bearer {TOKEN}x", TOKEN)
    assert not bearer_ok("Bearer ", TOKEN)


@pytest.fixture(scope="module")
def guarded(module_service: CompletionService, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    settings = ServerSettings(model_name="memorised", roots=(tmp_path_factory.mktemp("guarded"),), token=TOKEN)
    with running(module_service, settings) as server:
        yield server


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token-0123456789", f"Basic {TOKEN}"])
@pytest.mark.parametrize("route", ["/v1/models", "/metrics", "/v1/completions", "/no/such/route"])
def test_with_a_token_configured_every_route_but_health_needs_it(guarded: Running, authorization: str | None,
                                                                 route: str) -> None:
    with guarded.client() as http:
        headers = {} if authorization is None else {"Authorization": authorization}
        r = http.post(route, json={"prompt": "x"}, headers=headers) if route == "/v1/completions" else http.get(route, headers=headers)
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
        assert r.json()["error"]["type"] == "authentication_error"
        assert http.get("/health").status_code == 200


def test_the_right_token_is_let_through(start_server: StartServer) -> None:
    server = start_server(token=TOKEN)
    doc, rest = document_at(CURSORS[0])
    with server.client(TOKEN) as http:
        assert http.get("/v1/models").status_code == 200
        r = http.post("/v1/code/completions", json={"text": doc, "cursor": CURSORS[0]})
        assert r.status_code == 200 and r.json()["suggestions"][0]["text"] == rest
        assert 'forecode_errors_total{kind="authentication_error"}' not in http.get("/metrics").text


def test_a_file_inside_the_roots_is_read_from_disk(start_server: StartServer, tmp_path: Path) -> None:
    doc, rest = document_at(CURSORS[0])
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "greet.py").write_text(doc)
    server = start_server(roots=(tmp_path,))
    with server.client() as http:
        r = http.post("/v1/code/completions", json={"workspace_root": str(tmp_path), "path": "pkg/../pkg/greet.py",
                                                    "cursor": CURSORS[0]})
        assert r.status_code == 200, r.text
        assert r.json()["suggestions"][0]["text"] == rest


def test_inside_roots_follows_dots_and_symlinks(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "in").symlink_to(root / "sub", target_is_directory=True)
    (root / "out").symlink_to(outside, target_is_directory=True)
    (root / "loop").symlink_to(root / "loop")
    roots = (root.resolve(),)
    assert inside_roots("a/../b.py", roots, "path", base=root) == root.resolve() / "b.py"
    assert inside_roots("in/x.py", roots, "path", base=root) == root.resolve() / "sub" / "x.py"
    for escape in ("../outside/x.py", "out/x.py", str(outside), "/", "loop/x", "a\x00b", "x.py"):
        base = None if escape == "x.py" else root  # a relative path with no root to anchor it
        with pytest.raises(ApiError) as caught:
            inside_roots(escape, roots, "path", base=base)
        assert caught.value.status == 403
    with pytest.raises(ApiError):  # "rootkit" begins with "root" but does not lie inside it
        inside_roots(str(tmp_path / "rootkit"), roots, "path")
