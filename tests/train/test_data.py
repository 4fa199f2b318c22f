"""Packing: consecutive windows of block_size + 1, FIM per window, a deterministic stream, exact resume."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from forecode.errors import InputError
from forecode.tokenizer import CodeTokenizer
from forecode.train.data import FimSettings, Packer, PackerState, load_documents

DOCS = [f"def f_{i}(x):\n    return x * {i}\n" * (1 + i % 4) for i in range(12)]
FIM = FimSettings(fim_rate=0.5, spm_rate=0.5)


def _packer(tok: CodeTokenizer, seed: int = 7, state: PackerState | None = None, block: int = 16) -> Packer:
    return Packer(DOCS, tok, block, FIM, seed, state=state)


def test_windows_are_consecutive_and_fim_arranged(tiny_tokenizer: CodeTokenizer) -> None:
    sp = tiny_tokenizer.special
    packer = _packer(tiny_tokenizer)
    batches = [packer.next_batch(3) for _ in range(5)]
    assert all(b.shape == (3, 17) and b.dtype == np.int64 for b in batches)
    windows = [w for b in batches for w in b]
    assert sum(int((w == sp.fim_middle).sum()) for w in windows) > 0
    assert packer.state.windows == 15
    for w in windows:  # a FIM example never crosses a window's edge
        ids = [int(t) for t in w]
        for piece in " ".join(str(t) for t in ids).split(f" {sp.eot} "):
            marks = [t for t in map(int, piece.split()) if t in (sp.fim_prefix, sp.fim_suffix, sp.fim_middle)]
            assert marks in ([], [sp.fim_prefix, sp.fim_suffix, sp.fim_middle])


def test_plain_stream_is_the_documents_back_to_back(tiny_tokenizer: CodeTokenizer) -> None:
    packer = Packer(DOCS, tiny_tokenizer, 16, FimSettings(fim_rate=0.0), seed=0, shuffle=False)
    windows = [packer.next_batch(1)[0] for _ in range(20)]
    stream = [int(t) for w in windows for t in w]
    expected = [t for d in DOCS for t in (*tiny_tokenizer.encode(d), tiny_tokenizer.special.eot)]
    assert stream == expected[: len(stream)]


def test_stream_is_a_function_of_the_seed(tiny_tokenizer: CodeTokenizer) -> None:
    a = _packer(tiny_tokenizer, seed=1).next_batch(40)
    b = _packer(tiny_tokenizer, seed=1).next_batch(40)
    c = _packer(tiny_tokenizer, seed=2).next_batch(40)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_batch_size_does_not_change_the_stream(tiny_tokenizer: CodeTokenizer) -> None:
    p = _packer(tiny_tokenizer)
    many = np.concatenate([p.next_batch(2), p.next_batch(3)])
    q = _packer(tiny_tokenizer)
    singles = np.stack([q.next_batch(1)[0] for _ in range(5)])
    assert np.array_equal(many, singles)


def test_state_round_trip_continues_the_identical_stream(tiny_tokenizer: CodeTokenizer) -> None:
    reference = _packer(tiny_tokenizer)
    for _ in range(12):  # past the end of the first epoch (12 short documents)
        reference.next_batch(4)
    assert reference.state.epoch >= 1
    saved = json.loads(json.dumps(reference.state.to_dict()))  # as state.pt / JSON would hold it
    expected = [reference.next_batch(4) for _ in range(6)]
    resumed = _packer(tiny_tokenizer, state=PackerState.from_dict(saved))
    got = [resumed.next_batch(4) for _ in range(6)]
    for e, g in zip(expected, got):
        assert np.array_equal(e, g)


def test_epochs_use_different_orders(tiny_tokenizer: CodeTokenizer) -> None:
    packer = _packer(tiny_tokenizer)
    first = packer._permutation()[:]
    packer.state.epoch = 1
    assert sorted(packer._permutation()) == sorted(first) and packer._permutation() != first


def test_load_documents_split_is_stable(tiny_corpus: Path) -> None:
    train, val = load_documents(tiny_corpus, 0.5)
    train2, val2 = load_documents(tiny_corpus, 0.5)
    assert (train, val) == (train2, val2)
    assert train and len(train) + len(val) >= 4
    all_train, no_val = load_documents(tiny_corpus, 0.0)
    assert no_val == [] and sorted(all_train) == sorted(train + val)


def test_load_documents_of_missing_language(tiny_corpus: Path) -> None:
    with pytest.raises(InputError, match="no rust documents"):
        load_documents(tiny_corpus, 0.0, language="rust")
