"""`forecode lsp`: the language server, over stdio (the default) or TCP."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import BinaryIO

import click

from forecode.cli.engine_options import engine_options
from forecode.engine.loading import EngineSpec


def _protocol_stdout() -> BinaryIO:
    """The real stdout, kept for the protocol alone; file descriptor 1 and sys.stdout then point
    at stderr, so a stray print (ours, a library's, a C extension's) lands in the log instead
    of corrupting the JSON-RPC stream."""
    sys.stdout.flush()
    channel = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return channel


@click.command()
@click.option("--tcp", is_flag=True, help="Serve one client over TCP instead of stdio.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on, with --tcp.")
@click.option("--port", type=click.IntRange(min=1, max=65535), default=2087, show_default=True, help="Port, with --tcp.")
@engine_options()
@click.option("--index-cache", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Folder for the workspace indexes (one folder per root inside it; default: ~/.cache/forecode/index/).")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]), default="info", show_default=True,
              help="What goes to stderr.")
def lsp(tcp: bool, host: str, port: int, engine: EngineSpec, index_cache: Path | None, log_level: str) -> None:
    """Run the language server: inline completions and ranked completion items for any editor.

    Editors can change the settings through initializationOptions and
    workspace/didChangeConfiguration (see docs/EDITORS.md). The workspace folders the editor
    names are indexed for repository context (setting `index`)."""
    from forecode.api.lsp.server import build_server
    from forecode.api.lsp.settings import Settings, apply_changes
    from forecode.context.workspaces import Workspaces

    # Checked before anything starts: a bad option is a CLI error (exit 2), not a log line.
    o = engine.options
    settings = apply_changes(Settings(), {"backend": engine.backend, "model": engine.model, "threads": o.threads,
                                          "fimTemplate": o.template, "contextLength": o.context_length,
                                          "modelName": o.model_name, "tokenizer": o.tokenizer})
    logging.basicConfig(stream=sys.stderr, level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("pygls").setLevel(max(logging.WARNING, logging.getLogger().level))  # it logs every message at info

    server = build_server(settings, workspaces=Workspaces(index_cache))  # the editor's folders, indexed off its thread
    if tcp:
        logging.getLogger("forecode.lsp").info("listening on %s:%d", host, port)
        server.start_tcp(host, port)
    else:
        server.start_io(sys.stdin.buffer, _protocol_stdout())
