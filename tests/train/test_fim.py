"""The FIM transform of one document: character-level cuts, PSM/SPM layouts, chunking at line ends."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forecode.tokenizer import CodeTokenizer
from forecode.train.fim import chunk_text, split_points, transform_document

DOC = 'def greet(名前):\n    """Say hi 👋🏽."""\n    return f"hi {名前}"\n\nclass C:\n    pass\n'


def _parts(ids: list[int], tok: CodeTokenizer) -> tuple[str, str, str]:
    """(prefix, middle, suffix) of one PSM example ending in end-of-text."""
    sp = tok.special
    assert ids[0] == sp.fim_prefix and ids[-1] == sp.eot
    assert ids.count(sp.fim_suffix) == ids.count(sp.fim_middle) == 1
    s, m = ids.index(sp.fim_suffix), ids.index(sp.fim_middle)
    assert 1 <= s < m
    return tok.decode(ids[1:s]), tok.decode(ids[m + 1 : -1]), tok.decode(ids[s + 1 : m])


def test_split_points_are_uniform_over_characters() -> None:
    rng = random.Random(0)
    seen = set()
    for _ in range(2000):
        a, b = split_points(5, rng)
        assert 0 <= a <= b <= 5
        seen.update((a, b))
    assert seen == set(range(6))


@pytest.mark.parametrize("seed", range(20))
def test_psm_example_decodes_to_the_document(tiny_tokenizer: CodeTokenizer, seed: int) -> None:
    ids = transform_document(DOC, tiny_tokenizer, random.Random(seed), fim_rate=1.0, spm_rate=0.0, max_chars=10_000)
    prefix, middle, suffix = _parts(ids, tiny_tokenizer)
    assert prefix + middle + suffix == DOC


@pytest.mark.parametrize("seed", range(20))
def test_spm_example_decodes_to_the_document(tiny_tokenizer: CodeTokenizer, seed: int) -> None:
    sp = tiny_tokenizer.special
    rng = random.Random(seed)
    ids = transform_document(DOC, tiny_tokenizer, rng, fim_rate=1.0, spm_rate=1.0, max_chars=10_000)
    assert ids[:2] == [sp.fim_prefix, sp.fim_suffix] and ids[-1] == sp.eot
    m = ids.index(sp.fim_middle)
    suffix = tiny_tokenizer.decode(ids[2:m])
    prefix_and_middle = tiny_tokenizer.decode(ids[m + 1 : -1])
    assert prefix_and_middle + suffix == DOC
    # The cut is where the same rng puts it: the prefix ids come first, unmerged with the middle's.
    rng = random.Random(seed)
    rng.random()
    a, b = split_points(len(DOC), rng)
    assert suffix == DOC[b:]
    assert ids[m + 1 : m + 1 + len(tiny_tokenizer.encode(DOC[:a]))] == tiny_tokenizer.encode(DOC[:a])


def test_fim_rate_zero_gives_plain_text_and_end_of_text(tiny_tokenizer: CodeTokenizer) -> None:
    ids = transform_document(DOC, tiny_tokenizer, random.Random(0), fim_rate=0.0, spm_rate=0.5, max_chars=10_000)
    assert ids == [*tiny_tokenizer.encode(DOC), tiny_tokenizer.special.eot]


def test_empty_document_is_just_end_of_text(tiny_tokenizer: CodeTokenizer) -> None:
    assert transform_document("", tiny_tokenizer, random.Random(0), 0.0, 0.0, 100) == [tiny_tokenizer.special.eot]


def test_long_document_is_chunked_and_each_chunk_transformed(tiny_tokenizer: CodeTokenizer) -> None:
    doc = "".join(f"x_{i} = {i}\n" for i in range(100))
    ids = transform_document(doc, tiny_tokenizer, random.Random(0), fim_rate=1.0, spm_rate=0.0, max_chars=120)
    sp = tiny_tokenizer.special
    examples, start = [], 0
    for i, t in enumerate(ids):
        if t == sp.eot:
            examples.append(ids[start : i + 1])
            start = i + 1
    assert start == len(ids)
    chunks = chunk_text(doc, 120)
    assert len(examples) == len(chunks) > 1
    for example, chunk in zip(examples, chunks):
        prefix, middle, suffix = _parts(example, tiny_tokenizer)
        assert prefix + middle + suffix == chunk


def test_chunks_end_at_line_ends() -> None:
    doc = "".join(f"line {i}: {'x' * (i % 17)}\n" for i in range(200))
    chunks = chunk_text(doc, 100)
    assert "".join(chunks) == doc
    assert all(len(c) <= 100 for c in chunks)
    assert all(c.endswith("\n") for c in chunks)


def test_short_document_is_one_chunk() -> None:
    assert chunk_text("a\nb\n", 4) == ["a\nb\n"]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(alphabet=st.sampled_from("ab \n👍中"), max_size=300), max_chars=st.integers(1, 50))
def test_chunking_is_lossless_and_bounded(text: str, max_chars: int) -> None:
    chunks = chunk_text(text, max_chars)
    assert "".join(chunks) == text
    assert all(0 < len(c) <= max_chars for c in chunks) or text == ""
    for c in chunks[:-1]:  # every cut is after a newline when the window held one
        window_had_newline = "\n" in c[1:]
        assert c.endswith("\n") or not window_had_newline
