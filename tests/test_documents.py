"""Reading source files and turning FILE:LINE:COL into a code-point offset."""

from __future__ import annotations

from pathlib import Path

import pytest

from forecode import documents
from forecode.documents import decode_source, offset_of, parse_position, read_source
from forecode.errors import InputError

TEXT = "s = '😀'\nname = '中文' + x\n"


@pytest.mark.parametrize(
    ("line", "col", "char"),
    [(1, 1, "s"), (1, 6, "😀"), (1, 7, "'"), (2, 9, "中"), (2, 10, "文"), (2, 15, "x")],
)
def test_columns_count_characters_with_emoji_and_cjk(line: int, col: int, char: str) -> None:
    assert TEXT[offset_of(TEXT, line, col)] == char


def test_one_past_the_end_of_a_line_is_allowed() -> None:
    assert offset_of(TEXT, 1, 8) == TEXT.index("\n")
    assert offset_of(TEXT, 2, 16) == len(TEXT) - 1
    assert offset_of(TEXT, 3, 1) == len(TEXT)  # the empty last line after the final newline


def test_crlf_lines() -> None:
    text = "ab\r\ncd\r\nef"
    assert offset_of(text, 2, 1) == text.index("c")
    assert offset_of(text, 3, 2) == text.index("f")
    assert offset_of(text, 1, 3) == text.index("\r")  # end of line 1, before "\r\n"
    with pytest.raises(InputError, match="column 4 is outside line 1, which has 2 characters"):
        offset_of(text, 1, 4)


@pytest.mark.parametrize(("line", "col", "numbers"), [(0, 1, ("0", "1..3")), (4, 1, ("4", "1..3")), (9, 9, ("9", "3"))])
def test_line_out_of_range_names_the_numbers(line: int, col: int, numbers: tuple[str, ...]) -> None:
    with pytest.raises(InputError) as exc:
        offset_of(TEXT, line, col)
    assert f"line {line}" in str(exc.value)
    assert all(n in str(exc.value) for n in numbers)


@pytest.mark.parametrize("col", [0, 9, 100])
def test_column_out_of_range_names_the_numbers(col: int) -> None:
    with pytest.raises(InputError) as exc:
        offset_of(TEXT, 1, col)
    message = str(exc.value)
    assert f"column {col}" in message and "7 characters" in message and "1..8" in message


def test_decode_source_accepts_utf8() -> None:
    assert decode_source(TEXT.encode(), "a.py") == TEXT


def test_decode_source_refuses_nul_bytes() -> None:
    with pytest.raises(InputError, match=r"a\.bin looks binary"):
        decode_source(b"\x7fELF\x00\x00\x01", "a.bin")


def test_decode_source_names_the_offset_of_invalid_utf8() -> None:
    with pytest.raises(InputError, match=r"latin\.py is not valid UTF-8 \(byte 0xe9 at offset 11\)"):
        decode_source("name = 'café'".encode("latin-1"), "latin.py")


def test_decode_source_refuses_documents_that_are_too_large(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(documents, "MAX_DOCUMENT_BYTES", 100)
    assert decode_source(b"x" * 100, "ok.py") == "x" * 100
    with pytest.raises(InputError, match="big.py is 101 bytes; the limit is 100"):
        decode_source(b"x" * 101, "big.py")


def test_read_source_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        read_source(tmp_path / "missing.py")
    with pytest.raises(InputError, match="is not a file"):
        read_source(tmp_path)
    (tmp_path / "ok.py").write_bytes(TEXT.encode())
    assert read_source(tmp_path / "ok.py") == TEXT


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("src/app.py:12:5", (Path("src/app.py"), 12, 5)),
        ("C:/work/app.py:3:1", (Path("C:/work/app.py"), 3, 1)),
        ("odd:name:file.py:7:20", (Path("odd:name:file.py"), 7, 20)),
    ],
)
def test_parse_position_with_colons_in_the_path(spec: str, expected: tuple[Path, int, int]) -> None:
    assert parse_position(spec) == expected


@pytest.mark.parametrize("spec", ["app.py", "app.py:12", "app.py:x:5", "app.py:3:-1", "app.py:3:", "3:4"])
def test_parse_position_refuses_other_syntax(spec: str) -> None:
    with pytest.raises(InputError, match="is not FILE:LINE:COL"):
        parse_position(spec)


def test_byte_order_mark_is_no_column() -> None:
    text = decode_source(b"\xef\xbb\xbfx = 1\n", "bom.py")
    assert text == "x = 1\n"
    assert text[offset_of(text, 1, 5)] == "1"
