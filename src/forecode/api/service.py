"""One engine, many clients: what the HTTP server and the language server share.

Requests queue for the engine (one generation at a time: on a few CPU cores, interleaving two
only makes both slower). Each request holds a `Ticket`: a newer request for the same document
supersedes it, its client can cancel it, and its deadline ends it. A cancelled ticket stops
its generation at the next token, or never starts it if it is still waiting.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
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
        self._engine = threading.Lock()
        self._state = threading.Lock()
        self._waiting = 0
        self._latest: dict[str, Ticket] = {}

    @property
    def waiting(self) -> int:
        return self._waiting

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

    def complete(self, request: CompletionRequest, ticket: Ticket | None = None) -> CompletionResult:
        """The completer's result for `request`; raises Cancelled if the ticket was cancelled
        before or during generation, Overloaded if too many requests are waiting."""
        ticket = ticket or self.ticket()
        result = self.run(lambda: self.completer.complete(request, ticket.cancelled), ticket)
        if ticket.cancelled():  # generation stopped early: the partial result is no answer
            self._count_cancel(ticket)
            raise Cancelled(ticket.reason or "cancelled")
        with self._state:
            self.stats.completed += 1
        return result

    def run(self, work: Callable[[], T], ticket: Ticket) -> T:
        """Run `work` with the engine to itself, once the requests ahead of it are done."""
        with self._state:
            if self._waiting >= self.max_waiting:
                self.stats.overloaded += 1
                raise Overloaded(f"{self._waiting} requests are already waiting; retry later")
            self._waiting += 1
        try:
            while not self._engine.acquire(timeout=_POLL_S):
                if ticket.cancelled():
                    self._count_cancel(ticket)
                    raise Cancelled(ticket.reason or "cancelled")
        finally:
            with self._state:
                self._waiting -= 1
        try:
            if ticket.cancelled():
                self._count_cancel(ticket)
                raise Cancelled(ticket.reason or "cancelled")
            return work()
        finally:
            self._engine.release()
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
