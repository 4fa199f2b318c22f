"""Syntax check with tree-sitter: a suggestion must not add parse errors to the code around it.

The file may already be broken (the user is typing), so the check compares two parses of the
window around the cursor (`around_cursor`): prefix + suffix alone, and prefix + suggestion +
suffix, counting ERROR and MISSING nodes. A suggestion that adds errors is cut back to its longest
prefix that adds none: at a line end first, then at a token end within the next line; failing
both it is emptied (and the trivial filter drops it).

Cost: the window is at most 2 x WINDOW_LINES lines, and every parse after the first is
incremental (the base tree is edited at the cursor and reparsed), so a check is a few ms however
big the file. Grammars come from the per-language wheels (tree-sitter-python,
tree-sitter-javascript); a language without one is not checked.
"""

from __future__ import annotations

import functools
import importlib
import re
from dataclasses import dataclass
from typing import Any

from forecode.postprocess.candidate import Candidate, around_cursor

NAME = "syntax"
GRAMMARS = {"python": "tree_sitter_python", "javascript": "tree_sitter_javascript", "javascriptreact": "tree_sitter_javascript"}
MAX_PARSES = 48  # parses one cut-back may spend
_TOKEN = re.compile(r"\w+|\s+|.", re.DOTALL)


@functools.cache
def _parser(language: str) -> Any | None:
    """A tree-sitter parser for `language`, or None when its grammar is not installed."""
    module = GRAMMARS.get(language)
    if module is None:
        return None
    try:
        import tree_sitter

        grammar = importlib.import_module(module)
        return tree_sitter.Parser(tree_sitter.Language(grammar.language()))
    except ImportError:
        return None


def count_errors(node: Any) -> int:
    """ERROR and MISSING nodes under `node` (only subtrees that hold errors are walked)."""
    if node.is_error or node.is_missing:
        return 1 + sum(count_errors(child) for child in node.children)
    if not node.has_error:
        return 0
    return sum(count_errors(child) for child in node.children)


def _point_after(start: tuple[int, int], data: bytes) -> tuple[int, int]:
    """The (row, byte column) reached by writing `data` at `start`."""
    rows = data.count(b"\n")
    if rows == 0:
        return start[0], start[1] + len(data)
    return start[0] + rows, len(data) - data.rfind(b"\n") - 1


@dataclass
class SyntaxCheck:
    """Parses of one cursor's window: the base (prefix + suffix), and insertions at the cursor."""

    parser: Any
    before: bytes
    after: bytes
    base: Any
    base_errors: int
    parses: int = 1

    @classmethod
    def at(cls, prefix: str, suffix: str, language: str) -> SyntaxCheck | None:
        parser = _parser(language)
        if parser is None:
            return None
        before, after = around_cursor(prefix, suffix)
        b, a = before.encode("utf-8", "surrogatepass"), after.encode("utf-8", "surrogatepass")
        tree = parser.parse(b + a)
        return cls(parser, b, a, tree, count_errors(tree.root_node))

    def errors_with(self, text: str) -> int:
        """Parse errors in the window with `text` inserted at the cursor (incrementally)."""
        self.parses += 1
        data = text.encode("utf-8", "surrogatepass")
        at = len(self.before)
        start = _point_after((0, 0), self.before)
        tree = self.base.copy()
        tree.edit(start_byte=at, old_end_byte=at, new_end_byte=at + len(data), start_point=start,
                  old_end_point=start, new_end_point=_point_after(start, data))
        new = self.parser.parse(self.before + data + self.after, tree)
        return count_errors(new.root_node)

    def adds_errors(self, text: str) -> bool:
        return self.errors_with(text) > self.base_errors


def errors_added(prefix: str, text: str, suffix: str, language: str) -> int | None:
    """How many parse errors `text` adds at the cursor (None: no grammar for the language)."""
    check = SyntaxCheck.at(prefix, suffix, language)
    return None if check is None else max(0, check.errors_with(text) - check.base_errors)


def longest_clean_prefix(text: str, check: SyntaxCheck) -> str:
    """The longest prefix of `text` that adds no errors: whole lines, longest first; when not even
    its first line is clean, the longest token end within that line. `text` itself adds errors."""
    lines = text.split("\n")
    for n in range(len(lines) - 1, 0, -1):
        if check.parses >= MAX_PARSES:
            return ""
        head = "\n".join(lines[:n]).rstrip()
        if head.strip() and not check.adds_errors(head):
            return head
    ends = [m.end() for m in _TOKEN.finditer(lines[0]) if not m.group().isspace()]
    for end in reversed(ends[:-1] if len(lines) == 1 else ends):
        if check.parses >= MAX_PARSES:
            break
        head = lines[0][:end]
        if head.strip() and not check.adds_errors(head):
            return head
    return ""


def check_syntax(c: Candidate) -> Candidate:
    if not c.text.strip():
        return c
    check = SyntaxCheck.at(c.context.prefix, c.context.suffix, c.context.language)
    if check is None or not check.adds_errors(c.text):
        return c
    kept = longest_clean_prefix(c.text, check)
    added = check.errors_with(c.text) - check.base_errors
    return c.changed(NAME, kept, f"cut back to add no parse errors (the whole suggestion added {added})")
