"""HTTP for the adapters: pooled connections, connect and read timeouts, and the mapping of
transport failures onto the three outcomes of ``base``."""

from collections.abc import Mapping
from dataclasses import dataclass

import requests
from requests.adapters import HTTPAdapter

from payments.channels.base import RetryableError, UnknownOutcome

CONNECT_TIMEOUT = 3.0


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
        try:
            response = self.session.request(
                method, f"{self.base_url}{path}", data=body or None, headers=dict(headers), timeout=self.timeout
            )
        except (requests.ConnectionError, requests.ConnectTimeout) as exc:
            if isinstance(exc, requests.ReadTimeout):
                raise UnknownOutcome(f"{method} {path}: no answer in {self.timeout[1]} s") from exc
            if _request_was_sent(exc):
                raise UnknownOutcome(f"{method} {path}: the connection broke after sending") from exc
            raise RetryableError(f"{method} {path}: could not connect") from exc
        except requests.Timeout as exc:
            raise UnknownOutcome(f"{method} {path}: no answer in {self.timeout[1]} s") from exc
        except requests.RequestException as exc:
            raise UnknownOutcome(f"{method} {path}: {type(exc).__name__}") from exc
        return HttpResponse(status=response.status_code, headers=response.headers, body=response.content)


def _request_was_sent(exc: Exception) -> bool:
    """A refused or unreachable connection never carried the request; anything else may have."""
    text = repr(exc)
    return not any(marker in text for marker in ("NewConnectionError", "ConnectTimeoutError", "NameResolutionError"))
