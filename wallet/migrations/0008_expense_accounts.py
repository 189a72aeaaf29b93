"""Expense accounts: what the platform pays, such as the channels' fees (debited by design)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("wallet", "0007_ledger_keys_hold_every_client_key"),
    ]

    operations = [
        migrations.AlterField(
            model_name="account",
            name="kind",
            field=models.CharField(
                choices=[
                    ("user", "User wallet"),
                    ("clearing", "Channel clearing"),
                    ("fees", "Fee income"),
                    ("escrow", "Escrow"),
                    ("campaign", "Campaign budget"),
                    ("merchant", "Merchant"),
                    ("adjustment", "Manual adjustment"),
                    ("expense", "Expense (channel fees)"),
                ],
                max_length=16,
            ),
        ),
    ]
