"""The value every filter takes and returns: one suggestion in its context, and what was done to it.

A filter is a pure function `Candidate -> Candidate`. It changes `text` (with `changed`, so the
debug window can say which filter did what), adds security `findings`, or drops the suggestion
(`dropped` names why). Filters never raise on odd input: an editor's buffer is often broken.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Literal

SecretsPolicy = Literal["mask", "drop"]
SecurityPolicy = Literal["report", "filter"]


@dataclass(frozen=True)
class Context:
    """The document around the cursor. `prefix` and `suffix` are code points before and after it."""

    prefix: str
    suffix: str
    language: str = "python"  # "python", "javascript", ... (lower case); unknown ones get the generic rules
    secrets: SecretsPolicy = "mask"  # a credential-like suggestion is masked, or dropped
    security: SecurityPolicy = "report"  # security findings are reported, or the suggestion is dropped

    @property
    def line_prefix(self) -> str:
        """The cursor's line up to the cursor."""
        return self.prefix[self.prefix.rfind("\n") + 1 :]

    @property
    def line_suffix(self) -> str:
        """The cursor's line after the cursor."""
        return self.suffix.split("\n", 1)[0]


@dataclass(frozen=True)
class Change:
    filter: str
    note: str  # what it did, in a few words
    before: str
    after: str


@dataclass(frozen=True)
class Finding:
    rule: str  # e.g. "shell-injection", "weak-hash"
    message: str
    line: int  # 1-based line within the suggestion


@dataclass(frozen=True)
class Candidate:
    context: Context
    text: str
    changes: tuple[Change, ...] = ()
    findings: tuple[Finding, ...] = ()
    dropped: str | None = None  # "filter: why" once a filter has dropped it
    raw: str = field(default="")  # the text as the model wrote it (set by `candidate`)

    def changed(self, name: str, text: str, note: str) -> Candidate:
        """This candidate with `text`, the change recorded (a no-op when nothing changed)."""
        if text == self.text:
            return self
        return replace(self, text=text, changes=self.changes + (Change(name, note, self.text, text),))

    def drop(self, name: str, why: str) -> Candidate:
        return replace(self, text="", dropped=f"{name}: {why}",
                       changes=self.changes + (Change(name, f"dropped: {why}", self.text, ""),))

    def with_findings(self, findings: tuple[Finding, ...]) -> Candidate:
        return replace(self, findings=self.findings + findings)


def candidate(text: str, context: Context) -> Candidate:
    return Candidate(context, text, raw=text)


Filter = Callable[[Candidate], Candidate]


def indent_of(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


WINDOW_LINES = 200  # most lines each side of the cursor that a syntax-aware filter reads


def around_cursor(prefix: str, suffix: str, max_lines: int = WINDOW_LINES) -> tuple[str, str]:
    """The code around the cursor that a parser needs: from the last line that starts at column
    0 (a top-level statement) before the cursor, to the next one after it, each at most
    `max_lines` away. Parsing that instead of the whole file keeps a check fast on big files."""
    before = prefix.split("\n")
    head = before[-1]
    start = max(0, len(before) - 1 - max_lines)
    for row in range(len(before) - 2, start - 1, -1):
        line = before[row]
        if line.strip() and not line[0].isspace() and not line.startswith(("#", ")", "]", "}")):
            start = row
            break
    after = suffix.split("\n")
    end = min(len(after), max_lines + 1)
    for row in range(1, end):
        line = after[row]
        if line.strip() and not line[0].isspace() and not line.startswith(("#", ")", "]", "}")):
            end = row
            break
    return "\n".join(before[start:-1] + [head]), "\n".join(after[:end])
