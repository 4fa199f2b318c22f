"""BM25 over the workspace's chunks: a bm25s index of the chunks as last built, plus an
overlay for the files changed since.

A rebuild of the whole index takes seconds on a large workspace, too long to run on every
edit. So a changed file's chunks in the built index are marked dead, and its new chunks are
scored beside it with the same BM25 (Lucene variant, bm25s's default) against the built
index's statistics (document count, document frequencies, mean length). The index is rebuilt
when the overlay grows past OVERLAY_LIMIT chunks, or when asked (`rebuild`).

A query scores only the postings of its own tokens (a sparse sum over bm25s's precomputed
score matrix), leaving out tokens in more than COMMON_SHARE of the chunks (and more than
COMMON_MIN_CHUNKS): they cost the most time and tell the least. Past MAX_POSTINGS postings in
all, the query's rarest tokens are scored and its commonest left out (on the 5,005-file tree of
docs/INDEX.md a query's tokens have 207,000 postings at the median, and bm25's top 5 at the
100,000 cap share 87% of their chunks with the full sum's, at 2.4 times the speed).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import bm25s
import numpy as np
import numpy.typing as npt

from forecode.context.chunks import Chunk

OVERLAY_LIMIT = 2000
COMMON_SHARE = 0.2
COMMON_MIN_CHUNKS = 1000  # in a small workspace no token is too common to score
MAX_POSTINGS = 100_000
K1, B = 1.5, 0.75

TokenIds = npt.NDArray[np.int32]


@dataclass(frozen=True)
class Hit:
    chunk: Chunk
    score: float


@dataclass(frozen=True)
class CountedChunk:
    """A chunk with its token counts, so scoring it against a query is a few lookups."""

    chunk: Chunk
    counts: Counter[int]
    length: int


def counted(chunks: Sequence[Chunk], ids: Sequence[TokenIds]) -> tuple[CountedChunk, ...]:
    return tuple(CountedChunk(c, Counter(i.tolist()), len(i)) for c, i in zip(chunks, ids))


@dataclass(frozen=True)
class SavedBase:
    """The built index's arrays (bm25s's score matrix, compressed sparse columns) and the
    paths its rows belong to, in row order."""

    layout: list[tuple[str, int]]  # (path, number of chunks)
    data: npt.NDArray[np.float32]
    indices: npt.NDArray[np.int32]
    indptr: npt.NDArray[np.int64]
    n_docs: int
    mean_length: float


@dataclass(frozen=True)
class _Doc:
    chunk: Chunk
    ids: TokenIds


class ChunkSearch:
    def __init__(self, vocabulary: Iterable[str] = ()) -> None:
        self.vocab: dict[str, int] = {t: i for i, t in enumerate(vocabulary)}
        self.docs: dict[str, list[_Doc]] = {}  # every current chunk, by path
        self.rebuilds = 0
        # the last query's tokens and ids, with the statistics they were taken against (a
        # request asks twice: BM25 over the index, then over the recent ring)
        self._last_query: tuple[tuple[object, ...], TokenIds, npt.NDArray[np.int64], int] | None = None
        self._pending: dict[str, int] = {}  # paths set since the last query, with their chunk counts
        self._pending_size = 0
        self._reset_base()

    def _reset_base(self) -> None:
        self._base: list[Chunk] = []
        self._base_range: dict[str, tuple[int, int]] = {}  # live paths only
        self._layout: list[tuple[str, int]] = []  # every path of the built index, in row order, with its chunk count
        self._dead = np.zeros(0, dtype=bool)
        self._any_dead = False
        self._data = np.zeros(0, dtype=np.float32)
        self._indices = np.zeros(0, dtype=np.int32)
        self._indptr = np.zeros(1, dtype=np.int64)
        self._df = np.zeros(0, dtype=np.int64)
        self._n_docs = 0
        self._mean_length = 1.0
        self._overlay: dict[str, list[CountedChunk]] = {}
        self._overlay_size = 0

    # -- the documents ------------------------------------------------------------------

    def token_ids(self, tokens: Sequence[str], grow: bool = True) -> TokenIds:
        vocab = self.vocab
        if grow:
            for t in tokens:
                if t not in vocab:
                    vocab[t] = len(vocab)
            return np.fromiter((vocab[t] for t in tokens), dtype=np.int32, count=len(tokens))
        return np.fromiter((vocab[t] for t in tokens if t in vocab), dtype=np.int32)

    def set_file(self, path: str, chunks: Sequence[Chunk], ids: Sequence[TokenIds]) -> None:
        """Make `chunks` (with their token ids) the content of `path`. They are searchable
        from the next query: in the overlay, or in a rebuilt index when many changed."""
        self.remove_file(path)
        docs = [_Doc(c, i) for c, i in zip(chunks, ids)]
        if not docs:
            return
        self.docs[path] = docs
        self._pending[path] = len(docs)
        self._pending_size += len(docs)

    def settle(self) -> None:
        """Index what changed since the last query: in the overlay, or by a rebuild once the
        overlay would hold more than OVERLAY_LIMIT chunks."""
        if not self._pending:
            return
        if self._overlay_size + self._pending_size > OVERLAY_LIMIT or not self._n_docs:
            self.rebuild()
            return
        for path in self._pending:
            docs = self.docs[path]
            self._overlay[path] = [CountedChunk(d.chunk, Counter(d.ids.tolist()), len(d.ids)) for d in docs]
            self._overlay_size += len(docs)
        self._pending.clear()
        self._pending_size = 0

    def remove_file(self, path: str) -> None:
        self.docs.pop(path, None)
        n = self._pending.pop(path, None)
        if n is not None:
            self._pending_size -= n
        gone = self._overlay.pop(path, None)
        if gone is not None:
            self._overlay_size -= len(gone)
        span = self._base_range.pop(path, None)
        if span is not None:
            self._dead[span[0] : span[1]] = True
            self._any_dead = True

    @property
    def overlay_size(self) -> int:
        return self._overlay_size + self._pending_size

    # -- the built index on disk ----------------------------------------------------------

    def saved_base(self) -> SavedBase:
        """The built index as it stands (dead chunks included), to store and restore."""
        return SavedBase(list(self._layout), self._data, self._indices, self._indptr, self._n_docs, self._mean_length)

    def live_in_base(self, path: str) -> bool:
        """Whether the built index holds `path`'s current chunks (not replaced or removed since)."""
        return path in self._base_range

    def restore(self, saved: SavedBase, unchanged: Callable[[str], bool]) -> int:
        """Take a stored index instead of rebuilding: each path of its layout that
        `unchanged` accepts (same content as when it was built) and whose chunks are set
        now is live in it; the rest is dead, and current chunks outside it are pending.
        Returns the number of live chunks."""
        self._reset_base()
        placeholder = Chunk("", 0, -1, "", "", "")
        dead = []
        self._layout = list(saved.layout)
        for path, n in saved.layout:
            start = len(self._base)
            docs = self.docs.get(path)
            if docs is not None and len(docs) == n and path in self._pending and unchanged(path):
                self._base.extend(d.chunk for d in docs)
                self._base_range[path] = (start, start + n)
                self._pending_size -= self._pending.pop(path)
            else:
                self._base.extend([placeholder] * n)
                dead.append((start, start + n))
        self._n_docs = saved.n_docs
        if len(self._base) != self._n_docs or len(saved.indptr) > len(self.vocab) + 1:
            raise ValueError("the stored index does not match its layout or vocabulary")
        self._dead = np.zeros(self._n_docs, dtype=bool)
        for lo, hi in dead:
            self._dead[lo:hi] = True
        self._any_dead = bool(dead)
        self._data, self._indices, self._indptr = saved.data, saved.indices, saved.indptr
        self._df = np.diff(self._indptr)
        self._mean_length = saved.mean_length
        return len(self._base) - sum(hi - lo for lo, hi in dead)

    def __len__(self) -> int:
        return sum(len(d) for d in self.docs.values())

    # -- the built index ----------------------------------------------------------------

    def rebuild(self, progress: Callable[[str], None] | None = None) -> None:
        """Index every current chunk with bm25s; the overlay is emptied."""
        self._reset_base()
        self._pending.clear()
        self._pending_size = 0
        corpus: list[list[int]] = []
        for path in sorted(self.docs):
            start = len(self._base)
            for doc in self.docs[path]:
                self._base.append(doc.chunk)
                corpus.append(doc.ids.tolist())
            self._base_range[path] = (start, len(self._base))
            self._layout.append((path, len(self._base) - start))
        self.rebuilds += 1
        n = len(corpus)
        self._dead = np.zeros(n, dtype=bool)
        self._n_docs = n
        if n == 0 or not self.vocab:
            return
        if progress is not None:
            progress(f"bm25 over {n} chunks")
        retriever = bm25s.BM25(k1=K1, b=B, method="lucene")
        retriever.index((corpus, dict(self.vocab)), show_progress=False)
        scores = retriever.scores
        self._data = np.asarray(scores["data"], dtype=np.float32)
        self._indices = np.asarray(scores["indices"], dtype=np.int32)
        self._indptr = np.asarray(scores["indptr"], dtype=np.int64)
        self._df = np.diff(self._indptr)
        self._mean_length = max(1.0, float(np.mean([len(c) for c in corpus])))

    def _idf(self, token: int) -> float:
        df = int(self._df[token]) if token < len(self._df) else 0
        return math.log(1 + (self._n_docs - df + 0.5) / (df + 0.5))

    # -- queries ------------------------------------------------------------------------

    def search(self, tokens: Sequence[str], k: int, exclude: tuple[str, int, int] | None = None,
               keep: Callable[[Chunk], bool] | None = None) -> list[Hit]:
        """The `k` best chunks for `tokens`, best first; chunks of `exclude`'s path that
        overlap its lines (1-based, inclusive) are left out, and those `keep` refuses."""
        self.settle()
        query = self._query_ids(tokens)
        if query.size == 0 or k <= 0:
            return []
        hits: list[Hit] = []

        def wanted(chunk: Chunk) -> bool:
            if exclude is not None and chunk.path == exclude[0] and chunk.overlaps(exclude[1], exclude[2]):
                return False
            return keep is None or keep(chunk)

        if self._n_docs:
            hits.extend(self._search_base(query, k, exclude, wanted))
        if self._overlay:
            hits.extend(self._search_overlay(query, wanted))
        hits.sort(key=lambda h: (-h.score, h.chunk.path, h.chunk.start_line))
        return hits[:k]

    def _query_ids(self, tokens: Sequence[str]) -> TokenIds:
        key = (MAX_POSTINGS, COMMON_SHARE, COMMON_MIN_CHUNKS, *tokens)
        last = self._last_query
        if last is not None and last[2] is self._df and last[3] == len(self.vocab) and last[0] == key:
            return last[1]
        ids = self._new_query_ids(tokens)
        self._last_query = (key, ids, self._df, len(self.vocab))
        return ids

    def _new_query_ids(self, tokens: Sequence[str]) -> TokenIds:
        ids = np.unique(self.token_ids(tokens, grow=False))
        if self._n_docs and ids.size:
            known = ids[ids < len(self._df)]
            common = known[self._df[known] > max(COMMON_SHARE * self._n_docs, COMMON_MIN_CHUNKS)]
            if common.size < ids.size:  # keep the common ones only when nothing else is left
                ids = np.setdiff1d(ids, common, assume_unique=True)
            ids = self._rarest(ids)
        return ids

    def _rarest(self, ids: TokenIds) -> TokenIds:
        """The rarest of `ids` whose postings come to at most MAX_POSTINGS (the rarest one at least)."""
        df = np.where(ids < len(self._df), self._df[np.minimum(ids, len(self._df) - 1)], 0)
        if int(df.sum()) <= MAX_POSTINGS:
            return ids
        order = np.argsort(df, kind="stable")
        n = max(1, int(np.searchsorted(np.cumsum(df[order]), MAX_POSTINGS, side="right")))
        return np.sort(ids[order[:n]])

    def _search_base(self, query: TokenIds, k: int, exclude: tuple[str, int, int] | None,
                     wanted: Callable[[Chunk], bool]) -> list[Hit]:
        query = query[query < len(self._df)]
        if query.size == 0:
            return []
        starts, ends = self._indptr[query], self._indptr[query + 1]
        rows = np.concatenate([self._indices[s:e] for s, e in zip(starts, ends)])
        weights = np.concatenate([self._data[s:e] for s, e in zip(starts, ends)])
        if rows.size == 0:
            return []
        scores = np.bincount(rows, weights=weights, minlength=self._n_docs)
        if self._any_dead:
            scores[self._dead] = 0.0
        if exclude is not None and exclude[0] in self._base_range:
            lo, hi = self._base_range[exclude[0]]
            for i in range(lo, hi):
                if self._base[i].overlaps(exclude[1], exclude[2]):
                    scores[i] = 0.0
        # Usually a small share of the chunks (argpartition over all of them, mostly zeros, is ten
        # times slower; nonzero of the floats themselves, rather than of a mask, nine).
        scored = np.flatnonzero(scores > 0)
        take = min(len(scored), k * 4)
        if take == 0:
            return []
        best = scored[np.argpartition(scores[scored], -take)[-take:]]
        best = best[np.argsort(-scores[best], kind="stable")]
        out = []
        for i in best:
            score = float(scores[i])
            chunk = self._base[int(i)]
            if wanted(chunk):
                out.append(Hit(chunk, score))
                if len(out) == k:
                    break
        return out

    def _search_overlay(self, query: TokenIds, wanted: Callable[[Chunk], bool]) -> list[Hit]:
        return [h for docs in self._overlay.values() for h in self._score(query, docs) if wanted(h.chunk)]

    def _score(self, query: TokenIds, docs: Iterable[CountedChunk]) -> list[Hit]:
        """BM25 of chunks outside the built index, against the built index's statistics."""
        idf = [(int(t), self._idf(int(t))) for t in query]
        out = []
        for doc in docs:
            tf = doc.counts
            norm = K1 * ((1 - B) + B * doc.length / self._mean_length)
            score = sum(w * tf[t] / (norm + tf[t]) for t, w in idf if t in tf)
            if score > 0:
                out.append(Hit(doc.chunk, score))
        return out

    def score(self, tokens: Sequence[str], docs: Iterable[CountedChunk]) -> list[Hit]:
        """Chunks that are not in this index (the recent ring) scored for `tokens`, best first."""
        hits = self._score(self._query_ids(tokens), docs)
        hits.sort(key=lambda h: -h.score)
        return hits
