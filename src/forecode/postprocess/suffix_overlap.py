"""Remove what the model writes again although it already follows the cursor.

Two shapes of overlap:
- at the end of a line: the suggestion ends with text the cursor's line already holds after the
  cursor (`print(va|)` completed as `lue)`); the repeat is cut, exactly or when nearly equal;
- across lines: the suggestion rejoins the suffix, writing the lines after the cursor again; it is
  cut before the first line that matches the suffix's first line (exactly or nearly, by rapidfuzz).
A suggestion that only repeats what follows is emptied (the trivial filter then drops it).
"""

from __future__ import annotations

from rapidfuzz import fuzz

from forecode.postprocess.candidate import Candidate

NAME = "suffix_overlap"
NEAR = 90.0  # rapidfuzz ratio (0..100) at which two lines count as the same
NEAR_MIN_CHARS = 8  # shorter lines must match exactly
_BRACKETS = {")": "(", "]": "[", "}": "{"}


def _next_lines(suffix: str, line_prefix: str, n: int = 2) -> list[str]:
    """The first `n` non-blank lines after the cursor, stripped. The rest of the cursor's own line
    counts only when the cursor is at its start (nothing but blanks before it)."""
    lines = suffix.split("\n")
    if line_prefix.strip():
        lines = lines[1:]
    return [ln.strip() for ln in lines if ln.strip()][:n]


def same_line(a: str, b: str) -> bool:
    a, b = a.strip(), b.strip()
    if not a or not b:
        return False
    if a == b:
        return True
    return min(len(a), len(b)) >= NEAR_MIN_CHARS and fuzz.ratio(a, b) >= NEAR


def rejoin_line(text: str, suffix: str, line_prefix: str = "", complete_only: bool = False) -> int | None:
    """Index of the first line of `text` that starts writing the lines after the cursor again, or
    None. Inside a line its first line is the rest of that line and is not compared. A match on a
    line of brackets alone also needs the next line to match, when there is one. `complete_only`
    ignores the last line (still being written)."""
    want = _next_lines(suffix, line_prefix)
    if not want:
        return None
    lines = text.split("\n")
    last = len(lines) - 1 if complete_only else len(lines)
    for i in range(1 if line_prefix.strip() else 0, last):
        if not same_line(lines[i], want[0]):
            continue
        if all(ch in _BRACKETS for ch in want[0].rstrip(",;")) and len(want) > 1:
            rest = [ln for ln in lines[i + 1 : last] if ln.strip()]
            if not rest or not same_line(rest[0], want[1]):
                continue
        return i
    return None


def merely_repeats_suffix(text: str, suffix: str) -> bool:
    """Whether `text` only writes again what already follows the cursor."""
    body = text.strip()
    if not body:
        return False
    after = suffix.lstrip()
    if after.startswith(body):
        return True
    flat = " ".join(body.split())
    return " ".join(after.split()).startswith(flat)


def _excess_closers(text: str) -> int:
    """Closing brackets in `text` that nothing in `text` opened (strings not considered)."""
    depth, excess = 0, 0
    for ch in text:
        if ch in "([{":
            depth += 1
        elif ch in _BRACKETS:
            if depth:
                depth -= 1
            else:
                excess += 1
    return excess


def _tail_overlap(text: str, line_suffix: str) -> int:
    """Length of the longest end of `text`'s last line that is a start of the line's rest."""
    last = text.rsplit("\n", 1)[-1]
    rest = line_suffix.rstrip()
    for k in range(min(len(last), len(rest)), 0, -1):
        if last.endswith(rest[:k]):
            return k
    return 0


def remove_suffix_overlap(c: Candidate) -> Candidate:
    text, suffix = c.text, c.context.suffix
    if merely_repeats_suffix(text, suffix):
        return c.changed(NAME, "", "only repeats what follows the cursor")
    i = rejoin_line(text, suffix, c.context.line_prefix)
    if i is not None:
        text = "\n".join(text.split("\n")[:i]).rstrip()
        c = c.changed(NAME, text, f"cut at line {i + 1}, which writes the suffix again")
    line_suffix = c.context.line_suffix
    k = _tail_overlap(text, line_suffix)
    if k:
        overlap = line_suffix.rstrip()[:k]
        kept = text[: len(text) - k]
        only_brackets = all(ch in ")]};,:" or ch.isspace() for ch in overlap)
        # `f(|)` completed as `g(x))`: the last `)` is the editor's; `g(x)` alone keeps its own.
        closes_too_much = _excess_closers(c.context.line_prefix + text + line_suffix) > _excess_closers(
            c.context.line_prefix + kept + line_suffix)
        if (not only_brackets and len(overlap.strip()) >= 2) or closes_too_much:
            return c.changed(NAME, kept, f"dropped {overlap!r}, already after the cursor")
    return c
