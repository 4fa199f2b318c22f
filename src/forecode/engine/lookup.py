"""Prompt-lookup drafts (Saxena 2023, "prompt lookup decoding"): guess the next tokens by finding
the sequence's last n tokens earlier in the sequence and proposing what followed them there.

Code repeats itself: a completion often copies an identifier, a call or a whole line from the
prompt, and in a FIM prompt the suffix is the text the middle runs into. The engine checks a
draft of k tokens in one forward pass, which on a CPU costs far less than k passes of one token
(for forecode-tiny, 8 drafts cost about two passes: the weights are read once), and keeps the
tokens the model itself would have chosen greedily, so the output is exactly that of plain
greedy decoding.

The sequence is kept as 4 bytes per token, so that finding an n-gram is `bytes.rfind` (C speed,
microseconds for a few thousand tokens) rather than a Python loop.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable

# Only tails of 3 tokens are looked up: with forecode-tiny on real code (240 completions),
# drafts after 1- or 2-token matches were rejected outright 2 times in 3 and cost more forward
# work than they saved; 3-token matches gave 1.6 accepted tokens per draft. Drafts of 4 to 12
# tokens did about as well as 8.
MAX_NGRAM = 3
MIN_NGRAM = 3
DRAFT_TOKENS = 8  # most tokens proposed at once


SEPARATOR = -1  # between the reference and the sequence: no token id, so no match spans it


class PromptLookup:
    """Drafts for one generation: `ids` is the sequence so far (the prompt, then each token as
    it is chosen, by `append`); `reference` is other text to find n-grams in, before the
    sequence's own, such as what the previous request on the same cache entry generated: an
    editor's next keystroke often types the first character of the last suggestion, and the
    rest of that suggestion is then the best draft there is."""

    def __init__(self, ids: Iterable[int], reference: Iterable[int] = (), max_ngram: int = MAX_NGRAM,
                 min_ngram: int = MIN_NGRAM, draft_tokens: int = DRAFT_TOKENS) -> None:
        self.ids = array("i", reference)
        if self.ids:
            self.ids.append(SEPARATOR)
        self._start = len(self.ids)  # where the sequence begins
        self.ids.extend(ids)
        self.max_ngram, self.min_ngram, self.draft_tokens = max_ngram, min_ngram, draft_tokens
        self._bytes = bytearray(self.ids.tobytes())
        self._width = self.ids.itemsize

    def append(self, token: int) -> None:
        self.ids.append(token)
        self._bytes += array("i", (token,)).tobytes()

    def draft(self, limit: int | None = None) -> list[int]:
        """Up to `limit` (default: draft_tokens) tokens that followed the latest earlier
        occurrence of the sequence's last n tokens, for the longest n that occurs; [] when none."""
        k = self.draft_tokens if limit is None else min(limit, self.draft_tokens)
        n_ids, w = len(self.ids), self._width
        if k <= 0:
            return []
        for n in range(min(self.max_ngram, n_ids - self._start), self.min_ngram - 1, -1):
            pattern = bytes(self._bytes[-n * w :])
            end = (n_ids - 1) * w  # an occurrence must end before the last token, so that something follows it
            while True:
                at = self._bytes.rfind(pattern, 0, end)
                if at < 0:
                    break
                if at % w == 0:  # a match at a token boundary, not across the bytes of two tokens
                    start = at // w + n
                    draft = self.ids[start : start + k].tolist()
                    return draft[: draft.index(SEPARATOR)] if SEPARATOR in draft else draft
                end = at + len(pattern) - 1
        return []
