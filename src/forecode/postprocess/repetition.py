"""Remove repetition and loops: a small model, stuck, writes the same line or phrase again and again.

- a run of lines (1 to 6 lines long) written twice in a row, indentation aside (`if a:` nested in
  `if a:`): cut before the second copy;
- a phrase repeated within a line (`of the value of the value of the value ...`,
  `.config.config.config`): at least REPEATS copies in a row; one copy is kept.
Only units holding a word of two letters count, so `[0, 0, 0, 0]` or `# ====` stay.
"""

from __future__ import annotations

import re

from forecode.postprocess.candidate import Candidate

NAME = "repetition"
MAX_BLOCK = 6  # longest run of lines compared
REPEATS = 3  # copies of a phrase in a row that make a loop
MAX_UNIT = 40  # longest phrase compared, in characters
_WORD = re.compile(r"[A-Za-z_]{2}")


def _repeated_block(lines: list[str]) -> int | None:
    """Index of the first line that starts a second copy of the lines just before it."""
    for i in range(1, len(lines)):
        for w in range(1, min(MAX_BLOCK, i) + 1):
            block, again = lines[i - w : i], lines[i : i + w]
            if len(again) == w and [ln.strip() for ln in block] == [ln.strip() for ln in again] \
                    and any(_WORD.search(ln) for ln in block):
                return i
    return None


def _looping_phrase(line: str) -> int | None:
    """Where a phrase repeated REPEATS times in a row starts its second copy, or None."""
    n = len(line)
    for start in range(n):
        for p in range(2, min(MAX_UNIT, (n - start) // REPEATS) + 1):
            unit = line[start : start + p]
            if line[start : start + p * REPEATS] == unit * REPEATS and _WORD.search(unit):
                return start + p
    return None


def remove_repetition(c: Candidate) -> Candidate:
    lines = c.text.split("\n")
    i = _repeated_block(lines)
    if i is not None:
        text = "\n".join(lines[:i]).rstrip()
        c = c.changed(NAME, text, f"cut at line {i + 1}, a repeat of the lines before it")
        lines = text.split("\n")
    for row, line in enumerate(lines):
        if len(line) > 2 * REPEATS:
            at = _looping_phrase(line)
            if at is not None:
                text = "\n".join(lines[:row] + [line[:at].rstrip()])
                return c.changed(NAME, text, f"cut line {row + 1} at a phrase repeated {REPEATS}+ times")
    return c
