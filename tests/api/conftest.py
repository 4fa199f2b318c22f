"""Fixtures for the adapters: a completer over the memorised tiny model, and its checkpoint
folder on disk for servers started as subprocesses."""

from __future__ import annotations

from pathlib import Path

import pytest
from engine.tiny_models import memorised_model

from forecode.api.service import CompletionService
from forecode.completer import Completer
from forecode.engine.builtin import BuiltinEngine
from forecode.model.checkpoint import save_checkpoint
from forecode.tokenizer import CodeTokenizer


@pytest.fixture
def memorised_completer(tiny_tokenizer_path: Path, tiny_tokenizer: CodeTokenizer) -> Completer:
    return Completer(BuiltinEngine(memorised_model(tiny_tokenizer_path), tiny_tokenizer))


@pytest.fixture
def service(memorised_completer: Completer) -> CompletionService:
    return CompletionService(memorised_completer, max_waiting=8, timeout_s=10.0)  # room for every client a test starts


@pytest.fixture(scope="session")
def memorised_checkpoint(tiny_tokenizer_path: Path, tiny_tokenizer: CodeTokenizer,
                         tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A checkpoint folder of the memorised model (PSM order), for `--model`."""
    folder = tmp_path_factory.mktemp("memorised") / "ckpt"
    return save_checkpoint(folder, memorised_model(tiny_tokenizer_path), tiny_tokenizer, {})


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """tmp_path/repo: api/workspace_files.py's small repository."""
    from api.workspace_files import make_workspace

    return make_workspace(tmp_path)
