"""Prefix and suffix windows around the cursor, cut at line boundaries to fit a token budget."""

from __future__ import annotations

from dataclasses import dataclass

from forecode.tokenizer import CodeTokenizer


@dataclass(frozen=True)
class Window:
    prefix: str  # text before the cursor that the prompt keeps
    suffix: str  # text after the cursor that the prompt keeps
    prefix_ids: list[int]
    suffix_ids: list[int]
    prefix_truncated: bool
    suffix_truncated: bool


def _keep_tail(text: str, tokenizer: CodeTokenizer, budget: int) -> tuple[str, list[int]]:
    """The longest run of whole lines at the end of `text` within `budget` tokens.
    The line the cursor is on is always kept (cut mid-line only if it alone is too long)."""
    ids = tokenizer.encode(text)
    if len(ids) <= budget:
        return text, ids
    lines = text.splitlines(keepends=True)
    kept: list[str] = []
    total = 0
    for line in reversed(lines):
        n = len(tokenizer.encode(line))
        if total + n > budget:
            break
        kept.append(line)
        total += n
    if not kept:  # one huge line: keep its end
        tail = ids[len(ids) - budget :]  # not ids[-budget:], which keeps everything when budget is 0
        return tokenizer.decode(tail), tail
    out = "".join(reversed(kept))
    return out, tokenizer.encode(out)


def _keep_head(text: str, tokenizer: CodeTokenizer, budget: int) -> tuple[str, list[int]]:
    ids = tokenizer.encode(text)
    if len(ids) <= budget:
        return text, ids
    kept: list[str] = []
    total = 0
    for line in text.splitlines(keepends=True):
        n = len(tokenizer.encode(line))
        if total + n > budget:
            break
        kept.append(line)
        total += n
    if not kept:
        head = ids[:budget]
        return tokenizer.decode(head), head
    out = "".join(kept)
    return out, tokenizer.encode(out)


# No token spans this many characters in practice: tokenizing only this much text on each side
# of the cursor keeps a request on a large file fast without changing what fits in the budget.
CHARS_PER_TOKEN_BOUND = 32


def build_window(
    text: str, cursor: int, tokenizer: CodeTokenizer, budget: int, suffix_share: float = 0.25
) -> Window:
    """Split `text` at `cursor` (a code-point offset) and keep what fits in `budget` tokens;
    the suffix gets at most `suffix_share` of it, the prefix the rest."""
    prefix, suffix = text[:cursor], text[cursor:]
    suffix_budget = int(budget * suffix_share)
    reach = budget * CHARS_PER_TOKEN_BOUND
    kept_suffix, suffix_ids = _keep_head(suffix[:reach], tokenizer, suffix_budget)
    kept_prefix, prefix_ids = _keep_tail(prefix[-reach:] if reach else "", tokenizer, budget - len(suffix_ids))
    return Window(
        prefix=kept_prefix,
        suffix=kept_suffix,
        prefix_ids=prefix_ids,
        suffix_ids=suffix_ids,
        prefix_truncated=kept_prefix != prefix,
        suffix_truncated=kept_suffix != suffix,
    )


def shrink_window(window: Window, tokenizer: CodeTokenizer, budget: int, suffix_share: float = 0.25) -> Window:
    """`window` cut to a smaller `budget`, as `build_window` would cut the document to it, but
    tokenizing only the text the window already holds (prompt assembly cuts twice per request)."""
    suffix_budget = int(budget * suffix_share)
    kept_suffix, suffix_ids = _keep_head(window.suffix, tokenizer, suffix_budget)
    kept_prefix, prefix_ids = _keep_tail(window.prefix, tokenizer, budget - len(suffix_ids))
    return Window(
        prefix=kept_prefix,
        suffix=kept_suffix,
        prefix_ids=prefix_ids,
        suffix_ids=suffix_ids,
        prefix_truncated=window.prefix_truncated or kept_prefix != window.prefix,
        suffix_truncated=window.suffix_truncated or kept_suffix != window.suffix,
    )
