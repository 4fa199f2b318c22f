"""The bridge from an LSP request (an asyncio task) to the service's ticket, in process: cancelling
the task cancels the ticket, so a request waiting for the engine never runs, and a newer
request supersedes an older one."""

from __future__ import annotations

import asyncio
import threading

import pytest
from engine.tiny_models import document_at
from lsp_fixtures import CURSOR

from forecode.api.lsp.server import ForecodeServer, Loaded
from forecode.api.lsp.settings import Settings
from forecode.api.lsp.suggestions import line_suggestion
from forecode.api.service import Ticket
from forecode.completer import Completer

DOC, REST = document_at(CURSOR)


def suggest(loaded: Loaded, ticket: Ticket) -> str:
    suggestion = line_suggestion(loaded.service, ticket, DOC, CURSOR, None, "python", Settings(max_tokens=32))
    return suggestion.text if suggestion is not None else ""


@pytest.mark.asyncio
async def test_cancelling_the_request_cancels_its_ticket_while_it_waits_for_the_engine(memorised_completer: Completer) -> None:
    server = ForecodeServer(Settings(), load=lambda settings, workspaces: memorised_completer)
    loaded = server.engine(server.settings)
    release = threading.Event()
    busy = threading.Thread(target=loaded.service.run, args=(release.wait, loaded.service.ticket()))
    busy.start()  # another request holds the engine
    try:
        task = asyncio.ensure_future(server.answer("inline", "file:///a.py", 0, suggest, None))
        while loaded.service.waiting == 0:  # until the request is queued behind the busy one
            await asyncio.sleep(0.01)
        task.cancel()  # what pygls does on $/cancelRequest
        with pytest.raises(asyncio.CancelledError):
            await task
    finally:
        release.set()
        busy.join()
    server.executor.shutdown(wait=True)  # the worker notices the cancelled ticket and gives up
    assert loaded.service.stats.cancelled == {"client cancelled": 1}
    assert loaded.service.stats.completed == 0  # it never generated
    assert server.counts["cancelled: client cancelled"] == 1


@pytest.mark.asyncio
async def test_a_newer_request_supersedes_an_older_one_still_in_its_debounce(memorised_completer: Completer) -> None:
    server = ForecodeServer(Settings(), load=lambda settings, workspaces: memorised_completer)
    server.engine(server.settings)
    older = asyncio.ensure_future(server.answer("inline", "file:///a.py", 200, suggest, None))
    await asyncio.sleep(0)  # the older one takes its ticket and starts its wait
    newer = asyncio.ensure_future(server.answer("inline", "file:///a.py", 200, suggest, None))
    other = asyncio.ensure_future(server.answer("completion", "file:///a.py", 200, suggest, None))
    assert await older is None
    assert await newer == REST
    assert await other == REST  # another kind of request for the document is not superseded
    assert server.counts["cancelled: superseded"] == 1
    server.shutdown()


@pytest.mark.asyncio
async def test_a_failure_inside_the_work_is_an_empty_answer(memorised_completer: Completer) -> None:
    server = ForecodeServer(Settings(), load=lambda settings, workspaces: memorised_completer)

    def broken(loaded: Loaded, ticket: Ticket) -> str:
        raise RuntimeError("a bug in a handler")

    assert await server.answer("inline", "file:///a.py", 0, broken, "empty") == "empty"
    assert await server.answer("inline", "file:///a.py", 0, suggest, "empty") == REST  # and it goes on
    assert server.counts["failed"] == 1
    server.shutdown()
