"""Drop empty or trivial suggestions: nothing but blanks, or only a repeat of what follows the cursor."""

from __future__ import annotations

from forecode.postprocess.candidate import Candidate
from forecode.postprocess.suffix_overlap import merely_repeats_suffix

NAME = "trivial"


def drop_trivial(c: Candidate) -> Candidate:
    if not c.text.strip():
        return c.drop(NAME, "empty") if c.text or c.raw else c
    if merely_repeats_suffix(c.text, c.context.suffix):
        return c.drop(NAME, "only repeats what follows the cursor")
    return c
