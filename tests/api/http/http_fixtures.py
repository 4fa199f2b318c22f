"""What the HTTP tests share besides fixtures: a real uvicorn server on a free loopback port,
in a thread of the test process, and a handle on it."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
import uvicorn

from forecode.api.http.app import create_app
from forecode.api.http.settings import ServerSettings
from forecode.api.service import CompletionService

TOKEN = "test-token-0123456789abcdef"


class Running:
    def __init__(self, base: str, service: CompletionService, settings: ServerSettings) -> None:
        self.base, self.service, self.settings = base, service, settings

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        return httpx.Client(base_url=self.base, headers=headers, timeout=30.0)


StartServer = Callable[..., Running]


@contextmanager
def running(service: CompletionService, settings: ServerSettings) -> Iterator[Running]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(service, settings), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.started, "the server did not start"
    try:
        yield Running(f"http://127.0.0.1:{port}", service, settings)
    finally:
        server.should_exit = True
        thread.join(10)
