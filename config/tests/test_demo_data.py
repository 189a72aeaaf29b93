"""`manage.py demo_data` seeds the whole demo on every `make run`: again, it changes nothing; with
`--reset` a worked-off review queue fills again; the guide it prints works as printed."""

import json
import re
import shlex
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient

from payments.withdrawals import services as withdrawals
from payments.withdrawals.models import Withdrawal
from wallet.audit import ledger_audit
from wallet.management.commands.demo_users import DEFAULT_PASSWORD
from wallet.models import Account, Transfer

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo_data(tmp_path, monkeypatch, capsys):
    """Runs ``manage.py demo_data`` with files under ``tmp_path``; returns its standard output."""
    monkeypatch.delenv("DEMO_PASSWORD", raising=False)

    def run(*args: str) -> str:
        call_command("demo_data", *args, tokens_file=tmp_path / "tokens.json", guide_file=tmp_path / "next-steps.txt")
        return capsys.readouterr().out

    return run


def _pending() -> list[tuple[str, Decimal]]:
    return sorted(Withdrawal.objects.filter(status="pending").values_list("user__username", "amount"))


def test_demo_users_twice_credits_each_client_once_and_keeps_users_and_tokens():
    # Given the demo users made once with the default password, then again
    call_command("demo_users")
    tokens = dict(get_user_model().objects.filter(auth_token__isnull=False).values_list("username", "auth_token"))
    call_command("demo_users")

    # Then balances, transfers, users and tokens are as after the first run
    balances = dict(Account.objects.filter(kind=Account.Kind.USER).values_list("owner__username", "balance"))
    assert balances == {"alice": Decimal("1000.00"), "bob": Decimal("500.00"), "carol": Decimal("250.00")}
    assert Transfer.objects.filter(idempotency_key__startswith="demo:").count() == 3
    assert dict(get_user_model().objects.filter(auth_token__isnull=False).values_list("username", "auth_token")) == (
        tokens
    )
    staff = {user.username: [group.name for group in user.groups.all()] for user in get_user_model().objects.all()}
    assert {name: groups for name, groups in staff.items() if get_user_model().objects.get(username=name).is_staff} == {
        "admin": [],
        "finance_reviewer": ["finance_reviewer"],
        "finance_supervisor": ["finance_supervisor"],
        "auditor": ["auditor"],
        "operations": ["operations"],
    }
    assert get_user_model().objects.get(username="admin").check_password("demo-pass-2026")
    assert not get_user_model().objects.get(username="alice").has_usable_password()


def test_the_printed_guide_holds_working_tokens_and_is_kept_in_a_file(demo_data, tmp_path):
    # Given the demo seeded
    out = demo_data()

    # When a client takes alice's token from the printed export line and asks for her wallet
    export = next(line.strip() for line in out.splitlines() if line.strip().startswith("export API="))
    variables = dict(word.split("=", 1) for word in shlex.split(export)[1:])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {variables['ALICE']}")
    response = client.get("/api/v1/wallet/")

    # Then the token works, and so does the shop's for its own API
    assert response.status_code == 200, response.content
    assert response.json()["balance"] == "971.12"
    client.credentials(HTTP_AUTHORIZATION=f"Token {variables['SHOP']}")
    assert client.get("/api/v1/merchant/payments/NO-SUCH-ORDER/").status_code == 404
    # And every demo client and service has its token, in the guide and in the tokens file
    assert set(variables) == {"API", "PAY", "ALICE", "BOB", "CAROL", "DAVE", "SHOP", "CAMPAIGN"}
    tokens = json.loads((tmp_path / "tokens.json").read_text())["tokens"]
    assert {name.upper().replace("CAMPAIGN-SVC", "CAMPAIGN"): token for name, token in tokens.items()} == {
        name: token for name, token in variables.items() if name not in {"API", "PAY"}
    }
    # And the guide names each staff login, the queue and the withdrawal curl with a key
    for login in ("admin", "finance_reviewer", "finance_supervisor", "auditor", "operations"):
        assert re.search(rf"^   {login} ", out, re.MULTILINE), login
    assert "2 withdrawal(s) wait for review" in out
    assert '-H "Idempotency-Key: try-1" -H "Payment-Password: $PAY"' in out
    assert (tmp_path / "next-steps.txt").read_text() in out


def test_demo_data_again_changes_nothing(demo_data):
    demo_data()
    tokens_before = dict(
        get_user_model().objects.filter(auth_token__isnull=False).values_list("username", "auth_token")
    )

    demo_data("--reset")

    assert _pending() == [("dave", Decimal("6000.00")), ("dave", Decimal("9000.00"))]
    assert Withdrawal.objects.count() == 4
    assert dict(get_user_model().objects.filter(auth_token__isnull=False).values_list("username", "auth_token")) == (
        tokens_before
    )
    assert ledger_audit() == []


def test_reset_refills_the_review_queue_once_it_has_been_worked_off(demo_data):
    # Given the demo seeded and its review queue worked off by a reviewer
    demo_data()
    reviewer = get_user_model().objects.get(username="finance_reviewer")
    for withdrawal in Withdrawal.objects.filter(status="pending"):
        withdrawals.withdrawal_reject(withdrawal=withdrawal, actor=reviewer, reason="Demo worked off")
    assert _pending() == []

    # When the demo is seeded again without and then with --reset
    demo_data()
    assert _pending() == []
    out = demo_data("--reset")

    # Then the two withdrawals wait in the queue again, from the next round's client and under
    # its keys, and the guide says so; a second reset while they wait adds nothing
    assert _pending() == [("dave2", Decimal("6000.00")), ("dave2", Decimal("9000.00"))]
    keys = Withdrawal.objects.filter(status="pending").values_list("idempotency_key", flat=True)
    assert sorted(keys) == ["demo:round2:1", "demo:round2:2"]
    assert "2 withdrawal(s) wait for review" in out
    demo_data("--reset")
    assert len(_pending()) == 2
    assert ledger_audit() == []


def test_a_reviewer_signs_in_with_a_code_the_guide_printed_and_each_code_works_once(demo_data):
    # Given the demo seeded, and the reviewer's codes as the guide prints them
    out = demo_data()
    role_line, codes_line = (line for line in out.splitlines() if line.startswith("   finance_reviewer "))
    first_code = codes_line.split()[1]
    form = {"username": "finance_reviewer", "password": DEFAULT_PASSWORD, "next": "/admin/payments/withdrawal/"}

    # When they sign in with the password and the first code, they reach the queue
    client = Client()
    response = client.post("/admin/login/", form | {"otp_token": first_code}, follow=True)
    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == "/admin/payments/withdrawal/"

    # And the same code a second time signs no one in
    other = Client()
    again = other.post("/admin/login/", form | {"otp_token": first_code})
    assert again.status_code == 200
    assert "_auth_user_id" not in other.session
