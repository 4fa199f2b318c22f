"""What the language server answers, in code points: the line suggestion and the ranked names
at a cursor, with the span of the document each one replaces, and what the editor is told about
the line suggestion's security findings. server.py turns these into LSP types and LSP
positions; nothing here knows the protocol.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from forecode.api.lsp.settings import Settings
from forecode.api.service import CompletionService, Ticket
from forecode.completer import CompletionResult, Suggestion
from forecode.identifiers import JediCompleter, RankedNames, Scorer, rank_at_cursor, word_start

PYTHON_SUFFIXES = (".py", ".pyi")


@dataclass(frozen=True)
class Edit:
    """Replace text[start:end] (code-point offsets) with `text`."""

    start: int
    end: int
    text: str


def line_end(text: str, cursor: int) -> int:
    """Offset of the end of the cursor's line (before its line break)."""
    ends = [i for i in (text.find("\r", cursor), text.find("\n", cursor)) if i >= 0]
    return min(ends) if ends else len(text)


def replaced_end(text: str, cursor: int, suggestion: str) -> int:
    """Where the suggestion's replacement ends: the cursor, or the end of the line when the
    suggestion ends with what follows the cursor there (the `)` an editor closed by itself),
    so accepting it does not write that text twice."""
    end = line_end(text, cursor)
    rest = text[cursor:end].rstrip()
    return end if rest and suggestion.rstrip().endswith(rest) else cursor


def line_suggestion(service: CompletionService, ticket: Ticket, text: str, cursor: int,
                    path: str | None, language: str | None, settings: Settings,
                    workspace_root: Path | None = None) -> Suggestion | None:
    """The completer's best suggestion at `cursor`, post-processed as `settings` ask, with
    repository context from `workspace_root`'s index; its text is "" when the filters dropped it
    (its findings say whether the security lint did)."""
    result = line_result(service, ticket, text, cursor, path, language, settings, workspace_root)
    return result.suggestions[0] if result.suggestions else None


def line_result(service: CompletionService, ticket: Ticket, text: str, cursor: int, path: str | None,
                language: str | None, settings: Settings, workspace_root: Path | None = None) -> CompletionResult:
    """`line_suggestion`'s whole result, debug window included."""
    root = None if workspace_root is None else str(workspace_root)
    return service.complete(settings.line_request(text, cursor, path, language, root), ticket)


def security_note(s: Suggestion) -> str:
    """The suggestion's security findings, one a line ("" for none), for the editor to show."""
    return "\n".join(f"security: {f.rule} (line {f.line}): {f.message}" for f in s.findings)


def line_detail(s: Suggestion) -> str:
    """The line item's one-line detail: its ranking score, and the rules its findings broke."""
    detail = "forecode: line"
    if s.score is not None:
        detail += f" (score {s.score:.2f})"
    if s.findings:
        detail += " [security: " + ", ".join(sorted({f.rule for f in s.findings})) + "]"
    return detail


def inline_edit(text: str, cursor: int, suggestion: str) -> Edit:
    """The suggestion as an inline completion: from the cursor."""
    return Edit(cursor, replaced_end(text, cursor, suggestion), suggestion)


def completion_edit(text: str, cursor: int, suggestion: str) -> Edit:
    """The suggestion as a completion item: from the start of the word being typed, so an
    editor filtering its list by that word keeps the item."""
    start = word_start(text, cursor)
    return Edit(start, replaced_end(text, cursor, suggestion), text[start:cursor] + suggestion)


def is_python(language: str | None, path: str | None) -> bool:
    return language == "python" or (path is not None and path.endswith(PYTHON_SUFFIXES))


def ranked_names(service: CompletionService, ticket: Ticket, jedi: JediCompleter, scorer: Scorer,
                 text: str, cursor: int, path: str | None, max_candidates: int) -> RankedNames:
    """jedi's names at the cursor, the first `max_candidates` ranked by the model (which runs in
    its turn on the service's engine)."""
    candidates = jedi.candidates(text, cursor, Path(path) if path else None)
    return service.run(lambda: rank_at_cursor(text, cursor, candidates, scorer, max_candidates), ticket)
