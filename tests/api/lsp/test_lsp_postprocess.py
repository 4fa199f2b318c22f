"""The post-processing settings (`postprocess`, `candidates`, `security`, `secrets`) through a
real LSP client: taken from initializationOptions and didChangeConfiguration, honoured, refused
with a message when wrong; security findings reach the editor in the completion item and the
log. One server for the module; the tests run in order."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from engine.tiny_models import MEMORISED
from lsp_fixtures import CURSOR, DOCUMENT, REST, completion_params, inline_params, open_document, position, start_client, stats
from lsprotocol import types
from pytest_lsp import LanguageClient

pytestmark = pytest.mark.asyncio(loop_scope="module")

# The whole memorised file, the cursor in its last word (`+ na|me`): the model writes `me`, which
# the suffix already holds; raw output keeps it, the suffix-overlap filter drops it.
REPEATS_URI = "file:///work/repeats.py"
# The memorised line inside eval(: the model writes `lo, " + name`, an eval of a non-literal.
EVAL_URI = "file:///work/evil.py"
EVAL_LINE = '    message = eval("hel'
EVAL_DOC = "def greet(name):\n" + EVAL_LINE + ")\n    return message.upper()\n"
EVAL_AT = position(EVAL_DOC, EVAL_DOC.index(EVAL_LINE) + len(EVAL_LINE))
EVAL_NOTE = "security: eval-exec (line 1): eval of something that is not a literal"


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def client(memorised_checkpoint: Path) -> AsyncIterator[LanguageClient]:
    client, _ = await start_client(memorised_checkpoint, {"forecode": {"debounceMs": 0, "maxTokens": 32, "postprocess": "raw"}})
    open_document(client, REPEATS_URI, MEMORISED)
    open_document(client, EVAL_URI, EVAL_DOC)
    yield client
    await client.shutdown_session()
    await client.stop()


def configure(client: LanguageClient, **settings: Any) -> None:
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings={"forecode": settings}))


async def inline(client: LanguageClient, uri: str, pos: types.Position) -> list[types.InlineCompletionItem]:
    result = await client.text_document_inline_completion_async(inline_params(uri, pos))
    assert isinstance(result, types.InlineCompletionList), result
    return list(result.items)


async def line_item(client: LanguageClient, uri: str, pos: types.Position) -> types.CompletionItem | None:
    result = await client.text_document_completion_async(completion_params(uri, pos))
    assert isinstance(result, types.CompletionList)
    return next((i for i in result.items if (i.detail or "").startswith("forecode: line")), None)


def logged(client: LanguageClient) -> str:
    return "\n".join(m.message for m in client.log_messages)


async def test_raw_from_initialization_options_keeps_what_the_pipeline_drops(client: LanguageClient) -> None:
    assert (await stats(client))["settings"]["postprocess"] == "raw"
    at = position(MEMORISED, CURSOR)
    [item] = await inline(client, REPEATS_URI, at)
    assert item.insert_text == "me"  # it replaces the `me` after the cursor, so accepting it writes it once
    assert item.range == types.Range(at, position(MEMORISED, CURSOR + len("me")))
    configure(client, postprocess="pipeline")
    assert await inline(client, REPEATS_URI, at) == []  # the overlap with the suffix, dropped
    assert (await stats(client))["settings"]["postprocess"] == "pipeline"


async def test_security_findings_reach_the_item_and_the_log(client: LanguageClient) -> None:
    [item] = await inline(client, EVAL_URI, EVAL_AT)
    assert item.insert_text == 'lo, " + name'
    assert f"inline at {EVAL_URI}:2: the suggestion has security findings\n{EVAL_NOTE}" in logged(client)
    line = await line_item(client, EVAL_URI, EVAL_AT)
    assert line is not None and line.detail == "forecode: line [security: eval-exec]"
    assert line.documentation == EVAL_NOTE


async def test_security_filter_drops_the_suggestion_and_says_why(client: LanguageClient) -> None:
    configure(client, security="filter")
    assert await inline(client, EVAL_URI, EVAL_AT) == []
    assert f"inline at {EVAL_URI}:2: the suggestion was dropped for security findings\n{EVAL_NOTE}" in logged(client)
    assert await line_item(client, EVAL_URI, EVAL_AT) is None
    configure(client, security="report")
    assert [i.insert_text for i in await inline(client, EVAL_URI, EVAL_AT)] == ['lo, " + name']


async def test_ranked_candidates_give_the_best_line_with_its_score(client: LanguageClient) -> None:
    configure(client, postprocess="ranked", candidates=3)
    open_document(client, "file:///work/greet.py", DOCUMENT)
    line = await line_item(client, "file:///work/greet.py", position(DOCUMENT, CURSOR))
    assert line is not None and re.fullmatch(r"forecode: line \(score -?\d+\.\d\d\)", line.detail or ""), line
    assert isinstance(line.text_edit, types.TextEdit) and line.text_edit.new_text == "na" + REST
    assert (await stats(client))["settings"]["candidates"] == 3
    configure(client, postprocess="pipeline")


@pytest.mark.parametrize("change, message", [
    ({"postprocess": "best"}, "setting 'postprocess' must be one of raw, pipeline, ranked, not 'best'"),
    ({"security": "filter", "candidates": 99}, "setting 'candidates' must be in 1..16, not 99"),
    ({"secrets": "redact"}, "setting 'secrets' must be one of mask, drop, not 'redact'"),
])
async def test_a_bad_value_is_refused_with_a_message_and_the_old_settings_stay(
        client: LanguageClient, change: dict[str, Any], message: str) -> None:
    before = (await stats(client))["settings"]
    configure(client, **change)
    assert (await stats(client))["settings"] == before
    shown = "\n".join(m.message for m in client.messages)
    assert f"workspace/didChangeConfiguration: {message}; the previous settings stay" in shown
