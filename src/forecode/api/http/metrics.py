"""Prometheus metrics in the app's own registry: requests by route and status, latency, tokens
generated, errors by kind, and the engine's queue."""

from __future__ import annotations

import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class Metrics:
    def __init__(self, waiting: Callable[[], int]) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("forecode_http_requests", "HTTP requests answered, by route and status",
                                ["route", "method", "status"], registry=self.registry)
        self.latency = Histogram("forecode_http_request_duration_seconds", "Time from request to the end of the answer",
                                 ["route"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.tokens = Counter("forecode_generated_tokens", "Tokens generated for answered requests",
                              ["route"], registry=self.registry)
        self.errors = Counter("forecode_errors", "Error answers by kind (the error type in the JSON body)",
                              ["kind"], registry=self.registry)
        self.waiting = Gauge("forecode_requests_waiting", "Requests waiting for the engine", registry=self.registry)
        self.waiting.set_function(lambda: float(waiting()))

    def render(self) -> bytes:
        return generate_latest(self.registry)


def route_label(scope: Scope) -> str:
    """The route's template, so unknown paths cannot grow the label set."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


class MetricsMiddleware:
    """Counts every answer, streamed ones at their end; a pure ASGI middleware, so streaming and
    disconnects pass through untouched."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        status = 500  # what the client gets if the app raises before answering

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            route = route_label(scope)
            self.metrics.requests.labels(route, scope["method"], str(status)).inc()
            self.metrics.latency.labels(route).observe(time.perf_counter() - t0)
