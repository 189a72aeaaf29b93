"""A channel's server for the bill download tests: a local HTTP server in a thread that answers
each path with what a test set for it and records every request, so the adapters stream real
HTTP. The outside world, played where the sandbox has nothing to play."""

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest


@dataclass(frozen=True)
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    # Send only this many bytes of the body, then drop the connection (Content-Length says all).
    cut_at: int | None = None


@dataclass(frozen=True)
class Received:
    method: str
    path: str  # with its query
    headers: dict[str, str]
    body: bytes


class FakeChannel(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        self.answers: dict[str, Answer | Callable[[Received], Answer]] = {}
        self.received: list[Received] = []

    def answer(self, path: str, answer: Answer | Callable[[Received], Answer]) -> None:
        """What a request to ``path`` (without its query) gets; a callable sees the request."""
        self.answers[path] = answer

    def paths(self) -> list[str]:
        return [urlsplit(request.path).path for request in self.received]


class _Handler(BaseHTTPRequestHandler):
    server: FakeChannel

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: a failing test shows what it needs."""

    def _answer(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        request = Received(self.command, self.path, dict(self.headers.items()), body)
        self.server.received.append(request)
        answer = self.server.answers.get(urlsplit(self.path).path, Answer(status=404, body=b"no such path"))
        if callable(answer):
            answer = answer(request)
        self.send_response(answer.status)
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        self.wfile.write(answer.body[: answer.cut_at])
        if answer.cut_at is not None:
            self.close_connection = True


@pytest.fixture(name="fake_channel")
def fake_channel_serve() -> Iterator[FakeChannel]:
    """The server, as the ``fake_channel`` fixture: a test module imports this function."""
    server = FakeChannel()
    # A short poll: shutting down waits for the loop to look, up to one interval.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()
