"""Errors translated once, here: every failure becomes an OpenAI-shaped JSON body,
`{"error": {"message", "type", "param", "code"}}`, with its status. No traceback reaches a
client; unexpected exceptions are logged and answered 500."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from forecode.api.http.metrics import Metrics
from forecode.errors import Cancelled, ForecodeError, InputError, Overloaded

log = logging.getLogger("forecode.http")

RETRY_AFTER_S = 1
# Cancelled.reason -> (status, error type). 499: the client closed the request (nginx's code).
CANCELLED = {"superseded": (409, "superseded"), "timeout": (504, "timeout")}
HTTP_TYPES = {401: "authentication_error", 403: "permission_error", 404: "not_found_error",
              405: "method_not_allowed", 413: "request_too_large", 415: "unsupported_media_type"}


class ApiError(Exception):
    """A request the adapter itself refuses (body, content type, fields), with its status."""

    def __init__(self, status: int, message: str, type: str = "invalid_request_error",
                 param: str | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.param, self.headers = status, message, type, param, headers


def error_body(message: str, type: str, param: str | None = None) -> dict[str, object]:
    return {"error": {"message": message, "type": type, "param": param, "code": type}}


def error_response(metrics: Metrics, error: ApiError) -> JSONResponse:
    metrics.errors.labels(error.type).inc()
    return JSONResponse(error_body(error.message, error.type, error.param), error.status, headers=error.headers)


def as_api_error(exc: Exception) -> ApiError:
    """The status and error type of any exception a request can end with."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, Cancelled):
        status, kind = CANCELLED.get(exc.reason, (499, exc.reason.replace(" ", "_")))
        return ApiError(status, str(exc), kind)
    if isinstance(exc, Overloaded):
        return ApiError(503, str(exc), "overloaded", headers={"Retry-After": str(RETRY_AFTER_S)})
    if isinstance(exc, (InputError, ForecodeError)):
        return ApiError(400, str(exc))
    if isinstance(exc, StarletteHTTPException):
        kind = HTTP_TYPES.get(exc.status_code, "invalid_request_error")
        message = {404: "no such route", 405: "method not allowed on this route"}.get(exc.status_code, str(exc.detail))
        return ApiError(exc.status_code, message, kind, headers=dict(exc.headers or {}) or None)
    if isinstance(exc, RequestValidationError):
        return ApiError(400, "invalid request: " + "; ".join(str(e.get("msg", e)) for e in exc.errors()))
    log.error("unexpected error", exc_info=exc)
    return ApiError(500, f"internal error ({type(exc).__name__}); the server log has the details", "server_error")


def install_error_handlers(app: FastAPI, metrics: Metrics) -> None:
    async def handle(request: Request, exc: Exception) -> JSONResponse:
        error = as_api_error(exc)
        if error.status == 405:
            error.message = f"method {request.method} is not allowed on {request.url.path}"
        elif error.status == 404:
            error.message = f"no route {request.method} {request.url.path}"
        return error_response(metrics, error)

    for kind in (ApiError, ForecodeError, StarletteHTTPException, RequestValidationError):
        app.add_exception_handler(kind, handle)


class CatchAll:
    """The last net: an exception no handler took is logged and answered 500 here, inside
    Starlette's own error middleware, which would re-raise it and drop the connection."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def note_start(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, note_start)
        except Exception as exc:  # noqa: BLE001 - the boundary: log it, answer it, stay up
            error = as_api_error(exc)  # logs it
            if scope["type"] == "http" and not started:
                await error_response(self.metrics, error)(scope, receive, send)
