"""Identifier completion at a cursor: jedi's candidates, reordered by the model.

jedi lists the names that may follow the cursor (after `obj.`, or the names in scope); the
model scores each one as the text right after the cursor, on the same prompt `Completer`
builds there (window budget, token healing, FIM layout), and the names come back best first.
The language server's completion items and `forecode eval identifiers` both rank this way.

Where the user has typed part of the name (`obj.ap|`), jedi completes at the cursor (so it
filters by what was typed) and the model scores whole names at the start of the word, with the
typed part deleted: the document an editor held just before the user began the name. Every
candidate is then scored on one prompt, and the typed part counts for none of them.

Offsets count code points; jedi's columns count code points too.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from forecode.completer import CompletionRequest, Completer
from forecode.engine.base import Engine
from forecode.errors import InputError

MAX_CANDIDATES = 500  # the first of jedi's list that the model scores; the rest keep jedi's order

Scoring = Literal["name", "name+eot", "mean"]
SCORINGS: tuple[Scoring, ...] = ("name", "name+eot", "mean")

# Scores candidate names at a cursor in a document: (document, cursor, names) -> one score each.
Scorer = Callable[[str, int, Sequence[str]], list[float]]

_LINE_BREAK = re.compile(r"\r\n|\r|\n")  # how both Python's tokenizer and jedi (parso) split lines


def line_starts(text: str) -> list[int]:
    """Code-point offset of each line's first character, lines split as Python and jedi split them."""
    return [0, *(m.end() for m in _LINE_BREAK.finditer(text))]


def line_column(text: str, offset: int) -> tuple[int, int]:
    """1-based line and 0-based column in code points (jedi's convention) of `offset` in `text`."""
    starts = line_starts(text[:offset])
    return len(starts), offset - starts[-1]


def word_start(text: str, cursor: int) -> int:
    """Offset where the identifier that ends at `cursor` begins (`cursor` itself if none does)."""
    start = cursor
    while start > 0 and (text[start - 1].isalnum() or text[start - 1] == "_"):
        start -= 1
    return start


def package_root(folder: Path) -> Path:
    """The folder imports resolve from: above every enclosing package (`__init__.py`)."""
    root = folder
    while (root / "__init__.py").is_file() and root.parent != root:
        root = root.parent
    return root


def rank(candidates: Sequence[str], scores: Sequence[float]) -> list[str]:
    """Candidates best first; equal scores keep the order they came in (jedi's)."""
    if len(candidates) != len(scores):
        raise ValueError(f"{len(candidates)} candidates but {len(scores)} scores")
    return [candidates[i] for i in sorted(range(len(candidates)), key=lambda i: -scores[i])]


def unique(names: Iterable[str]) -> list[str]:
    """Names in order, each kept at its first occurrence."""
    return list(dict.fromkeys(names))


@dataclass(frozen=True)
class Candidate:
    name: str
    kind: str  # jedi's type: "function", "module", "class", "instance", "keyword", "param", ...


class JediCompleter:
    """jedi's completion list at a cursor, in jedi's order, with imports resolved from each
    file's package root (so relative and absolute imports of the package both resolve).

    In process, with this interpreter's packages: jedi's default (a subprocess per
    environment) is several times slower per call. One call at a time: jedi's caches are not
    safe to share between threads.
    """

    def __init__(self) -> None:
        import jedi

        self._jedi = jedi
        self._environment = jedi.InterpreterEnvironment()
        self._projects: dict[Path, Any] = {}
        self._lock = threading.Lock()

    def candidates(self, document: str, cursor: int, path: Path | None) -> list[Candidate]:
        """jedi's completions at `cursor` (a code-point offset), deduplicated by name."""
        line, column = line_column(document, cursor)
        with self._lock:
            project = None
            if path is not None:
                root = package_root(path.resolve().parent)
                if root not in self._projects:
                    self._projects[root] = self._jedi.Project(root)
                project = self._projects[root]
            script = self._jedi.Script(code=document, path=None if path is None else str(path),
                                       project=project, environment=self._environment)
            completions = script.complete(line, column)
        seen: dict[str, Candidate] = {}
        for c in completions:
            seen.setdefault(c.name, Candidate(c.name, c.type))
        return list(seen.values())

    def __call__(self, document: str, cursor: int, path: Path | None) -> list[str]:
        return [c.name for c in self.candidates(document, cursor, path)]


class ModelScorer:
    """Scores candidate names with an engine, on the prompt the Completer builds at the cursor.

    `name` scores log P(name's tokens); `name+eot` adds the end-of-text that closes a FIM
    middle; `mean` is `name+eot` per token (eval/identifiers.py measures all three).
    """

    def __init__(self, engine: Engine, scoring: Scoring = "name", heal: bool = True) -> None:
        if scoring not in SCORINGS:
            raise InputError(f"unknown scoring {scoring!r}; expected one of {', '.join(SCORINGS)}")
        self.engine = engine
        self.tokenizer = engine.tokenizer
        self.completer = Completer(engine)
        self.scoring = scoring
        self.heal = heal

    def prompt(self, document: str, cursor: int) -> tuple[list[int], str]:
        """The FIM prompt ids and the backed-off text every candidate must start with: the
        prompt `forecode complete` would send at this cursor, for its default request."""
        max_tokens = CompletionRequest(text="", cursor=0).max_tokens
        built = self.completer.build_prompt(document, cursor, max_tokens, heal=self.heal)
        try:
            return built.ids, built.backed_off.decode("utf-8")
        except UnicodeDecodeError:  # a token ending mid-character: score without healing
            return self.completer.build_prompt(document, cursor, max_tokens, heal=False).ids, ""

    def __call__(self, document: str, cursor: int, names: Sequence[str]) -> list[float]:
        if not names:
            return []
        prompt, backed_off = self.prompt(document, cursor)
        end = [] if self.scoring == "name" else [self.tokenizer.special.eot]
        continuations = [self.tokenizer.encode(backed_off + name) + end for name in names]
        scores = self.engine.score(prompt, continuations)
        if self.scoring == "mean":
            return [s / len(c) for s, c in zip(scores, continuations)]
        return scores


@dataclass(frozen=True)
class RankedNames:
    """Names for a cursor, best first. The first `scored` were ordered by the model (their
    log-probabilities in `scores`); the rest follow in jedi's order."""

    start: int  # code-point offset where the name begins: the completion replaces start..cursor
    names: list[Candidate]
    scores: list[float]

    @property
    def scored(self) -> int:
        return len(self.scores)


def rank_at_cursor(
    text: str,
    cursor: int,
    candidates: Sequence[Candidate],
    scorer: Scorer,
    max_candidates: int = MAX_CANDIDATES,
) -> RankedNames:
    """`candidates` (jedi's, at `cursor`) reordered by `scorer`: the first `max_candidates`
    scored at the start of the word being typed, with the typed part deleted."""
    if not 0 <= cursor <= len(text):
        raise InputError(f"cursor {cursor} is outside the document (0..{len(text)})")
    start = word_start(text, cursor)
    document = text[:start] + text[cursor:]
    head, tail = list(candidates[:max_candidates]), list(candidates[max_candidates:])
    scores = scorer(document, start, [c.name for c in head])
    if len(scores) != len(head):
        raise ValueError(f"{len(head)} candidates but {len(scores)} scores")
    order = sorted(range(len(head)), key=lambda i: -scores[i])  # stable: ties keep jedi's order
    return RankedNames(start, [head[i] for i in order] + tail, [scores[i] for i in order])
