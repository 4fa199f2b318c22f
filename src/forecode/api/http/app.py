"""The HTTP server: FastAPI routes that parse a body, call the completion service and
translate its answer. Built by `create_app(service, settings)`; `forecode serve` runs it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from forecode import __version__
from forecode.api.http.errors import ApiError, CatchAll, install_error_handlers
from forecode.api.http.metrics import Metrics, MetricsMiddleware
from forecode.api.http.positions import offset_of
from forecode.api.http.replies import code_completion, generated_tokens, openai_completion
from forecode.api.http.schemas import CodeCompletionBody, OpenAICompletionBody, read_body
from forecode.api.http.security import BearerAuth, inside_roots, resolve_inside
from forecode.api.http.settings import ServerSettings
from forecode.api.http.streaming import in_worker, stream_completion
from forecode.api.service import CompletionService, Ticket
from forecode.completer import CompletionRequest
from forecode.context.retrieval import SOURCES
from forecode.context.workspaces import Workspaces
from forecode.documents import read_source
from forecode.errors import Cancelled

CREATED = 1_700_000_000  # what /v1/models reports as the model's creation time (OpenAI's field)


def create_app(service: CompletionService, settings: ServerSettings) -> FastAPI:
    metrics = Metrics(lambda: service.waiting)
    # Threads only wait for the engine (the service runs one generation at a time), so one per
    # request the service lets queue, plus the one generating.
    executor = ThreadPoolExecutor(service.max_waiting + 1, thread_name_prefix="forecode")
    workspaces = service.completer.workspaces  # None: no repository context (`forecode serve --no-index`)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        executor.shutdown(wait=False, cancel_futures=True)

    app = FastAPI(title="forecode", version=__version__, lifespan=lifespan,
                  docs_url=None, redoc_url=None, openapi_url=None)
    install_error_handlers(app, metrics)
    app.add_middleware(CatchAll, metrics=metrics)  # innermost: a bug in one request is that request's 500
    if settings.token is not None:
        app.add_middleware(BearerAuth, token=settings.token, metrics=metrics)
    app.add_middleware(MetricsMiddleware, metrics=metrics)  # outermost: counts refusals too

    def check_length(chars: int, param: str) -> None:
        if chars > settings.max_prompt_chars:
            raise ApiError(413, f"{param} is {chars} characters; the limit is {settings.max_prompt_chars}",
                           "request_too_large", param)

    @app.get("/health")
    async def health() -> dict[str, object]:
        return {"status": "ok", "model": settings.model_name, "waiting": service.waiting}

    @app.get("/v1/models")
    async def models() -> dict[str, object]:
        return {"object": "list", "data": [{"id": settings.model_name, "object": "model",
                                            "created": CREATED, "owned_by": "forecode"}]}

    @app.get("/metrics")
    async def prometheus() -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    @app.post("/v1/completions")
    async def completions(request: Request) -> Response:
        body = await read_body(request, OpenAICompletionBody, settings.max_body_bytes)
        if (refusal := body.refusals()) is not None:
            raise ApiError(400, refusal[1], param=refusal[0])
        prompt, suffix = body.prompt_text, body.suffix or ""
        check_length(len(prompt) + len(suffix), "prompt")
        completion = CompletionRequest(
            text=prompt + suffix, cursor=len(prompt), max_tokens=body.max_tokens, temperature=body.temperature,
            top_p=body.top_p, seed=body.seed, n=body.n, stop=tuple(body.stop or ()), scope="none")
        ticket = service.ticket()
        if body.stream:
            include_usage = body.stream_options is not None and body.stream_options.include_usage
            return await stream_completion(request, service, executor, completion, ticket,
                                           settings.model_name, include_usage, metrics)
        result = await in_worker(request, executor, lambda: service.complete(completion, ticket), ticket)
        metrics.tokens.labels("/v1/completions").inc(generated_tokens(result))
        return JSONResponse(openai_completion(result, settings.model_name, len(prompt), body.logprobs))

    async def index_ready(request: Request, workspaces: Workspaces, root: Path, edited: Path | None, text: str,
                          ticket: Ticket) -> None:
        """`open_workspace` in a worker; the first request for a root waits for its index to
        open, but no longer than its deadline (504; the opening goes on for the next request)."""
        try:
            await in_worker(request, executor, lambda: open_workspace(workspaces, root, edited, text), ticket, abandon=True)
        except Cancelled as exc:
            if exc.reason != "timeout":
                raise
            raise ApiError(504, f"the workspace index of {root} was still opening when the request's deadline "
                           f"({service.timeout_s:g} s) passed; it goes on opening: retry shortly", "timeout") from None

    @app.post("/v1/code/completions")
    async def code_completions(request: Request) -> Response:
        body = await read_body(request, CodeCompletionBody, settings.max_body_bytes)
        root = None if body.workspace_root is None else inside_roots(body.workspace_root, settings.roots, "workspace_root")
        text = body.text
        if text is None:
            if body.path is None:
                raise ApiError(400, "give the document as text, or a path to read it from", param="text")
            on_disk = inside_roots(body.path, settings.roots, "path", base=root)
            text = await asyncio.to_thread(read_source, on_disk)
        check_length(len(text), "text")
        if body.position is not None and body.cursor is None:
            cursor = offset_of(text, body.position.line, body.position.character)
        elif body.cursor is not None and body.position is None:
            cursor = body.cursor
        else:
            raise ApiError(400, "give the cursor as either cursor (an offset) or position (line and character)", param="cursor")
        file = None if root is None or body.path is None else resolve_inside(body.path, (root,), base=root)
        completion = code_request(body, text, cursor, root, file)
        ticket = service.ticket(document=document_key(body, root))
        if workspaces is not None and root is not None and completion.context_sources:
            await index_ready(request, workspaces, root, file if body.text is not None else None, text, ticket)
        result = await in_worker(request, executor, lambda: service.complete(completion, ticket), ticket)
        metrics.tokens.labels("/v1/code/completions").inc(generated_tokens(result))
        return JSONResponse(code_completion(result, settings.model_name, text, cursor, body.debug))

    return app


def code_request(body: CodeCompletionBody, text: str, cursor: int, root: Path | None = None,
                 file: Path | None = None) -> CompletionRequest:
    """The completer's request for a /v1/code/completions body, its document read and its cursor
    found; `root` and `file` are the allow-listed workspace root and the body's path inside it."""
    sources = SOURCES if body.context_sources is None else tuple(body.context_sources)
    return CompletionRequest(
        text=text, cursor=cursor, path=str(file) if file is not None else body.path, language=body.language,
        max_tokens=body.max_tokens, temperature=body.temperature, top_p=body.top_p, seed=body.seed, n=body.n,
        stop=tuple(body.stop), postprocess=body.postprocess, candidates=body.candidates, secrets=body.secrets,
        security=body.security, workspace_root=None if root is None else str(root), context_sources=sources)


def open_workspace(workspaces: Workspaces, root: Path, edited: Path | None, text: str) -> None:
    """Open the index of `root` (from its cache, or built: seconds for a large repository, once
    per server) and put the request's `text` in it in place of `edited`, so the prompt never shows
    the version on disk of the file being edited. The index keeps that text as an editor's
    document (not written to the cache), as the language server does with didChange."""
    index = workspaces.get(root)
    if edited is not None:
        index.update_document(edited, text)


def document_key(body: CodeCompletionBody, root: Path | None) -> str | None:
    """What makes two requests be for the same document, so the newer supersedes the older."""
    if body.document_id is not None:
        return f"id:{body.document_id}"
    if body.path is not None:
        return f"path:{root / body.path if root is not None else body.path}"
    return None
