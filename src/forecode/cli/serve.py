"""`forecode serve`: the OpenAI-compatible HTTP server, on loopback unless a token is set."""

from __future__ import annotations

import os
from pathlib import Path

import click

from forecode.api.http.settings import (DEFAULT_HOST, DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_PROMPT_CHARS, DEFAULT_PORT,
                                       TOKEN_ENV)
from forecode.api.service import DEFAULT_MAX_WAITING, DEFAULT_TIMEOUT_S
from forecode.cli.engine_options import engine_options
from forecode.engine.loading import EngineSpec
from forecode.errors import InputError


@click.command()
@click.option("--host", default=DEFAULT_HOST, show_default=True,
              help=f"Address to listen on; anything but loopback needs an access token ({TOKEN_ENV} or --token-file).")
@click.option("--port", type=click.IntRange(min=1, max=65535), default=DEFAULT_PORT, show_default=True)
@engine_options()
@click.option("--root", "roots", multiple=True, type=click.Path(path_type=Path),
              help="A workspace root requests may name (repeatable; default: the current directory).")
@click.option("--token-file", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help=f"File holding the access token (default: the {TOKEN_ENV} environment variable).")
@click.option("--max-body-bytes", type=click.IntRange(min=1024), default=DEFAULT_MAX_BODY_BYTES, show_default=True)
@click.option("--max-prompt-chars", type=click.IntRange(min=1), default=DEFAULT_MAX_PROMPT_CHARS, show_default=True,
              help="Longest prompt + suffix (or document), in characters.")
@click.option("--timeout", "timeout_s", type=click.FloatRange(min=0.1), default=DEFAULT_TIMEOUT_S, show_default=True,
              help="Seconds a request may wait and generate before it is answered 504.")
@click.option("--max-waiting", type=click.IntRange(min=1), default=DEFAULT_MAX_WAITING, show_default=True,
              help="Requests that may queue for the engine before new ones are answered 503.")
@click.option("--index-cache", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Folder for the workspace indexes (one folder per root inside it; default: ~/.cache/forecode/index/).")
@click.option("--no-index", is_flag=True, help="No workspace index: requests get no repository context.")
@click.option("--log-level", type=click.Choice(["critical", "error", "warning", "info", "debug"]), default="info", show_default=True)
def serve(host: str, port: int, engine: EngineSpec, roots: tuple[Path, ...],
          token_file: Path | None, max_body_bytes: int, max_prompt_chars: int, timeout_s: float, max_waiting: int,
          index_cache: Path | None, no_index: bool, log_level: str) -> None:
    """Serve completions over HTTP: OpenAI's /v1/completions, /v1/code/completions, /health,
    /v1/models and /metrics."""
    from forecode.api.http.security import check_bind, load_token

    token = load_token(token_file, os.environ)
    check_bind(host, token)  # before the model loads: a refusal should be quick
    for root in roots:
        if not root.is_dir():
            raise InputError(f"--root {root} is not a directory")

    import uvicorn

    from forecode.api.http.app import create_app
    from forecode.api.http.settings import ServerSettings
    from forecode.api.service import CompletionService
    from forecode.completer import Completer
    from forecode.context.workspaces import Workspaces

    settings = ServerSettings(model_name=engine.model_name, roots=roots or (Path.cwd(),), token=token,
                              max_body_bytes=max_body_bytes, max_prompt_chars=max_prompt_chars)
    # A root's index opens on the first request that names it (see docs/SERVER.md).
    workspaces = None if no_index else Workspaces(index_cache)
    service = CompletionService(Completer(engine.load(), workspaces),
                                max_waiting=max_waiting, timeout_s=timeout_s)
    click.echo(f"forecode: serving {settings.model_name} on http://{host}:{port} "
               f"(roots: {', '.join(map(str, settings.roots))}; token: {'required' if token else 'none, loopback only'}; "
               f"index: {'off' if workspaces is None else index_cache or 'default cache'})", err=True)
    try:
        uvicorn.run(create_app(service, settings), host=host, port=port, log_level=log_level, access_log=log_level == "debug")
    finally:
        if workspaces is not None:
            workspaces.close()  # writes the indexes' caches, so a restart does not rebuild them
