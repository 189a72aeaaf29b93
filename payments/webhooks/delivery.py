"""One POST of a webhook and what came of it (docs/WEBHOOKS.md, "The answer").

urllib3 (the transport under requests) is used directly because it lets us connect to the
address the URL rule checked while naming the host in ``Host``, SNI and the certificate check:
the name is resolved once, so it cannot point elsewhere between the check and the connection.
Redirects are not followed (a 3xx is an HTTP error), nothing is retried here (the schedule
does that), and at most ``ANSWER_MAX_BYTES`` of the answer are read.
"""

import time
from dataclasses import dataclass

import certifi
import urllib3
from urllib3.exceptions import HTTPError, NewConnectionError
from urllib3.exceptions import TimeoutError as UrllibTimeout

from payments import public_urls as addresses
from payments.webhooks.models import AttemptOutcome

# "SUCCESS" with room for blanks around it: more than this is not a success, so is not read.
ANSWER_MAX_BYTES = 1024
EXCERPT_CHARS = 500
ERROR_CHARS = 500
SUCCESS = b"SUCCESS"
READ_CHUNK_BYTES = 256


class AnswerTooSlow(Exception):
    """The answer kept arriving past the deadline (a receiver dripping it to hold us)."""


@dataclass(frozen=True)
class AttemptResult:
    outcome: AttemptOutcome
    latency_ms: int
    http_status: int | None = None
    answer_excerpt: str = ""
    error: str = ""

    @property
    def delivered(self) -> bool:
        return self.outcome == AttemptOutcome.DELIVERED


def webhook_post(
    *, url: str, body: bytes, headers: dict[str, str], connect_timeout: float, read_timeout: float
) -> AttemptResult:
    """POST ``body`` to ``url``: delivered only on a 2xx whose body is ``SUCCESS`` once trimmed."""
    started = time.monotonic()

    def elapsed_ms() -> int:
        return round((time.monotonic() - started) * 1000)

    try:
        target = addresses.url_target(url)
    except addresses.UrlRefused as refused:
        return AttemptResult(AttemptOutcome.URL_REFUSED, elapsed_ms(), error=str(refused)[:ERROR_CHARS])
    # The whole answer must arrive within the read timeout of the request's end, however it drips.
    deadline = started + connect_timeout + read_timeout
    try:
        status, answer = _exchange(target, body, headers, connect_timeout, read_timeout, deadline)
    except NewConnectionError as exc:  # a subclass of urllib3's timeout error: test it first
        return _failed(AttemptOutcome.CONNECTION_ERROR, elapsed_ms(), exc)
    except (UrllibTimeout, AnswerTooSlow) as exc:
        return _failed(AttemptOutcome.TIMEOUT, elapsed_ms(), exc)
    except (HTTPError, OSError) as exc:
        return _failed(AttemptOutcome.CONNECTION_ERROR, elapsed_ms(), exc)
    excerpt = answer.decode("utf-8", errors="replace")[:EXCERPT_CHARS]
    if not 200 <= status < 300:
        return AttemptResult(AttemptOutcome.HTTP_ERROR, elapsed_ms(), status, excerpt, f"HTTP {status}")
    if len(answer) > ANSWER_MAX_BYTES:
        return AttemptResult(AttemptOutcome.BAD_ANSWER, elapsed_ms(), status, excerpt, "the answer is too long")
    if answer.strip() != SUCCESS:
        return AttemptResult(AttemptOutcome.BAD_ANSWER, elapsed_ms(), status, excerpt, "the answer is not SUCCESS")
    return AttemptResult(AttemptOutcome.DELIVERED, elapsed_ms(), status, excerpt)


def _exchange(
    target: addresses.Target,
    body: bytes,
    headers: dict[str, str],
    connect_timeout: float,
    read_timeout: float,
    deadline: float,
) -> tuple[int, bytes]:
    timeout = urllib3.Timeout(connect=connect_timeout, read=read_timeout)
    pool: urllib3.HTTPConnectionPool
    if target.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(
            target.address,
            target.port,
            timeout=timeout,
            retries=False,
            maxsize=1,
            server_hostname=target.host,
            assert_hostname=target.host,
            cert_reqs="CERT_REQUIRED",
            ca_certs=certifi.where(),
        )
    else:
        pool = urllib3.HTTPConnectionPool(target.address, target.port, timeout=timeout, retries=False, maxsize=1)
    with pool:
        response = pool.urlopen(
            "POST",
            target.path,
            body=body,
            headers={**headers, "Host": target.host_header, "Connection": "close"},
            redirect=False,
            retries=False,
            preload_content=False,
            assert_same_host=False,
        )
        try:
            return response.status, _read_bounded(response, deadline)
        finally:
            response.release_conn()


def _read_bounded(response: urllib3.BaseHTTPResponse, deadline: float) -> bytes:
    """At most ``ANSWER_MAX_BYTES`` (one more shows it is longer), and no read past the deadline."""
    answer = bytearray()
    while len(answer) <= ANSWER_MAX_BYTES:
        if time.monotonic() > deadline:
            raise AnswerTooSlow("the answer did not end in time")
        chunk = response.read1(READ_CHUNK_BYTES)
        if not chunk:
            break
        answer += chunk
    return bytes(answer)


def _failed(outcome: AttemptOutcome, latency_ms: int, exc: Exception) -> AttemptResult:
    return AttemptResult(outcome, latency_ms, error=f"{type(exc).__name__}: {exc}"[:ERROR_CHARS])
