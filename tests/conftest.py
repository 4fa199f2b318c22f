"""Shared fixtures: a tiny corpus built from a few stdlib modules, and a small tokenizer trained on it."""

from __future__ import annotations

import json
import shutil
import sysconfig
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from forecode.corpus.build import BuildOptions, build_corpus
from forecode.corpus.shards import iter_records
from forecode.tokenizer import CodeTokenizer, train_tokenizer

STDLIB = Path(sysconfig.get_paths()["stdlib"])
STDLIB_FILES = ("json/__init__.py", "json/decoder.py", "json/encoder.py", "json/scanner.py", "textwrap.py", "string.py")
TINY_VOCAB = 600


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A corpus folder (shards + manifest) of six small stdlib Python files."""
    root = tmp_path_factory.mktemp("tiny_corpus")
    src = root / "src"
    for rel in STDLIB_FILES:
        dest = src / rel.replace("/", "_")
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(STDLIB / rel, dest)
    out = root / "corpus"
    summary = build_corpus(BuildOptions(out=out, folders=(src,), languages=("python",)), workers=1, progress=False)
    assert summary.files_kept >= 4, summary
    return out


@pytest.fixture(scope="session")
def tiny_tokenizer_path(tiny_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tokenizer.json of a byte-level BPE with about 600 tokens, learned from `tiny_corpus`."""
    texts = [rec["text"] for rec in iter_records(tiny_corpus)]
    tok = train_tokenizer(texts, vocab_size=TINY_VOCAB)
    path = tmp_path_factory.mktemp("tiny_tokenizer") / "tokenizer.json"
    tok.save(path)
    json.loads(path.read_text())  # a valid file, not a partial write
    return path


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_tokenizer_path: Path) -> CodeTokenizer:
    return CodeTokenizer.from_file(tiny_tokenizer_path)


@pytest.fixture(autouse=True)
def one_torch_thread() -> Iterator[None]:
    """Tiny models run fastest on one thread, and far faster than two threads on busy cores."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
