from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from forecode.engine.builtin import BuiltinEngine
from forecode.tokenizer import CodeTokenizer

from .tiny_models import memorised_model, random_model


@pytest.fixture(autouse=True)
def one_torch_thread() -> Iterator[None]:
    """Tiny models run fastest on one thread, and far faster than two threads on busy cores."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def random_engine(tiny_tokenizer_path: Path, tiny_tokenizer: CodeTokenizer) -> BuiltinEngine:
    return BuiltinEngine(random_model(tiny_tokenizer_path), tiny_tokenizer)


@pytest.fixture
def memorised_engine(tiny_tokenizer_path: Path, tiny_tokenizer: CodeTokenizer) -> BuiltinEngine:
    return BuiltinEngine(memorised_model(tiny_tokenizer_path), tiny_tokenizer)
