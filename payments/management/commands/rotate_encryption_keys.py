"""Re-seal every sensitive field under the newest key of FIELD_ENCRYPTION_KEYS.

Rotation: put the new key first in FIELD_ENCRYPTION_KEYS (keep the old ones after it), deploy,
run this command, then drop the old keys. Rows are re-sealed in batches, each batch in its own
short transaction with its rows locked, so the command can run beside live traffic, be stopped
and run again; rows already under the newest key are skipped.
"""

from django.core.management.base import BaseCommand
from django.db import transaction

from payments import encryption
from payments.withdrawals import services
from wallet.progress import Progress


class Command(BaseCommand):
    help = "Re-encrypt sealed payout account fields with the newest key in FIELD_ENCRYPTION_KEYS."

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=500, help="Rows per transaction (default 500).")

    def handle(self, *args, batch_size: int, **options):
        total = 0
        progress = Progress(self.stdout.write, noun="payout account(s) re-sealed")
        while True:
            with transaction.atomic(durable=True):
                resealed = services.payout_accounts_reseal(limit=batch_size)
            total += resealed
            progress.update(total)
            if resealed < batch_size:
                break
        self.stdout.write(f"Re-sealed {total} payout account(s) under key {encryption.key_ring().current_id}.")
