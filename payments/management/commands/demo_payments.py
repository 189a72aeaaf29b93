"""Demo payout accounts, withdrawals, the demo merchant and a balance payment of its order with a
refund for `make run`, after `demo_data` (wallet) created the users.

Safe on every start: accounts are bound once (binding again returns them), withdrawals carry
fixed idempotency keys, so a second run replays them instead of creating more. A withdrawal the
risk rules refuse today (say operations closed the window) is reported and skipped, never fatal.
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


class Command(BaseCommand):
    help = "Create or refresh demo payout accounts and withdrawals (needs `demo_data` first)."

    def handle(self, *args, **options):
        users = get_user_model().objects
        dave, created = users.get_or_create(username=REVIEW_CLIENT)
        if created:
            dave.set_unusable_password()  # an API client, like demo_data's: no admin login
            dave.save(update_fields=["password"])
        account = ledger.account_for_user(user=dave)
        ledger.transfer_post(
            idempotency_key=f"demo:opening-balance:{REVIEW_CLIENT}",
            kind="recharge",
            legs=[
                ledger.Leg(ledger.account_for_system(code="clearing:demo"), -REVIEW_CLIENT_BALANCE),
                ledger.Leg(account, REVIEW_CLIENT_BALANCE),
            ],
            memo="Demo opening balance",
        )
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
            try:
                withdrawal = services.withdrawal_submit(
                    user=users.get(username=username),
                    payout_account=payout_accounts[username],
                    amount=Decimal(amount),
                    idempotency_key=f"demo:withdrawal:{position}",
                ).withdrawal
            except ApplicationError as error:
                lines.append(f"  {username:<6} {amount:>9}  not created today: {error.code} ({error.message})")
                continue
            lines.append(f"  {username:<6} {amount:>9}  {withdrawal.order_no}  {withdrawal.status}")
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
