"""The sandbox's credentials, generated once per database and shared by both sides: the
protocol's channel half signs here, the merchant half configures our adapter (registry)."""

from django.db import IntegrityError, transaction

from payments.channels.sandbox.models import SandboxKeys
from payments.channels.sandbox.protocols import protocol_module


def keys_for(protocol: str) -> dict:
    return keys_row(protocol).secrets


def keys_row(protocol: str) -> SandboxKeys:
    """The protocol's keys row, created with fresh keys on first use."""
    keys = SandboxKeys.objects.filter(protocol=protocol).first()
    if keys is not None:
        return keys
    secrets = protocol_module(protocol).keys_generate()
    try:
        with transaction.atomic():
            return SandboxKeys.objects.create(protocol=protocol, secrets=secrets)
    except IntegrityError:
        return SandboxKeys.objects.get(protocol=protocol)  # Another process was first.
