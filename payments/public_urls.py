"""Where a webhook may go (docs/WEBHOOKS.md, "The URL rule"): http or https to a host whose every
address is public. Loopback, private, link-local, shared, multicast, reserved and unspecified
addresses (IPv4 and IPv6, and IPv4 carried inside IPv6) are refused, so a notify URL cannot
make our workers reach the internal network. Delivery connects to the address checked here,
never resolving the name again (no DNS rebinding between the check and the connection).
"""

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError

SCHEMES = {"http": 80, "https": 443}
# IPv6 prefixes that carry an IPv4 address in their low 32 bits (NAT64, RFC 6052 and RFC 8215).
NAT64_PREFIXES = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UrlRefused(Exception):
    """The URL may not be delivered to; the message says why (it goes to the attempt log)."""


@dataclass(frozen=True)
class Target:
    """A checked URL: connect to ``address`` and ``port``, name ``host`` in Host and TLS (SNI
    and the certificate check), request ``path``."""

    scheme: str
    host: str
    port: int
    path: str
    address: str

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == SCHEMES[self.scheme] else f"{host}:{self.port}"


def address_is_public(address: IPAddress) -> bool:
    """Reachable on the internet, and not an IPv6 wrapping of an IPv4 address that is not."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and any(address in prefix for prefix in NAT64_PREFIXES):
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is None and address.teredo is not None:
            embedded = address.teredo[1]
        if embedded is not None and not address_is_public(embedded):
            return False
    return address.is_global and not (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


def url_target(url: str, *, allow_private: bool | None = None) -> Target:
    """Check ``url`` and resolve its host once; the address to connect to, or ``UrlRefused``.

    ``allow_private`` defaults to ``WEBHOOK_ALLOW_PRIVATE_URLS`` (tests and the local demo)."""
    if allow_private is None:
        allow_private = settings.WEBHOOK_ALLOW_PRIVATE_URLS
    scheme, host, port, path = _parts(url)
    addresses = _resolve(host, port)
    refused = [address for address in addresses if not address_is_public(address)]
    if refused and not allow_private:
        raise UrlRefused(f"{host} resolves to a non-public address ({refused[0]})")
    return Target(scheme=scheme, host=host, port=port, path=path, address=str(addresses[0]))


def notify_url_validate(url: str) -> None:
    """A Django validator for a notify URL where it is entered (the merchant's form, an order's
    override): the rule of ``url_target`` for what the URL itself says (scheme, credentials, an
    address or a local name written in it). A host name is resolved, and its addresses checked,
    at every delivery, where the answer counts; not at entry, which would put a DNS lookup on
    the merchant's payment request and prove nothing about the name's later answers."""
    if not url:
        return
    try:
        _, host, _, _ = _parts(url)
        if not settings.WEBHOOK_ALLOW_PRIVATE_URLS:
            _literal_host_check(host)
    except UrlRefused as refused:
        raise ValidationError(f"Webhooks cannot be sent to this URL: {refused}.", code="url_refused") from refused


def _parts(url: str) -> tuple[str, str, int, str]:
    """Scheme, host, port and path of a URL a webhook may be sent to, or ``UrlRefused``."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UrlRefused(f"not a URL: {exc}") from exc
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise UrlRefused(f"the scheme must be http or https, not {parts.scheme!r}")
    if not parts.hostname:
        raise UrlRefused("the URL names no host")
    if parts.username is not None or parts.password is not None:
        raise UrlRefused("the URL carries credentials")
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return scheme, parts.hostname, port or SCHEMES[scheme], path


def _literal_host_check(host: str) -> None:
    if host == "localhost" or host.endswith(".localhost"):
        raise UrlRefused(f"{host} is this machine")
    try:
        address = ipaddress.ip_address(host.partition("%")[0])
    except ValueError:
        return
    if not address_is_public(address):
        raise UrlRefused(f"{host} is a non-public address")


def _resolve(host: str, port: int) -> list[IPAddress]:
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise UrlRefused(f"{host} does not resolve: {exc}") from exc
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _canonical, sockaddr in found:
        # A scoped IPv6 address ("fe80::1%eth0") is link-local whatever its scope.
        address = ipaddress.ip_address(str(sockaddr[0]).partition("%")[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise UrlRefused(f"{host} has no address")
    return addresses
