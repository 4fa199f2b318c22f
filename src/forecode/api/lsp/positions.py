"""LSP positions <-> code-point offsets: the one place the language server converts units.

An LSP position is (line, character), both 0-based; `character` counts code units of the
negotiated encoding (UTF-16 unless client and server agreed on another: "utf-8", "utf-32").
Python strings, the completer and jedi count code points. Lines end at "\\r\\n", "\\r" or
"\\n", as the LSP specification says, and the line break is no part of the line.

- A `character` past the end of its line means the end of the line (the specification's rule).
- A line past the last one is refused: `line 12 is past the end of the document (10 lines)`.
- A position inside a character (between the two halves of a surrogate pair, inside a UTF-8
  sequence) is refused too: no editor sends one, and guessing a side would move the cursor.
"""

from __future__ import annotations

import re
from typing import Literal

from forecode.errors import InputError

Unit = Literal["utf-16", "utf-8", "utf-32"]  # LSP's PositionEncodingKind values
UNITS: tuple[Unit, ...] = ("utf-16", "utf-8", "utf-32")

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def units_of(char: str, unit: Unit) -> int:
    """Code units of one code point."""
    cp = ord(char)
    if unit == "utf-16":
        return 2 if cp > 0xFFFF else 1
    if unit == "utf-8":
        return 1 if cp < 0x80 else 2 if cp < 0x800 else 3 if cp < 0x10000 else 4
    return 1


def length_in(text: str, unit: Unit) -> int:
    """Length of `text` in code units."""
    if unit == "utf-32":
        return len(text)
    return sum(units_of(c, unit) for c in text)


def _lines(text: str) -> list[tuple[int, int]]:
    """(start, end) code-point offsets of each line's content, line breaks excluded."""
    spans, start = [], 0
    for m in _LINE_BREAK.finditer(text):
        spans.append((start, m.start()))
        start = m.end()
    spans.append((start, len(text)))
    return spans


def to_offset(text: str, line: int, character: int, unit: Unit = "utf-16") -> int:
    """Code-point offset in `text` of the LSP position (`line`, `character` in `unit`s)."""
    if line < 0 or character < 0:
        raise InputError(f"position ({line}, {character}) is negative")
    lines = _lines(text)
    if line >= len(lines):
        raise InputError(f"line {line} is past the end of the document ({len(lines)} lines, 0..{len(lines) - 1})")
    start, end = lines[line]
    units = 0
    for offset in range(start, end):
        if units == character:
            return offset
        units += units_of(text[offset], unit)
        if units > character:
            raise InputError(
                f"character {character} on line {line} falls inside {text[offset]!r} "
                f"({unit} units {units - units_of(text[offset], unit)}..{units})"
            )
    return end  # at or past the end of the line


def to_position(text: str, offset: int, unit: Unit = "utf-16") -> tuple[int, int]:
    """The LSP position (line, character in `unit`s) of code-point `offset` in `text`.

    An offset between the "\\r" and "\\n" of a line break is the end of that line."""
    if not 0 <= offset <= len(text):
        raise InputError(f"offset {offset} is outside the document (0..{len(text)})")
    lines = _lines(text)
    for line, (start, end) in enumerate(lines):
        next_start = lines[line + 1][0] if line + 1 < len(lines) else len(text) + 1
        if offset < next_start:  # on this line, or inside its line break
            return line, length_in(text[start : min(offset, end)], unit)
    raise AssertionError("unreachable: the last line runs to the end of the text")
