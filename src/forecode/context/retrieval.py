"""What retrieval hands to prompt assembly: snippets from the workspace, each saying where it
comes from and why it was chosen; and the `Retriever` seam (none, or the workspace index).

Sources, in the order prompt assembly should prefer them when the budget is short:
- "definition": the definition of a name imported or used near the cursor;
- "bm25": chunks sharing identifiers with the code around the cursor;
- "recent": chunks of documents the user recently opened or edited.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

SOURCES: tuple[str, ...] = ("definition", "bm25", "recent")
QUERY_PREFIX_LINES = 20  # the query: this many lines before the cursor ...
QUERY_SUFFIX_LINES = 5  # ... and this many after it


@dataclass(frozen=True)
class Snippet:
    path: str  # POSIX, relative to the workspace root (absolute for a document outside it)
    start_line: int  # 1-based, inclusive
    end_line: int  # 1-based, inclusive
    text: str
    score: float  # BM25 score for "bm25" and "recent"; for "definition", higher is nearer the cursor
    source: str  # one of SOURCES
    why: str  # e.g. "definition of `parse`, imported from pkg/parser.py"

    def overlaps(self, path: str, start_line: int, end_line: int) -> bool:
        return self.path == path and self.start_line <= end_line and start_line <= self.end_line


@dataclass(frozen=True)
class SnippetSelection:
    kept: list[Snippet]  # in the order prompt assembly should prefer them
    dropped: list[tuple[Snippet, str]]  # each with why it was left out


@dataclass(frozen=True)
class CursorContext:
    """The cursor as retrieval sees it: the code around it and the lines to leave out."""

    query: str  # the last QUERY_PREFIX_LINES of the prefix and first QUERY_SUFFIX_LINES of the suffix
    near: str  # the last few lines of the prefix and the rest of the cursor's line: names used here
    line: int  # 1-based line of the cursor
    window: tuple[int, int]  # 1-based inclusive lines that the prompt already holds


def cursor_context(document: str, cursor: int, window: tuple[int, int] | None = None,
                   prefix_lines: int = QUERY_PREFIX_LINES, suffix_lines: int = QUERY_SUFFIX_LINES,
                   near_lines: int = 8) -> CursorContext:
    """`window` defaults to the query's own lines."""
    prefix, suffix = document[:cursor], document[cursor:]
    line = prefix.count("\n") + 1
    before = prefix.rsplit("\n", max(prefix_lines, near_lines))  # not the whole document: this runs per keystroke
    after = suffix.split("\n", suffix_lines)
    query = "\n".join(before[-prefix_lines:]) + "\n".join(after[:suffix_lines])
    near = "\n".join(before[-near_lines:]) + after[0]
    if window is None:
        window = (max(1, line - prefix_lines + 1), line + suffix_lines - 1)
    return CursorContext(query, near, line, window)


class Retriever(Protocol):
    def snippets_at(self, document: str, cursor: int, path: str | None, k: int = 5,
                    window: tuple[int, int] | None = None,
                    sources: tuple[str, ...] = SOURCES) -> list[Snippet]:
        """Snippets for a cursor at code-point offset `cursor` in `document` (the file at
        `path`, as the editor holds it), leaving out what overlaps `window` (1-based lines of
        `path` that the prompt already holds); at most `k` from "bm25"."""
        ...


class NoRetriever:
    """Retrieval switched off: no snippets."""

    def snippets_at(self, document: str, cursor: int, path: str | None, k: int = 5,
                    window: tuple[int, int] | None = None,
                    sources: tuple[str, ...] = SOURCES) -> list[Snippet]:
        return []
