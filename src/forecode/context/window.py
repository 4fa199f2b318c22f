"""Prefix and suffix windows around the cursor, cut at line boundaries to fit a token budget.

The prefix window of `build_window` starts at a line whose number in the document is a
multiple of PREFIX_SNAP_LINES. Cut as tightly as the budget allows, its first line would move
every few keystrokes while the user types at the cursor (each token the current line gains
pushes a line out at the top), and with it everything after it in the prompt: nothing an
engine's prefix cache holds could be reused. Snapped, it moves once per PREFIX_SNAP_LINES lines
typed, for at most PREFIX_SNAP_LINES - 1 lines fewer than fit. The suffix needs no such care:
typing at the cursor leaves it as it is. Lines end at "\n" only (a lone "\r" or a form feed
does not end one).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from forecode.tokenizer.protocol import ModelTokenizer

PREFIX_SNAP_LINES = 4


def _lines(text: str) -> list[str]:
    """`text` split after each newline, the last line with none when it has none (unlike
    str.splitlines, only "\\n" ends a line, as `count("\\n")` counts lines)."""
    parts = text.split("\n")
    lines = [line + "\n" for line in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


# Lines are tokenized in batches of this many, from the cursor outwards, until the budget is full:
# one tokenizer call per line costs more in call overhead than in tokenizing.
LINE_BATCH = 32


LineIds = tuple[list[int], ...]  # the token ids of each line of a text, in order


def _fit(lines: list[str], tokenizer: ModelTokenizer, budget: int, from_end: bool,
         known: LineIds | None = None) -> list[list[int]]:
    """The token ids of as many of `lines`, taken from the end (or the start), as fit in
    `budget` tokens when each is tokenized alone, nearest the cut first. `known` (the ids of
    every line, in order) spares the tokenizer."""
    batches: Iterable[Sequence[list[int]]]
    if known is not None:
        batches = [known[::-1] if from_end else known]
    else:
        order = lines[::-1] if from_end else lines
        batches = (tokenizer.encode_batch(order[i : i + LINE_BATCH]) for i in range(0, len(order), LINE_BATCH))
    fitted: list[list[int]] = []
    total = 0
    for batch in batches:
        for ids in batch:
            if total + len(ids) > budget:
                return fitted
            fitted.append(ids)
            total += len(ids)
    return fitted


def _joined(parts: LineIds, whole: list[int] | None) -> bool:
    """Whether `whole` (a text's ids) is the concatenation of `parts` (its lines' ids): then the
    ids of any run of those lines are the run's parts joined, with no tokenizing."""
    return whole is not None and sum(map(len, parts)) == len(whole) and [i for ids in parts for i in ids] == whole


@dataclass(frozen=True)
class Window:
    prefix: str  # text before the cursor that the prompt keeps
    suffix: str  # text after the cursor that the prompt keeps
    prefix_ids: list[int]
    suffix_ids: list[int]
    prefix_truncated: bool
    suffix_truncated: bool
    prefix_line: int = 0  # 0-based number, in the document, of the line the kept prefix starts in
    # The ids of each kept line, tokenized alone (None where a line was cut): what shrink_window
    # cuts by, so that cutting again tokenizes nothing.
    prefix_lines: LineIds | None = field(default=None, compare=False, repr=False)
    suffix_lines: LineIds | None = field(default=None, compare=False, repr=False)


Kept = tuple[str, list[int], "LineIds | None"]  # text, its ids, and its lines' ids (None when cut mid-line)


def _keep_tail(text: str, tokenizer: ModelTokenizer, budget: int, first_line: int = 0,
               snap: int | None = None, known: LineIds | None = None, whole: list[int] | None = None) -> Kept:
    """The longest run of whole lines at the end of `text` within `budget` tokens that starts
    at a line numbered a multiple of `snap` (default PREFIX_SNAP_LINES; `first_line`: the
    number of `text`'s first line in the document), or else the tightest run that fits. The
    line the cursor is on is always kept (cut mid-line only if it alone is too long). Lines are
    tokenized from the end only as far as the budget reaches, not the whole text; not at all
    when `known` holds every line's ids and `whole` the text's."""
    lines = _lines(text)
    if known is not None and len(known) != len(lines):
        known = None
    fitted = _fit(lines, tokenizer, budget, from_end=True, known=known)[::-1]  # ids of lines[start:]
    start = len(lines) - len(fitted)
    joined = known is not None and _joined(known, whole)
    if start == 0:
        ids = whole if joined and whole is not None else tokenizer.encode(text)
        if len(ids) <= budget:
            return text, ids, tuple(fitted)
        start, fitted = 1, fitted[1:]  # the lines fit one by one but not together (a tokenizer that merges across lines)
    if start == len(lines):  # one huge line: keep its end
        ids = known[-1] if joined and known else tokenizer.encode(lines[-1] if lines else text)
        tail = ids[len(ids) - budget :]  # not ids[-budget:], which keeps everything when budget is 0
        return tokenizer.decode(tail), tail, None
    snapped = start + (-(first_line + start)) % (PREFIX_SNAP_LINES if snap is None else snap)
    if snapped < len(lines):  # else fewer lines fit than the snap would drop: keep the tightest cut
        fitted = fitted[snapped - start :]
        start = snapped
    out = "".join(lines[start:])
    return out, [i for ids in fitted for i in ids] if joined else tokenizer.encode(out), tuple(fitted)


def _keep_head(text: str, tokenizer: ModelTokenizer, budget: int, known: LineIds | None = None,
               whole: list[int] | None = None) -> Kept:
    """The longest run of whole lines at the start of `text` within `budget` tokens (cut
    mid-line only if the first line alone is too long), tokenized only as far as the budget
    reaches; not at all when `known` holds every line's ids and `whole` the text's."""
    lines = _lines(text)
    if known is not None and len(known) != len(lines):
        known = None
    fitted = _fit(lines, tokenizer, budget, from_end=False, known=known)  # ids of lines[:end]
    end = len(fitted)
    joined = known is not None and _joined(known, whole)
    if end == len(lines):
        ids = whole if joined and whole is not None else tokenizer.encode(text)
        if len(ids) <= budget:
            return text, ids, tuple(fitted)
        end = len(lines) - 1  # they fit one by one but not together (a tokenizer that merges across lines)
        fitted = fitted[:end]
    if end == 0:
        head = (known[0] if joined and known else tokenizer.encode(lines[0]))[:budget]
        return tokenizer.decode(head), head, None
    out = "".join(lines[:end])
    return out, [i for ids in fitted for i in ids] if joined else tokenizer.encode(out), tuple(fitted)


# No token spans this many characters in practice: tokenizing only this much text on each side
# of the cursor keeps a request on a large file fast without changing what fits in the budget.
CHARS_PER_TOKEN_BOUND = 32


def build_window(
    text: str, cursor: int, tokenizer: ModelTokenizer, budget: int, suffix_share: float = 0.25
) -> Window:
    """Split `text` at `cursor` (a code-point offset) and keep what fits in `budget` tokens;
    the suffix gets at most `suffix_share` of it, the prefix the rest."""
    prefix, suffix = text[:cursor], text[cursor:]
    suffix_budget = int(budget * suffix_share)
    reach = budget * CHARS_PER_TOKEN_BOUND
    kept_suffix, suffix_ids, suffix_lines = _keep_head(suffix[:reach], tokenizer, suffix_budget)
    reached = prefix[-reach:] if reach else ""
    first_line = prefix.count("\n", 0, len(prefix) - len(reached))
    kept_prefix, prefix_ids, prefix_lines = _keep_tail(reached, tokenizer, budget - len(suffix_ids), first_line)
    return Window(
        prefix=kept_prefix,
        suffix=kept_suffix,
        prefix_ids=prefix_ids,
        suffix_ids=suffix_ids,
        prefix_truncated=kept_prefix != prefix,
        suffix_truncated=kept_suffix != suffix,
        prefix_line=prefix.count("\n", 0, len(prefix) - len(kept_prefix)),
        prefix_lines=prefix_lines,
        suffix_lines=suffix_lines,
    )


def shrink_window(window: Window, tokenizer: ModelTokenizer, budget: int, suffix_share: float = 0.25) -> Window:
    """`window` cut to a smaller `budget`, as `build_window` would cut the document to it with
    the tightest cut (PREFIX_SNAP_LINES 1), but tokenizing only the text the window already
    holds, and only where `window` does not know its lines' ids (prompt assembly cuts twice per
    request). Not snapped: prompt assembly promises the
    prefix a share of the budget (forecode.context.assembly), which the lines a snap drops
    could break; and a prompt with retrieved snippets changes at its start whenever they do."""
    suffix_budget = int(budget * suffix_share)
    kept_suffix, suffix_ids, suffix_lines = _keep_head(window.suffix, tokenizer, suffix_budget,
                                                       window.suffix_lines, window.suffix_ids)
    kept_prefix, prefix_ids, prefix_lines = _keep_tail(window.prefix, tokenizer, budget - len(suffix_ids),
                                                       window.prefix_line, 1, window.prefix_lines, window.prefix_ids)
    return Window(
        prefix=kept_prefix,
        suffix=kept_suffix,
        prefix_ids=prefix_ids,
        suffix_ids=suffix_ids,
        prefix_truncated=window.prefix_truncated or kept_prefix != window.prefix,
        suffix_truncated=window.suffix_truncated or kept_suffix != window.suffix,
        prefix_line=window.prefix_line + window.prefix.count("\n", 0, len(window.prefix) - len(kept_prefix)),
        prefix_lines=prefix_lines,
        suffix_lines=suffix_lines,
    )
