"""Transfers posted before wallet 0011 get their transfer rows from the ledger."""

import importlib
from decimal import Decimal

import pytest
from django.db import connection

from wallet import services as ledger
from wallet.models import PeerTransfer
from wallet.transfers import selectors

pytestmark = pytest.mark.django_db

migration = importlib.import_module("wallet.migrations.0011_transfers_and_receive_codes")


def test_a_transfer_posted_before_the_migration_gets_its_row_once(sender, recipient):
    # Given a p2p transfer as the ledger recorded them before (key by sender, reference the recipient)
    posted = ledger.transfer_post(
        idempotency_key=f"p2p:{sender.pk}:old:key",
        kind="p2p",
        legs=[
            ledger.Leg(ledger.account_for_user(user=sender), Decimal("-7.00")),
            ledger.Leg(ledger.account_for_user(user=recipient), Decimal("7.00")),
        ],
        memo="before",
        reference=f"user:{recipient.pk}",
    )

    # When the backfill runs, twice
    with connection.schema_editor() as schema_editor:
        migration.backfill(None, schema_editor)
        migration.backfill(None, schema_editor)

    # Then the transfer has one posted row, and the recipient counts as paid before
    row = PeerTransfer.objects.get(ledger_transfer_id=posted.pk)
    assert (row.sender, row.recipient, row.amount, row.memo) == (sender, recipient, Decimal("7.00"), "before")
    assert (row.status, row.idempotency_key, row.created_at) == ("posted", "old:key", posted.created_at)
    assert PeerTransfer.objects.count() == 1
    assert selectors.has_paid_before(sender_id=sender.pk, recipient_id=recipient.pk)
