"""A business system's webhook receiver for the tests: a real HTTP server on 127.0.0.1 in a
thread, answering each path from a script and recording every request it got."""

import ssl
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Answer:
    status: int = 200
    body: bytes = b"SUCCESS"
    # Seconds to hold the request before answering (woken early when the receiver stops).
    hold: float = 0.0
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Request:
    path: str
    headers: dict[str, str]
    body: bytes
    number: int  # the order in which the receiver got it, over all paths


@dataclass
class Receiver:
    """``script(path, [answers])``: the answers in turn, the last one repeated; a path without
    a script answers 200 SUCCESS."""

    server: ThreadingHTTPServer
    scripts: dict[str, list[Answer]] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    in_flight: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    most_in_flight: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    stopping: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    tls: bool = False

    @property
    def base_url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.server.server_port}"

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def script(self, path: str, answers: list[Answer]) -> None:
        self.scripts[path] = list(answers)

    def received(self, path: str) -> list[Request]:
        with self.lock:
            return [request for request in self.requests if request.path == path]

    def answer_for(self, path: str) -> Answer:
        with self.lock:
            answers = self.scripts.get(path)
            if not answers:
                return Answer()
            return answers.pop(0) if len(answers) > 1 else answers[0]


def receiver_start(*, certificate: tuple[str, str] | None = None) -> Receiver:
    """Listen on a free port of 127.0.0.1; with ``certificate`` (cert and key files), over TLS."""
    receiver: Receiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with receiver.lock:
                number = len(receiver.requests) + 1
                receiver.requests.append(Request(self.path, dict(self.headers.items()), body, number))
                receiver.in_flight[self.path] += 1
                receiver.most_in_flight[self.path] = max(
                    receiver.most_in_flight[self.path], receiver.in_flight[self.path]
                )
            answer = receiver.answer_for(self.path)
            try:
                if answer.hold:
                    receiver.stopping.wait(answer.hold)
                self.send_response(answer.status)
                for name, value in answer.headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)
            except OSError:
                pass  # the client gave up waiting: what a slow receiver sees
            finally:
                with receiver.lock:
                    receiver.in_flight[self.path] -= 1

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the tests read ``requests``."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    if certificate is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*certificate)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    receiver = Receiver(server=server, tls=certificate is not None)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return receiver


def receiver_stop(receiver: Receiver) -> None:
    receiver.stopping.set()
    receiver.server.shutdown()
    receiver.server.server_close()
