"""The workspace indexes a server holds: one `WorkspaceIndex` per repository root, opened on
first use and shared by every request for that root.

    workspaces = Workspaces()                  # indexes under ~/.cache/forecode/index/
    index = workspaces.get("/home/me/project") # opened (from its cache) the first time only
    workspaces.close()                         # writes every index's cache

Opening a large index takes seconds; requests for other roots do not wait for it, and two
requests for the same root open it once.
"""

from __future__ import annotations

import threading
from pathlib import Path

from forecode.context.cache import default_cache_dir
from forecode.context.index import WorkspaceIndex
from forecode.errors import InputError


class Workspaces:
    def __init__(self, cache_dir: Path | None = None, persist: bool = True) -> None:
        """`cache_dir`: one folder per root is made inside it (default: each root's
        `default_cache_dir`); `persist=False` keeps the indexes in memory only."""
        self.cache_dir = cache_dir
        self.persist = persist
        self._indexes: dict[Path, WorkspaceIndex] = {}
        self._opening: dict[Path, threading.Lock] = {}
        self._lock = threading.Lock()
        self._closed = False

    def get(self, root: str | Path) -> WorkspaceIndex:
        """The index of `root` (a folder), opened the first time it is asked for."""
        path = Path(root).expanduser()
        if not path.is_dir():
            raise InputError(f"workspace root {str(root)!r} is not a folder")
        key = path.resolve()
        with self._lock:
            if self._closed:
                raise InputError("the workspaces are closed")
            if key in self._indexes:
                return self._indexes[key]
            opening = self._opening.setdefault(key, threading.Lock())
        with opening:  # one opener per root; the others wait here, then find it open
            with self._lock:
                if key in self._indexes:
                    return self._indexes[key]
            cache = self.cache_dir / default_cache_dir(key).name if self.cache_dir is not None else None
            index = WorkspaceIndex.open(key, cache, persist=self.persist)
            with self._lock:
                self._opening.pop(key, None)
                if not self._closed:
                    self._indexes[key] = index
                    return index
            index.close()  # closed while it was opening
            raise InputError("the workspaces are closed")

    def roots(self) -> list[Path]:
        with self._lock:
            return sorted(self._indexes)

    def close(self) -> None:
        """Write every index's cache and let go of them."""
        with self._lock:
            indexes, self._indexes, self._closed = list(self._indexes.values()), {}, True
        for index in indexes:
            index.close()

    def __enter__(self) -> Workspaces:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
