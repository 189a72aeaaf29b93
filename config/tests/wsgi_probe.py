"""A WSGI app for the gunicorn tests, so they need no database: ``/sleep/<seconds>`` answers
after that long, any other path at once."""

import time
from collections.abc import Callable, Iterable


def application(environ: dict, start_response: Callable) -> Iterable[bytes]:
    path = environ.get("PATH_INFO", "")
    if path.startswith("/sleep/"):
        time.sleep(float(path.removeprefix("/sleep/")))
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]
