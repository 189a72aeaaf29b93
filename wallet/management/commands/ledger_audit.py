"""``manage.py ledger_audit``: check the ledger invariants, exit 1 naming each violation."""

from django.core.management.base import BaseCommand, CommandError

from wallet.audit import CHECKS, ledger_audit
from wallet.progress import Progress


class Command(BaseCommand):
    help = "Check every ledger invariant (zero-sum transfers, balances, holds) and report violations."

    def handle(self, *args, **options) -> None:
        violations = ledger_audit(on_check=Progress(self.stdout.write, noun="checks", total=len(CHECKS)).update)
        for check in CHECKS:
            found = [v for v in violations if v.check == check]
            status = "OK" if not found else f"{len(found)} violation(s)"
            self.stdout.write(f"{check:32} {status}")
            for violation in found:
                self.stdout.write(f"    {violation.detail}")
        if violations:
            raise CommandError(f"ledger audit failed: {len(violations)} violation(s)")
        self.stdout.write(self.style.SUCCESS("ledger audit clean"))
