"""The byte-level BPE: lossless on any text, special tokens only by id, newlines as their own tokens."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forecode.errors import InputError
from forecode.tokenizer import SPECIAL_TOKENS, CodeTokenizer, train_tokenizer

TEXT = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=200)
FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

EXPLICIT = [
    "",
    "x",
    "👍",
    "👩‍👩‍👧‍👦 family",  # ZWJ sequence
    "🇫🇷🇯🇵 flags",  # regional-indicator pairs
    "👋🏽 skin tone",
    "def 函数(参数):\n    return '漢字かなカナ한국어'\n",
    "e\u0301 n\u0303 a\u0308\u0304",  # combining marks
    "line one\r\nline two\r\n",
    "\tindented\n\t\tdouble\n",
    "\r",
    "\n\n\n",
    "  \n \t \n",
    "x = '<|endoftext|>'\n",
    "<|endoftext|>",
    "<|fim_prefix|>a<|fim_suffix|>b<|fim_middle|>c<|file_sep|>",
    "\x00\x01\x7f\u2028\u2029\ufeff",
    "\U0010ffff\ue000",
]


@pytest.mark.parametrize("text", EXPLICIT)
def test_round_trip_explicit(tiny_tokenizer: CodeTokenizer, text: str) -> None:
    assert tiny_tokenizer.decode(tiny_tokenizer.encode(text)) == text


@FAST
@given(text=TEXT)
def test_round_trip_any_text(tiny_tokenizer: CodeTokenizer, text: str) -> None:
    ids = tiny_tokenizer.encode(text)
    assert tiny_tokenizer.decode(ids) == text
    assert not set(ids) & tiny_tokenizer.special.all()


@pytest.mark.parametrize("name", SPECIAL_TOKENS)
def test_special_token_text_is_ordinary_text(tiny_tokenizer: CodeTokenizer, name: str) -> None:
    text = f"s = '{name}'\n{name}"
    ids = tiny_tokenizer.encode(text)
    assert not set(ids) & tiny_tokenizer.special.all(), f"{name!r} in text became a special token id"
    assert tiny_tokenizer.decode(ids) == text
    assert tiny_tokenizer.encode_batch([text]) == [ids]


def test_special_tokens_decode_by_name(tiny_tokenizer: CodeTokenizer) -> None:
    sp = tiny_tokenizer.special
    ids = [sp.fim_prefix, *tiny_tokenizer.encode("a"), sp.eot]
    assert tiny_tokenizer.decode(ids) == "<|fim_prefix|>a<|endoftext|>"


@pytest.mark.parametrize(("text", "index"), [("\ud800", 0), ("abc\udfff", 3), ("é👍\udc00x", 2)])
def test_lone_surrogate_is_an_input_error_naming_the_index(tiny_tokenizer: CodeTokenizer, text: str, index: int) -> None:
    with pytest.raises(InputError, match=rf"index {index}\b"):
        tiny_tokenizer.encode(text)
    with pytest.raises(InputError, match=rf"index {index}\b"):
        tiny_tokenizer.encode_batch(["fine", text])


def test_special_token_ids_are_0_to_4_in_order(tiny_tokenizer: CodeTokenizer) -> None:
    sp = tiny_tokenizer.special
    assert (sp.eot, sp.fim_prefix, sp.fim_suffix, sp.fim_middle, sp.file_sep) == (0, 1, 2, 3, 4)
    assert [tiny_tokenizer.token_bytes[i].decode() for i in range(5)] == list(SPECIAL_TOKENS)


def test_vocab_size_and_save_load(tiny_tokenizer: CodeTokenizer, tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert 500 <= tiny_tokenizer.vocab_size <= 600
    path = tmp_path / "tok.json"
    tiny_tokenizer.save(path)
    again = CodeTokenizer.from_file(path)
    assert again.fingerprint == tiny_tokenizer.fingerprint
    text = "def f(x):\n    return '<|endoftext|>'\n"
    assert again.encode(text) == tiny_tokenizer.encode(text)


def test_missing_tokenizer_file_is_an_input_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InputError, match="does not exist"):
        CodeTokenizer.from_file(tmp_path / "nope.json")


# -- pre-tokenization --------------------------------------------------------------------------


def test_newline_and_indentation_are_pieces_of_their_own(tiny_tokenizer: CodeTokenizer) -> None:
    pieces = tiny_tokenizer.pieces("def f():\n    return 1\n\tpass\r\n        x = 2\n")
    assert pieces[:4] == ["def", " f", "():", "\n"]
    assert pieces[4:6] == ["    ", "return"]
    assert "\t" in pieces and "\r\n" in pieces and "        " in pieces
    for p in pieces:
        if "\n" in p:
            assert p in ("\n", "\r\n"), f"newline merged into piece {p!r}"


def test_blank_lines_are_separate_newlines(tiny_tokenizer: CodeTokenizer) -> None:
    assert tiny_tokenizer.pieces("a\n\n\n  b") == ["a", "\n", "\n", "\n", "  ", "b"]


def test_text_ending_at_a_line_start_ends_on_a_newline_token(tiny_tokenizer: CodeTokenizer) -> None:
    """A prompt cut at a bare newline ends on a boundary the model saw in training."""
    full = tiny_tokenizer.encode("if x:\n    return y\n")
    cut = tiny_tokenizer.encode("if x:\n")
    assert full[: len(cut)] == cut
    assert tiny_tokenizer.token_bytes[cut[-1]] == b"\n"


def test_no_vocabulary_token_mixes_newline_with_other_characters(tiny_tokenizer: CodeTokenizer) -> None:
    with_newline = [b for b in tiny_tokenizer.token_bytes if b"\n" in b]
    assert b"\n" in with_newline
    assert set(with_newline) <= {b"\n", b"\r\n"}, with_newline


def test_indented_code_tokenizer_learns_indent_tokens_without_newlines() -> None:
    """Trained on heavily indented code, the merges still never join a newline to its indentation."""
    code = "".join(f"class C{i}:\n    def m(self):\n        if x:\n            return {i}\r\n\n" for i in range(200))
    tok = train_tokenizer([code] * 5, vocab_size=400)
    vocab = tok.token_bytes
    assert b"        " in vocab or b"    " in vocab  # indentation did get merged ...
    assert {b for b in vocab if b"\n" in b} <= {b"\n", b"\r\n"}  # ... but never with a newline


PYTHON_LIKE = st.lists(
    st.one_of(
        st.sampled_from(["\n", "\r\n", "    ", "\t", " ", "  ", "def", " x", "(", "):", "=", "#", "'", "\"\"\"", "0", "é", "中"]),
        st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=5),
    ),
    max_size=60,
).map("".join)


@FAST
@given(text=PYTHON_LIKE)
def test_every_token_with_a_newline_is_just_the_newline(tiny_tokenizer: CodeTokenizer, text: str) -> None:
    ids = tiny_tokenizer.encode(text)
    for i in ids:
        b = tiny_tokenizer.token_bytes[i]
        if b"\n" in b:
            assert b in (b"\n", b"\r\n"), (text, b)
    assert tiny_tokenizer.decode(ids) == text


@FAST
@given(text=PYTHON_LIKE)
def test_indentation_at_line_start_is_its_own_piece(tiny_tokenizer: CodeTokenizer, text: str) -> None:
    pieces = tiny_tokenizer.pieces(text)
    assert "".join(pieces) == text
    at_line_start = True
    for p in pieces:
        if at_line_start and p[:1] in (" ", "\t"):
            assert re.fullmatch(r"[ \t]+", p), f"indentation merged into {p!r}"
        at_line_start = p.endswith("\n")
