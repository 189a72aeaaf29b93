"""Demo payout accounts, withdrawals, the demo merchant and a balance payment of its order with a
refund, the second step of `manage.py demo_data`, after `demo_users` (wallet) made the users.

Safe on every start: accounts are bound once (binding again returns them), withdrawals carry
fixed idempotency keys, so a second run replays them instead of creating more. With ``--reset``
(every `make run` start) a review queue the staff have worked off gets a fresh round: its two
withdrawals again, from a new client funded for them. A withdrawal the risk rules refuse today
(say operations closed the window) is reported and skipped, never fatal.
Channel payments need the running sandbox, so the demo opens none here: the README shows how the
demo merchant creates one and the payer pays it through the API. The sandbox's payers are told
to wait for the cashier page, so a demo payment is paid when someone presses Pay there, as a
real payer would.
"""

from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.utils import timezone
from rest_framework.authtoken.models import Token

from payments.merchants import services as merchants
from payments.merchants.models import Merchant
from payments.orders import refunds
from payments.orders import services as payment_orders
from payments.withdrawals import services
from payments.withdrawals.models import Withdrawal, WithdrawalStatus
from wallet import services as ledger
from wallet.errors import ApplicationError
from wallet.task_queue import task_enqueue

# A reviewer's queue needs withdrawals above the 5,000.00 review line: dave can afford them.
REVIEW_CLIENT = "dave"
# The demo merchant and its service account, which creates and refunds its order payments through the API.
SHOP_ACCOUNT = "shop"
SHOP_MERCHANT = "demo-shop"
REVIEW_CLIENT_BALANCE = Decimal("30000.00")
# The nightly reconciliation (queued by name: payments never imports reconciliation), run on
# today's bills once the demo payouts are done.
RECONCILIATION_TASK = "reconciliation.nightly"
RECONCILIATION_DELAY = 60
CARDS = {"alice": "6222020200112233446", "dave": "6217001234567890122"}
OPENIDS = {"bob": "oDemo8uMuAJO_M2pxb1Q9zNjBob0"}
# Alipay accounts (login id, real name); the sandbox's Alipay takes any real name for these.
ALIPAY_ACCOUNTS = {"alice": ("alice@example.com", "Alice")}
WITHDRAWALS = [
    ("alice", "120.00"),
    ("bob", "50.00"),
    (REVIEW_CLIENT, "6000.00"),
    (REVIEW_CLIENT, "9000.00"),
]
# The withdrawals a reset submits again: the queue's 6,000.00 and its four-eyes 9,000.00.
REVIEW_AMOUNTS = [Decimal(amount) for username, amount in WITHDRAWALS if username == REVIEW_CLIENT]


class Command(BaseCommand):
    help = "Create or refresh demo payout accounts and withdrawals (needs `demo_users` first)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--reset",
            action="store_true",
            help="When no demo withdrawal waits for review any more, submit a fresh round to the queue.",
        )

    def handle(self, *args, reset: bool = False, **options):
        users = get_user_model().objects
        _funded_client(REVIEW_CLIENT, REVIEW_CLIENT_BALANCE)
        payout_accounts = {}
        for username, number in CARDS.items():
            payout_accounts[username], _ = services.payout_account_bind(
                user=users.get(username=username),
                kind="bank_card",
                card_number=number,
                holder_name=username.capitalize(),
                bank_code="ICBC",
            )
        for username, openid in OPENIDS.items():
            payout_accounts[username], _ = services.payout_account_bind(
                user=users.get(username=username), kind="wechat_openid", openid=openid
            )
        for username, (login_id, real_name) in ALIPAY_ACCOUNTS.items():
            services.payout_account_bind(
                user=users.get(username=username), kind="alipay", login_id=login_id, real_name=real_name
            )
        lines = ["Demo withdrawals (admin: Payments > Withdrawals opens on the pending queue):"]
        for position, (username, amount) in enumerate(WITHDRAWALS, start=1):
            lines.append(
                _withdrawal(
                    users.get(username=username), payout_accounts[username], Decimal(amount), f"withdrawal:{position}"
                )
            )
        if reset:
            lines.extend(self._review_round())
        shop, created_lines = self._shop_merchant()
        lines.extend(created_lines)
        lines.extend(self._balance_payment(users.get(username=REVIEW_CLIENT), shop))
        lines.append(
            f"Merchant {shop.code} (POST /api/v1/merchant/payments/, refunds under "
            f"/api/v1/merchant/payments/<order_no>/refunds/): service account {shop.service_user.get_username()}  "
            f"token {Token.objects.get_or_create(user=shop.service_user)[0].key}"
        )
        if settings.SANDBOX_ENABLED:
            self._payers_use_the_cashier()
            lines.extend(self._reconciliation_of_today())
        self.stdout.write("\n".join(lines))

    def _review_round(self) -> list[str]:
        """A fresh round for the review queue, unless a demo withdrawal still waits there. Each
        round is a client of its own (dave2, dave3, ...) funded for it: dave's withdrawal count
        limits would refuse him a second round within the hour."""
        demo = Withdrawal.objects.filter(idempotency_key__startswith="demo:")
        if demo.filter(status=WithdrawalStatus.PENDING).exists():
            return []
        round_no = demo.filter(idempotency_key__startswith="demo:round").count() // len(REVIEW_AMOUNTS) + 2
        client = _funded_client(f"{REVIEW_CLIENT}{round_no}", sum(REVIEW_AMOUNTS, Decimal(0)))
        card, _ = services.payout_account_bind(
            user=client,
            kind="bank_card",
            card_number=CARDS[REVIEW_CLIENT],
            holder_name=REVIEW_CLIENT.capitalize(),
            bank_code="ICBC",
        )
        lines = [
            f"The review queue was worked off: round {round_no}, {client.get_username()}'s withdrawals, waits in it."
        ]
        lines += [
            _withdrawal(client, card, amount, f"round{round_no}:{position}")
            for position, amount in enumerate(REVIEW_AMOUNTS, start=1)
        ]
        return lines

    def _reconciliation_of_today(self) -> list[str]:
        """Today's bills reconciled a minute after start (the night's run, for the demo), the
        bank's bill saying the first payout failed: the desk has a difference to work on."""
        from payments.sandbox.bill_rules import bill_rule_add
        from payments.sandbox.models import BillDifference, BillKind, Protocol, SandboxBillRule

        today = timezone.localdate()
        if not SandboxBillRule.objects.filter(protocol=Protocol.BANK, bill_date=today).exists():
            bill_rule_add(
                protocol=Protocol.BANK,
                bill_kind=BillKind.PAYOUT,
                bill_date=today,
                difference=BillDifference.WRONG_STATUS,
                remaining=1,
            )
        task_enqueue(RECONCILIATION_TASK, today.isoformat(), countdown=RECONCILIATION_DELAY)
        return [
            f"Today's bills are reconciled in {RECONCILIATION_DELAY} s (admin: Reconciliation > Runs); the bank's "
            "bill says the first payout failed, a discrepancy for the desk."
        ]

    def _payers_use_the_cashier(self) -> None:
        from payments.sandbox.models import PaymentScenario, Protocol, SandboxPaymentRule

        for protocol in (Protocol.WECHAT_V3, Protocol.WECHAT_V2, Protocol.ALIPAY):
            SandboxPaymentRule.objects.get_or_create(protocol=protocol, order_no="", scenario=PaymentScenario.NEVER_PAY)

    def _shop_merchant(self) -> tuple[Merchant, list[str]]:
        """The demo merchant: its service account has an API token, no admin login. Its webhook
        secret is shown the one time it is made (rotate it in the admin to see a new one)."""
        existing = Merchant.objects.filter(code=SHOP_MERCHANT).select_related("service_user").first()
        if existing is not None:
            return existing, []
        user, created = get_user_model().objects.get_or_create(username=SHOP_ACCOUNT)
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        made = merchants.merchant_create(code=SHOP_MERCHANT, name="Demo Shop", service_user=user)
        return made.merchant, [f"Merchant {SHOP_MERCHANT} created; its webhook secret (shown once): {made.secret}"]

    def _balance_payment(self, user, shop: Merchant) -> list[str]:
        """The demo shop makes an order payment for dave, who pays it from his balance; the shop
        refunds part of it. Fixed keys: a second run replays each step."""
        try:
            order = merchants.merchant_payment_create(
                merchant=shop,
                business_order_no="DEMO-ORDER-1",
                amount=Decimal("35.00"),
                subject="Demo order: a year of cloud storage",
                payer=user.get_username(),
                idempotency_key="demo:payment:1",
            ).order
            order = payment_orders.payment_order_pay(order=order, payer=user, method="balance", client_type="app").order
            refund = refunds.refund_request(
                order=order,
                actor=shop.service_user,
                amount=Decimal("5.00"),
                reason="Demo partial refund",
                idempotency_key="demo:1",
            ).refund
        except ApplicationError as error:
            return [f"Demo balance payment not made: {error.code} ({error.message})"]
        return [
            "Demo balance payment (admin: Payments > Payment orders):",
            f"  {REVIEW_CLIENT:<6} {order.amount:>9}  {order.order_no}  {order.status}, refunded {refund.amount}",
        ]


def _withdrawal(user, payout_account, amount: Decimal, key: str) -> str:
    """Submit one demo withdrawal (``demo:<key>``) and say how it stands; refused today is reported, not fatal."""
    name = user.get_username()
    try:
        withdrawal = services.withdrawal_submit(
            user=user, payout_account=payout_account, amount=amount, idempotency_key=f"demo:{key}"
        ).withdrawal
    except ApplicationError as error:
        return f"  {name:<6} {amount:>9}  not created today: {error.code} ({error.message})"
    return f"  {name:<6} {amount:>9}  {withdrawal.order_no}  {withdrawal.status}"


def _funded_client(username: str, opening_balance: Decimal):
    """An API client (no admin login) with a token and its one-off opening balance."""
    user, created = get_user_model().objects.get_or_create(username=username)
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    Token.objects.get_or_create(user=user)
    ledger.transfer_post(
        idempotency_key=f"demo:opening-balance:{username}",
        kind="recharge",
        legs=[
            ledger.Leg(ledger.account_for_system(code="clearing:demo"), -opening_balance),
            ledger.Leg(ledger.account_for_user(user=user), opening_balance),
        ],
        memo="Demo opening balance",
    )
    return user
