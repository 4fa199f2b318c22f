"""A polling watcher: re-lists the workspace every `interval` seconds and re-reads the files
whose mtime or size changed (WorkspaceIndex.refresh), in a daemon thread. For editors, the
language server's didChange / didSave call the index directly; this catches the rest (a
`git checkout`, a generator, another editor)."""

from __future__ import annotations

import logging
import threading

from forecode.context.index import WorkspaceIndex

log = logging.getLogger("forecode.context.watch")
DEFAULT_INTERVAL = 5.0  # seconds; one poll of a 5,000-file workspace stats every file
SAVE_EVERY = 12  # polls between writes of the cache (and at stop)


class PollingWatcher:
    def __init__(self, index: WorkspaceIndex, interval: float = DEFAULT_INTERVAL) -> None:
        self.index = index
        self.interval = interval
        self.polls = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> PollingWatcher:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="forecode-index-watch", daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.index.refresh(save=self.polls % SAVE_EVERY == SAVE_EVERY - 1)
            except Exception:  # a failed poll must not end the watching; the next one retries
                log.exception("polling %s failed", self.index.root)
            self.polls += 1

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.index.save()

    def __enter__(self) -> PollingWatcher:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
