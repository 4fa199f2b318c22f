"""Context-level FIM: character-level cuts, PSM/SPM layouts, each example whole inside its window."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forecode.tokenizer import CodeTokenizer
from forecode.train.fim import MIN_FIM_TOKENS, fim_piece, fim_window, split_points

DOC = 'def greet(名前):\n    """Say hi 👋🏽."""\n    return f"hi {名前}"\n\nclass C:\n    pass\n'
PAD = -1


def _psm_parts(ids: list[int], tok: CodeTokenizer) -> tuple[str, str, str]:
    """(prefix, middle, suffix) of one PSM example."""
    sp = tok.special
    assert ids[0] == sp.fim_prefix
    assert ids.count(sp.fim_suffix) == ids.count(sp.fim_middle) == 1
    s, m = ids.index(sp.fim_suffix), ids.index(sp.fim_middle)
    assert 1 <= s < m
    return tok.decode(ids[1:s]), tok.decode(ids[m + 1 :]), tok.decode(ids[s + 1 : m])


def test_split_points_are_uniform_over_characters() -> None:
    rng = random.Random(0)
    seen = set()
    for _ in range(2000):
        a, b = split_points(5, rng)
        assert 0 <= a <= b <= 5
        seen.update((a, b))
    assert seen == set(range(6))


@pytest.mark.parametrize("seed", range(20))
def test_psm_piece_keeps_its_length_and_cuts_only_the_suffix_end(tiny_tokenizer: CodeTokenizer, seed: int) -> None:
    ids = tiny_tokenizer.encode(DOC)
    out = fim_piece(ids, tiny_tokenizer, random.Random(seed), fim_rate=1.0, spm_rate=0.0)
    assert len(out) == len(ids)
    prefix, middle, suffix = _psm_parts(out, tiny_tokenizer)
    rng = random.Random(seed)
    rng.random()
    a, b = split_points(len(DOC), rng)
    assert middle == DOC[a:b]
    # The far end of the suffix (then, if need be, the start of the prefix) made room.
    assert DOC[b:].startswith(suffix) and DOC[:a].endswith(prefix)
    assert prefix == DOC[:a] or suffix == ""


@pytest.mark.parametrize("seed", range(20))
def test_spm_piece_runs_the_prefix_into_the_middle(tiny_tokenizer: CodeTokenizer, seed: int) -> None:
    sp = tiny_tokenizer.special
    ids = tiny_tokenizer.encode(DOC)
    out = fim_piece(ids, tiny_tokenizer, random.Random(seed), fim_rate=1.0, spm_rate=1.0)
    assert out[:2] == [sp.fim_prefix, sp.fim_suffix] and len(out) == len(ids)
    m = out.index(sp.fim_middle)
    rng = random.Random(seed)
    rng.random()
    a, b = split_points(len(DOC), rng)
    suffix, prefix_and_middle = tiny_tokenizer.decode(out[2:m]), tiny_tokenizer.decode(out[m + 1 :])
    assert DOC[b:].startswith(suffix) and DOC[:b].endswith(prefix_and_middle)
    if prefix_and_middle == DOC[:b]:  # the cut is where the rng put it, the prefix unmerged with the middle
        assert out[m + 1 : m + 1 + len(tiny_tokenizer.encode(DOC[:a]))] == tiny_tokenizer.encode(DOC[:a])
    else:
        assert suffix == ""


def test_fim_rate_zero_and_short_pieces_stay_plain(tiny_tokenizer: CodeTokenizer) -> None:
    ids = tiny_tokenizer.encode(DOC)
    assert fim_piece(ids, tiny_tokenizer, random.Random(0), fim_rate=0.0, spm_rate=0.5) == ids
    short = ids[: MIN_FIM_TOKENS - 1]
    assert fim_piece(short, tiny_tokenizer, random.Random(0), fim_rate=1.0, spm_rate=0.0) == short


def test_piece_cut_inside_a_character_stays_plain(tiny_tokenizer: CodeTokenizer) -> None:
    ids = tiny_tokenizer.encode("x = '" + "👋" * 20 + "'\n")
    table = tiny_tokenizer.token_bytes
    # Find a cut that leaves the piece's bytes invalid UTF-8 (a byte-level token splits the emoji).
    cuts = [n for n in range(MIN_FIM_TOKENS, len(ids)) if not _is_utf8(b"".join(table[t] for t in ids[:n]))]
    assert cuts, "the tiny tokenizer spells emoji in byte tokens"
    piece = ids[: cuts[0]]
    assert fim_piece(piece, tiny_tokenizer, random.Random(0), fim_rate=1.0, spm_rate=0.0) == piece


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def test_window_arranges_each_document_on_its_own(tiny_tokenizer: CodeTokenizer) -> None:
    sp = tiny_tokenizer.special
    docs = ["def a(x, y):\n    return x + y\n", "class B:\n    x = [1, 2, 3]\n    y = {}\n", "import os\n\nprint(os.sep, os.name)\n"]
    window = [t for d in docs for t in (*tiny_tokenizer.encode(d), sp.eot)]
    arranged = 0
    for seed in range(10):
        out = fim_window(window, tiny_tokenizer, random.Random(seed), fim_rate=1.0, spm_rate=0.0, pad=PAD)
        assert len(out) == len(window)
        pieces: list[list[int]] = [[]]
        for t in (t for t in out if t != PAD):
            if t == sp.eot:
                pieces.append([])
            else:
                pieces[-1].append(t)
        assert pieces[-1] == [] and len(pieces) == 4
        for piece, doc in zip(pieces, docs):
            if piece == tiny_tokenizer.encode(doc):
                continue  # no room for the three FIM tokens: the middle was (nearly) all of it
            arranged += 1
            prefix, middle, suffix = _psm_parts(piece, tiny_tokenizer)
            assert prefix + middle + suffix in doc
    assert arranged >= 20


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    text=st.text(alphabet=st.sampled_from("ab_( )\n\t👍中=:"), max_size=400),
    start=st.integers(0, 50),
    width=st.integers(1, 120),
    seed=st.integers(0, 10_000),
)
def test_any_window_keeps_its_length_and_whole_examples(
    tiny_tokenizer: CodeTokenizer, text: str, start: int, width: int, seed: int
) -> None:
    sp = tiny_tokenizer.special
    stream = [t for doc in text.split("\n\n") for t in (*tiny_tokenizer.encode(doc), sp.eot)]
    window = stream[start : start + width]
    out = fim_window(window, tiny_tokenizer, random.Random(seed), fim_rate=0.9, spm_rate=0.3, pad=PAD)
    assert len(out) == len(window)
    assert out.count(sp.eot) == window.count(sp.eot)
    # Every FIM example is whole: a prefix token opens it, then its suffix and middle tokens follow.
    pieces = " ".join("P" if t == sp.fim_prefix else "S" if t == sp.fim_suffix else "M" if t == sp.fim_middle else "E" if t == sp.eot else "" for t in out).split("E")
    for piece in pieces:
        assert piece.split() in ([], ["P", "S", "M"])
