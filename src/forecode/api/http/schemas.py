"""The JSON bodies the routes take, and reading one from a request: size, content type,
UTF-8, JSON, then the fields. Each refusal names what was wrong."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from starlette.requests import ClientDisconnect

from forecode.api.http.errors import ApiError
from forecode.api.http.settings import MAX_N, MAX_STOPS, MAX_TOKENS
from forecode.api.options import ContextSource, PostProcess
from forecode.completer import DEFAULT_CANDIDATES, MAX_CANDIDATES
from forecode.postprocess.candidate import SecretsPolicy, SecurityPolicy

M = TypeVar("M", bound=BaseModel)


class Body(BaseModel):
    # strict: "5" is no number and 1 is no boolean; forbid: a misspelt field is an error, not ignored
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def _stops(value: Any) -> Any:
    stops = [value] if isinstance(value, str) else value
    if isinstance(stops, list):
        if len(stops) > MAX_STOPS:
            raise ValueError(f"at most {MAX_STOPS} stop sequences, not {len(stops)}")
        if any(s == "" for s in stops):
            raise ValueError("stop sequences must not be empty strings")
    return stops


class StreamOptions(Body):
    include_usage: bool = False


class OpenAICompletionBody(Body):
    """OpenAI's `POST /v1/completions`; the fields it has that forecode cannot honour are
    accepted only at their neutral values."""

    prompt: str | list[str]
    model: str | None = None
    suffix: str | None = None
    max_tokens: int = Field(16, ge=1, le=MAX_TOKENS)
    temperature: float = Field(0.0, ge=0, le=2)  # OpenAI's default is 1; greedy suits code
    top_p: float = Field(1.0, gt=0, le=1)
    n: int = Field(1, ge=1, le=MAX_N)
    stop: list[str] | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    logprobs: int | None = Field(None, ge=0, le=5)
    seed: int | None = None
    echo: bool = False
    best_of: int | None = Field(None, ge=1, le=MAX_N)
    presence_penalty: float = Field(0.0, ge=-2, le=2)
    frequency_penalty: float = Field(0.0, ge=-2, le=2)
    logit_bias: dict[str, float] | None = None
    user: str | None = None

    @field_validator("stop", mode="before")
    @classmethod
    def _stop(cls, value: Any) -> Any:
        return _stops(value)

    @field_validator("prompt", mode="after")
    @classmethod
    def _one_prompt(cls, value: str | list[str]) -> str | list[str]:
        if isinstance(value, list) and len(value) != 1:
            raise ValueError(f"takes one prompt per request, not a list of {len(value)}")
        return value

    def refusals(self) -> tuple[str, str] | None:
        """(param, why) for a field set to something forecode does not do."""
        if self.echo:
            return "echo", "echo is not supported"
        if self.best_of is not None and self.best_of != self.n:
            return "best_of", f"best_of must equal n ({self.n}) or be left out; forecode ranks all n it generates"
        if self.presence_penalty or self.frequency_penalty:
            return ("presence_penalty" if self.presence_penalty else "frequency_penalty"), "penalties are not supported"
        if self.logit_bias:
            return "logit_bias", "logit_bias is not supported"
        if self.stream and self.logprobs is not None:
            return "logprobs", "logprobs are not streamed; ask without stream for them"
        return None

    @property
    def prompt_text(self) -> str:
        return self.prompt if isinstance(self.prompt, str) else self.prompt[0]


class Position(Body):
    line: int = Field(ge=0)  # 0-based
    character: int = Field(ge=0)  # 0-based, in code points (Python string indices)


class CodeCompletionBody(Body):
    """`POST /v1/code/completions`: a document and a cursor, as an editor has them."""

    text: str | None = None  # the document; None: read `path` from disk (inside the roots)
    cursor: int | None = Field(None, ge=0)  # code-point offset into the text
    position: Position | None = None  # or line and character
    path: str | None = None
    language: str | None = None
    workspace_root: str | None = None
    # where the prompt's repository context comes from, with a workspace_root; None: all of
    # them; []: none (retrieval off)
    context_sources: list[ContextSource] | None = None
    document_id: str | None = None  # requests with the same id supersede each other
    max_tokens: int = Field(64, ge=1, le=MAX_TOKENS)
    n: int = Field(1, ge=1, le=MAX_N)
    temperature: float = Field(0.0, ge=0, le=2)
    top_p: float = Field(1.0, gt=0, le=1)
    seed: int | None = None
    stop: list[str] = Field(default_factory=list)
    postprocess: PostProcess = "pipeline"  # the model's text as it is, filtered, or k candidates ranked
    candidates: int = Field(DEFAULT_CANDIDATES, ge=1, le=MAX_CANDIDATES)  # k, for "ranked"
    secrets: SecretsPolicy = "mask"  # a credential-like suggestion is masked or dropped
    security: SecurityPolicy = "report"  # security findings are reported, or such suggestions dropped
    debug: bool = False

    @field_validator("stop", mode="before")
    @classmethod
    def _stop(cls, value: Any) -> Any:
        return _stops(value)


async def read_body(request: Request, model: type[M], max_bytes: int) -> M:
    """The request's JSON body as `model`, or an ApiError that says what is wrong with it."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/json":
        raise ApiError(415, f"the body must be JSON (Content-Type: application/json), not {kind or 'unspecified'}",
                       "unsupported_media_type")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise ApiError(413, f"the body is {declared} bytes; the limit is {max_bytes}", "request_too_large")
    data = bytearray()
    try:
        async for chunk in request.stream():
            data.extend(chunk)
            if len(data) > max_bytes:
                raise ApiError(413, f"the body is over the limit of {max_bytes} bytes", "request_too_large")
    except ClientDisconnect:
        raise ApiError(499, "the client disconnected while sending the body", "disconnected") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(400, f"the body is not valid UTF-8 (byte {data[exc.start]:#04x} at offset {exc.start})") from None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ApiError(400, f"the body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    if not isinstance(obj, dict):
        raise ApiError(400, f"the body must be a JSON object, not {type(obj).__name__}")
    try:
        return model.model_validate(obj)
    except ValidationError as exc:
        raise validation_error(exc) from None


def validation_error(exc: ValidationError) -> ApiError:
    """The first problem pydantic found, with the field it is in and the value that was given."""
    first = exc.errors(include_url=False)[0]
    loc = [str(p) for p in first["loc"] if not _is_union_member(p)]
    param = ".".join(loc) or None
    if first["type"] == "extra_forbidden":
        return ApiError(400, f"unknown field {param!r}", param=param)
    if first["type"] == "missing":
        return ApiError(400, f"{param} is required", param=param)
    message = first["msg"].removeprefix("Value error, ")
    given = first.get("input")
    shown = json.dumps(given, ensure_ascii=False)[:80] if _jsonable(given) else type(given).__name__
    return ApiError(400, f"{param}: {message} (got {shown})", param=param)


def _is_union_member(part: object) -> bool:
    """pydantic names the union member it tried (`str`, `list[str]`) in the error location."""
    return isinstance(part, str) and (part in ("str", "int", "float", "bool") or "[" in part)


def _jsonable(value: object) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True
