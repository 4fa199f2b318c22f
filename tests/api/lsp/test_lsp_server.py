"""`forecode lsp` in a subprocess, driven by a real LSP client over stdio: initialize, didOpen,
incremental didChange, completion, inlineCompletion, $/cancelRequest, didChangeConfiguration,
failures, shutdown and exit. One server for the module; the tests run in order and leave the
settings as they found them."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from lsp_fixtures import (
    CURSOR, DOCUMENT, REST, completion_params, inline_params, open_document, position, start_client, stats,
)
from lsprotocol import types
from pygls.exceptions import JsonRpcRequestCancelled
from pytest_lsp import LanguageClient

from forecode.api.lsp.positions import to_position
from forecode.completer import Completer, CompletionRequest

pytestmark = pytest.mark.asyncio(loop_scope="module")

URI = "file:///work/greet.py"


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def session(memorised_checkpoint: Path) -> AsyncIterator[tuple[LanguageClient, types.InitializeResult]]:
    client, result = await start_client(memorised_checkpoint, {"forecode": {"debounceMs": 0, "maxTokens": 32}})
    open_document(client, URI, DOCUMENT)
    yield client, result
    if client._server is not None and client._server.returncode is None:
        await client.shutdown_session()
    await client.stop()


@pytest.fixture
def client(session: tuple[LanguageClient, types.InitializeResult]) -> LanguageClient:
    return session[0]


async def inline(client: LanguageClient, uri: str, pos: types.Position, invoked: bool = True) -> types.InlineCompletionList | None:
    result = await client.text_document_inline_completion_async(inline_params(uri, pos, invoked))
    assert result is None or isinstance(result, types.InlineCompletionList), result
    return result


async def server_text(client: LanguageClient, uri: str) -> str:
    result = await client.workspace_execute_command_async(types.ExecuteCommandParams(command="forecode.document", arguments=[uri]))
    assert isinstance(result, dict)
    return str(result["text"])


async def test_initialize_advertises_incremental_sync_utf16_and_both_completions(session: tuple[LanguageClient, types.InitializeResult]) -> None:
    caps = session[1].capabilities
    assert caps.position_encoding == types.PositionEncodingKind.Utf16
    assert isinstance(caps.text_document_sync, types.TextDocumentSyncOptions)
    assert caps.text_document_sync.change == types.TextDocumentSyncKind.Incremental
    assert caps.inline_completion_provider is not None and caps.completion_provider is not None
    assert session[1].server_info is not None and session[1].server_info.name == "forecode"


async def test_inline_completion_is_the_memorised_rest_of_the_line(client: LanguageClient) -> None:
    result = await inline(client, URI, position(DOCUMENT, CURSOR))
    assert result is not None and len(result.items) == 1
    item = result.items[0]
    assert item.insert_text == REST
    assert item.range == types.Range(position(DOCUMENT, CURSOR), position(DOCUMENT, CURSOR))


async def test_completion_gives_the_line_first_then_ranked_names(client: LanguageClient) -> None:
    result = await client.text_document_completion_async(completion_params(URI, position(DOCUMENT, CURSOR)))
    assert isinstance(result, types.CompletionList)
    items = result.items
    word = types.Range(position(DOCUMENT, CURSOR - 2), position(DOCUMENT, CURSOR))  # the typed `na`
    line = items[0]
    assert line.detail == "forecode: line"
    assert line.text_edit == types.TextEdit(range=word, new_text="na" + REST)
    names = [i.label for i in items[1:]]
    assert "name" in names  # jedi's candidate for `na`: the parameter
    assert all(isinstance(i.text_edit, types.TextEdit) and i.text_edit.range == word for i in items[1:])
    assert [i.sort_text for i in items] == sorted(i.sort_text or "" for i in items)  # the editor keeps our order
    scored = [i for i in items[1:] if i.detail and "log p" in i.detail]
    logps = [float(i.detail.rsplit("log p ", 1)[1].rstrip(")")) for i in scored if i.detail]
    assert scored and logps == sorted(logps, reverse=True)  # best first, by the model


async def test_incremental_edits_leave_the_server_with_the_clients_text(client: LanguageClient) -> None:
    uri = "file:///work/edits.py"
    text = "x = 1\r\ny = 2\n"
    open_document(client, uri, text)
    edits = [  # (old, new): each replaces the first occurrence of `old`, sent as a range in UTF-16 units
        ("1", '"😀 漢字"'),        # an astral emoji and CJK on line 0
        ("字", "字🎉"),             # after the emoji: its two UTF-16 units count
        ("\r\ny", "\r\n# 注释\ny"),  # a new line inside the CRLF region
        ("2\n", "2\nz = y\n"),      # at the end of the file
        ("🎉", ""),                 # a deletion of a surrogate pair
        ("y = 2", "y = 2\x0c"),     # a form feed: no line break in LSP (str.splitlines breaks there)
        ("z = y", "z = y  # \u2028"),  # nor is U+2028
        ("z = y", "z = x"),         # an edit on the line after the form feed
        ("\u2028", "\u2028 ok"),     # and one after U+2028 on its line
    ]
    for version, (old, new) in enumerate(edits, start=2):
        start = text.index(old)
        change = types.TextDocumentContentChangePartial(
            range=types.Range(position(text, start), position(text, start + len(old))), text=new)
        client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version), content_changes=[change]))
        text = text[:start] + new + text[start + len(old) :]
    assert text == 'x = "😀 漢字"\r\n# 注释\ny = 2\x0c\nz = x  # \u2028 ok\n'
    assert await server_text(client, uri) == text


async def test_positions_after_emoji_and_cjk_are_utf16_units(client: LanguageClient, memorised_completer: Completer) -> None:
    uri = "file:///work/wide.py"
    line = '    tag = "😀漢字🎉"; message = "hello, " + '
    text = DOCUMENT[: DOCUMENT.index("    message")] + line + DOCUMENT[CURSOR:]
    cursor = text.index(line) + len(line)
    expected = memorised_completer.complete(CompletionRequest(text, cursor, max_tokens=32)).suggestions[0].text
    assert expected  # the same model, in this process, at the same code-point cursor
    open_document(client, uri, text)
    pos = types.Position(line=1, character=len(line) + 2)  # two astral characters: two units more each
    assert position(text, cursor) == pos
    result = await inline(client, uri, pos)
    assert result is not None and [i.insert_text for i in result.items] == [expected]
    assert result.items[0].range == types.Range(pos, pos)

    # jedi's names after `tag.st`, where counting code points instead would land after `tag.star`
    text2 = 'tag = "😀漢字🎉"; tag.startswith("x")\n'
    open_document(client, "file:///work/wide2.py", text2)
    at = text2.index("st") + 2
    listed = await client.text_document_completion_async(completion_params("file:///work/wide2.py", position(text2, at)))
    assert isinstance(listed, types.CompletionList)
    names = {i.label: i for i in listed.items}
    assert {"startswith", "strip"} <= set(names)
    word_start = to_position(text2, at - 2)
    assert word_start == (0, text2.index("st") + 2)  # two surrogate pairs before the word
    edit = names["strip"].text_edit
    assert isinstance(edit, types.TextEdit) and edit.range == types.Range(types.Position(*word_start), position(text2, at))


async def test_failures_answer_empty_and_the_server_keeps_answering(client: LanguageClient) -> None:
    past_end = types.Position(line=999, character=0)
    assert await inline(client, URI, past_end) is None
    assert await client.text_document_completion_async(completion_params(URI, past_end)) is None
    assert await inline(client, "file:///work/never-opened.py", types.Position(line=0, character=0)) is None
    inside_pair = types.Position(line=0, character=len('tag = "') + 1)  # between the halves of 😀
    assert await inline(client, "file:///work/wide2.py", inside_pair) is None
    logged = "\n".join(m.message for m in client.log_messages)
    assert "line 999 is past the end of the document" in logged
    assert "file:///work/never-opened.py is not open" in logged
    assert "falls inside '😀'" in logged
    result = await inline(client, URI, position(DOCUMENT, CURSOR))  # still answering
    assert result is not None and result.items[0].insert_text == REST
    assert (await stats(client))["requests"]["failed"] == 4


async def test_a_newer_request_for_the_same_document_supersedes_one_waiting_out_its_debounce(client: LanguageClient) -> None:
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings={"forecode": {"debounceMs": 1000}}))
    pos = position(DOCUMENT, CURSOR)
    older = asyncio.ensure_future(inline(client, URI, pos, invoked=False))
    newer = asyncio.ensure_future(inline(client, URI, pos, invoked=False))
    first, second = await older, await newer
    assert first is None  # dropped when its debounce ended: the newer one had taken its place
    assert second is not None and second.items[0].insert_text == REST
    assert (await stats(client))["requests"]["cancelled: superseded"] == 1
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings={"forecode": {"debounceMs": 0}}))


async def test_cancel_request_ends_an_in_flight_request(client: LanguageClient) -> None:
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings={"forecode": {"debounceMs": 10_000}}))
    params = inline_params(URI, position(DOCUMENT, CURSOR), invoked=False)
    pending = asyncio.wrap_future(client.protocol.send_request(types.TEXT_DOCUMENT_INLINE_COMPLETION, params, msg_id="slow-1"))
    # The request waits out its ten-second debounce on the server; cancel it there.
    client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id="slow-1"))
    with pytest.raises(JsonRpcRequestCancelled):
        await pending
    assert (await stats(client))["requests"]["cancelled: client cancelled"] == 1
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings={"forecode": {"debounceMs": 0}}))
    result = await inline(client, URI, position(DOCUMENT, CURSOR), invoked=False)
    assert result is not None and result.items[0].insert_text == REST


async def test_configuration_changes_apply_and_bad_ones_change_nothing(client: LanguageClient) -> None:
    pos = position(DOCUMENT, CURSOR)
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings={"forecode": {"maxTokens": 1}}))
    result = await inline(client, URI, pos)
    assert result is not None and len(result.items[0].insert_text) >= 1
    assert REST.startswith(str(result.items[0].insert_text))
    assert (await stats(client))["settings"]["maxTokens"] == 1

    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings={"forecode": {"maxTokens": "many"}}))
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings={"forecode": {"maxTokens": 32, "frobnicate": 1}}))
    assert (await stats(client))["settings"]["maxTokens"] == 1  # both refused whole
    shown = "\n".join(m.message for m in client.messages)
    assert "setting 'maxTokens' must be a whole number, not 'many'; the previous settings stay" in shown
    assert "unknown setting 'frobnicate'" in shown

    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(
        settings={"forecode": {"maxTokens": 32, "languages": {"markdown": False}}}))
    open_document(client, "file:///work/notes.md", DOCUMENT, language="markdown")
    assert await inline(client, "file:///work/notes.md", pos) is None
    assert await client.text_document_completion_async(completion_params("file:///work/notes.md", pos)) is None
    result = await inline(client, URI, position(DOCUMENT, CURSOR))
    assert result is not None and result.items[0].insert_text == REST


async def test_a_new_model_loads_on_next_use_and_one_that_fails_keeps_the_old(
        client: LanguageClient, memorised_checkpoint: Path, tmp_path: Path) -> None:
    copy = shutil.copytree(memorised_checkpoint, tmp_path / "copy")
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings={"forecode": {"model": str(copy)}}))
    result = await inline(client, URI, position(DOCUMENT, CURSOR))
    assert result is not None and result.items[0].insert_text == REST
    assert (await stats(client))["engine"]["model"] == str(copy)

    broken = tmp_path / "broken"
    broken.mkdir()  # it exists, so the setting is taken; loading it fails
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings={"forecode": {"model": str(broken)}}))
    result = await inline(client, URI, position(DOCUMENT, CURSOR))  # answered by the engine still loaded
    assert result is not None and [i.insert_text for i in result.items] == [REST]
    after = await stats(client)
    assert after["engine"]["model"] == after["settings"]["model"] == str(copy)
    assert f"cannot load the builtin engine from {broken}" in "\n".join(m.message for m in client.messages)
    assert f"keeping the builtin engine from {copy}" in "\n".join(m.message for m in client.messages)


async def test_shutdown_and_exit_end_the_server(client: LanguageClient) -> None:
    await client.shutdown_session()
    assert client._server is not None and client._server.returncode == 0
