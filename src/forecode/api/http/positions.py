"""Cursor positions at the HTTP edge: code-point offsets, or 0-based line and character in
code points (Python string indices; the language server converts UTF-16 itself)."""

from __future__ import annotations

from forecode.errors import InputError


def offset_of(text: str, line: int, character: int) -> int:
    lines = text.split("\n")
    if not 0 <= line < len(lines):
        raise InputError(f"position.line {line} is outside the document (lines 0..{len(lines) - 1})")
    if not 0 <= character <= len(lines[line]):
        raise InputError(f"position.character {character} is outside line {line}, "
                         f"which has {len(lines[line])} characters (0..{len(lines[line])})")
    return sum(len(ln) + 1 for ln in lines[:line]) + character


def line_character(text: str, offset: int) -> dict[str, int]:
    """The offset, with its 0-based line and character."""
    line = text.count("\n", 0, offset)
    return {"offset": offset, "line": line, "character": offset - (text.rfind("\n", 0, offset) + 1)}
