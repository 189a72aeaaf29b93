"""The receiver's verification exactly as docs/WEBHOOKS.md prints it, run against real deliveries:
the current secret verifies, during a rotation the previous one does too, a tampered body or an
old timestamp does not."""

import re
from pathlib import Path

import pytest

from payments.merchants.services import merchant_secret_rotate
from payments.webhooks.services import Outcome
from payments.webhooks.tests.receiver import Request

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("private_urls_allowed")]

DOC = Path(__file__).resolve().parents[3] / "docs" / "WEBHOOKS.md"


def documented_verify():
    """The first Python block of docs/WEBHOOKS.md, executed: its ``webhook_verify``."""
    [snippet, *_] = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.DOTALL)
    namespace: dict = {}
    exec(compile(snippet, str(DOC), "exec"), namespace)  # noqa: S102 - our own documentation
    return namespace["webhook_verify"]


def signature_timestamp(request: Request) -> int:
    return int(request.headers["Wallet-Signature"].split(",")[0].removeprefix("t="))


@pytest.fixture
def delivered(receiver, make_merchant, settle, deliver):
    """A merchant with its secret, and one real delivery of an event to it."""

    def deliver_one(merchant):
        event = settle(merchant.pk)
        assert deliver(event) == Outcome.DELIVERED
        return receiver.received("/hooks")[-1]

    return deliver_one


def test_a_delivery_verifies_with_the_merchants_secret(receiver, make_merchant, delivered):
    verify = documented_verify()
    created = make_merchant(notify_url=receiver.url("/hooks"))

    request = delivered(created.merchant)

    signature = request.headers["Wallet-Signature"]
    assert re.fullmatch(r"t=\d+,v1=[0-9a-f]{64}", signature)
    assert verify(created.secret, signature, request.body)
    assert not verify("whsec_someone-elses", signature, request.body)


def test_during_a_rotation_both_the_new_and_the_previous_secret_verify(receiver, make_merchant, delivered):
    verify = documented_verify()
    created = make_merchant(notify_url=receiver.url("/hooks"))
    rotated = merchant_secret_rotate(merchant=created.merchant)

    request = delivered(rotated.merchant)

    signature = request.headers["Wallet-Signature"]
    assert re.fullmatch(r"t=\d+,v1=[0-9a-f]{64},v1=[0-9a-f]{64}", signature)
    assert verify(rotated.secret, signature, request.body)
    assert verify(created.secret, signature, request.body)


def test_after_the_overlap_only_the_new_secret_verifies(receiver, make_merchant, delivered, clock, settings):
    verify = documented_verify()
    created = make_merchant(notify_url=receiver.url("/hooks"))
    rotated = merchant_secret_rotate(merchant=created.merchant)
    clock.shift(settings.MERCHANT_SECRET_OVERLAP_HOURS * 3600 + 1)

    request = delivered(rotated.merchant)

    assert verify(rotated.secret, request.headers["Wallet-Signature"], request.body)
    assert not verify(created.secret, request.headers["Wallet-Signature"], request.body)


def test_a_tampered_body_does_not_verify(receiver, make_merchant, delivered):
    verify = documented_verify()
    created = make_merchant(notify_url=receiver.url("/hooks"))

    request = delivered(created.merchant)

    tampered = request.body.replace(b'"12.34"', b'"92.34"')
    assert tampered != request.body
    assert not verify(created.secret, request.headers["Wallet-Signature"], tampered)


def test_a_signature_older_than_five_minutes_does_not_verify(receiver, make_merchant, delivered):
    verify = documented_verify()
    created = make_merchant(notify_url=receiver.url("/hooks"))

    request = delivered(created.merchant)

    signed_at = signature_timestamp(request)
    assert verify(created.secret, request.headers["Wallet-Signature"], request.body, now=signed_at + 300)
    assert not verify(created.secret, request.headers["Wallet-Signature"], request.body, now=signed_at + 301)


def test_a_header_without_a_timestamp_or_a_signature_does_not_verify(receiver, make_merchant, delivered):
    verify = documented_verify()
    created = make_merchant(notify_url=receiver.url("/hooks"))

    request = delivered(created.merchant)

    signature = request.headers["Wallet-Signature"]
    timestamp, first = signature.split(",")
    assert not verify(created.secret, first, request.body)
    assert not verify(created.secret, timestamp, request.body)
    assert not verify(created.secret, f"t={int(timestamp[2:]) + 1},{first}", request.body)
