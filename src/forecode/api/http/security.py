"""The safe defaults: loopback unless a token is set, bearer tokens, and the workspace allow-list."""

from __future__ import annotations

import hmac
import ipaddress
import os
from collections.abc import Mapping
from pathlib import Path

from starlette.types import ASGIApp, Receive, Scope, Send

from forecode.api.http.errors import ApiError, error_response
from forecode.api.http.metrics import Metrics
from forecode.api.http.settings import TOKEN_ENV
from forecode.errors import InputError

MIN_TOKEN_CHARS = 16


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve anywhere


def check_bind(host: str, token: str | None) -> None:
    """Refuse to listen beyond this machine without an access token."""
    if token is None and not is_loopback(host):
        raise InputError(
            f"refusing to bind {host}, which is not a loopback address, without an access token; "
            f"set {TOKEN_ENV} or pass --token-file FILE (or bind 127.0.0.1)"
        )


def load_token(token_file: Path | None, environ: Mapping[str, str] = os.environ) -> str | None:
    """The access token from --token-file, else from FORECODE_TOKEN; None when neither is set."""
    if token_file is not None:
        try:
            token = token_file.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read the token file {token_file}: {exc}") from None
        source = str(token_file)
    else:
        token = environ.get(TOKEN_ENV, "").strip()
        if not token:
            return None
        source = TOKEN_ENV
    if len(token) < MIN_TOKEN_CHARS or any(c.isspace() for c in token):
        raise InputError(f"the token in {source} must be at least {MIN_TOKEN_CHARS} characters with no spaces")
    return token


def bearer_ok(authorization: str | None, token: str) -> bool:
    if authorization is None:
        return False
    scheme, _, given = authorization.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def inside_roots(path: str, roots: tuple[Path, ...], param: str, base: Path | None = None) -> Path:
    """`path` (relative to `base` when it is relative) resolved, with `..` and symlinks
    followed; a 403 unless the result lies inside one of `roots`."""
    resolved = resolve_inside(path, roots, base)
    if resolved is None:
        raise ApiError(403, f"{param} {path!r} is outside the workspace roots this server allows",
                       "permission_error", param)
    return resolved


def resolve_inside(path: str, roots: tuple[Path, ...], base: Path | None = None) -> Path | None:
    """`inside_roots` without the refusal: None for a path outside `roots` (or relative to nothing)."""
    p = Path(path)
    if base is not None and not p.is_absolute():
        p = base / p
    if not p.is_absolute():
        return None  # relative to what? never to the server's own directory
    try:
        resolved = p.resolve()
    except (OSError, RuntimeError, ValueError):  # a symlink loop, a NUL byte
        return None
    return resolved if any(resolved.is_relative_to(root) for root in roots) else None


class BearerAuth:
    """Every route but /health needs `Authorization: Bearer <token>`; a pure ASGI middleware,
    so it answers before the body is read."""

    OPEN = frozenset({"/health"})

    def __init__(self, app: ASGIApp, token: str, metrics: Metrics) -> None:
        self.app, self.token, self.metrics = app, token, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] not in self.OPEN:
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
            authorization = headers.get("authorization")
            if not bearer_ok(authorization, self.token):
                why = "missing" if authorization is None else "wrong"
                refusal = ApiError(401, f"the access token is {why}: send Authorization: Bearer <token>",
                                   "authentication_error", headers={"WWW-Authenticate": "Bearer"})
                await error_response(self.metrics, refusal)(scope, receive, send)
                return
        await self.app(scope, receive, send)
