"""`manage.py demo_data` runs on every `make run`, so running it again must change nothing."""

import json
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from wallet.models import Account, Transfer


@pytest.mark.django_db(transaction=True)
def test_demo_data_twice_credits_each_client_once_and_keeps_users_and_tokens(tmp_path, monkeypatch):
    # Given the demo data loaded once with the default password
    monkeypatch.delenv("DEMO_PASSWORD", raising=False)
    tokens_file = tmp_path / "demo_tokens.json"
    call_command("demo_data", tokens_file=tokens_file)
    first_tokens = json.loads(tokens_file.read_text())["tokens"]

    # When it is loaded again
    call_command("demo_data", tokens_file=tokens_file)

    # Then balances, transfers, users and tokens are as after the first run
    balances = dict(Account.objects.filter(kind=Account.Kind.USER).values_list("owner__username", "balance"))
    assert balances == {"alice": Decimal("1000.00"), "bob": Decimal("500.00"), "carol": Decimal("250.00")}
    assert Transfer.objects.filter(idempotency_key__startswith="demo:").count() == 3
    assert json.loads(tokens_file.read_text())["tokens"] == first_tokens
    users = get_user_model().objects.all()
    staff = {user.username: [group.name for group in user.groups.all()] for user in users if user.is_staff}
    assert staff == {
        "admin": [],
        "finance_reviewer": ["finance_reviewer"],
        "finance_supervisor": ["finance_supervisor"],
        "auditor": ["auditor"],
        "operations": ["operations"],
    }
    assert get_user_model().objects.get(username="admin").check_password("demo-pass-2026")
    assert not get_user_model().objects.get(username="alice").has_usable_password()
