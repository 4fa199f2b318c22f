"""Recently opened and edited documents, as a small ring of their chunks (after llama.vim's
ring buffer): the newest document's chunks first; the oldest fall out past RING_CHUNKS."""

from __future__ import annotations

from collections import OrderedDict

from forecode.context.search import CountedChunk

RING_CHUNKS = 64


class RecentChunks:
    def __init__(self, limit: int = RING_CHUNKS) -> None:
        self.limit = limit
        self._by_path: OrderedDict[str, tuple[CountedChunk, ...]] = OrderedDict()  # oldest first

    def note(self, path: str, chunks: tuple[CountedChunk, ...]) -> None:
        """`path` was opened or edited: its chunks become the newest."""
        self._by_path.pop(path, None)
        self._by_path[path] = chunks[: self.limit]  # one huge document: its first chunks
        while sum(len(c) for c in self._by_path.values()) > self.limit:
            self._by_path.popitem(last=False)

    def refresh(self, path: str, chunks: tuple[CountedChunk, ...]) -> None:
        """New content for a path already in the ring, keeping its place."""
        if path in self._by_path:
            self._by_path[path] = chunks[: self.limit]
            while sum(len(c) for c in self._by_path.values()) > self.limit:
                self._by_path.popitem(last=False)

    def __contains__(self, path: str) -> bool:
        return path in self._by_path

    def forget(self, path: str) -> None:
        self._by_path.pop(path, None)

    def paths(self) -> list[str]:
        """Newest first."""
        return list(reversed(self._by_path))

    def chunks(self) -> list[CountedChunk]:
        return [c for path in self.paths() for c in self._by_path[path]]
