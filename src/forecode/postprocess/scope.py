"""Where a suggestion ends, by the cursor's context and by indentation.

The decision (`detect_scope`):
- inside a line (code before or after the cursor on its line): the rest of the line;
- at the end of a block opener (`if x:|`) whose body is not written yet: the block body;
- on an empty line after a block opener: the block body;
- on an empty line elsewhere: one statement (a block if it opens one);
- at the start of a non-empty line (only blanks before the cursor, code after it): code inserted
  before that line. It runs until it rejoins the suffix (writes the line after the cursor again);
  one that never rejoins keeps its first statement only. This lets a multi-line gap be filled
  without letting a wandering model run on.

Cutting (`cut_to_scope`) is by indentation and by brackets opened within the suggestion; the
filter `truncate_at_scope` applies both to a `Candidate`. Python's rules; brace languages end
their scopes by brackets (postprocess/brackets.py).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from forecode.postprocess.candidate import Candidate, indent_of
from forecode.postprocess.suffix_overlap import rejoin_line

NAME = "scope"
_OPEN, _CLOSE = "([{", ")]}"


class Mode(enum.Enum):
    LINE = "line"  # cursor inside a line: complete the rest of that line
    STATEMENT = "statement"  # cursor on an empty line: one statement (a block if it opens one)
    BLOCK = "block"  # cursor just after a block opener: the block's body
    INSERT = "insert"  # cursor at the start of a non-empty line: lines inserted before it


@dataclass(frozen=True)
class Scope:
    mode: Mode
    indent: int  # BLOCK: the opener's indentation, the body ends at a line no deeper; INSERT: the cursor line's


_indent = indent_of


def _opens_block(line: str) -> bool:
    return line.split("#", 1)[0].rstrip().endswith(":")


def detect_scope(prefix: str, suffix: str) -> Scope:
    """The scope a completion at the end of `prefix` should fill."""
    line_before = prefix[prefix.rfind("\n") + 1 :]
    line_after = suffix.split("\n", 1)[0]
    if line_before.strip():
        if not line_after.strip() and _opens_block(line_before):
            following = [ln for ln in suffix.split("\n")[1:] if ln.strip()]
            if not following or _indent(following[0]) <= _indent(line_before):
                return Scope(Mode.BLOCK, _indent(line_before))  # `if x:|` with no body yet
        return Scope(Mode.LINE, 0)
    if line_after.strip():
        return Scope(Mode.INSERT, _indent(line_before + line_after))
    previous = [ln for ln in prefix[: len(prefix) - len(line_before)].split("\n") if ln.strip()]
    if previous and _opens_block(previous[-1]):
        return Scope(Mode.BLOCK, _indent(previous[-1]))
    return Scope(Mode.STATEMENT, 0)


def _bracket_depth(text: str, depth: int = 0) -> int:
    """Brackets still open after `text`, given `depth` open before it."""
    for ch in text:
        if ch in _OPEN:
            depth += 1
        elif ch in _CLOSE:
            depth = max(0, depth - 1)
    return depth


def _first_statement(text: str, line_prefix: str) -> tuple[str, bool]:
    lines = text.split("\n")
    depth = 0
    for i, line in enumerate(lines[:-1]):
        depth = _bracket_depth(line, depth)  # an approximation: brackets inside strings count too
        full = (line_prefix + line) if i == 0 else line
        if depth > 0 or full.rstrip().endswith("\\"):
            continue
        if _opens_block(full):  # it opened a block: take the body
            opener_indent = _indent(line_prefix + lines[0])  # not a continuation line's
            body, done = cut_to_scope("\n".join(lines[i + 1 :]), Scope(Mode.BLOCK, opener_indent))
            return "\n".join(lines[: i + 1]) + "\n" + body, done
        return "\n".join(lines[: i + 1]), True
    return text, False


def cut_to_scope(text: str, scope: Scope, line_prefix: str = "", suffix: str = "") -> tuple[str, bool]:
    """Cut generated `text` to `scope`. Returns (the part within scope, whether it is complete,
    i.e. generation can stop). `line_prefix` is what the cursor's line holds before the cursor;
    `suffix` what follows the cursor (for INSERT, which ends where the suffix is written again)."""
    if scope.mode is Mode.LINE:
        end = text.find("\n")
        return (text, False) if end < 0 else (text[:end], True)
    lines = text.split("\n")
    if scope.mode is Mode.STATEMENT:
        return _first_statement(text, line_prefix)
    if scope.mode is Mode.INSERT:
        # Lines at the cursor line's depth or deeper, until one that writes the suffix again.
        rejoin = rejoin_line(text, suffix, line_prefix, complete_only=True)
        if rejoin is not None:
            return "\n".join(lines[:rejoin]).rstrip("\n"), True
        return _cut_at_dedent(text, scope.indent)
    # BLOCK: every line until one that is indented no deeper than the opener.
    for i, line in enumerate(lines[1:], start=1):
        if line.strip() and _indent(line) <= scope.indent:
            return "\n".join(lines[:i]).rstrip("\n"), True
    return text, False


def _cut_at_dedent(text: str, indent: int) -> tuple[str, bool]:
    """`text` up to its first line (after the first) indented less than `indent`."""
    lines = text.split("\n")
    for i, line in enumerate(lines[1:-1], start=1):
        if line.strip() and _indent(line) < indent:
            return "\n".join(lines[:i]).rstrip("\n"), True
    return text, False


def truncate_at_scope(c: Candidate) -> Candidate:
    """The filter: cut the candidate to the scope its cursor calls for."""
    ctx = c.context
    scope = detect_scope(ctx.prefix, ctx.suffix)
    if scope.mode is not Mode.INSERT:
        text, _ = cut_to_scope(c.text, scope, ctx.line_prefix, ctx.suffix)
        return c.changed(NAME, text.rstrip(), f"{scope.mode.value} scope")
    text, _ = _cut_at_dedent(c.text + "\n", scope.indent)
    rejoin = rejoin_line(text, ctx.suffix, ctx.line_prefix)
    if rejoin is not None:
        text = "\n".join(text.split("\n")[:rejoin])
        note = f"insert scope: cut at line {rejoin + 1}, where it rejoins the suffix"
    else:  # it never came back to the code after the cursor: keep one statement
        text, _ = _first_statement(text + "\n", ctx.line_prefix)
        note = "insert scope: one statement (it never rejoins the suffix)"
    return c.changed(NAME, text.rstrip(), note)
