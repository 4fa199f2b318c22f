"""`forecode lsp --tcp`: listens on loopback and answers a client that connects."""

from __future__ import annotations

import asyncio
import socket
import subprocess
from pathlib import Path

import pytest
from lsp_fixtures import CAPABILITIES, CURSOR, DOCUMENT, REST, inline_params, open_document, position, server_command
from lsprotocol import types
from pytest_lsp.client import make_test_lsp_client


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.asyncio
async def test_tcp_mode_answers_initialize_and_completes(memorised_checkpoint: Path) -> None:
    port = free_port()
    server = subprocess.Popen(server_command(memorised_checkpoint, "--tcp", "--host", "127.0.0.1", "--port", str(port)),
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        client = make_test_lsp_client()
        while True:  # until it listens (or dies); a refused connection never reaches it
            assert server.poll() is None, server.communicate()[1].decode()
            try:
                await client.start_tcp("127.0.0.1", port)
                break
            except ConnectionRefusedError:
                await asyncio.sleep(0.1)
        result = await client.initialize_session(types.InitializeParams(capabilities=CAPABILITIES))
        assert result.server_info is not None and result.server_info.name == "forecode"
        assert result.capabilities.inline_completion_provider is not None
        open_document(client, "file:///work/greet.py", DOCUMENT)
        answer = await client.text_document_inline_completion_async(inline_params("file:///work/greet.py", position(DOCUMENT, CURSOR)))
        assert isinstance(answer, types.InlineCompletionList) and answer.items[0].insert_text == REST
        await client.shutdown_async(None)
        client.exit(None)
        assert server.wait(timeout=60) == 0
        await client.stop()
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    assert server.stdout is not None and server.stdout.read() == b""  # nothing on stdout in TCP mode either
