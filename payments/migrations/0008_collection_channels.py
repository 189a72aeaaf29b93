"""Channels that collect payments: the methods and clients each serves, and their rows. The fee
is the channel's own charge on what it collects (0.6 %, no minimum), which routing compares."""

from decimal import Decimal

import django.contrib.postgres.fields
from django.db import migrations, models

WECHAT_METHODS = ["wechat_jsapi", "wechat_app", "wechat_h5", "wechat_native"]
ALIPAY_METHODS = ["alipay_app", "alipay_page", "alipay_wap"]
CLIENT_TYPES = ["app", "web", "mobile_web", "wechat"]
COLLECTION_FEES = {"fee_rate": Decimal("0.006"), "fee_min": Decimal("0.00"), "fee_max": Decimal("100000.00")}
CHANNELS = [
    {
        "code": "wechat_pay",
        "name": "WeChat Pay",
        "adapter": "wechat_v3",
        "payment_methods": WECHAT_METHODS,
        "priority": 10,
    },
    {
        "code": "wechat_v2_pay",
        "name": "WeChat Pay (legacy v2 merchant)",
        "adapter": "wechat_v2",
        "payment_methods": WECHAT_METHODS,
        "priority": 20,
        "enabled": False,
    },
    {"code": "alipay", "name": "Alipay", "adapter": "alipay", "payment_methods": ALIPAY_METHODS, "priority": 10},
]


def create_channels(apps, schema_editor):
    Channel = apps.get_model("payments", "Channel")
    for channel in CHANNELS:
        defaults = {**COLLECTION_FEES, "min_amount": Decimal("0.01"), "client_types": CLIENT_TYPES, **channel}
        Channel.objects.using(schema_editor.connection.alias).get_or_create(code=channel["code"], defaults=defaults)


def delete_channels(apps, schema_editor):
    apps.get_model("payments", "Channel").objects.using(schema_editor.connection.alias).filter(
        code__in=[channel["code"] for channel in CHANNELS]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0007_pipeline_permissions"),
    ]

    operations = [
        migrations.AddField(
            model_name="channel",
            name="client_types",
            field=django.contrib.postgres.fields.ArrayField(
                base_field=models.CharField(
                    choices=[
                        ("app", "Our mobile app"),
                        ("web", "Desktop browser"),
                        ("mobile_web", "Mobile browser"),
                        ("wechat", "Inside WeChat (official account, mini program)"),
                    ],
                    max_length=16,
                ),
                blank=True,
                default=list,
                size=None,
            ),
        ),
        migrations.AddField(
            model_name="channel",
            name="payment_methods",
            field=django.contrib.postgres.fields.ArrayField(
                base_field=models.CharField(
                    choices=[
                        ("wechat_jsapi", "WeChat JSAPI (inside WeChat)"),
                        ("wechat_app", "WeChat in-app"),
                        ("wechat_h5", "WeChat H5 (mobile browser)"),
                        ("wechat_native", "WeChat native (QR code)"),
                        ("alipay_app", "Alipay in-app"),
                        ("alipay_page", "Alipay page (desktop)"),
                        ("alipay_wap", "Alipay wap (mobile browser)"),
                        ("balance", "Wallet balance"),
                    ],
                    max_length=16,
                ),
                blank=True,
                default=list,
                size=None,
            ),
        ),
        migrations.AlterField(
            model_name="channel",
            name="adapter",
            field=models.CharField(
                choices=[
                    ("wechat_v3", "WeChat Pay v3"),
                    ("wechat_v2", "WeChat Pay v2 (legacy merchants)"),
                    ("bank", "Bank payout gateway"),
                    ("alipay", "Alipay (RSA2)"),
                ],
                max_length=16,
            ),
        ),
        migrations.RunPython(create_channels, delete_channels),
    ]
