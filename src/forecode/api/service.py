"""One engine, many clients: what the HTTP server and the language server share.

Requests queue for the engine, first come first served (one generation at a time: on a few CPU
cores, interleaving two only makes both slower). Each request holds a `Ticket`: a newer request for the same document
supersedes it, its client can cancel it, and its deadline ends it. A cancelled ticket stops
its generation at the next token, or never starts it if it is still waiting.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TypeVar

from forecode.completer import CompletionRequest, CompletionResult, Completer
from forecode.errors import Cancelled, Overloaded

T = TypeVar("T")

DEFAULT_TIMEOUT_S = 30.0
DEFAULT_MAX_WAITING = 32
_POLL_S = 0.02  # how often a waiting request checks whether it was cancelled


@dataclass
class Ticket:
    document: str | None  # requests for the same document supersede each other; None: never
    deadline: float  # time.monotonic() after which the request is cancelled ("timeout")
    _reason: str | None = field(default=None, repr=False)

    def cancel(self, reason: str) -> None:
        """End the request: "superseded", "client cancelled", "disconnected", ..."""
        if self._reason is None:
            self._reason = reason

    @property
    def reason(self) -> str | None:
        if self._reason is None and time.monotonic() > self.deadline:
            self._reason = "timeout"
        return self._reason

    def cancelled(self) -> bool:
        return self.reason is not None


@dataclass
class ServiceStats:
    completed: int = 0
    cancelled: dict[str, int] = field(default_factory=dict)  # by reason
    overloaded: int = 0


class CompletionService:
    def __init__(self, completer: Completer, *, max_waiting: int = DEFAULT_MAX_WAITING,
                 timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.completer = completer
        self.max_waiting = max_waiting
        self.timeout_s = timeout_s
        self.stats = ServiceStats()
        self._turn = threading.Condition()  # guards _queue and _busy
        self._queue: deque[Ticket] = deque()  # waiting requests, oldest first
        self._busy = False
        self._state = threading.Lock()  # guards _latest and stats
        self._latest: dict[str, Ticket] = {}

    @property
    def waiting(self) -> int:
        return len(self._queue)

    def ticket(self, document: str | None = None, timeout_s: float | None = None) -> Ticket:
        """A ticket for a new request; it supersedes the last one for `document`."""
        ticket = Ticket(document, time.monotonic() + (self.timeout_s if timeout_s is None else timeout_s))
        if document is not None:
            with self._state:
                older = self._latest.get(document)
                self._latest[document] = ticket
            if older is not None:
                older.cancel("superseded")
        return ticket

    def complete(self, request: CompletionRequest, ticket: Ticket | None = None,
                 on_text: Callable[[int, str], None] | None = None) -> CompletionResult:
        """The completer's result for `request`; raises Cancelled if the ticket was cancelled
        before or during generation, Overloaded if too many requests are waiting. `on_text`
        streams the text so far (Completer.complete)."""
        ticket = ticket or self.ticket()
        result = self.run(lambda: self.completer.complete(request, ticket.cancelled, on_text), ticket)
        if ticket.cancelled():  # generation stopped early: the partial result is no answer
            self._count_cancel(ticket)
            raise Cancelled(ticket.reason or "cancelled")
        with self._state:
            self.stats.completed += 1
        return result

    def run(self, work: Callable[[], T], ticket: Ticket) -> T:
        """Run `work` with the engine to itself, once the requests queued before it are done."""
        with self._take_turn(ticket):
            return work()

    @contextmanager
    def hold(self) -> Iterator[None]:
        """Keep the engine busy, as a generation does (for callers that use it directly)."""
        with self._take_turn(Ticket(None, float("inf"))):
            yield

    @contextmanager
    def _take_turn(self, ticket: Ticket) -> Iterator[None]:
        with self._turn:
            if len(self._queue) >= self.max_waiting:
                with self._state:
                    self.stats.overloaded += 1
                raise Overloaded(f"{len(self._queue)} requests are already waiting; retry later")
            self._queue.append(ticket)
            try:
                while self._busy or self._queue[0] is not ticket:
                    if ticket.cancelled():
                        self._count_cancel(ticket)
                        raise Cancelled(ticket.reason or "cancelled")
                    self._turn.wait(_POLL_S)  # a cancel is a flag, not a notification: poll it
            except BaseException:
                self._queue.remove(ticket)
                self._turn.notify_all()
                raise
            self._queue.popleft()
            self._busy = True
        try:
            if ticket.cancelled():
                self._count_cancel(ticket)
                raise Cancelled(ticket.reason or "cancelled")
            yield
        finally:
            with self._turn:
                self._busy = False
                self._turn.notify_all()
            self._forget(ticket)

    def _forget(self, ticket: Ticket) -> None:
        if ticket.document is not None:
            with self._state:
                if self._latest.get(ticket.document) is ticket:
                    del self._latest[ticket.document]

    def _count_cancel(self, ticket: Ticket) -> None:
        reason = ticket.reason or "cancelled"
        with self._state:
            self.stats.cancelled[reason] = self.stats.cancelled.get(reason, 0) + 1
