"""Reconciliation reads a channel's orders of a day: indexes for it, built without locking the
tables against writes (CONCURRENTLY, so outside a transaction). A payment order booked as paid
that the channel never collected can now be reversed."""

import django_fsm
from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("payments", "0014_refund_idempotency_key_per_caller"),
    ]

    operations = [
        migrations.AlterField(
            model_name="paymentorder",
            name="status",
            field=django_fsm.FSMField(
                choices=[
                    ("pending", "Pending"),
                    ("paying", "Paying"),
                    ("success", "Success"),
                    ("failed", "Failed"),
                    ("closed", "Closed"),
                    ("reversed", "Reversed"),
                ],
                default="pending",
                max_length=16,
                protected=True,
            ),
        ),
        AddIndexConcurrently(
            model_name="paymentorder",
            index=models.Index(
                condition=models.Q(("status", "success")),
                fields=["channel", "paid_at"],
                name="payment_order_channel_paid_idx",
            ),
        ),
        AddIndexConcurrently(
            model_name="refund",
            index=models.Index(
                condition=models.Q(("status", "success")), fields=["finished_at"], name="refund_success_finished_idx"
            ),
        ),
        AddIndexConcurrently(
            model_name="withdrawal",
            index=models.Index(
                condition=models.Q(("status__in", ["success", "refunded"])),
                fields=["channel", "finished_at"],
                name="withdrawal_channel_paid_idx",
            ),
        ),
    ]
