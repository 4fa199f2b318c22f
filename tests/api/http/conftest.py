"""Real uvicorn servers on free loopback ports, in threads of the test process, over the
memorised tiny model: `server` (one per test), `start_server` (other settings, another
service) and `module_service` for a server shared by a module's many small cases."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from engine.tiny_models import memorised_model
from http_fixtures import Running, StartServer, running

from forecode.api.http.settings import ServerSettings
from forecode.api.service import CompletionService
from forecode.completer import Completer
from forecode.engine.builtin import BuiltinEngine
from forecode.tokenizer import CodeTokenizer


@pytest.fixture
def start_server(service: CompletionService, tmp_path: Path) -> Iterator[StartServer]:
    with ExitStack() as stack:

        def start(using: CompletionService | None = None, **overrides: object) -> Running:
            """A server over `using` (default: the memorised model's service) with `overrides`
            of the settings."""
            options: dict[str, object] = {"model_name": "memorised", "roots": (tmp_path,)} | overrides
            return stack.enter_context(running(using or service, ServerSettings(**options)))  # type: ignore[arg-type]

        yield start


@pytest.fixture
def server(start_server: StartServer) -> Running:
    return start_server()


@pytest.fixture(scope="module")
def module_service(tiny_tokenizer_path: Path, tiny_tokenizer: CodeTokenizer) -> CompletionService:
    return CompletionService(Completer(BuiltinEngine(memorised_model(tiny_tokenizer_path), tiny_tokenizer)))
