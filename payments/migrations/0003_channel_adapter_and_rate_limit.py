"""Channels name their adapter and a shared rate limit; WeChat v2 for legacy merchants
joins, switched off until operations enable it for a merchant that still uses it."""

from decimal import Decimal

from django.db import migrations, models

ADAPTERS = {"wechat": "wechat_v3", "bank": "bank"}
LEGACY = {
    "code": "wechat_v2",
    "name": "WeChat Pay v2 enterprise payment (legacy merchants)",
    "enabled": False,
    "payout_account_kind": "wechat_openid",
    "priority": 30,
    "adapter": "wechat_v2",
    "fee_rate": Decimal("0.001"),
    "fee_min": Decimal("0.10"),
    "fee_max": Decimal("5.00"),
}


def forward(apps, schema_editor):
    Channel = apps.get_model("payments", "Channel")
    db = schema_editor.connection.alias
    for code, adapter in ADAPTERS.items():
        Channel.objects.using(db).filter(code=code).update(adapter=adapter)
    Channel.objects.using(db).get_or_create(code=LEGACY["code"], defaults=LEGACY)


def backward(apps, schema_editor):
    apps.get_model("payments", "Channel").objects.using(schema_editor.connection.alias).filter(
        code=LEGACY["code"], withdrawals__isnull=True
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("payments", "0002_channels_and_permissions")]

    operations = [
        migrations.AddField(
            model_name="channel",
            name="adapter",
            field=models.CharField(
                choices=[
                    ("wechat_v3", "WeChat Pay v3"),
                    ("wechat_v2", "WeChat Pay v2 (legacy merchants)"),
                    ("bank", "Bank payout gateway"),
                ],
                default="bank",
                max_length=16,
            ),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="channel",
            name="rate_limit_per_second",
            field=models.PositiveIntegerField(default=50),
        ),
        migrations.RunPython(forward, backward),
    ]
