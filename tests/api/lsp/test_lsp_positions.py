"""LSP positions <-> code-point offsets: UTF-16 units, emoji, CJK, surrogate pairs, CRLF, clamping."""

from __future__ import annotations

import pytest

from forecode.api.lsp.positions import UNITS, Unit, length_in, to_offset, to_position
from forecode.errors import InputError

TEXT = 'a = "😀漢字"\r\nb = 1\rc\n\n'  # an astral emoji, two CJK characters, CRLF, a lone CR


def test_utf16_counts_the_emoji_as_two_units_and_cjk_as_one() -> None:
    after_emoji = TEXT.index("漢")
    assert to_offset(TEXT, 0, 5) == TEXT.index("😀")
    assert to_offset(TEXT, 0, 7) == after_emoji  # 5 + 2 units for the surrogate pair
    assert to_offset(TEXT, 0, 9) == after_emoji + 2  # after 漢字: one unit each
    assert to_position(TEXT, after_emoji) == (0, 7)
    assert to_position(TEXT, after_emoji + 2) == (0, 9)


@pytest.mark.parametrize("unit, end_of_first_line", [("utf-16", 10), ("utf-8", 4 + 1 + 4 + 3 + 3 + 1), ("utf-32", 9)])
def test_each_unit_counts_the_same_line_its_own_way(unit: Unit, end_of_first_line: int) -> None:
    u = unit
    assert to_position(TEXT, TEXT.index("\r\n"), u) == (0, end_of_first_line)
    assert to_offset(TEXT, 0, end_of_first_line, u) == TEXT.index("\r\n")
    assert length_in('a = "😀漢字"', u) == end_of_first_line


def test_crlf_and_lone_cr_end_lines_and_belong_to_no_line() -> None:
    assert to_offset(TEXT, 1, 0) == TEXT.index("b = 1")
    assert to_offset(TEXT, 2, 0) == TEXT.index("c\n")  # after a lone \r
    assert to_offset(TEXT, 3, 0) == len(TEXT) - 1  # the empty line
    assert to_offset(TEXT, 4, 0) == len(TEXT)  # after the last line break
    # Between \r and \n is the end of the first line.
    assert to_position(TEXT, TEXT.index("\n")) == (0, 10)


def test_a_character_past_the_end_of_its_line_is_the_end_of_the_line() -> None:
    assert to_offset(TEXT, 0, 500) == TEXT.index("\r\n")  # not into the next line
    assert to_offset(TEXT, 4, 3) == len(TEXT)


def test_positions_that_do_not_exist_are_refused_with_the_values() -> None:
    with pytest.raises(InputError, match=r"line 5 is past the end of the document \(5 lines, 0..4\)"):
        to_offset(TEXT, 5, 0)
    with pytest.raises(InputError, match="character 6 on line 0 falls inside '😀'"):
        to_offset(TEXT, 0, 6)  # between the two halves of the surrogate pair
    with pytest.raises(InputError, match="falls inside"):
        to_offset(TEXT, 0, 6, "utf-8")  # inside the emoji's four bytes
    with pytest.raises(InputError, match="negative"):
        to_offset(TEXT, -1, 0)
    with pytest.raises(InputError, match=r"offset 99 is outside the document"):
        to_position(TEXT, 99)


@pytest.mark.parametrize("unit", UNITS)
def test_round_trip_at_every_character_boundary(unit: Unit) -> None:
    text = "x😀y\r\n漢🎉字\n\n𝔘\rend"
    for offset in range(len(text) + 1):
        line, character = to_position(text, offset, unit)
        back = to_offset(text, line, character, unit)
        inside_break = text[offset - 1 : offset + 1] == "\r\n"
        assert back == (offset - 1 if inside_break else offset), (offset, line, character)


def test_the_empty_document_has_one_empty_line() -> None:
    assert to_offset("", 0, 0) == 0 and to_offset("", 0, 4) == 0
    assert to_position("", 0) == (0, 0)
    with pytest.raises(InputError):
        to_offset("", 1, 0)
