"""``manage.py demo_data``: the whole demo of `make run` in one command, and what to try with it.

Each app seeds its own part: wallet's `demo_users` (staff, clients, balances, tokens), payments'
`demo_payments` (payout accounts, withdrawals, the demo shop) and wallet's `demo_wallet`
(transfer, red packet, campaign, receive code). They run here in that order because config is
the one package that may know every app (docs/ARCHITECTURE.md §2). Their lines go to standard
error as they come; standard output is the guide of what to try next, also written to
``next-steps.txt``, and every demo token is written to ``demo_tokens.json``, both in the var
directory. Safe on every start; ``--reset`` gives a worked-off review queue a fresh round.
"""

import json
import os
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from config import runenv
from config.demo_guide import demo_facts, demo_guide, demo_sign_in_codes
from wallet.management.commands.demo_users import DEFAULT_PASSWORD
from wallet.progress import Progress

STEPS = ("demo_users", "demo_payments", "demo_wallet")
GUIDE_FILE = "next-steps.txt"
TOKENS_FILE = "demo_tokens.json"


class Command(BaseCommand):
    help = "Seed or refresh the whole demo, write every demo token and print what to try next."

    def add_arguments(self, parser):
        var_dir = runenv.var_dir(os.environ)
        parser.add_argument(
            "--reset",
            action="store_true",
            help="When the review queue has been worked off, queue a fresh round of demo withdrawals.",
        )
        parser.add_argument(
            "--tokens-file", type=Path, default=var_dir / TOKENS_FILE, help="Where to write the tokens."
        )
        parser.add_argument("--guide-file", type=Path, default=var_dir / GUIDE_FILE, help="Where to write the guide.")

    def handle(self, *args, reset: bool, tokens_file: Path, guide_file: Path, **options):
        # The steps' lines are a log, not an error: no error colour on them.
        self.stderr.style_func = None
        progress = Progress(self.stderr.write, noun="demo steps", total=len(STEPS))
        for done, step in enumerate(STEPS, start=1):
            call_command(
                step, stdout=self.stderr, skip_checks=True, **({"reset": reset} if step == "demo_payments" else {})
            )
            progress.update(done, step)
        facts = demo_facts(
            base_url=settings.PUBLIC_BASE_URL,
            password=os.environ.get("DEMO_PASSWORD") or DEFAULT_PASSWORD,
            sandbox=settings.SANDBOX_ENABLED,
            tokens_file=str(tokens_file),
            sign_in_codes=demo_sign_in_codes(),
        )
        guide = demo_guide(facts)
        for path, text in ((tokens_file, json.dumps({"tokens": facts.tokens}, indent=2) + "\n"), (guide_file, guide)):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        self.stdout.write(f"{guide}\nThis guide is also in {guide_file}.")
