"""English and Simplified Chinese: the language switch, the API's errors and user notifications
each speak the language asked for (docs/OPERATIONS.md, "Languages")."""

import pytest
from django.conf import settings
from django.test import Client
from django.utils import translation
from rest_framework.test import APIClient

from payments.notifications import services as notifications
from payments.notifications.models import UserNotification

pytestmark = pytest.mark.django_db

sent_texts: list[str] = []


def record_sender(notification: UserNotification) -> None:
    sent_texts.append(notification.text())


def test_the_api_answers_an_error_in_chinese_when_the_client_asks_for_it():
    answer = APIClient().get("/api/v1/wallet/", HTTP_ACCEPT_LANGUAGE="zh-Hans")

    assert answer.status_code == 401
    assert answer.json()["error"] == {"code": "not_authenticated", "message": "身份认证信息未提供。", "fields": {}}
    assert answer["Content-Language"] == "zh-hans"


def test_the_api_answers_an_error_in_english_without_accept_language():
    answer = APIClient().get("/api/v1/wallet/")

    assert answer.status_code == 401
    assert answer.json()["error"]["message"] == "Authentication credentials were not provided."
    assert answer["Content-Language"] == "en"


def test_the_language_switch_keeps_the_choice_in_a_cookie_and_the_admin_follows_it():
    client = Client()
    assert "Wallet back-office" in client.get("/admin/login/").content.decode()

    switched = client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/admin/login/"})

    assert switched.status_code == 302
    assert switched["Location"] == "/admin/login/"
    cookie = switched.cookies[settings.LANGUAGE_COOKIE_NAME]
    assert cookie.value == "zh-hans"
    assert cookie["max-age"] == settings.LANGUAGE_COOKIE_AGE
    page = client.get("/admin/login/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "钱包后台" in page
    assert 'data-language="en"' in page


def test_the_admin_speaks_chinese_to_a_browser_that_prefers_it(client_for, staff_in):
    client = client_for(staff_in("finance_reviewer"))

    page = client.get("/admin/payments/usernotification/", HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9").content.decode()

    assert "<title>" in page
    assert "钱包后台" in page
    assert "Wallet back-office" not in page


def test_a_notification_reads_in_the_language_it_is_shown_in(alice):
    notification = notifications.notification_create(
        user=alice,
        kind=UserNotification.Kind.WITHDRAWAL_FAILED,
        reference="W1",
        params={"order_no": "W1", "code": "ACCOUNT_FROZEN", "amount": "¥1,200.00"},
    )

    with translation.override("zh-hans"):
        chinese = notification.text()
    with translation.override("en"):
        english = notification.text()

    assert chinese == "您的提现 W1 失败（ACCOUNT_FROZEN），¥1,200.00 已退回余额。"
    assert english == "Your withdrawal W1 failed (ACCOUNT_FROZEN); ¥1,200.00 is back."
    assert UserNotification.objects.get(pk=notification.pk).message == english


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "Your withdrawal W2 was returned by the bank; ¥80.00 is back."),
        ("zh-hans", "您的提现 W2 被银行退回，¥80.00 已退回余额。"),
    ],
)
def test_the_sender_writes_a_notification_in_the_platform_language(settings, alice, language, expected):
    settings.LANGUAGE_CODE = language
    settings.NOTIFICATION_SENDER = "config.tests.test_languages.record_sender"
    sent_texts.clear()
    notification = notifications.notification_create(
        user=alice,
        kind=UserNotification.Kind.WITHDRAWAL_RETURNED,
        reference="W2",
        params={"order_no": "W2", "amount": "¥80.00"},
    )

    notifications.notification_deliver(notification_id=notification.pk)

    assert sent_texts == [expected]
