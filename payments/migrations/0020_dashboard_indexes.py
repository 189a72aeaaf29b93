"""The dashboard reads payment orders by day (from the index alone) and the open ones by status
and age (config.dashboard): indexes for it, built without locking the table against writes
(CONCURRENTLY, so outside a transaction)."""

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
            index=models.Index(
                fields=["created_at"],
                include=["status", "business_type", "channel", "amount"],
                name="payment_order_created_idx",
            ),
        ),
        AddIndexConcurrently(
            model_name="paymentorder",
            index=models.Index(
                condition=models.Q(("status__in", ["awaiting", "pending", "paying"])),
                fields=["status", "created_at"],
                name="payment_order_open_created_idx",
            ),
        ),
    ]
