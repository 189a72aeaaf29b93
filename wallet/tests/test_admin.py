"""The ledger admin: read-only for everyone, exports of the filtered rows for auditors only."""

import csv
import html
import io
import re
from datetime import datetime, timedelta
from decimal import Decimal

import openpyxl
import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from import_export.resources import ModelResource

from wallet import services
from wallet.models import Account, Entry, Hold, Transfer
from wallet.resources import EntryResource, TransferResource

pytestmark = pytest.mark.django_db

LEDGER_MODELS = [Account, Transfer, Entry, Hold]
EXPORTS: dict[str, type[ModelResource]] = {"entry": EntryResource, "transfer": TransferResource}
FORMATS = {"csv": "0", "xlsx": "1"}


@pytest.fixture
def auditor_client(staff_in, client_for):
    return client_for(staff_in("auditor"))


@pytest.fixture
def ledger(make_user, funded_account):
    """Alice and Bob funded from clearing; Alice pays Bob and has a pending and a captured hold."""
    alice = funded_account(make_user("alice"), "100.00")
    bob = funded_account(make_user("bob"), "50.00")
    payment = services.transfer_post(
        idempotency_key="p2p:alice:1",
        kind="p2p",
        legs=[services.Leg(alice, Decimal("-12.34")), services.Leg(bob, Decimal("12.34"))],
        memo="lunch",
        reference="order-1",
    )
    merchant = services.account_for_system(code="merchant:shop")
    pending = services.hold_place(idempotency_key="hold:1", account=alice, amount=Decimal("10.00"), reference="o-2")
    captured = services.hold_place(idempotency_key="hold:2", account=alice, amount=Decimal("5.00"), reference="o-3")
    services.hold_capture(hold=captured, destinations=[services.Leg(merchant, Decimal("5.00"))], kind="payment")
    return {"alice": alice, "bob": bob, "payment": payment, "pending_hold": pending, "captured_hold": captured}


def admin_url(model, view: str, *args) -> str:
    return reverse(f"admin:wallet_{model._meta.model_name}_{view}", args=args)


def any_row(model):
    return model.objects.order_by("pk").first()


def export_link(client: Client, model_name: str, query: str) -> str:
    """The Export button of the changelist opened with ``query``."""
    response = client.get(f"{reverse(f'admin:wallet_{model_name}_changelist')}?{query}")
    assert response.status_code == 200
    match = re.search(r'<a href="([^"]+)" class="export_link"', response.content.decode())
    assert match, "no Export button"
    return html.unescape(match.group(1))


def export(client: Client, url: str, model_name: str, file_format: str):
    """Submit the export form at ``url`` with every column selected, as the browser would."""
    resource = EXPORTS[model_name]
    data = {"format": FORMATS[file_format], "resource": "0"}
    data |= {f"{resource.__name__.lower()}_{name}": "on" for name in resource().get_export_order()}
    return client.post(url, data)


def xlsx_sheet(content: bytes):
    return openpyxl.load_workbook(io.BytesIO(content)).active


def rows_of(response, file_format: str) -> list[dict]:
    """The rows of an export's file (its response streams, so it is read once)."""
    return rows_in(response.getvalue(), file_format)


def rows_in(content: bytes, file_format: str) -> list[dict]:
    if file_format == "csv":
        return list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))
    header, *body = xlsx_sheet(content).iter_rows(values_only=True)
    return [{name: ("" if value is None else value) for name, value in zip(header, row, strict=True)} for row in body]


# Read-only for everyone


@pytest.mark.parametrize("model", LEDGER_MODELS, ids=lambda m: m.__name__)
def test_an_auditor_opens_each_changelist_and_change_page_without_any_button_that_writes(ledger, auditor_client, model):
    changelist = auditor_client.get(admin_url(model, "changelist"))
    change_page = auditor_client.get(admin_url(model, "change", any_row(model).pk))

    assert changelist.status_code == 200
    assert admin_url(model, "add") not in changelist.content.decode()
    assert change_page.status_code == 200
    page = change_page.content.decode()
    for button in ('name="_save"', 'name="_continue"', 'name="_addanother"', 'class="deletelink"'):
        assert button not in page


@pytest.mark.parametrize("who", ["auditor", "superuser"])
@pytest.mark.parametrize("model", LEDGER_MODELS, ids=lambda m: m.__name__)
def test_nobody_adds_changes_or_deletes_ledger_rows_from_the_admin(ledger, staff_in, make_user, client_for, who, model):
    user = staff_in("auditor") if who == "auditor" else make_user(is_staff=True, is_superuser=True)
    client = client_for(user)
    row = any_row(model)

    add = client.post(admin_url(model, "add"), {"memo": "x", "code": "x", "amount": "1.00"})
    change = client.post(admin_url(model, "change", row.pk), {"memo": "x", "code": "x", "amount": "1.00"})
    delete = client.post(admin_url(model, "delete", row.pk), {"post": "yes"})
    delete_page = client.get(admin_url(model, "delete", row.pk))

    assert (add.status_code, change.status_code, delete.status_code, delete_page.status_code) == (403, 403, 403, 403)
    assert model.objects.filter(pk=row.pk).exists()


def test_a_superuser_sees_the_ledger_read_only_too(ledger, make_user, client_for):
    client = client_for(make_user(is_staff=True, is_superuser=True))

    page = client.get(admin_url(Transfer, "change", ledger["payment"].pk)).content.decode()
    changelist = client.get(admin_url(Entry, "changelist")).content.decode()

    assert 'name="_save"' not in page
    assert admin_url(Entry, "add") not in changelist
    assert 'value="delete_selected"' not in changelist


def test_a_transfer_page_shows_its_entries_and_its_amount(ledger, auditor_client):
    page = auditor_client.get(admin_url(Transfer, "change", ledger["payment"].pk)).content.decode()

    assert ledger["alice"].code in page
    assert ledger["bob"].code in page
    assert "-12.34" in page
    assert "12.34" in page


def test_a_hot_account_page_sums_its_entries_while_the_list_marks_its_balance_derived(ledger, auditor_client):
    clearing = Account.objects.get(code="clearing:test")

    page = auditor_client.get(admin_url(Account, "change", clearing.pk)).content.decode()
    listed = auditor_client.get(admin_url(Account, "changelist") + "?is_hot__exact=1").content.decode()

    assert re.findall(r'<div class="readonly">(-?[\d.]+)</div>', page) == ["-150.00", "0.00", "-150.00"]
    # Both hot accounts, clearing:test and merchant:shop (merchant accounts are hot), have derived balances
    assert re.findall(r'<td class="field-(?:balance|available)_column">([^<]*)</td>', listed) == ["derived"] * 4
    assert "clearing:test" in listed and "merchant:shop" in listed


# Exports


@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
def test_an_auditor_exports_exactly_the_entries_of_the_filtered_account_and_dates(ledger, auditor_client, file_format):
    alice = ledger["alice"]
    today = timezone.localdate(Entry.objects.filter(account=alice).latest("created_at").created_at)
    query = f"account_code={alice.code}&created_at_from={today}&created_at_to={today}"
    url = export_link(auditor_client, "entry", query)

    response = export(auditor_client, url, "entry", file_format)

    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    rows = rows_of(response, file_format)
    assert sorted(int(row["id"]) for row in rows) == sorted(
        Entry.objects.filter(account=alice).values_list("pk", flat=True)
    )
    assert {row["account"] for row in rows} == {alice.code}


@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
def test_an_auditor_exports_exactly_the_transfers_touching_the_filtered_account_and_dates(
    ledger, auditor_client, file_format
):
    bob = ledger["bob"]
    today = timezone.localdate(ledger["payment"].created_at)
    url = export_link(
        auditor_client, "transfer", f"account_code={bob.code}&created_at_from={today}&created_at_to={today}"
    )

    rows = rows_of(export(auditor_client, url, "transfer", file_format), file_format)

    expected = Transfer.objects.filter(entries__account=bob).values_list("pk", flat=True)
    assert sorted(int(row["id"]) for row in rows) == sorted(expected)
    assert len(rows) == 2


@pytest.mark.parametrize("model_name", ["entry", "transfer"])
def test_a_date_range_that_ends_before_the_rows_exports_none_of_them(ledger, auditor_client, model_name):
    yesterday = timezone.localdate(ledger["payment"].created_at) - timedelta(days=1)
    url = export_link(auditor_client, model_name, f"account_code={ledger['alice'].code}&created_at_to={yesterday}")

    response = export(auditor_client, url, model_name, "csv")

    assert response.status_code == 200
    assert rows_of(response, "csv") == []


def test_a_date_that_is_not_a_date_sends_the_auditor_back_to_the_changelist_with_an_error(ledger, auditor_client):
    response = auditor_client.get(admin_url(Entry, "changelist") + "?created_at_from=yesterday")

    assert response.status_code == 302
    assert response["Location"].endswith("?e=1")


def as_text(value) -> str:
    """A cell as CSV writes it: XLSX numbers are read back as floats or ints, times as datetimes."""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return f"{value:.2f}" if isinstance(value, float) else str(value)


@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
def test_entry_exports_carry_amounts_local_times_the_owners_username_and_the_transfer_details(
    ledger, auditor_client, file_format
):
    url = export_link(auditor_client, "entry", "q=p2p:alice:1")

    rows = rows_of(export(auditor_client, url, "entry", file_format), file_format)

    by_account = {row["account"]: {name: as_text(value) for name, value in row.items()} for row in rows}
    assert set(by_account) == {ledger["alice"].code, ledger["bob"].code}
    alice_leg = by_account[ledger["alice"].code]
    assert alice_leg["amount"] == "-12.34"
    assert alice_leg["balance_after"] == "87.66"
    assert by_account[ledger["bob"].code]["amount"] == "12.34"
    assert (alice_leg["username"], by_account[ledger["bob"].code]["username"]) == ("alice", "bob")
    assert alice_leg["transfer_id"] == str(ledger["payment"].pk)
    assert (alice_leg["kind"], alice_leg["memo"], alice_leg["reference"]) == ("p2p", "lunch", "order-1")
    local = timezone.localtime(ledger["payment"].created_at)
    assert alice_leg["created_at"] == local.strftime("%Y-%m-%d %H:%M:%S")


def test_transfer_exports_carry_the_id_and_the_amount_moved_as_numbers(ledger, auditor_client):
    url = export_link(auditor_client, "transfer", "q=p2p:alice:1")

    (row,) = rows_of(export(auditor_client, url, "transfer", "xlsx"), "xlsx")

    assert (row["id"], row["amount"], row["idempotency_key"]) == (ledger["payment"].pk, 12.34, "p2p:alice:1")


def test_the_export_form_posts_back_to_the_url_that_carries_the_filters(ledger, auditor_client):
    url = export_link(auditor_client, "entry", f"account_code={ledger['alice'].code}")

    page = auditor_client.get(url)

    assert page.status_code == 200
    assert '<form action="" method="POST">' in page.content.decode()


def test_exporting_entries_costs_the_same_queries_for_more_rows(ledger, make_user, funded_account, auditor_client):
    url = export_link(auditor_client, "entry", "")
    with CaptureQueriesContext(connection) as few:
        export(auditor_client, url, "entry", "csv")
    for n in range(5):
        funded_account(make_user(), "1.00", key=f"more:{n}")

    with CaptureQueriesContext(connection) as more:
        response = export(auditor_client, url, "entry", "csv")

    assert len(rows_of(response, "csv")) == Entry.objects.count()
    assert len(more) == len(few)


@pytest.mark.parametrize("memo", ['=HYPERLINK("http://x")', '==HYPERLINK("http://x")', "@SUM(A1:A9)", "+1+1"])
@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
@pytest.mark.parametrize("model_name", ["entry", "transfer"])
def test_a_memo_that_looks_like_a_formula_is_exported_as_plain_text(
    make_user, funded_account, auditor_client, memo, file_format, model_name
):
    payer, payee = funded_account(make_user(), "10.00"), funded_account(make_user(), "10.00")
    services.transfer_post(
        idempotency_key="formula",
        kind="p2p",
        legs=[services.Leg(payer, Decimal("-1.00")), services.Leg(payee, Decimal("1.00"))],
        memo=memo,
    )
    url = export_link(auditor_client, model_name, "q=formula")

    content = export(auditor_client, url, model_name, file_format).getvalue()

    memos = {row["memo"] for row in rows_in(content, file_format)}
    assert memos == {f"'{memo}"}
    if file_format == "xlsx":
        sheet = xlsx_sheet(content)
        memo_column = [cell.value for cell in sheet[1]].index("memo") + 1
        assert {sheet.cell(row=r, column=memo_column).data_type for r in range(2, sheet.max_row + 1)} == {"s"}


# Who may export


def test_a_finance_reviewer_has_no_export_button_and_gets_403_on_the_export_view(ledger, staff_in, client_for):
    client = client_for(staff_in("finance_reviewer"))

    for model_name in EXPORTS:
        changelist = client.get(reverse(f"admin:wallet_{model_name}_changelist"))
        export_url = reverse(f"admin:wallet_{model_name}_export")

        assert changelist.status_code == 200
        assert "export_link" not in changelist.content.decode()
        assert client.get(export_url).status_code == 403
        assert export(client, export_url, model_name, "csv").status_code == 403


@pytest.mark.parametrize("model", LEDGER_MODELS, ids=lambda m: m.__name__)
def test_nothing_in_the_ledger_admin_can_be_imported(model):
    with pytest.raises(NoReverseMatch):
        admin_url(model, "import")
