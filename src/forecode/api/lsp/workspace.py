"""The language server's workspace indexes: one per workspace folder the editor named at
`initialize`, opened in a thread of their own, and told about the editor's documents.

Nothing here runs on the protocol's thread but bookkeeping: opening an index (seconds for a
large repository) and every update go to one index thread, in the order they came. Edits that
arrive while that thread is busy are coalesced: a document's latest text is indexed once. Until
a folder's index is open, `ready` says None and completions run without retrieval.

    didOpen   -> note_recent (the document joins the recent ring)
    didChange -> update_document(path, text)  (the editor's text in place of the file on disk)
    didSave   -> update_file(path)            (the disk's version again)
    didClose  -> nothing: the index keeps what it knows
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import TypeVar

from forecode.context.index import WorkspaceIndex
from forecode.context.workspaces import Workspaces

log = logging.getLogger("forecode.lsp")
T = TypeVar("T")


class Indexes:
    def __init__(self, workspaces: Workspaces) -> None:
        self.workspaces = workspaces
        self.roots: tuple[Path, ...] = ()  # deepest first, so a nested folder wins
        self._opening: dict[Path, Future[WorkspaceIndex]] = {}
        self._pending: dict[str, str] = {}  # path -> latest editor text not yet indexed
        self._lock = threading.Lock()
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="forecode-index")

    def set_roots(self, roots: list[Path]) -> None:
        resolved = {r.resolve() for r in roots if r.is_dir()}
        self.roots = tuple(sorted(resolved, key=lambda r: len(r.parts), reverse=True))

    def start(self) -> None:
        """Open the index of every root not opened yet (in the index thread; never waits)."""
        with self._lock:
            for root in self.roots:
                if root not in self._opening:
                    self._opening[root] = self._thread.submit(self.workspaces.get, root)
                    self._opening[root].add_done_callback(partial(_log_failure, root))

    def root_of(self, path: str | None) -> Path | None:
        """The workspace folder `path` lies in, or None (no retrieval for it)."""
        if path is None:
            return None
        resolved = Path(path).resolve()
        return next((r for r in self.roots if resolved.is_relative_to(r)), None)

    def ready(self, path: str | None) -> Path | None:
        """The root of `path` when its index is open; None while it opens, or outside the roots."""
        root = self.root_of(path)
        future = self._opening.get(root) if root is not None else None
        return root if future is not None and future.done() and future.exception() is None else None

    def state(self, root: Path) -> str:
        future = self._opening.get(root)
        if future is None:
            return "not opened"
        if not future.done():
            return "opening"
        return "ready" if future.exception() is None else f"failed: {future.exception()}"

    # -- the documents ---------------------------------------------------------------------

    def opened(self, path: str | None) -> None:
        self._after_open(path, lambda index, p: index.note_recent(p))

    def changed(self, path: str | None, text: str) -> None:
        if path is None or self.root_of(path) is None:
            return
        with self._lock:
            queued = path in self._pending
            self._pending[path] = text
        if not queued:  # an update is already queued for it: that one takes the newest text
            self._after_open(path, self._index_latest)

    def saved(self, path: str | None) -> None:
        self._after_open(path, lambda index, p: index.update_file(p))

    def _index_latest(self, index: WorkspaceIndex, path: str) -> None:
        with self._lock:
            text = self._pending.pop(path, None)
        if text is not None:
            index.update_document(path, text)

    def _after_open(self, path: str | None, update: Callable[[WorkspaceIndex, str], object]) -> None:
        """`update` in the index thread, once the index of `path`'s root is open (it runs after
        the opening, which was queued first)."""
        root = self.root_of(path)
        if path is None or root is None or root not in self._opening:
            return
        opening = self._opening[root]

        def run() -> None:
            if opening.exception() is None:
                try:
                    update(opening.result(), path)
                except Exception:
                    log.exception("updating the index of %s for %s failed", root, path)

        self._thread.submit(run)

    def after_updates(self, work: Callable[[], T]) -> Future[T]:
        """`work` in the index thread, after every update queued before it."""
        return self._thread.submit(work)

    def close(self) -> None:
        self._thread.shutdown(wait=False, cancel_futures=True)
        self.workspaces.close()


def _log_failure(root: Path, future: Future[WorkspaceIndex]) -> None:
    if future.exception() is not None:
        log.error("cannot open the workspace index of %s: %s; completions go on without it", root, future.exception())
