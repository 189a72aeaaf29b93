"""What to try once `make run` is up: the admin logins, the sandbox cashier and a curl for each
main API call with the real demo tokens, grouped so it reads at a glance (README, "make run").

``demo_facts`` reads what the demo made from the database; ``demo_guide`` only formats, so the
text can be checked against the facts it was given.
"""

import json
import shlex
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from rest_framework.authtoken.models import Token

from payments.withdrawals.models import PayoutAccount, Withdrawal, WithdrawalStatus
from wallet.management.commands.demo_users import PAYMENT_PASSWORD
from wallet.models import ReceiveCode
from wallet.redpackets.models import RedPacket
from wallet.transfers import codes

# The shell variable of each demo token in the guide, in the order they are listed.
TOKEN_VARIABLES = {
    "alice": "ALICE",
    "bob": "BOB",
    "carol": "CAROL",
    "dave": "DAVE",
    "shop": "SHOP",
    "campaign-svc": "CAMPAIGN",
}
STAFF = {
    "admin": "superuser: everything",
    "finance_reviewer": "works the withdrawal queue (Payments > Withdrawals)",
    "finance_supervisor": "second approver of four-eyes withdrawals; limits and thresholds",
    "auditor": "reads and exports ledgers, orders and reconciliations",
    "operations": "withdrawal window, rollout, dead letters, re-queries",
}

# Static backup codes each demo staff member signs in with (docs/OPERATIONS.md, "Staff sign-in"):
# topped up at every seeding, a few shown in the guide.
SIGN_IN_DEVICE = "demo sign-in codes"
SIGN_IN_CODES_KEPT = 10
SIGN_IN_CODES_SHOWN = 3

# The POSTs that take money out of a wallet, and so the payment password (docs/WALLET.md).
PAYMENT_PASSWORD_PATHS = frozenset({"withdrawals/", "transfers/", "red-packets/"})


@dataclass(frozen=True)
class DemoFacts:
    base_url: str
    password: str
    tokens: dict[str, str]  # username -> API token
    pending_withdrawals: int
    alice_card: int | None  # alice's bank card payout account
    packet_no: str | None  # alice's open red packet in the family group
    receive_code: str | None  # carol's open receive code
    sandbox: bool
    tokens_file: str
    sign_in_codes: dict[str, list[str]]  # staff username -> unused one-time codes


def demo_sign_in_codes() -> dict[str, list[str]]:
    """Gives each demo staff member one-time sign-in codes (django-otp's static device), topped up
    to ``SIGN_IN_CODES_KEPT``: the demo has no authenticator app to read a code from."""
    shown = {}
    for user in get_user_model().objects.filter(username__in=STAFF):
        device, _ = StaticDevice.objects.get_or_create(user=user, name=SIGN_IN_DEVICE)
        for _ in range(SIGN_IN_CODES_KEPT - device.token_set.count()):
            device.token_set.create(token=StaticToken.random_token())
        unused = device.token_set.order_by("pk").values_list("token", flat=True)
        shown[user.username] = list(unused[:SIGN_IN_CODES_SHOWN])
    return shown


def demo_facts(
    *, base_url: str, password: str, sandbox: bool, tokens_file: str, sign_in_codes: dict[str, list[str]]
) -> DemoFacts:
    users = get_user_model().objects
    tokens = dict(Token.objects.filter(user__username__in=TOKEN_VARIABLES).values_list("user__username", "key"))
    card = PayoutAccount.objects.filter(user__username="alice", kind="bank_card").values_list("pk", flat=True).first()
    packet = (
        RedPacket.objects.filter(sender__username="alice", status=RedPacket.Status.OPEN)
        .exclude(shares__grabbed_by__username="carol")
        .order_by("-pk")
        .first()
    )
    code = (
        ReceiveCode.objects.filter(owner=users.filter(username="carol").first(), revoked_at__isnull=True)
        .filter(expires_at__gt=timezone.now())
        .order_by("-expires_at")
        .first()
    )
    return DemoFacts(
        base_url=base_url.rstrip("/"),
        password=password,
        tokens={name: tokens[name] for name in TOKEN_VARIABLES if name in tokens},
        pending_withdrawals=Withdrawal.objects.filter(status=WithdrawalStatus.PENDING).count(),
        alice_card=card,
        packet_no=packet.packet_no if packet else None,
        receive_code=codes.token_for(code) if code else None,
        sandbox=sandbox,
        tokens_file=tokens_file,
        sign_in_codes=sign_in_codes,
    )


def demo_guide(facts: DemoFacts) -> str:
    sections = [_admin(facts), _api(facts)]
    if facts.sandbox:
        sections.insert(1, _cashier(facts))
    return "\n\n".join(sections) + "\n"


def _admin(facts: DemoFacts) -> str:
    lines = [
        f"== Admin  {facts.base_url}/admin/   password {facts.password} (as set when each user was made)",
        *(f"   {name:<19} {role}" for name, role in STAFF.items()),
        "   Each signs in with a one-time code too (django-otp backup codes; unused ones now):",
        *(f"   {name:<19} {' '.join(found)}" for name, found in facts.sign_in_codes.items()),
        f'   {facts.pending_withdrawals} withdrawal(s) wait for review; `make manage ARGS="demo_data --reset"` '
        "queues a fresh round once they are worked off.",
    ]
    return "\n".join(lines)


def _cashier(facts: DemoFacts) -> str:
    return "\n".join(
        [
            f"== Cashier (channel sandbox)  {facts.base_url}/sandbox/",
            "   A recharge or a channel payment answers a code_url: open it in a browser, press Pay, and the",
            "   sandbox notifies us and the wallet is credited (the recharge curl below).",
        ]
    )


def _api(facts: DemoFacts) -> str:
    tokens = " ".join(f"{TOKEN_VARIABLES[name]}={value}" for name, value in facts.tokens.items())
    lines = [
        f"== API  {facts.base_url}/api/docs/   (tokens also in {facts.tokens_file})",
        f"   export API={facts.base_url}/api/v1 {tokens} PAY={PAYMENT_PASSWORD}",
        "   # PAY: every client's payment password, asked for when money leaves a wallet",
        "",
        "   # alice's wallet and statement",
        _curl("GET", "wallet/", "ALICE"),
        _curl("GET", "wallet/entries/", "ALICE"),
    ]
    if facts.alice_card is not None:
        lines += [
            "   # alice withdraws 100.00 to her bank card; the same Idempotency-Key again returns the same order",
            _curl("POST", "withdrawals/", "ALICE", {"payout_account": facts.alice_card, "amount": "100.00"}, "try-1"),
        ]
    lines += [
        "   # alice sends bob 5.00",
        _curl("POST", "transfers/", "ALICE", {"to": "bob", "amount": "5.00", "memo": "Coffee"}, "try-2"),
    ]
    if facts.receive_code is not None:
        lines += [
            "   # bob pays carol's receive code",
            _curl("POST", "transfers/", "BOB", {"receive_code": facts.receive_code, "amount": "3.00"}, "try-3"),
        ]
    lines += [
        "   # alice recharges 50.00: open the answer's code_url (the cashier) and press Pay",
        _curl(
            "POST", "recharges/", "ALICE", {"amount": "50.00", "method": "wechat_native", "client_type": "web"}, "try-4"
        ),
        "   # the shop charges alice 12.00, then alice pays the order_no of its answer from her balance",
        _curl(
            "POST",
            "merchant/payments/",
            "SHOP",
            {"business_order_no": "SO-1", "amount": "12.00", "subject": "Tea", "payer": "alice"},
            "try-5",
        ),
        _curl("POST", "payments/ORDER_NO/pay/", "ALICE", {"method": "balance", "client_type": "web"}),
        "   # alice sends bob a red packet of 6.66; bob grabs it with the packet_no of the answer",
        _curl(
            "POST",
            "red-packets/",
            "ALICE",
            {"amount": "6.66", "count": 1, "mode": "lucky", "recipient": "bob"},
            "try-6",
        ),
        _curl("POST", "red-packets/PACKET_NO/grab/", "BOB"),
    ]
    if facts.packet_no is not None:
        lines += [
            "   # carol grabs a share of alice's red packet in the family group",
            _curl("POST", f"red-packets/{facts.packet_no}/grab/", "CAROL"),
        ]
    return "\n".join(lines)


def _curl(method: str, path: str, token: str, body: dict | None = None, key: str = "") -> str:
    words = ["curl", "-s"]
    if method != "GET":
        words += ["-X", method]
    command = " ".join(words) + f' "$API/{path}" -H "Authorization: Token ${token}"'
    if key:
        command += f' -H "Idempotency-Key: {key}"'
    if path in PAYMENT_PASSWORD_PATHS:
        command += ' -H "Payment-Password: $PAY"'
    if body is not None:
        command += " -H 'Content-Type: application/json' -d " + shlex.quote(json.dumps(body))
    return f"   {command}"
