"""The sandbox's credentials, generated once per database and shared by both sides: the
protocol's channel half signs here, the merchant half configures our adapter (registry)."""

from django.db import IntegrityError, transaction

from payments.sandbox.models import SandboxKeys
from payments.sandbox.protocols import protocol_module


def keys_for(protocol: str) -> dict:
    return keys_row(protocol).secrets


def keys_row(protocol: str) -> SandboxKeys:
    """The protocol's keys row, created with fresh keys on first use."""
    keys = SandboxKeys.objects.filter(protocol=protocol).first()
    if keys is not None:
        return keys
    secrets = secrets_generate(protocol)
    try:
        with transaction.atomic():
            return SandboxKeys.objects.create(protocol=protocol, secrets=secrets)
    except IntegrityError:
        return SandboxKeys.objects.get(protocol=protocol)  # Another process was first.


def secrets_generate(protocol: str) -> dict:
    """Fresh credentials of both sides (RSA-2048 pairs for most protocols: the slow part)."""
    return protocol_module(protocol).keys_generate()
