"""``manage.py ledger_audit``: check the ledger invariants, exit 1 naming each violation.

Reads what is new since the last checkpoint unless ``--full`` (docs/LEDGER.md, "Auditing")."""

from django.core.management.base import BaseCommand, CommandError

from wallet.audit import CHECKS, SETTLE_SECONDS, ledger_audit_run
from wallet.progress import Progress


class Command(BaseCommand):
    help = (
        "Check every ledger invariant (zero-sum transfers, balances, holds) and report violations; "
        "reads only the entries after the last checkpoint unless --full."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--full", action="store_true", help="read the whole ledger, not only what is new")
        parser.add_argument(
            "--settle-seconds",
            type=float,
            default=SETTLE_SECONDS,
            help=f"wait this long for transactions writing when the run starts (default {SETTLE_SECONDS:.0f})",
        )

    def handle(self, *args, **options) -> None:
        progress = Progress(self.stdout.write, noun="checks", total=len(CHECKS))
        run = ledger_audit_run(full=options["full"], on_check=progress.update, settle_seconds=options["settle_seconds"])
        self.stdout.write("full audit" if run.full else f"entries after {run.checked_after}")
        for check in CHECKS:
            found = [v for v in run.violations if v.check == check]
            status = "OK" if not found else f"{len(found)} violation(s)"
            self.stdout.write(f"{check:32} {status}")
            for violation in found:
                self.stdout.write(f"    {violation.detail}")
        if run.checkpoint is not None:
            self.stdout.write(f"checkpoint: entry {run.checkpoint}")
        elif run.waited_for:
            self.stdout.write(f"checkpoint kept: transactions still writing (pids {run.waited_for})")
        if run.violations:
            raise CommandError(f"ledger audit failed: {len(run.violations)} violation(s)")
        self.stdout.write(self.style.SUCCESS("ledger audit clean"))
