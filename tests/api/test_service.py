"""The service the adapters share: queueing, superseding, cancelling, deadlines, overload."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from engine.tiny_models import CURSORS, document_at

from forecode.api.service import CompletionService
from forecode.completer import Completer, CompletionRequest
from forecode.errors import Cancelled, Overloaded


def _request(cursor: int = CURSORS[0]) -> CompletionRequest:
    doc, _ = document_at(cursor)
    return CompletionRequest(doc, cursor)


def test_a_request_completes_and_is_counted(service: CompletionService) -> None:
    cursor = CURSORS[0]
    result = service.complete(_request(cursor))
    assert result.suggestions[0].text == document_at(cursor)[1]
    assert service.stats.completed == 1


def _start_waiting(service: CompletionService, ticket_doc: str) -> tuple[threading.Thread, list[object]]:
    """A request for `ticket_doc` that waits for the engine (the test holds it)."""
    outcome: list[object] = []
    ticket = service.ticket(ticket_doc)

    def run() -> None:
        try:
            outcome.append(service.complete(_request(), ticket))
        except Exception as exc:  # noqa: BLE001 - the outcome is what the test inspects
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + 5
    while service.waiting == 0 and time.monotonic() < deadline:
        time.sleep(0.005)
    return thread, outcome


def test_a_newer_request_for_the_same_document_supersedes_a_waiting_one(service: CompletionService) -> None:
    with service.hold():  # the engine is busy: the first request waits
        thread, outcome = _start_waiting(service, "file:///a.py")
        newer = service.ticket("file:///a.py")
        thread.join(5)
    [exc] = outcome
    assert isinstance(exc, Cancelled) and exc.reason == "superseded"
    assert service.stats.cancelled == {"superseded": 1}
    assert service.complete(_request(), newer).suggestions  # the newer one runs


def test_requests_for_other_documents_do_not_supersede(service: CompletionService) -> None:
    with service.hold():
        thread, outcome = _start_waiting(service, "file:///a.py")
        service.ticket("file:///b.py")
    thread.join(10)
    [result] = outcome
    assert not isinstance(result, Exception)


def test_a_deadline_that_passes_while_waiting_cancels(service: CompletionService) -> None:
    ticket = service.ticket(timeout_s=0.05)
    with service.hold():
        with pytest.raises(Cancelled, match="timeout"):
            service.complete(_request(), ticket)


def test_too_many_waiting_requests_are_refused(memorised_completer: Completer) -> None:
    service = CompletionService(memorised_completer, max_waiting=1)
    with service.hold():
        thread, outcome = _start_waiting(service, "file:///a.py")
        with pytest.raises(Overloaded, match="1 requests are already waiting"):
            service.complete(_request())
    thread.join(10)
    assert service.stats.overloaded == 1
    assert not isinstance(outcome[0], Exception)


def test_cancelling_during_generation_stops_it_within_a_token(memorised_completer: Completer) -> None:
    polls = 0

    def cancelled() -> bool:
        nonlocal polls
        polls += 1
        return polls > 2

    doc, rest = document_at(CURSORS[0])
    result = memorised_completer.complete(CompletionRequest(doc, CURSORS[0], max_tokens=32), cancelled)
    [s] = result.suggestions
    assert s.finish_reason == "cancelled"
    assert len(s.tokens) <= 2 and rest.startswith(s.text)


def test_a_cancelled_ticket_raises_instead_of_returning_a_partial_result(service: CompletionService) -> None:
    ticket = service.ticket("file:///a.py")
    ticket.cancel("client cancelled")
    with pytest.raises(Cancelled, match="client cancelled"):
        service.complete(_request(), ticket)


def test_waiting_requests_run_in_the_order_they_came(service: CompletionService) -> None:
    order: list[int] = []
    threads = []
    with service.hold():
        for i in range(3):
            ticket = service.ticket()
            thread = threading.Thread(target=lambda i=i, t=ticket: service.run(lambda: order.append(i), t))
            thread.start()
            threads.append(thread)
            deadline = time.monotonic() + 5
            while service.waiting < i + 1 and time.monotonic() < deadline:
                time.sleep(0.005)
    for thread in threads:
        thread.join(5)
    assert order == [0, 1, 2]
    assert service.waiting == 0


def test_a_cancelled_request_leaves_the_queue_for_the_ones_behind_it(service: CompletionService) -> None:
    ran: list[str] = []
    first, second = service.ticket(), service.ticket()
    with service.hold():
        t1 = threading.Thread(target=lambda: _swallow(lambda: service.run(lambda: ran.append("first"), first)))
        t1.start()
        while service.waiting < 1:
            time.sleep(0.005)
        t2 = threading.Thread(target=lambda: service.run(lambda: ran.append("second"), second))
        t2.start()
        while service.waiting < 2:
            time.sleep(0.005)
        first.cancel("client cancelled")
        t1.join(5)
    t2.join(5)
    assert ran == ["second"]


def _swallow(fn: Callable[[], object]) -> None:
    try:
        fn()
    except Cancelled:
        pass
