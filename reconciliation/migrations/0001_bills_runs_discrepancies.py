"""Reconciliation: bill files and their lines, runs, fee bookings, the cross-day pool and discrepancies."""

import django.contrib.postgres.indexes
import django.db.models.deletion
import django_fsm
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("django_fsm_log", "0004_auto_20190131_0341"),
        ("payments", "0015_reconciliation_indexes_and_reversed_payments"),
        ("wallet", "0008_expense_accounts"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="DiscrepancyTransition",
            fields=[],
            options={
                "permissions": [("export_discrepancytransition", "Can export discrepancy transitions")],
                "proxy": True,
                "indexes": [],
                "constraints": [],
            },
            bases=("django_fsm_log.statelog",),
        ),
        migrations.CreateModel(
            name="BillFile",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("bill_date", models.DateField()),
                ("kind", models.CharField(choices=[("trade", "Trade"), ("payout", "Payout")], max_length=8)),
                ("sha256", models.CharField(max_length=64, unique=True)),
                ("file", models.FileField(upload_to="bills/%Y/%m/")),
                ("filename", models.CharField(max_length=255)),
                ("size", models.PositiveBigIntegerField()),
                (
                    "source",
                    models.CharField(
                        choices=[("download", "Downloaded from the channel"), ("upload", "Uploaded by staff")],
                        max_length=8,
                    ),
                ),
                ("line_count", models.PositiveIntegerField()),
                ("amount_total", models.DecimalField(decimal_places=2, max_digits=18)),
                ("fee_total", models.DecimalField(decimal_places=2, max_digits=18)),
                (
                    "status",
                    models.CharField(
                        choices=[("current", "Current"), ("superseded", "Superseded by a corrected file")],
                        default="current",
                        max_length=10,
                    ),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "channel",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="bill_files", to="payments.channel"
                    ),
                ),
                (
                    "superseded_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="reconciliation.billfile",
                    ),
                ),
                (
                    "uploaded_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="BillLine",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("line_no", models.PositiveIntegerField()),
                (
                    "kind",
                    models.CharField(
                        choices=[("payment", "Payment"), ("refund", "Refund"), ("payout", "Payout")], max_length=8
                    ),
                ),
                ("order_no", models.CharField(max_length=64)),
                ("parent_no", models.CharField(blank=True, max_length=64)),
                ("channel_reference", models.CharField(blank=True, max_length=64)),
                ("amount", models.DecimalField(decimal_places=2, max_digits=18)),
                ("fee", models.DecimalField(blank=True, decimal_places=2, max_digits=18, null=True)),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("success", "Success"),
                            ("failed", "Failed"),
                            ("processing", "Processing"),
                            ("returned", "Returned"),
                        ],
                        max_length=10,
                    ),
                ),
                ("occurred_at", models.DateTimeField()),
                (
                    "file",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="lines",
                        to="reconciliation.billfile",
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="FeeBooking",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("bill_date", models.DateField()),
                ("kind", models.CharField(choices=[("trade", "Trade"), ("payout", "Payout")], max_length=8)),
                ("amount", models.DecimalField(decimal_places=2, max_digits=18)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "channel",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to="payments.channel"
                    ),
                ),
                (
                    "file",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="fee_booking",
                        to="reconciliation.billfile",
                    ),
                ),
                (
                    "transfer",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="wallet.transfer",
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="Run",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("bill_date", models.DateField()),
                ("kind", models.CharField(choices=[("trade", "Trade"), ("payout", "Payout")], max_length=8)),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("waiting", "Waiting for the bill"),
                            ("running", "Running"),
                            ("succeeded", "Succeeded"),
                            ("failed", "Failed"),
                            ("superseded", "Superseded by a corrected bill"),
                        ],
                        default="running",
                        max_length=10,
                    ),
                ),
                ("error", models.TextField(blank=True)),
                ("bill_lines", models.PositiveIntegerField(default=0)),
                ("bill_amount", models.DecimalField(decimal_places=2, default=0, max_digits=18)),
                ("local_records", models.PositiveIntegerField(default=0)),
                ("local_amount", models.DecimalField(decimal_places=2, default=0, max_digits=18)),
                ("matched", models.PositiveIntegerField(default=0)),
                ("local_only", models.PositiveIntegerField(default=0)),
                ("channel_only", models.PositiveIntegerField(default=0)),
                ("amount_mismatch", models.PositiveIntegerField(default=0)),
                ("status_mismatch", models.PositiveIntegerField(default=0)),
                ("fee_mismatch", models.PositiveIntegerField(default=0)),
                ("pooled", models.PositiveIntegerField(default=0)),
                ("pool_settled", models.PositiveIntegerField(default=0)),
                ("fees_booked", models.DecimalField(decimal_places=2, default=0, max_digits=18)),
                ("clearing_balance", models.DecimalField(blank=True, decimal_places=2, max_digits=18, null=True)),
                ("clearing_expected", models.DecimalField(blank=True, decimal_places=2, max_digits=18, null=True)),
                ("clearing_difference", models.DecimalField(blank=True, decimal_places=2, max_digits=18, null=True)),
                ("started_at", models.DateTimeField(auto_now_add=True)),
                ("finished_at", models.DateTimeField(blank=True, null=True)),
                (
                    "channel",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="reconciliation_runs",
                        to="payments.channel",
                    ),
                ),
                (
                    "file",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="runs",
                        to="reconciliation.billfile",
                    ),
                ),
                (
                    "started_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "permissions": [
                    ("rerun_run", "Can re-run a reconciliation"),
                    ("export_run", "Can export reconciliation runs"),
                ],
            },
        ),
        migrations.CreateModel(
            name="PoolItem",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("kind", models.CharField(choices=[("trade", "Trade"), ("payout", "Payout")], max_length=8)),
                (
                    "object_kind",
                    models.CharField(
                        choices=[("payment", "Payment"), ("refund", "Refund"), ("payout", "Payout")], max_length=8
                    ),
                ),
                ("order_no", models.CharField(max_length=64)),
                (
                    "side",
                    models.CharField(
                        choices=[
                            ("local", "Ours, not yet in a bill"),
                            ("channel", "The channel's, not yet final here"),
                        ],
                        max_length=8,
                    ),
                ),
                ("amount", models.DecimalField(blank=True, decimal_places=2, max_digits=18, null=True)),
                ("expected_status", models.CharField(blank=True, max_length=16)),
                ("bill_date", models.DateField()),
                ("due_date", models.DateField()),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("waiting", "Waiting"),
                            ("settled", "Settled by the next bill"),
                            ("expired", "Became a discrepancy"),
                        ],
                        default="waiting",
                        max_length=8,
                    ),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "channel",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to="payments.channel"
                    ),
                ),
                (
                    "run",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="pool_items", to="reconciliation.run"
                    ),
                ),
                (
                    "settled_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="reconciliation.run",
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="Discrepancy",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("local_only", "Only in our books"),
                            ("channel_only", "Only in the channel's bill"),
                            ("amount_mismatch", "Amounts differ"),
                            ("status_mismatch", "States differ"),
                            ("fee_mismatch", "Fees differ"),
                            ("ledger_mismatch", "Ledger effects differ from the order's state"),
                            ("balance_mismatch", "Balance differs from the user's movements"),
                        ],
                        max_length=16,
                    ),
                ),
                ("bill_date", models.DateField()),
                ("object_kind", models.CharField(max_length=8)),
                ("order_no", models.CharField(max_length=64)),
                ("local_amount", models.DecimalField(blank=True, decimal_places=2, max_digits=18, null=True)),
                ("channel_amount", models.DecimalField(blank=True, decimal_places=2, max_digits=18, null=True)),
                ("local_status", models.CharField(blank=True, max_length=16)),
                ("channel_status", models.CharField(blank=True, max_length=16)),
                ("local_fee", models.DecimalField(blank=True, decimal_places=2, max_digits=18, null=True)),
                ("channel_fee", models.DecimalField(blank=True, decimal_places=2, max_digits=18, null=True)),
                ("detail", models.CharField(blank=True, max_length=500)),
                (
                    "status",
                    django_fsm.FSMField(
                        choices=[
                            ("open", "Open"),
                            ("investigating", "Investigating"),
                            ("resolved", "Resolved"),
                            ("ignored", "Ignored"),
                        ],
                        default="open",
                        max_length=16,
                        protected=True,
                    ),
                ),
                (
                    "proposed_action",
                    models.CharField(
                        blank=True,
                        choices=[
                            ("requery", "Re-query the channel"),
                            ("apply_channel", "Apply the channel's truth"),
                            ("correction", "Post a correction"),
                        ],
                        max_length=16,
                    ),
                ),
                ("proposed_amount", models.DecimalField(blank=True, decimal_places=2, max_digits=18, null=True)),
                ("proposed_at", models.DateTimeField(blank=True, null=True)),
                ("proposal_reason", models.CharField(blank=True, max_length=500)),
                ("resolution", models.CharField(blank=True, max_length=500)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                ("finished_at", models.DateTimeField(blank=True, null=True)),
                (
                    "approved_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "channel",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="payments.channel",
                    ),
                ),
                (
                    "proposed_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "run",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="discrepancies",
                        to="reconciliation.run",
                    ),
                ),
            ],
            options={
                "verbose_name_plural": "discrepancies",
                "permissions": [
                    ("work_discrepancy", "Can investigate, re-query, propose and ignore discrepancies"),
                    ("approve_discrepancy", "Can approve a discrepancy action that moves money"),
                    ("export_discrepancy", "Can export discrepancies"),
                ],
            },
            bases=(django_fsm.ConcurrentTransitionMixin, models.Model),
        ),
        migrations.AddIndex(
            model_name="billfile",
            index=models.Index(fields=["channel", "-bill_date"], name="bill_file_channel_day_idx"),
        ),
        migrations.AddConstraint(
            model_name="billfile",
            constraint=models.UniqueConstraint(
                condition=models.Q(("status", "current")),
                fields=("channel", "bill_date", "kind"),
                name="bill_file_one_current",
            ),
        ),
        migrations.AddIndex(
            model_name="billline",
            index=django.contrib.postgres.indexes.BrinIndex(fields=["file"], name="bill_line_file_brin"),
        ),
        migrations.AddIndex(
            model_name="billline",
            index=models.Index(fields=["kind", "order_no"], name="bill_line_order_idx"),
        ),
        migrations.AddIndex(
            model_name="feebooking",
            index=models.Index(fields=["channel", "bill_date", "kind"], name="fee_booking_day_idx"),
        ),
        migrations.AddIndex(
            model_name="run",
            index=models.Index(fields=["channel", "-bill_date"], name="reconciliation_run_day_idx"),
        ),
        migrations.AddConstraint(
            model_name="run",
            constraint=models.UniqueConstraint(
                condition=models.Q(("status__in", ["waiting", "running"])),
                fields=("channel", "bill_date", "kind"),
                name="reconciliation_run_one_active",
            ),
        ),
        migrations.AddIndex(
            model_name="poolitem",
            index=models.Index(fields=["channel", "kind", "status", "due_date"], name="pool_item_due_idx"),
        ),
        migrations.AddConstraint(
            model_name="poolitem",
            constraint=models.UniqueConstraint(
                condition=models.Q(("status", "waiting")),
                fields=("object_kind", "order_no"),
                name="pool_item_waiting_once",
            ),
        ),
        migrations.AddIndex(
            model_name="discrepancy",
            index=models.Index(fields=["status", "created_at"], name="discrepancy_queue_idx"),
        ),
        migrations.AddIndex(
            model_name="discrepancy",
            index=models.Index(fields=["object_kind", "order_no"], name="discrepancy_order_idx"),
        ),
        migrations.AddConstraint(
            model_name="discrepancy",
            constraint=models.UniqueConstraint(
                condition=models.Q(("status__in", ["open", "investigating"])),
                fields=("object_kind", "order_no", "kind"),
                name="discrepancy_one_active",
            ),
        ),
        migrations.AddConstraint(
            model_name="discrepancy",
            constraint=models.CheckConstraint(
                condition=models.Q(("proposed_action", ""), ("proposed_by__isnull", False), _connector="OR"),
                name="discrepancy_proposal_has_author",
            ),
        ),
    ]
