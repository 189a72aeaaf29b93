"""HTTPS deliveries connect to the checked address yet check the certificate against the URL's
host name (SNI and the name check), so pinning the address weakens nothing."""

from collections.abc import Iterator
from pathlib import Path

import certifi
import pytest

from payments.webhooks.models import AttemptOutcome
from payments.webhooks.services import Outcome
from payments.webhooks.tests.receiver import Receiver, receiver_start, receiver_stop
from payments.webhooks.tests.tls import certificate_for

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("private_urls_allowed")]


@pytest.fixture
def https_receiver(tmp_path) -> Iterator[tuple[Receiver, Path]]:
    """A receiver whose certificate names shop.test, and the file of the authority that signed it."""
    files = certificate_for(tmp_path, "shop.test")
    running = receiver_start(certificate=(str(files.cert_file), str(files.key_file)))
    try:
        yield running, files.ca_file
    finally:
        receiver_stop(running)


@pytest.fixture
def trusting(monkeypatch):
    """Trust the test's own authority instead of the public ones (the trust store is the outside world)."""

    def trust(ca_file: Path) -> None:
        monkeypatch.setattr(certifi, "where", lambda: str(ca_file))

    return trust


def test_an_https_receiver_whose_certificate_names_the_urls_host_gets_the_event(
    https_receiver, trusting, dns, make_merchant, settle, deliver
):
    receiver, ca_file = https_receiver
    trusting(ca_file)
    dns["shop.test"] = "127.0.0.1"
    port = receiver.server.server_port
    merchant = make_merchant(notify_url=f"https://shop.test:{port}/hooks").merchant
    event = settle(merchant.pk)

    assert deliver(event) == Outcome.DELIVERED

    [request] = receiver.received("/hooks")
    assert request.headers["Host"] == f"shop.test:{port}"


def test_a_certificate_for_another_name_is_a_connection_error_and_nothing_is_sent(
    https_receiver, trusting, dns, make_merchant, settle, deliver
):
    receiver, ca_file = https_receiver
    trusting(ca_file)
    dns["elsewhere.test"] = "127.0.0.1"
    merchant = make_merchant(notify_url=f"https://elsewhere.test:{receiver.server.server_port}/hooks").merchant
    event = settle(merchant.pk)

    assert deliver(event) == Outcome.RETRY

    [attempt] = event.attempts.all()
    assert attempt.outcome == AttemptOutcome.CONNECTION_ERROR
    assert "elsewhere.test" in attempt.error
    assert receiver.received("/hooks") == []


def test_a_certificate_from_an_authority_nobody_trusts_is_a_connection_error(
    https_receiver, dns, make_merchant, settle, deliver
):
    receiver, _ = https_receiver
    dns["shop.test"] = "127.0.0.1"
    merchant = make_merchant(notify_url=f"https://shop.test:{receiver.server.server_port}/hooks").merchant
    event = settle(merchant.pk)

    assert deliver(event) == Outcome.RETRY

    [attempt] = event.attempts.all()
    assert attempt.outcome == AttemptOutcome.CONNECTION_ERROR
    assert "certificate verify failed" in attempt.error
    assert receiver.received("/hooks") == []
