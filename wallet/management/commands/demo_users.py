"""Demo users, the first step of `manage.py demo_data`: one staff user per admin group, a
superuser and three funded clients with API tokens.

Safe to run on every start: users, groups and tokens are fetched or created, and each client's
opening balance is one recharge with a fixed idempotency key, so it is credited only once.
"""

import os
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction
from rest_framework.authtoken.models import Token

from wallet import services
from wallet.payment_password.services import payment_password_ensure

STAFF_GROUPS = ["finance_reviewer", "finance_supervisor", "auditor", "operations"]
CLIENT_BALANCES = {"alice": Decimal("1000.00"), "bob": Decimal("500.00"), "carol": Decimal("250.00")}
DEFAULT_PASSWORD = "demo-pass-2026"  # noqa: S105 - a published demo password, overridable by DEMO_PASSWORD
# The clients' payment password (docs/WALLET.md, "Payment password"), sent as `Payment-Password`.
PAYMENT_PASSWORD = "135790"  # noqa: S105 - a published demo password


class Command(BaseCommand):
    help = "Create or refresh the demo users, balances and API tokens, and print their credentials."

    def handle(self, *args, **options):
        password = os.environ.get("DEMO_PASSWORD") or DEFAULT_PASSWORD
        with transaction.atomic(durable=True):
            _user("admin", password, is_staff=True, is_superuser=True)
            for group in STAFF_GROUPS:
                _user(group, password, is_staff=True).groups.add(Group.objects.get_or_create(name=group)[0])
            clients = {name: _client(name, amount) for name, amount in CLIENT_BALANCES.items()}

        lines = [
            f"Demo staff (admin site /admin/), password {password} when first created:",
            f"  admin (superuser); {', '.join(STAFF_GROUPS)} (each in the group of that name)",
            f"Demo API clients (header `Authorization: Token <token>`; payment password {PAYMENT_PASSWORD}):",
        ]
        lines += [f"  {name:<6} token {token}  balance {balance}" for name, (token, balance) in clients.items()]
        self.stdout.write("\n".join(lines))


def _user(username: str, password: str | None, **flags: bool):
    """Fetch or create the user and make sure of its flags. The password (None: unusable) is set
    only on creation: hashing is slow, and a password changed in the admin should survive."""
    user, created = get_user_model().objects.get_or_create(username=username, defaults=flags)
    if created:
        user.set_password(password)
        user.save(update_fields=["password"])
    changed = [name for name, value in flags.items() if getattr(user, name) != value]
    if changed:
        for name in changed:
            setattr(user, name, flags[name])
        user.save(update_fields=changed)
    return user


def _client(username: str, opening_balance: Decimal) -> tuple[str, Decimal]:
    """The client's API token and balance after the one-off opening recharge. Clients use the
    API only, so they get no usable password."""
    user = _user(username, None)
    payment_password_ensure(user=user, password=PAYMENT_PASSWORD)
    account = services.account_for_user(user=user)
    clearing = services.account_for_system(code="clearing:demo")
    services.transfer_post(
        idempotency_key=f"demo:opening-balance:{username}",
        kind="recharge",
        legs=[services.Leg(clearing, -opening_balance), services.Leg(account, opening_balance)],
        memo="Demo opening balance",
    )
    account.refresh_from_db()
    token, _ = Token.objects.get_or_create(user=account.owner)
    return token.key, account.balance
