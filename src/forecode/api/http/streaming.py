"""Work on the engine from async routes: generation runs in a worker thread, the route polls
whether its client is still there (and cancels the ticket when not), and streamed text goes
out as OpenAI's server-sent events."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import Executor
from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import StreamingResponse

from forecode.api.http.errors import as_api_error, error_body
from forecode.api.http.metrics import Metrics
from forecode.api.http.replies import FINISH, completion_id, generated_tokens, openai_chunk, usage
from forecode.api.service import CompletionService, Ticket
from forecode.completer import CompletionRequest, CompletionResult
from forecode.errors import Cancelled

T = TypeVar("T")

DISCONNECT_POLL_S = 0.05


async def until_done_or_gone(request: Request, work: Awaitable[T], ticket: Ticket, abandon: bool = False) -> T:
    """The result of `work`; if the client disconnects meanwhile, the ticket is cancelled (the
    engine stops at its next token) and `work` ends soon after with Cancelled. With `abandon`,
    for work that cannot be stopped, the wait ends with Cancelled as soon as the ticket is
    cancelled (its deadline included), and the work goes on by itself."""
    task = asyncio.ensure_future(work)
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=DISCONNECT_POLL_S)
            if done:
                return task.result()
            if not ticket.cancelled() and await request.is_disconnected():
                ticket.cancel("disconnected")
            if abandon and ticket.cancelled():
                task.add_done_callback(lambda t: t.cancelled() or t.exception())  # its failure is nobody's now
                raise Cancelled(ticket.reason or "cancelled")
    except asyncio.CancelledError:  # the server is stopping, or the connection task was cancelled
        ticket.cancel("disconnected")
        task.cancel()
        raise


async def in_worker(request: Request, executor: Executor, work: Callable[[], T], ticket: Ticket,
                    abandon: bool = False) -> T:
    return await until_done_or_gone(request, asyncio.get_running_loop().run_in_executor(executor, work), ticket, abandon)


class DeltaStream:
    """The new text of one suggestion since the last event, holding back a tail that could be
    the start of a stop sequence (the final text may end before it)."""

    def __init__(self, stops: tuple[str, ...]) -> None:
        self.stops = stops
        self.sent = ""

    def feed(self, text: str) -> str:
        hold = max((k for s in self.stops for k in range(1, len(s)) if text.endswith(s[:k])), default=0)
        safe = text[: len(text) - hold]
        if len(safe) <= len(self.sent) or not safe.startswith(self.sent):
            return ""
        delta, self.sent = safe[len(self.sent):], safe
        return delta

    def finish(self, final: str) -> str:
        return final[len(self.sent):] if final.startswith(self.sent) else ""


def sse(obj: dict[str, Any] | str) -> str:
    return f"data: {obj if isinstance(obj, str) else json.dumps(obj, ensure_ascii=False)}\n\n"


async def stream_completion(request: Request, service: CompletionService, executor: Executor,
                            completion: CompletionRequest, ticket: Ticket, model: str,
                            include_usage: bool, metrics: Metrics) -> StreamingResponse:
    """OpenAI-style streaming: `data: {chunk}` per new piece of text, a last chunk per choice
    with its finish reason, then `data: [DONE]`. Errors before the first piece of text (a full
    queue, a deadline passed while waiting) raise, so they get their status code."""
    loop = asyncio.get_running_loop()
    events: asyncio.Queue[tuple[int, str] | None] = asyncio.Queue()

    def on_text(index: int, text: str) -> None:  # in the worker thread
        loop.call_soon_threadsafe(events.put_nowait, (index, text))

    def work() -> CompletionResult:
        return service.complete(completion, ticket, on_text)

    future = loop.run_in_executor(executor, work)
    future.add_done_callback(lambda _: events.put_nowait(None))
    first = await until_done_or_gone(request, events.get(), ticket)
    if first is None:
        future.result()  # raises what ended the work early
    cid, created = completion_id(), int(time.time())

    async def chunks() -> AsyncIterator[str]:
        deltas: dict[int, DeltaStream] = {}
        last: dict[int, str] = {}
        item = first
        try:
            while item is not None:
                index, text = item
                last[index] = text
                delta = deltas.setdefault(index, DeltaStream(completion.stop)).feed(text)
                if delta:
                    yield sse(openai_chunk(cid, created, model, index, delta, None))
                item = await events.get()
            try:
                result = future.result()
                if ticket.cancelled():
                    raise Cancelled(ticket.reason or "cancelled")
            except Exception as exc:  # noqa: BLE001 - translated into an error event, once
                error = as_api_error(exc)
                metrics.errors.labels(error.type).inc()
                yield sse(error_body(error.message, error.type, error.param))
                return
            unclaimed = list(result.suggestions)  # sorted by score; streamed in generation order
            for index in range(len(result.suggestions)):
                text = last.get(index, "")
                match = next((s for s in unclaimed if s.text == text), unclaimed[0])
                unclaimed.remove(match)
                stream = deltas.setdefault(index, DeltaStream(completion.stop))
                yield sse(openai_chunk(cid, created, model, index, stream.finish(text), FINISH[match.finish_reason]))
            metrics.tokens.labels("/v1/completions").inc(generated_tokens(result))
            if include_usage:
                yield sse({"id": cid, "object": "text_completion", "created": created, "model": model,
                           "choices": [], "usage": usage(result)})
            yield sse("[DONE]")
        finally:
            if not future.done():  # the client went away mid-stream: stop the generation
                ticket.cancel("disconnected")
                metrics.errors.labels("disconnected").inc()

    return StreamingResponse(chunks(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
