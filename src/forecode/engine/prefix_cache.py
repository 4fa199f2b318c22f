"""A prefix cache for the built-in engine: the KV caches of the last few sequences, so that the
next prompt prefills only what follows its longest common token prefix with one of them (as
llama.cpp's `cache_prompt` does).

Editors send a request per keystroke, and the FIM prompt barely changes between two of them:
in the SPM order (suffix first, prefix last) typing at the cursor changes only the prompt's
last few tokens, so a warm request prefills a handful of tokens instead of the whole window.

An entry is a KV cache and the ids of the positions it holds. A generation takes the entry that
shares the most with its prompt out of the cache (so concurrent generations never share one),
overwrites it from the first difference on, and puts it back as the most recent. Memory stays
at `entries` caches of the model's full length: when none shares enough with a new prompt and
the cache is full, the least recently used entry is recycled.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from forecode.errors import InputError
from forecode.model.llama import KVCache

# A shorter match is not worth evicting another document's entry for: every prompt in a FIM
# layout starts with the same few special tokens.
MIN_REUSE_TOKENS = 32


@dataclass
class CachedSequence:
    ids: list[int]  # the tokens whose keys and values fill the cache's first len(ids) positions
    cache: KVCache
    # What `take` cut off: the end of the sequence the entry held before, after the part it
    # shares with the new prompt (for an editor's next keystroke: the last suggestion).
    dropped: list[int] = field(default_factory=list)

    def truncate(self, length: int) -> None:
        """Forget positions from `length` on."""
        del self.ids[length:]
        self.cache.truncate(length)


def common_prefix_length(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    if a[:n] == b[:n]:
        return n
    lo, hi = 0, n - 1  # a[:lo] == b[:lo], a[:hi + 1] != b[:hi + 1]: bisect on slices compared in C
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


class PrefixCache:
    """At most `entries` cached sequences, least recently used first; safe to share between threads."""

    def __init__(self, entries: int, new_cache: Callable[[], KVCache]) -> None:
        if entries < 1:
            raise InputError(f"a prefix cache needs at least 1 entry, not {entries}")
        self.entries = entries
        self._new_cache = new_cache
        self._pool: list[CachedSequence] = []  # least recently used first
        self._lock = threading.Lock()

    def take(self, prompt: Sequence[int]) -> CachedSequence:
        """The entry for `prompt`, now the caller's: its positions are the longest prefix of
        `prompt` found in the cache, but never all of it (the last prompt token is always
        computed again: its logits pick the first new token). Return it with `put`."""
        with self._lock:
            best, best_n = None, -1
            for entry in self._pool:
                n = common_prefix_length(entry.ids, prompt)
                if n > best_n:
                    best, best_n = entry, n
            if best is None or (best_n < MIN_REUSE_TOKENS and len(self._pool) < self.entries):
                return CachedSequence([], self._new_cache())
            if best_n < MIN_REUSE_TOKENS:  # full, and nothing worth keeping a match for: recycle the oldest
                best = self._pool[0]
                best_n = common_prefix_length(best.ids, prompt)
            self._pool.remove(best)
        keep = min(best_n, len(prompt) - 1)
        best.dropped = best.ids[keep:] if best_n >= MIN_REUSE_TOKENS else []  # another document's: no use
        best.truncate(keep)
        return best

    def put(self, entry: CachedSequence) -> None:
        """Give an entry back, as the most recently used."""
        if len(entry.ids) != entry.cache.length:
            raise ValueError(f"entry holds {len(entry.ids)} ids for {entry.cache.length} cached positions")
        with self._lock:
            self._pool.append(entry)
            del self._pool[: max(0, len(self._pool) - self.entries)]

    def clear(self) -> None:
        with self._lock:
            self._pool.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._pool)
