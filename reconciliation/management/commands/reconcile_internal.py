"""``manage.py reconcile_internal``: our orders against our ledger (docs/RECONCILIATION.md,
"Internal reconciliation"); opens a discrepancy for each difference and exits 1 naming each."""

from datetime import date

from django.core.management.base import BaseCommand, CommandError

from reconciliation.internal import CHECKS, internal_differences, internal_reconcile
from wallet.progress import Progress


class Command(BaseCommand):
    help = (
        "Check every order's ledger effects and every wallet's balance against the orders; open a "
        "discrepancy for each difference."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--day",
            type=date.fromisoformat,
            help="Only the orders finished that day (YYYY-MM-DD, China time); balances are always checked whole.",
        )
        parser.add_argument("--dry-run", action="store_true", help="Report the differences; open nothing.")

    def handle(self, *args, day: date | None = None, dry_run: bool = False, **options) -> None:
        progress = Progress(self.stdout.write, noun="checks", total=len(CHECKS))
        run = internal_differences if dry_run else internal_reconcile
        differences = run(day=day, on_check=progress.update)
        for check in CHECKS:
            found = [difference for difference in differences if difference.check == check]
            status = "OK" if not found else f"{len(found)} difference(s)"
            self.stdout.write(f"{check:32} {status}")
            for difference in found:
                self.stdout.write(f"    {difference}")
        if differences:
            raise CommandError(f"internal reconciliation failed: {len(differences)} difference(s)")
        self.stdout.write(self.style.SUCCESS("internal reconciliation clean"))
