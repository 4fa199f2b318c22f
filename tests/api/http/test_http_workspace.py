"""/v1/code/completions with a workspace: snippets of the other files of the repository in the
prompt (the debug window's `context`), `context_sources` to choose them, and the request's own
text in the index in place of the file on disk."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api.workspace_files import EDITED
from http_fixtures import Running, StartServer

from forecode.api.service import CompletionService
from forecode.completer import Completer
from forecode.context.workspaces import Workspaces

@pytest.fixture
def indexed(memorised_completer: Completer, start_server: StartServer, tmp_path: Path) -> Iterator[Running]:
    workspaces = Workspaces(tmp_path / "index-cache", persist=False)
    service = CompletionService(Completer(memorised_completer.engine, workspaces), timeout_s=30.0)
    yield start_server(service)
    workspaces.close()


def debug(server: Running, workspace: Path, **fields: Any) -> dict[str, Any]:
    body = {"text": EDITED, "cursor": len(EDITED), "path": "pkg/app.py", "workspace_root": str(workspace),
            "max_tokens": 4, "debug": True} | fields
    with server.client() as http:
        reply = http.post("/v1/code/completions", json=body)
    assert reply.status_code == 200, reply.text
    window: dict[str, Any] = reply.json()["debug"]
    return window


def ask(server: Running, workspace: Path, **fields: Any) -> dict[str, Any]:
    context: dict[str, Any] = debug(server, workspace, **fields)["context"]
    return context


def test_the_prompt_holds_the_definition_from_the_other_file(indexed: Running, workspace: Path) -> None:
    context = ask(indexed, workspace)
    assert context["retrieval"] == "on"
    definitions = [s for s in context["snippets"] if s["source"] == "definition"]
    assert [s["path"] for s in definitions] == ["pkg/helpers.py"]
    prompt = ask(indexed, workspace)  # and again, from the open index
    assert prompt["snippets"] == context["snippets"]


def test_empty_context_sources_turn_retrieval_off(indexed: Running, workspace: Path) -> None:
    context = ask(indexed, workspace, context_sources=[])
    assert context["retrieval"] == "off" and context["snippets"] == []


def test_context_sources_choose_where_snippets_come_from(indexed: Running, workspace: Path) -> None:
    context = ask(indexed, workspace, context_sources=["bm25"])
    assert context["sources"] == ["bm25"] and context["snippets"]
    assert {s["source"] for s in context["snippets"]} == {"bm25"}


@pytest.mark.parametrize("sources", [["embeddings"], "bm25", [1]])
def test_a_bad_context_source_is_a_400_naming_the_field(indexed: Running, workspace: Path, sources: object) -> None:
    body = {"text": EDITED, "cursor": 0, "workspace_root": str(workspace), "context_sources": sources}
    with indexed.client() as http:
        reply = http.post("/v1/code/completions", json=body)
    assert reply.status_code == 400
    error = reply.json()["error"]
    assert error["param"].startswith("context_sources") and "context_sources" in error["message"]


def from_another_file(server: Running, workspace: Path, name: str) -> dict[str, Any]:
    """The debug window of a request from a file that imports `name` from pkg/app.py."""
    text = f"from pkg.app import {name}\n{name}"
    return debug(server, workspace, text=text, cursor=len(text), path="pkg/other.py", context_sources=["definition"])


def test_the_index_holds_the_requests_text_not_the_file_on_disk(indexed: Running, workspace: Path) -> None:
    ask(indexed, workspace)  # app.py as edited goes into the index
    edited = from_another_file(indexed, workspace, "zebra")
    assert [s["path"] for s in edited["context"]["snippets"]] == ["pkg/app.py"]
    assert "zebra = 2" in edited["prompt"]
    on_disk = from_another_file(indexed, workspace, "walrus")
    assert on_disk["context"]["snippets"] == [] and "walrus = 1" not in on_disk["prompt"]


def test_without_an_edit_the_index_has_the_file_on_disk(indexed: Running, workspace: Path) -> None:
    """The other half of the test above: the same question finds the disk's version when no
    request has sent an edited app.py."""
    on_disk = from_another_file(indexed, workspace, "walrus")
    assert [s["path"] for s in on_disk["context"]["snippets"]] == ["pkg/app.py"]
    assert "walrus = 1" in on_disk["prompt"]


def test_a_server_without_an_index_says_so(server: Running, workspace: Path, tmp_path: Path) -> None:
    context = ask(server, workspace)
    assert context["retrieval"] == "off" and context["why"] == "the completer has no workspace registry"
