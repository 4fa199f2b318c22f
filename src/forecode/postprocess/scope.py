"""Where a suggestion ends: the rest of the line, one statement, or a block body.

A first version by indentation and brackets, for Python; later issues refine it per language.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

_OPEN, _CLOSE = "([{", ")]}"


class Mode(enum.Enum):
    LINE = "line"  # cursor inside a line: complete the rest of that line
    STATEMENT = "statement"  # cursor on an empty line: one statement (a block if it opens one)
    BLOCK = "block"  # cursor just after a block opener: the block's body


@dataclass(frozen=True)
class Scope:
    mode: Mode
    indent: int  # for BLOCK: the opener's indentation; the body ends at a line indented no deeper


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def detect_scope(prefix: str, suffix: str) -> Scope:
    """The scope a completion at the end of `prefix` should fill."""
    line_before = prefix[prefix.rfind("\n") + 1 :]
    line_after = suffix.split("\n", 1)[0]
    if line_before.strip() or line_after.strip():
        return Scope(Mode.LINE, 0)
    previous = [ln for ln in prefix[: len(prefix) - len(line_before)].split("\n") if ln.strip()]
    if previous:
        opener = previous[-1]
        code = opener.split("#", 1)[0].rstrip()
        if code.endswith(":"):
            return Scope(Mode.BLOCK, _indent(opener))
    return Scope(Mode.STATEMENT, 0)


def _bracket_depth(text: str, depth: int = 0) -> int:
    """Brackets still open after `text`, given `depth` open before it."""
    for ch in text:
        if ch in _OPEN:
            depth += 1
        elif ch in _CLOSE:
            depth = max(0, depth - 1)
    return depth


def cut_to_scope(text: str, scope: Scope, line_prefix: str = "") -> tuple[str, bool]:
    """Cut generated `text` to `scope`. Returns (the part within scope, whether it is complete,
    i.e. generation can stop). `line_prefix` is what the cursor's line holds before the cursor."""
    if scope.mode is Mode.LINE:
        end = text.find("\n")
        return (text, False) if end < 0 else (text[:end], True)
    lines = text.split("\n")
    if scope.mode is Mode.STATEMENT:
        depth = 0
        for i, line in enumerate(lines[:-1]):
            depth = _bracket_depth(line, depth)  # an approximation: brackets inside strings count too
            full = (line_prefix + line) if i == 0 else line
            if depth > 0 or full.rstrip().endswith("\\"):
                continue
            if full.split("#", 1)[0].rstrip().endswith(":"):  # it opened a block: take the body
                opener_indent = _indent(line_prefix + lines[0])  # not a continuation line's
                body, done = cut_to_scope("\n".join(lines[i + 1 :]), Scope(Mode.BLOCK, opener_indent))
                return "\n".join(lines[: i + 1]) + "\n" + body, done
            return "\n".join(lines[: i + 1]), True
        return text, False
    # BLOCK: every line until one that is indented no deeper than the opener.
    for i, line in enumerate(lines[1:], start=1):
        if line.strip() and _indent(line) <= scope.indent:
            return "\n".join(lines[:i]).rstrip("\n"), True
    return text, False
