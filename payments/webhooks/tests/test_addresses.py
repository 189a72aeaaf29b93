"""The URL rule: webhooks go to public http(s) addresses only, to the very address that was
checked; WEBHOOK_ALLOW_PRIVATE_URLS (tests, the demo) lifts the address part of the rule."""

import socket

import pytest
from django.core.exceptions import ValidationError

from payments import public_urls as addresses
from payments.public_urls import UrlRefused, notify_url_validate, url_target
from payments.webhooks.models import AttemptOutcome
from payments.webhooks.services import Outcome

NOT_PUBLIC = [
    "127.0.0.1",
    "127.8.9.10",
    "10.0.0.1",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",
    "100.64.0.1",
    "0.0.0.0",  # noqa: S104 - the address under test
    "224.0.0.1",
    "240.0.0.1",
    "255.255.255.255",
    "192.0.2.1",
    "[::1]",
    "[::]",
    "[fe80::1]",
    "[fc00::1]",
    "[fd12:3456::1]",
    "[ff02::1]",
    "[::ffff:127.0.0.1]",
    "[::ffff:10.0.0.1]",
    "[::ffff:169.254.169.254]",
    "[2002:7f00:1::1]",  # 6to4 of 127.0.0.1
    "[64:ff9b::a00:1]",  # NAT64 of 10.0.0.1
]
PUBLIC = ["93.184.215.14", "[2606:4700:4700::1111]", "[2002:5db8:d70e::1]"]


@pytest.mark.parametrize("host", NOT_PUBLIC)
def test_a_url_whose_host_is_not_a_public_address_is_refused(host, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False

    with pytest.raises(UrlRefused, match="non-public address"):
        url_target(f"https://{host}/hooks")


@pytest.mark.parametrize("host", PUBLIC)
def test_a_url_whose_host_is_a_public_address_is_accepted_and_pinned_to_it(host, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False

    target = url_target(f"https://{host}:8443/hooks?shop=1")

    assert (target.scheme, target.port, target.path) == ("https", 8443, "/hooks?shop=1")
    assert target.address == host.strip("[]")


@pytest.mark.parametrize(
    "url",
    [
        "ftp://93.184.215.14/hooks",
        "file:///etc/passwd",
        "gopher://93.184.215.14/",
        "https:///hooks",
        "https://user:pw@93.184.215.14/hooks",
        "https://93.184.215.14:99999/hooks",
        "https://no-such-host.invalid/hooks",
    ],
)
def test_a_url_that_is_not_http_to_a_resolvable_host_is_refused(url, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True

    with pytest.raises(UrlRefused):
        url_target(url)


def test_a_host_with_one_private_address_among_public_ones_is_refused(monkeypatch, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    answers = [("93.184.215.14", 443), ("10.1.2.3", 443)]
    monkeypatch.setattr(
        addresses.socket,
        "getaddrinfo",
        lambda host, port, **kwargs: [(socket.AF_INET, socket.SOCK_STREAM, 6, "", answer) for answer in answers],
    )

    with pytest.raises(UrlRefused, match="10.1.2.3"):
        url_target("https://shop.example.com/hooks")


def test_the_notify_url_validator_refuses_what_delivery_would(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False

    with pytest.raises(ValidationError) as refused:
        notify_url_validate("http://169.254.169.254/latest/meta-data/")
    assert refused.value.code == "url_refused"
    notify_url_validate("https://93.184.215.14/hooks")
    notify_url_validate("")


@pytest.mark.django_db
def test_a_delivery_to_loopback_with_private_urls_off_is_refused_without_a_request(
    receiver, make_merchant, settle, deliver, settings
):
    # A URL entered while the rule allowed it (as a name that resolves inside would be at entry)
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    merchant = make_merchant(notify_url=receiver.url("/hooks")).merchant
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    event = settle(merchant.pk)

    assert deliver(event) == Outcome.RETRY

    [attempt] = event.attempts.all()
    assert (attempt.outcome, attempt.http_status) == (AttemptOutcome.URL_REFUSED, None)
    assert "127.0.0.1" in attempt.error
    assert receiver.received("/hooks") == []


@pytest.mark.django_db
def test_the_connection_goes_to_the_address_checked_even_if_the_name_then_resolves_elsewhere(
    receiver, make_merchant, settle, deliver, monkeypatch, private_urls_allowed
):
    """DNS rebinding: the name is resolved once, and the request uses that answer."""
    real_getaddrinfo = socket.getaddrinfo
    port = receiver.server.server_port
    lookups: list[str] = []

    def rebinding_resolver(host, port_, *args, **kwargs):
        if host != "shop.test":
            return real_getaddrinfo(host, port_, *args, **kwargs)
        lookups.append(host)
        address = "127.0.0.1" if len(lookups) == 1 else "192.0.2.66"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port_))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding_resolver)
    merchant = make_merchant(notify_url=f"http://shop.test:{port}/hooks").merchant
    event = settle(merchant.pk)

    assert deliver(event) == Outcome.DELIVERED

    assert lookups == ["shop.test"]
    [request] = receiver.received("/hooks")
    assert request.headers["Host"] == f"shop.test:{port}"
