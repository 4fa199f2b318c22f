"""The post-processing pipeline: the filters, in order, over one raw suggestion.

Order matters: cut to the scope first (everything after works on the part the user wants), then
remove loops and what repeats the suffix, cut at brackets that close nothing, fix the
indentation (so the parser sees the file's style), check the syntax, and only then look at
content (credentials, security), dropping what is left empty last.
"""

from __future__ import annotations

from forecode.postprocess.brackets import truncate_at_brackets
from forecode.postprocess.candidate import Candidate, Context, Filter, candidate
from forecode.postprocess.credentials import mask_credentials
from forecode.postprocess.repetition import remove_repetition
from forecode.postprocess.scope import truncate_at_scope
from forecode.postprocess.security import lint_suggestion
from forecode.postprocess.suffix_overlap import remove_suffix_overlap
from forecode.postprocess.syntax import check_syntax
from forecode.postprocess.trivial import drop_trivial
from forecode.postprocess.whitespace import normalise_whitespace

FILTERS: tuple[tuple[str, Filter], ...] = (
    ("scope", truncate_at_scope),
    ("repetition", remove_repetition),
    ("suffix_overlap", remove_suffix_overlap),
    ("brackets", truncate_at_brackets),
    ("whitespace", normalise_whitespace),
    ("syntax", check_syntax),
    ("credentials", mask_credentials),
    ("security", lint_suggestion),
    ("trivial", drop_trivial),
)


def run_pipeline(text: str, context: Context, filters: tuple[tuple[str, Filter], ...] = FILTERS) -> Candidate:
    """`text` (the model's raw suggestion at the cursor of `context`) through every filter."""
    c = candidate(text, context)
    for _, apply in filters:
        if c.dropped is not None:
            break
        c = apply(c)
    return c
