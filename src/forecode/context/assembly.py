"""Prompt assembly with repository context: one token budget shared, by priority, between the
prefix (nearest lines first), the suffix, and snippets retrieved from the workspace.

- The window of prefix and suffix is first cut to the whole budget, as without retrieval; its
  line span is what retrieval leaves out (snippets overlapping it would make the model repeat
  text already in the prompt; llama.vim).
- Snippets then take at most SNIPPET_SHARE of the budget, and never so much that the prefix
  keeps less than PREFIX_FLOOR_SHARE of it (or less than all of itself, when shorter), nor that
  the suffix loses what the whole-budget window gave it. They are taken in retrieval's order
  (definitions, BM25, recent) while they fit; one that does not fit is left out ("budget").
- The window is cut again to what the snippets leave. With no snippet, the prompt is exactly
  the plain FIM prompt of the whole-budget window.

The layout (forecode.tokenizer.fim.repo_fim_prompt) puts the snippets first, the most wanted
nearest the current file.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from forecode.context.retrieval import Snippet, SnippetSelection
from forecode.context.window import Window, build_window, shrink_window
from forecode.tokenizer.protocol import ModelTokenizer
from forecode.tokenizer.fim import file_header, file_text

SNIPPET_SHARE = 1 / 3  # of the budget, at most, for the snippets and the current file's path line
PREFIX_FLOOR_SHARE = 0.5  # of the budget that the prefix always keeps (when it is that long)
RETRIEVE_K = 5  # BM25 snippets asked for; definitions and recent ones come on top
MIN_SNIPPET_TOKENS = 16  # room below this is left empty rather than searched for a snippet that fits

Select = Callable[[tuple[int, int]], SnippetSelection]  # the window's lines -> snippets


@dataclass(frozen=True)
class ContextFile:
    snippet: Snippet
    ids: list[int]  # its `file_text`, without the file separator


@dataclass(frozen=True)
class RepoContext:
    """What the prompt holds: the window and, when retrieval ran, the snippets."""

    window: Window
    files: list[ContextFile] = field(default_factory=list)  # in the order of preference
    header: list[int] = field(default_factory=list)  # the current file's path line, when there are files
    dropped: list[tuple[Snippet, str]] = field(default_factory=list)  # left out, each with why
    lines: tuple[int, int] | None = None  # 1-based lines the whole-budget window spans, when retrieval ran
    snippet_budget: int = 0  # tokens the snippets could take

    @property
    def snippet_tokens(self) -> int:
        """Tokens the snippets take in the prompt, separators and the current path line included."""
        return sum(1 + len(f.ids) for f in self.files) + (1 + len(self.header) if self.files else 0)


def window_lines(text: str, cursor: int, window: Window) -> tuple[int, int]:
    """The 1-based lines of `text` that `window` (cut around `cursor`) holds, inclusive."""
    line = text.count("\n", 0, cursor) + 1
    return line - window.prefix.count("\n"), line + window.suffix.count("\n")


# Code averages 3 to 4 characters per token (forecode-tiny: 3.4 on 60 standard-library modules); a
# snippet longer than this many characters per token of room left cannot fit and is not tokenized.
MAX_CHARS_PER_TOKEN = 10

# A token never spans a word and the punctuation or newline beside it in a byte-level BPE with
# GPT-2-style pre-tokenization (forecode's, StarCoder's, Qwen's, ...), so a text has at least as
# many tokens as runs of these; forecode-tiny's count is 1.10 to 2 times it (430 pieces of 60
# standard-library modules). A snippet with more than room / MIN_TOKEN_SHARE runs is not
# tokenized: counting them costs a sixth of tokenizing, and of the snippets that passed the
# length test alone, 45% were then too long (on the bench of docs/INDEX.md: 628 tokenized, 344
# kept; with this test, 464 tokenized and the same 344 kept). With a tokenizer that does merge
# across runs, a snippet that would just fit may be left out.
_RUNS = re.compile(r"\w+|[^\w\s]+|\n")
MIN_TOKEN_SHARE = 1.1


def _cannot_fit(text: str, room: int) -> bool:
    return len(text) > room * MAX_CHARS_PER_TOKEN or MIN_TOKEN_SHARE * len(_RUNS.findall(text)) > room


def assemble(text: str, cursor: int, tokenizer: ModelTokenizer, budget: int, select: Select | None = None,
             path: str = "") -> RepoContext:
    """The window and snippets for a cursor within `budget` tokens (see the module docstring);
    `select` retrieves the snippets for the window's line span, `path` names the current file."""
    full = build_window(text, cursor, tokenizer, budget)
    if select is None:
        return RepoContext(full)
    lines = window_lines(text, cursor, full)
    selection = select(lines)
    header = tokenizer.encode(file_header(path))
    prefix_floor = min(len(full.prefix_ids), int(budget * PREFIX_FLOOR_SHARE))
    room = min(int(budget * SNIPPET_SHARE), budget - prefix_floor - len(full.suffix_ids))
    available = room - 1 - len(header)  # the current file's separator and path line
    files: list[ContextFile] = []
    dropped = list(selection.dropped)
    used = 0
    for s in selection.kept:
        # A snippet is a few lines at least: with less room left, the rest are not even tokenized,
        # nor is one too long to fit at any plausible density (tokenizing large chunks that are
        # then dropped was most of retrieval's cost).
        left = available - used
        text = file_text(s.path, s.text)
        fits = left >= MIN_SNIPPET_TOKENS and not _cannot_fit(text, left)
        ids = tokenizer.encode(text) if fits else []
        if ids and used + 1 + len(ids) <= available:
            files.append(ContextFile(s, ids))
            used += 1 + len(ids)
        else:
            dropped.append((s, "budget"))
    if not files:
        return RepoContext(full, [], [], dropped, lines, max(0, room))
    window = shrink_window(full, tokenizer, budget - used - 1 - len(header))
    return RepoContext(window, files, header, dropped, lines, room)
