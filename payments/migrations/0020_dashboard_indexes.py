"""The dashboard reads payment orders by day and the open ones by age (config.dashboard): indexes
for it, built without locking the table against writes (CONCURRENTLY, so outside a transaction)."""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("payments", "0019_alipay_payouts"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="paymentorder",
            index=models.Index(fields=["created_at"], name="payment_order_created_idx"),
        ),
        AddIndexConcurrently(
            model_name="paymentorder",
            index=models.Index(
                condition=models.Q(("status__in", ["awaiting", "pending", "paying"])),
                fields=["created_at"],
                name="payment_order_open_created_idx",
            ),
        ),
    ]
