"""Scope end by brackets: a suggestion stops before it closes a bracket it did not open and the
code before the cursor did not leave open either; in brace languages (JavaScript, TypeScript,
C-like) a statement or block started on an empty line ends where its brackets balance again.

Strings and comments are skipped by a small scanner (quotes; `#` for Python, `//` and `/* */`
for brace languages), so `")"` inside a string does not count.
"""

from __future__ import annotations

from forecode.postprocess.candidate import Candidate

NAME = "brackets"
PAIRS = {")": "(", "]": "[", "}": "{"}
BRACE_LANGUAGES = frozenset({"javascript", "typescript", "javascriptreact", "typescriptreact", "java", "c", "cpp",
                             "csharp", "go", "rust", "kotlin", "swift", "php", "scala", "dart"})
PREFIX_WINDOW = 5_000  # characters of prefix (from a line start) scanned for brackets left open


def scan(text: str, language: str, stack: list[str] | None = None) -> tuple[list[str], list[int]]:
    """Brackets open after `text` (a stack, given `stack` open before it) and the offsets in
    `text` of closers that match nothing open."""
    stack = list(stack or [])
    stray: list[int] = []
    hash_comments = language not in BRACE_LANGUAGES
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in "\"'`":
            triple = text[i : i + 3] == ch * 3 and language not in BRACE_LANGUAGES
            quote = ch * 3 if triple else ch
            j = i + len(quote)
            while j < n:
                if text[j] == "\\":
                    j += 2
                    continue
                if text.startswith(quote, j):
                    j += len(quote)
                    break
                if text[j] == "\n" and not triple and ch != "`":
                    break  # an unterminated string ends at the line's end
                j += 1
            i = j
            continue
        if (ch == "#" and hash_comments) or text.startswith("//", i) and not hash_comments:
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        if text.startswith("/*", i) and not hash_comments:
            end = text.find("*/", i + 2)
            i = n if end < 0 else end + 2
            continue
        if ch in "([{":
            stack.append(ch)
        elif ch in PAIRS:
            if stack and stack[-1] == PAIRS[ch]:
                stack.pop()
            else:
                stray.append(i)
        i += 1
    return stack, stray


def truncate_at_brackets(c: Candidate) -> Candidate:
    ctx = c.context
    window = ctx.prefix[-PREFIX_WINDOW:]
    if len(window) < len(ctx.prefix) and "\n" in window:
        window = window[window.index("\n") + 1 :]
    # One scan over both, so a string or comment open at the cursor carries into the suggestion.
    _, stray = scan(window + c.text, ctx.language)
    stray = [i - len(window) for i in stray if i >= len(window)]
    if stray:
        at = stray[0]
        return c.changed(NAME, c.text[:at].rstrip(), f"cut before {c.text[at]!r}, which closes nothing open")
    if ctx.language in BRACE_LANGUAGES and not ctx.line_prefix.strip() and "\n" in c.text:
        # A statement or block from an empty line: it ends at the first line end where its own
        # brackets are balanced again and the line ends a statement or a block.
        lines = c.text.split("\n")
        for row in range(len(lines) - 1):
            head = "\n".join(lines[: row + 1])
            own, _ = scan(head, ctx.language)
            end = lines[row].rstrip()
            if not own and end.endswith((";", "}")) and not lines[row + 1].lstrip().startswith(("else", "catch", "finally", ".", ")")):
                return c.changed(NAME, head, f"cut after line {row + 1}, where its brackets balance")
    return c
