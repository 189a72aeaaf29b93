"""HTTP for the adapters: pooled connections, connect and read timeouts, and the mapping of
transport failures onto the three outcomes of ``base``."""

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from payments.channels.base import RetryableError, UnknownOutcome

CONNECT_TIMEOUT = 3.0
# A download is written in pieces of this size, so a bill of any size takes constant memory.
DOWNLOAD_CHUNK_BYTES = 64 * 1024
# An answer that is not a download is an error document: this much of it is kept.
ERROR_BODY_MAX_BYTES = 64 * 1024


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: Mapping[str, str]
    body: bytes


class ChannelHttp:
    """One session per adapter instance: connections to the channel are reused across calls."""

    def __init__(self, *, base_url: str, read_timeout: float, pool_size: int = 10) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = (CONNECT_TIMEOUT, read_timeout)
        self.session = requests.Session()
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=pool_size, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def send(self, method: str, path: str, *, body: bytes = b"", headers: Mapping[str, str]) -> HttpResponse:
        """Send one request. Connection failures are retryable (nothing left); a timeout once
        connected, or a broken answer, is unknown (the channel may have acted on it)."""
        with self._outcomes(method, path):
            response = self.session.request(
                method, f"{self.base_url}{path}", data=body or None, headers=dict(headers), timeout=self.timeout
            )
        return HttpResponse(status=response.status_code, headers=response.headers, body=response.content)

    def download(
        self, method: str, url: str, *, headers: Mapping[str, str], destination: Path, body: bytes = b""
    ) -> HttpResponse:
        """Send one request and stream a 2xx answer's body into ``destination`` piece by piece;
        the response returned then has an empty body. Any other answer is an error document: its
        body (the first 64 KiB) is returned and no file is written. ``url`` is a path under the
        base URL or an absolute URL (a download link the channel gave). Failures map as in
        ``send``; a body that breaks off is ``UnknownOutcome`` and leaves no file behind."""
        if not url.startswith(("https://", "http://")):
            url = f"{self.base_url}{url}"
        # Messages name the path only: a download link's query is a credential.
        with (
            self._outcomes(method, urlsplit(url).path),
            self.session.request(
                method, url, data=body or None, headers=dict(headers), timeout=self.timeout, stream=True
            ) as response,
        ):
            if not 200 <= response.status_code < 300:
                error = _head(response, ERROR_BODY_MAX_BYTES)
                return HttpResponse(status=response.status_code, headers=response.headers, body=error)
            try:
                with destination.open("wb") as file:
                    for chunk in response.iter_content(DOWNLOAD_CHUNK_BYTES):
                        file.write(chunk)
            except BaseException:
                destination.unlink(missing_ok=True)
                raise
            return HttpResponse(status=response.status_code, headers=response.headers, body=b"")

    @contextmanager
    def _outcomes(self, method: str, where: str) -> Iterator[None]:
        """The transport failures of one exchange, as ``base``'s outcomes."""
        try:
            yield
        except (requests.ConnectionError, requests.ConnectTimeout) as exc:
            if isinstance(exc, requests.ReadTimeout):
                raise UnknownOutcome(f"{method} {where}: no answer in {self.timeout[1]} s") from exc
            if _request_was_sent(exc):
                raise UnknownOutcome(f"{method} {where}: the connection broke after sending") from exc
            raise RetryableError(f"{method} {where}: could not connect") from exc
        except requests.Timeout as exc:
            raise UnknownOutcome(f"{method} {where}: no answer in {self.timeout[1]} s") from exc
        except requests.RequestException as exc:
            raise UnknownOutcome(f"{method} {where}: {type(exc).__name__}") from exc


def _head(response: requests.Response, limit: int) -> bytes:
    head = bytearray()
    for chunk in response.iter_content(DOWNLOAD_CHUNK_BYTES):
        head += chunk
        if len(head) >= limit:
            break
    return bytes(head[:limit])


def _request_was_sent(exc: Exception) -> bool:
    """A refused or unreachable connection never carried the request; anything else may have."""
    text = repr(exc)
    return not any(marker in text for marker in ("NewConnectionError", "ConnectTimeoutError", "NameResolutionError"))
