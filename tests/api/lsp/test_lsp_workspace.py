"""The language server's workspace index, through a real LSP client: the folder named at
`initialize` is indexed, the editor's edits replace the file on disk in it, completions get
context from the other files, and documents outside the folder get none."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from api.workspace_files import EDITED, ON_DISK
from lsp_fixtures import CAPABILITIES, inline_params, open_document, position, server_command
from lsprotocol import types
from pygls.uris import from_fs_path
from pytest_lsp import ClientServerConfig, LanguageClient


@pytest_asyncio.fixture
async def client(memorised_checkpoint: Path, workspace: Path, tmp_path: Path) -> AsyncIterator[LanguageClient]:
    command = server_command(memorised_checkpoint, "--index-cache", str(tmp_path / "index-cache"))
    client = await ClientServerConfig(server_command=command).start()
    assert isinstance(client, LanguageClient)
    folder = types.WorkspaceFolder(uri=str(from_fs_path(str(workspace))), name="repo")
    await client.initialize_session(types.InitializeParams(capabilities=CAPABILITIES, workspace_folders=[folder],
                                                           initialization_options={"maxTokens": 2}))
    yield client
    await client.shutdown_session()


def uri_of(path: Path) -> str:
    return str(from_fs_path(str(path)))


async def context(client: LanguageClient, uri: str) -> dict[str, Any]:
    result = await client.workspace_execute_command_async(types.ExecuteCommandParams(command="forecode.context", arguments=[uri]))
    assert isinstance(result, dict)
    return result


def edit_to(client: LanguageClient, uri: str, old: str, new: str) -> None:
    """An incremental didChange that replaces the whole of `old` with `new`."""
    end = position(old, len(old))
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
        content_changes=[types.TextDocumentContentChangePartial(range=types.Range(types.Position(0, 0), end), text=new)]))


@pytest.mark.asyncio
async def test_the_index_holds_the_editors_text_after_did_change(client: LanguageClient, workspace: Path) -> None:
    uri = uri_of(workspace / "pkg" / "app.py")
    open_document(client, uri, ON_DISK)
    before = await context(client, uri)
    assert before["index"] == "ready" and before["path"] == "pkg/app.py"
    assert "walrus = 1" in "".join(before["chunks"])
    edit_to(client, uri, ON_DISK, EDITED)
    after = await context(client, uri)
    assert "zebra = 2" in "".join(after["chunks"]) and "walrus" not in "".join(after["chunks"])


@pytest.mark.asyncio
async def test_a_completion_gets_context_from_the_other_file(client: LanguageClient, workspace: Path) -> None:
    uri = uri_of(workspace / "pkg" / "app.py")
    open_document(client, uri, EDITED)
    assert (await context(client, uri))["index"] == "ready"  # waits for the index to open
    await client.text_document_inline_completion_async(inline_params(uri, position(EDITED, len(EDITED))))
    last = (await context(client, uri))["lastContext"]
    assert last["retrieval"] == "on"
    assert [s["path"] for s in last["snippets"] if s["source"] == "definition"] == ["pkg/helpers.py"]


@pytest.mark.asyncio
async def test_documents_outside_the_folder_get_no_retrieval(client: LanguageClient, workspace: Path, tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    uri = uri_of(tmp_path / "elsewhere" / "app.py")
    assert (await context(client, uri_of(workspace / "pkg" / "app.py")))["index"] == "ready"
    open_document(client, uri, EDITED)
    await client.text_document_inline_completion_async(inline_params(uri, position(EDITED, len(EDITED))))
    found = await context(client, uri)
    assert found["root"] is None and found["chunks"] == []
    assert found["lastContext"]["retrieval"] == "off" and found["lastContext"]["snippets"] == []


@pytest.mark.asyncio
async def test_the_index_setting_turns_retrieval_off(client: LanguageClient, workspace: Path) -> None:
    uri = uri_of(workspace / "pkg" / "app.py")
    open_document(client, uri, EDITED)
    assert (await context(client, uri))["index"] == "ready"
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings={"forecode": {"contextSources": []}}))
    await client.text_document_inline_completion_async(inline_params(uri, position(EDITED, len(EDITED))))
    assert (await context(client, uri))["lastContext"]["retrieval"] == "off"
