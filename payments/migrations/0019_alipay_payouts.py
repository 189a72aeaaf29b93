"""Payouts to Alipay accounts: the payout account kind (a sealed login id, the real name in the
holder's column), and the channel that pays them by Alipay's single transfer
(docs/PAYOUTS.md, "Alipay"). Alipay takes 0.10 at least and 50,000.00 at most to a person's
account in one transfer; the fee is the payout channels' own (0.1 %, 0.10 to 5.00)."""

from decimal import Decimal

from django.conf import settings
from django.db import migrations, models

CHANNEL = {
    "code": "alipay_transfer",
    "name": "Alipay transfer to account",
    "adapter": "alipay",
    "payout_account_kind": "alipay",
    "enabled": True,
    "fee_rate": Decimal("0.001"),
    "fee_min": Decimal("0.10"),
    "fee_max": Decimal("5.00"),
    "min_amount": Decimal("0.10"),
    "max_amount": Decimal("50000.00"),
    "rate_limit_per_second": 50,
    "priority": 10,
}


def create_channel(apps, schema_editor):
    Channel = apps.get_model("payments", "Channel")
    Channel.objects.using(schema_editor.connection.alias).get_or_create(code=CHANNEL["code"], defaults=CHANNEL)


def delete_channel(apps, schema_editor):
    apps.get_model("payments", "Channel").objects.using(schema_editor.connection.alias).filter(
        code=CHANNEL["code"], withdrawals__isnull=True
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0018_webhooks"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="payoutaccount",
            name="payout_account_fields_match_kind",
        ),
        migrations.AddField(
            model_name="payoutaccount",
            name="alipay_login_sealed",
            field=models.TextField(blank=True),
        ),
        migrations.AlterField(
            model_name="channel",
            name="payout_account_kind",
            field=models.CharField(
                blank=True,
                choices=[
                    ("wechat_openid", "WeChat wallet (openid)"),
                    ("bank_card", "Bank card"),
                    ("alipay", "Alipay account (login id)"),
                ],
                max_length=16,
            ),
        ),
        migrations.AlterField(
            model_name="payoutaccount",
            name="kind",
            field=models.CharField(
                choices=[
                    ("wechat_openid", "WeChat wallet (openid)"),
                    ("bank_card", "Bank card"),
                    ("alipay", "Alipay account (login id)"),
                ],
                max_length=16,
            ),
        ),
        migrations.AddConstraint(
            model_name="payoutaccount",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(
                        ("kind", "wechat_openid"),
                        models.Q(("openid_sealed", ""), _negated=True),
                        ("card_number_sealed", ""),
                        ("alipay_login_sealed", ""),
                    ),
                    models.Q(
                        ("kind", "bank_card"),
                        models.Q(("card_number_sealed", ""), _negated=True),
                        models.Q(("bank_code", ""), _negated=True),
                        ("openid_sealed", ""),
                        ("alipay_login_sealed", ""),
                    ),
                    models.Q(
                        ("kind", "alipay"),
                        models.Q(("alipay_login_sealed", ""), _negated=True),
                        models.Q(("holder_name_sealed", ""), _negated=True),
                        ("openid_sealed", ""),
                        ("card_number_sealed", ""),
                        ("bank_code", ""),
                    ),
                    _connector="OR",
                ),
                name="payout_account_fields_match_kind",
            ),
        ),
        migrations.RunPython(create_channel, delete_channel),
    ]
