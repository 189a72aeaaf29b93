"""The sandbox serves each channel's bills at the channel's own endpoints, signed, hashed,
compressed and encoded as the channel does (docs/RECONCILIATION.md, "Bill formats"), from what it
recorded on the day, and refuses a request whose signature does not verify."""

import base64
import csv
import gzip
import hashlib
import io
import json
import zipfile
from urllib.parse import urlsplit

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from django.test import Client

from payments.channels.alipay import signing as alipay_signing
from payments.channels.bank import signing as bank_signing
from payments.channels.wechat_v2.signing import xml_decode
from payments.channels.wechat_v3.tests.test_payouts import rsa_key_pair
from payments.sandbox.bill_rules import bill_rule_add
from payments.sandbox.keys import keys_for
from payments.sandbox.models import BillDifference, BillKind
from payments.sandbox.tests.bill_helpers import (
    ALIPAY,
    BANK,
    DAY,
    V2,
    V3,
    alipay_call,
    at,
    bank_get,
    paid_out,
    payout_day,
    streamed,
    trade_day,
    v2_post,
    v3_download,
    v3_get,
    v3_platform_verified,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("next_morning")]

BILL_URL_QUERY = "alipay.data.dataservice.bill.downloadurl.query"


def csv_rows(data: bytes, encoding: str = "utf-8") -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode(encoding), newline="")))


def unticked(rows: list[list[str]]) -> list[list[str]]:
    return [[cell.removeprefix("`") for cell in row] for row in rows]


# --- WeChat Pay v3 ---------------------------------------------------------------------------


def test_the_v3_trade_bill_is_a_signed_link_to_a_gzip_whose_sha1_is_the_one_named():
    # Given DAY's trade on the v3 channel
    trade_day(V3)

    # When the merchant asks for DAY's trade bill, gzipped, and follows the link
    answer = v3_get("v3/bill/tradebill?bill_date=2026-12-06&bill_type=ALL&tar_type=GZIP")
    link = v3_platform_verified(answer)
    bill = gzip.decompress(v3_download(link["download_url"]))

    # Then the platform signed the SHA1 of the bill, which holds DAY's payment and refund
    assert answer.status_code == 200
    assert link["hash_type"] == "SHA1"
    assert link["hash_value"] == hashlib.sha1(bill).hexdigest()  # noqa: S324 - WeChat's hash
    secrets = keys_for(V3)
    rows = csv_rows(bill)
    assert bill.count(b"\r\n") == len(rows) == 5
    assert all(cell.startswith("`") for row in rows[1:3] + rows[4:] for cell in row)
    payment, refund = unticked(rows[1:3])
    assert payment[:4] == ["2026-12-06 10:00:05", secrets["appid"], secrets["mchid"], "0"]
    assert payment[6:13] == ["P20261206000001", "o***sandbox", "NATIVE", "SUCCESS", "OTHERS", "CNY", "100.00"]
    assert payment[14:] == ["0", "0", "0.00", "0.00", "", "", "Recharge", "", "0.60", "0.60%", "100.00", "0.00", ""]
    assert refund[0] == "2026-12-06 11:00:00"
    assert refund[5:7] == [payment[5], "P20261206000001"]
    assert refund[9] == "REFUND"
    assert refund[12:] == [
        "0.00", "0.00", refund[14], "R20261206000001", "10.00", "0.00", "ORIGINAL", "SUCCESS",
        "Recharge", "", "-0.06", "0.60%", "100.00", "10.00", "",
    ]  # fmt: skip
    assert unticked(rows[4:]) == [["2", "100.00", "10.00", "0.00", "0.54", "200.00", "10.00"]]


def test_the_v3_bill_asked_without_gzip_is_served_as_it_is():
    trade_day(V3)

    link = v3_platform_verified(v3_get("v3/bill/tradebill?bill_date=2026-12-06"))
    bill = v3_download(link["download_url"])

    assert bill.startswith("交易时间,".encode())
    assert link["hash_value"] == hashlib.sha1(bill).hexdigest()  # noqa: S324 - WeChat's hash


def test_the_v3_fund_flow_lists_money_out_and_a_return_back_in_but_no_failed_payout():
    # Given DAY's payouts: one paid, one paid and returned, one failed
    payout_day(V3)

    # When the merchant fetches DAY's fund flow
    link = v3_platform_verified(v3_get("v3/bill/fundflowbill?bill_date=2026-12-06&account_type=BASIC&tar_type=GZIP"))
    bill = gzip.decompress(v3_download(link["download_url"]))

    # Then two payouts went out, one came back, and the summary counts and sums each way
    assert link["hash_value"] == hashlib.sha1(bill).hexdigest()  # noqa: S324 - WeChat's hash
    rows = unticked(csv_rows(bill))
    assert rows[0][0] == "记账时间"
    lines = rows[1:-2]
    assert [(row[0], row[3], row[4], row[5], row[6], row[10]) for row in lines] == [
        ("2026-12-06 10:00:07", "商家转账", "商家转账", "支出", "12.30", "W20261206000001"),
        ("2026-12-06 12:00:00", "商家转账", "商家转账", "支出", "5.00", "W20261206000002"),
        ("2026-12-06 12:00:00", "商家转账退回", "退款", "收入", "5.00", "W20261206000002"),
    ]
    assert [row[7] for row in lines] == ["999999987.70", "999999982.70", "999999987.70"]
    assert [row[9] for row in lines] == ["", "", "BANK_RETURNED"]
    assert rows[-2:] == [
        ["资金流水总笔数", "收入笔数", "收入金额", "支出笔数", "支出金额"],
        ["3", "1", "5.00", "2", "17.30"],
    ]


@pytest.mark.parametrize(
    "path", ["v3/bill/tradebill?bill_date=2026-12-06", "v3/bill/fundflowbill?bill_date=2026-12-06"]
)
def test_a_v3_bill_request_signed_by_another_key_is_refused_with_sign_error(path):
    stranger, _ = rsa_key_pair()

    response = v3_get(f"{path}?bill_date=2026-12-06", private_key_pem=stranger)

    assert response.status_code == 401
    assert v3_platform_verified(response)["code"] == "SIGN_ERROR"


def test_the_v3_download_wants_the_merchants_signature_and_a_live_token():
    trade_day(V3)
    link = v3_platform_verified(v3_get("v3/bill/tradebill?bill_date=2026-12-06"))
    parts = urlsplit(link["download_url"])
    stranger, _ = rsa_key_pair()

    forged = v3_get(f"{parts.path.removeprefix('/sandbox/wechat_v3/')}?{parts.query}", private_key_pem=stranger)
    unknown = v3_get(f"v3/billdownload/file?token={'A' * 43}")

    assert forged.status_code == 401
    assert unknown.status_code == 400
    assert v3_platform_verified(unknown)["code"] == "INVALID_REQUEST"


@pytest.mark.parametrize(
    "query",
    [
        "bill_date=20261206",
        "bill_date=2026-02-30",
        "bill_date=2026-12-06&bill_type=SUCCESS",
        "bill_date=2026-12-06&tar_type=ZIP",
    ],
)
def test_a_v3_bill_query_out_of_the_format_is_a_param_error(query):
    response = v3_get(f"v3/bill/tradebill?{query}")

    assert response.status_code == 400
    assert v3_platform_verified(response)["code"] == "PARAM_ERROR"


def test_a_v3_bill_not_out_yet_is_no_statement_exist_until_the_rule_runs_out():
    # Given a not_ready rule for the next bill of DAY
    bill_rule_add(
        protocol=V3, bill_kind=BillKind.TRADE, bill_date=DAY, difference=BillDifference.NOT_READY, remaining=1
    )

    # When the merchant asks for DAY's bill twice, and for tomorrow's
    first = v3_get("v3/bill/tradebill?bill_date=2026-12-06")
    second = v3_get("v3/bill/tradebill?bill_date=2026-12-06")
    tomorrow = v3_get("v3/bill/tradebill?bill_date=2026-12-08")

    # Then the first is not out, the second is; a day to come never is
    assert first.status_code == 400
    assert v3_platform_verified(first)["code"] == "NO_STATEMENT_EXIST"
    assert second.status_code == 200
    assert v3_platform_verified(tomorrow)["code"] == "NO_STATEMENT_EXIST"


# --- WeChat Pay v2 ---------------------------------------------------------------------------


@pytest.mark.parametrize("sign_type", ["MD5", "HMAC-SHA256"])
def test_the_v2_trade_bill_is_the_csv_itself_the_same_as_v3s(sign_type):
    # Given DAY's trade on the v2 channel
    trade_day(V2)

    # When the merchant posts a signed downloadbill
    response = v2_post("pay/downloadbill", sign_type=sign_type, bill_date="20261206", bill_type="ALL")

    # Then the answer is the bill: the same columns and summary as v3's, v2's own ids
    assert response.status_code == 200
    rows = unticked(csv_rows(streamed(response)))
    keys = keys_for(V2)
    assert [row[:3] for row in rows[1:3]] == [["2026-12-06 10:00:05", keys["appid"], keys["mch_id"]]] + [
        ["2026-12-06 11:00:00", keys["appid"], keys["mch_id"]]
    ]
    assert rows[-1] == ["2", "100.00", "10.00", "0.00", "0.54", "200.00", "10.00"]


def test_the_v2_fund_flow_takes_hmac_sha256_only():
    payout_day(V2)

    refused = v2_post("pay/downloadfundflow", sign_type="MD5", bill_date="20261206", account_type="Basic")
    served = v2_post("pay/downloadfundflow", bill_date="20261206", account_type="Basic")

    assert xml_decode(refused.content) == {
        "return_code": "FAIL",
        "return_msg": "sign_type must be HMAC-SHA256",
        "error_code": "20001",
    }
    rows = unticked(csv_rows(streamed(served)))
    assert rows[-1] == ["3", "1", "5.00", "2", "17.30"]


def test_a_v2_bill_not_out_yet_is_error_20002_no_bill_exist():
    bill_rule_add(protocol=V2, bill_kind=BillKind.PAYOUT, bill_date=DAY, difference=BillDifference.NOT_READY)

    response = v2_post("pay/downloadfundflow", bill_date="20261206", account_type="Basic")

    assert response.content.startswith(b"<xml>")
    assert xml_decode(response.content) == {"return_code": "FAIL", "return_msg": "No Bill Exist", "error_code": "20002"}


def test_a_v2_bill_request_signed_with_another_key_is_refused():
    response = v2_post("pay/downloadbill", api_key="x" * 32, bill_date="20261206", bill_type="ALL")

    assert xml_decode(response.content)["return_code"] == "FAIL"
    assert xml_decode(response.content)["return_msg"] == "签名错误"


# --- Alipay ----------------------------------------------------------------------------------


def alipay_answer(response) -> dict:
    """The answer node, after checking Alipay's signature over its exact text."""
    parts = alipay_signing.answer_split(response.content.decode())
    node_name = next(name for name in parts if name != "sign")
    public_key = alipay_signing.public_key_load(keys_for(ALIPAY)["alipay_public_key"])
    assert alipay_signing.signature_valid(public_key, parts[node_name], json.loads(parts["sign"]))
    return json.loads(parts[node_name])


def test_the_alipay_bill_is_a_zip_of_two_gbk_csvs_with_comment_lines_and_padded_fields():
    # Given DAY's trade on Alipay
    trade_day(ALIPAY)

    # When the merchant queries the download URL and follows it (unsigned, as at Alipay)
    answer = alipay_answer(alipay_call(BILL_URL_QUERY, {"bill_type": "trade", "bill_date": "2026-12-06"}))
    parts = urlsplit(answer["bill_download_url"])
    download = Client().get(f"{parts.path}?{parts.query}")
    archive = zipfile.ZipFile(io.BytesIO(streamed(download)))

    # Then the zip holds the detail and the summary, GBK, framed by comments
    pid = keys_for(ALIPAY)["seller_id"]
    assert answer["code"] == "10000"
    assert f'filename="{pid}_20261206.csv.zip"' in download.headers["Content-Disposition"]
    assert archive.namelist() == [f"{pid}_20261206_业务明细.csv", f"{pid}_20261206_业务明细(汇总).csv"]
    detail = archive.read(f"{pid}_20261206_业务明细.csv").decode("gbk").split("\r\n")
    assert detail[:3] == [
        "#支付宝业务明细查询",
        f"#账号：[{pid}0156]",
        "#起始日期：[2026年12月06日 00:00:00]   终止日期：[2026年12月07日 00:00:00]",
    ]
    rows = list(csv.reader(detail[4:7]))
    assert rows[0][:2] == ["支付宝交易号", "商户订单号"]
    payment, refund = rows[1:]
    assert payment[1:6] == ["P20261206000001\t", "交易\t", "Recharge\t", "2026-12-06 10:00:05", "2026-12-06 10:00:05"]
    assert payment[11:] == [
        "100.00", "100.00", "0.00", "0.00", "0.00", "0.00", "0.00", "", "0.00", "0.00", "", "-0.60", "0.00", "",
    ]  # fmt: skip
    assert refund[0] == payment[0]
    assert refund[2] == "退款\t"
    assert refund[5] == "2026-12-06 11:00:00"
    assert refund[11:13] + refund[21:23] == ["100.00", "-10.00", "R20261206000001", "0.06"]
    assert detail[7:10] == [
        "#-----------------------------------------业务明细列表结束------------------------------------",
        "#交易合计：1笔，退款合计：1笔",
        "#导出时间：[2026年12月07日 09:12:34]",
    ]
    summary = archive.read(f"{pid}_20261206_业务明细(汇总).csv").decode("gbk").split("\r\n")
    assert summary[5] == ",合计,1,1,100.00,90.00,0.00,0.00,0.00,-0.54,0.00,89.46"
    assert summary[6].startswith("#-----")


def test_the_alipay_account_bill_lists_transfers_out_and_a_return_back_in_but_no_failed_one():
    # Given DAY's Alipay transfers: one paid, one paid and returned, one failed
    payout_day(ALIPAY)

    # When the merchant asks for DAY's signcustomer bill and follows the link
    answer = alipay_answer(alipay_call(BILL_URL_QUERY, {"bill_type": "signcustomer", "bill_date": "2026-12-06"}))
    parts = urlsplit(answer["bill_download_url"])
    download = Client().get(f"{parts.path}?{parts.query}")
    archive = zipfile.ZipFile(io.BytesIO(streamed(download)))

    # Then the zip holds the account detail and its summary, GBK, framed by comments
    pid = keys_for(ALIPAY)["seller_id"]
    assert "bizType=fnd" in parts.query
    assert f'filename="{pid}_20261206_signcustomer.csv.zip"' in download.headers["Content-Disposition"]
    assert archive.namelist() == [f"{pid}_20261206_账务明细.csv", f"{pid}_20261206_账务明细(汇总).csv"]
    detail = archive.read(f"{pid}_20261206_账务明细.csv").decode("gbk").split("\r\n")
    assert detail[:4] == [
        "#支付宝账务明细查询",
        f"#账号：[{pid}0156]",
        "#起始日期：[2026年12月06日 00:00:00]   终止日期：[2026年12月07日 00:00:00]",
        "#-----------------------------------------账务明细列表----------------------------------------",
    ]
    rows = list(csv.reader(detail[4:8]))
    assert rows[0][:3] == ["账务流水号", "业务流水号", "商户订单号"]
    assert [(row[2], row[4], row[6], row[7], row[8], row[10]) for row in rows[1:]] == [
        ("W20261206000001\t", "2026-12-06 10:00:07", "0.00", "-12.30", "999987.70", "转账"),
        ("W20261206000002\t", "2026-12-06 12:00:00", "0.00", "-5.00", "999982.70", "转账"),
        ("W20261206000002\t", "2026-12-06 12:00:00", "5.00", "0.00", "999987.70", "转账"),
    ]
    assert detail[8:11] == [
        "#-----------------------------------------账务明细列表结束------------------------------------",
        "#支出合计：2笔，共-17.30元",
        "#收入合计：1笔，共5.00元",
    ]
    summary = archive.read(f"{pid}_20261206_账务明细(汇总).csv").decode("gbk").split("\r\n")
    assert summary[4:7] == [
        "类型,收入笔数,收入金额（+元）,支出笔数,支出金额（-元）",
        "转账,1,5.00,2,-17.30",
        "合计,1,5.00,2,-17.30",
    ]


def test_an_alipay_bill_type_it_does_not_have_is_refused():
    answer = alipay_answer(alipay_call(BILL_URL_QUERY, {"bill_type": "fund", "bill_date": "2026-12-06"}))

    assert (answer["code"], answer["sub_code"]) == ("40004", "ACQ.INVALID_PARAMETER")
    assert "signcustomer" in answer["sub_msg"]


def test_an_alipay_bill_not_out_yet_is_40004_bill_not_exist():
    bill_rule_add(protocol=ALIPAY, bill_kind=BillKind.TRADE, bill_date=DAY, difference=BillDifference.NOT_READY)

    answer = alipay_answer(alipay_call(BILL_URL_QUERY, {"bill_type": "trade", "bill_date": "2026-12-06"}))

    assert (answer["code"], answer["sub_code"]) == ("40004", "isp.bill_not_exist")


def test_an_alipay_bill_query_signed_with_another_key_is_refused():
    stranger, _ = rsa_key_pair()

    answer = alipay_answer(
        alipay_call(BILL_URL_QUERY, {"bill_type": "trade", "bill_date": "2026-12-06"}, private_key_pem=stranger)
    )

    assert (answer["code"], answer["sub_code"]) == ("40002", "isv.invalid-signature")


def test_an_alipay_bill_link_that_is_not_one_is_404():
    assert Client().get(f"/sandbox/alipay/downloadBillFile.resource?token={'A' * 43}").status_code == 404


# --- Bank gateway ----------------------------------------------------------------------------


def bank_body_verified(response) -> bytes:
    """The bill's bytes, after checking the gateway's signature in the headers."""
    body = streamed(response)
    fields = {
        "timestamp": response.headers["X-Timestamp"],
        "nonce": response.headers["X-Nonce"],
        "body_sha256": hashlib.sha256(body).hexdigest(),
    }
    message = "&".join(f"{key}={fields[key]}" for key in sorted(fields)).encode()
    public_key = bank_signing.public_key_load(keys_for(BANK)["gateway_public_key"])
    public_key.verify(base64.b64decode(response.headers["X-Sign"]), message, padding.PKCS1v15(), hashes.SHA256())
    return body


def test_the_bank_bill_is_a_signed_csv_of_the_days_finished_payouts_with_their_fees():
    # Given DAY's payouts on the bank gateway
    payout_day(BANK)

    # When the merchant fetches DAY's bill
    response = bank_get("v1/bills/2026-12-06")

    # Then the gateway signed it, and it lists each payout with its fee and a trailer
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    rows = csv_rows(bank_body_verified(response))
    assert rows[0] == ["finished_at", "order_no", "payout_id", "amount", "fee", "status", "fail_code"]
    assert [row[:2] + row[3:] for row in rows[1:4]] == [
        ["2026-12-06T10:00:07+08:00", "W20261206000001", "12.30", "0.10", "SUCCESS", ""],
        ["2026-12-06T12:00:00+08:00", "W20261206000002", "5.00", "0.10", "RETURNED", "BANK_RETURNED"],
        ["2026-12-06T13:00:00+08:00", "W20261206000003", "3.00", "0.00", "FAILED", "CARD_INVALID"],
    ]
    assert rows[4] == ["TRAILER", "3", "20.30", "0.20"]


def test_a_bank_bill_not_out_yet_is_a_signed_404_code_3004():
    bill_rule_add(protocol=BANK, bill_kind=BillKind.PAYOUT, bill_date=DAY, difference=BillDifference.NOT_READY)

    response = bank_get("v1/bills/2026-12-06")

    answer = json.loads(response.content)
    assert response.status_code == 404
    assert (answer["code"], answer["message"]) == ("3004", "bill not ready")
    assert bank_signing.verify(answer, bank_signing.public_key_load(keys_for(BANK)["gateway_public_key"]))


def test_a_bank_bill_request_signed_by_another_key_is_refused_with_1001():
    stranger, _ = rsa_key_pair()

    response = bank_get("v1/bills/2026-12-06", private_key_pem=stranger)

    answer = json.loads(response.content)
    assert response.status_code == 400
    assert (answer["code"], answer["fail_code"]) == ("1001", "SIGN_ERROR")


def test_a_bank_bill_of_a_day_that_is_not_one_is_refused_with_1002():
    answer = json.loads(bank_get("v1/bills/2026-13-01").content)

    assert (answer["code"], answer["fail_code"]) == ("1002", "DATE_INVALID")


def test_a_day_without_payouts_has_a_bill_of_a_header_and_an_empty_trailer():
    rows = csv_rows(bank_body_verified(bank_get("v1/bills/2026-12-01")))

    assert rows[1:] == [["TRAILER", "0", "0.00", "0.00"]]


def test_a_payout_that_finished_after_midnight_is_in_the_next_days_bill():
    paid_out(BANK, "W20261205000001", "2.00", "2026-12-05 23:59:59")
    paid_out(BANK, "W20261206000009", "4.00", "2026-12-06 00:00:00")

    rows = csv_rows(bank_body_verified(bank_get("v1/bills/2026-12-06")))

    assert [row[1] for row in rows[1:-1]] == ["W20261206000009"]
    assert at("2026-12-06 00:00:00").isoformat() == rows[1][0]
