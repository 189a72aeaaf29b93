"""The dashboard reads posted transfers by day (config.dashboard), from this index alone: built
without locking the table against writes (CONCURRENTLY, so outside a transaction)."""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("wallet", "0013_export_jobs"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="peertransfer",
            index=models.Index(fields=["status", "created_at"], include=["amount"], name="peer_transfer_status_idx"),
        ),
    ]
