from __future__ import annotations

from pathlib import Path

import pytest

from forecode.engine.builtin import BuiltinEngine
from forecode.tokenizer import CodeTokenizer

from .tiny_models import memorised_model, random_model


@pytest.fixture
def random_engine(tiny_tokenizer_path: Path, tiny_tokenizer: CodeTokenizer) -> BuiltinEngine:
    return BuiltinEngine(random_model(tiny_tokenizer_path), tiny_tokenizer)


@pytest.fixture
def memorised_engine(tiny_tokenizer_path: Path, tiny_tokenizer: CodeTokenizer) -> BuiltinEngine:
    return BuiltinEngine(memorised_model(tiny_tokenizer_path), tiny_tokenizer)
