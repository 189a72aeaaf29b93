"""User-to-user transfers and receive codes (docs/WALLET.md).

The p2p transfers posted before this migration get a ``PeerTransfer`` row each (posted, guard
reference ``before transfer rules``), read from their ledger rows: the sender from the key
``p2p:<sender>:<client key>``, the recipient from the reference ``user:<id>``. So they count as
"paid before", show in the transfer detail and stay explained to the internal reconciliation.
"""

import django.db.models.deletion
import django_fsm
import pgtrigger.compiler
import pgtrigger.migrations
from django.conf import settings
from django.db import migrations, models

BACKFILL = """
INSERT INTO wallet_peertransfer (
    sender_id, recipient_id, amount, currency, memo, status, idempotency_key, request_fingerprint,
    receive_code_single_use, guard_reference, ledger_transfer_id, status_reason, created_at
)
SELECT split_part(t.idempotency_key, ':', 2)::bigint, split_part(t.reference, ':', 2)::bigint,
       credit.amount, credit.currency, t.memo, 'posted',
       substr(t.idempotency_key, length(split_part(t.idempotency_key, ':', 2)) + 6), '',
       false, 'before transfer rules', t.id, '', t.created_at
  FROM wallet_transfer t
  JOIN LATERAL (
        SELECT e.amount, a.currency FROM wallet_entry e JOIN wallet_account a ON a.id = e.account_id
         WHERE e.transfer_id = t.id AND e.amount > 0
  ) credit ON true
 WHERE t.kind = 'p2p' AND t.idempotency_key ~ '^p2p:[0-9]+:.' AND t.reference ~ '^user:[0-9]+$'
   AND NOT EXISTS (SELECT 1 FROM wallet_peertransfer p WHERE p.ledger_transfer_id = t.id)
 ORDER BY t.id
"""


def backfill(apps, schema_editor):
    schema_editor.execute(BACKFILL)


class Migration(migrations.Migration):
    dependencies = [
        ("wallet", "0010_campaigns"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="ReceiveCode",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("amount", models.DecimalField(blank=True, decimal_places=2, max_digits=18, null=True)),
                ("currency", models.CharField(default="CNY", max_length=3)),
                ("memo", models.CharField(blank=True, default="", max_length=255)),
                ("single_use", models.BooleanField()),
                ("expires_at", models.DateTimeField()),
                ("revoked_at", models.DateTimeField(blank=True, null=True)),
                ("created_at", models.DateTimeField()),
                (
                    "owner",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="receive_codes",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "revoked_by",
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
                "permissions": [("revoke_receivecode", "Can revoke receive codes")],
            },
        ),
        migrations.CreateModel(
            name="PeerTransfer",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("amount", models.DecimalField(decimal_places=2, max_digits=18)),
                ("currency", models.CharField(default="CNY", max_length=3)),
                ("memo", models.CharField(blank=True, default="", max_length=255)),
                (
                    "status",
                    django_fsm.FSMField(
                        choices=[("posted", "Posted"), ("under_review", "Under review"), ("rejected", "Rejected")],
                        max_length=16,
                        protected=True,
                    ),
                ),
                ("idempotency_key", models.CharField(max_length=255)),
                ("request_fingerprint", models.CharField(max_length=64)),
                ("receive_code_single_use", models.BooleanField(default=False)),
                ("guard_reference", models.CharField(max_length=64)),
                ("status_reason", models.CharField(blank=True, default="", max_length=500)),
                ("created_at", models.DateTimeField()),
                ("reviewed_at", models.DateTimeField(blank=True, null=True)),
                (
                    "hold",
                    models.OneToOneField(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="peer_transfer",
                        to="wallet.hold",
                    ),
                ),
                (
                    "ledger_transfer",
                    models.OneToOneField(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="peer_transfer",
                        to="wallet.transfer",
                    ),
                ),
                (
                    "recipient",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="transfers_received",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "sender",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="transfers_sent",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "receive_code",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="transfers",
                        to="wallet.receivecode",
                    ),
                ),
            ],
            options={
                "permissions": [("review_peertransfer", "Can approve or reject transfers held for review")],
            },
            bases=(django_fsm.ConcurrentTransitionMixin, models.Model),
        ),
        migrations.AddIndex(
            model_name="receivecode",
            index=models.Index(fields=["owner", "-created_at", "-id"], name="receive_code_owner_idx"),
        ),
        migrations.AddConstraint(
            model_name="receivecode",
            constraint=models.CheckConstraint(
                condition=models.Q(("amount__isnull", True), ("amount__gt", 0), _connector="OR"),
                name="receive_code_amount",
            ),
        ),
        migrations.AddConstraint(
            model_name="receivecode",
            constraint=models.CheckConstraint(
                condition=models.Q(("expires_at__gt", models.F("created_at"))), name="receive_code_expires_later"
            ),
        ),
        migrations.AddConstraint(
            model_name="receivecode",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("revoked_at__isnull", True), ("revoked_by__isnull", True)),
                    models.Q(("revoked_at__isnull", False), ("revoked_by__isnull", False)),
                    _connector="OR",
                ),
                name="receive_code_revocation_recorded",
            ),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name="receivecode",
            trigger=pgtrigger.compiler.Trigger(
                name="receive_code_no_delete",
                sql=pgtrigger.compiler.UpsertTriggerSql(
                    func="RAISE EXCEPTION 'pgtrigger: Cannot delete rows from % table', TG_TABLE_NAME;",
                    hash="fa8d5db42534ba32b8f160e4a3423021b88e9836",
                    operation="DELETE",
                    pgid="pgtrigger_receive_code_no_delete_6ed58",
                    table="wallet_receivecode",
                    when="BEFORE",
                ),
            ),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name="receivecode",
            trigger=pgtrigger.compiler.Trigger(
                name="receive_code_terms_read_only",
                sql=pgtrigger.compiler.UpsertTriggerSql(
                    condition='WHEN (OLD."owner_id" IS DISTINCT FROM (NEW."owner_id") OR OLD."amount" IS DISTINCT FROM (NEW."amount") OR OLD."currency" IS DISTINCT FROM (NEW."currency") OR OLD."memo" IS DISTINCT FROM (NEW."memo") OR OLD."single_use" IS DISTINCT FROM (NEW."single_use") OR OLD."expires_at" IS DISTINCT FROM (NEW."expires_at") OR OLD."created_at" IS DISTINCT FROM (NEW."created_at"))',
                    func="RAISE EXCEPTION 'pgtrigger: Cannot update rows from % table', TG_TABLE_NAME;",
                    hash="0960b57226873e58091608f342321ed08619df7e",
                    operation="UPDATE",
                    pgid="pgtrigger_receive_code_terms_read_only_fe689",
                    table="wallet_receivecode",
                    when="BEFORE",
                ),
            ),
        ),
        migrations.AddIndex(
            model_name="peertransfer",
            index=models.Index(fields=["sender", "-created_at"], name="peer_transfer_sender_idx"),
        ),
        migrations.AddIndex(
            model_name="peertransfer",
            index=models.Index(fields=["sender", "recipient"], name="peer_transfer_pair_idx"),
        ),
        migrations.AddIndex(
            model_name="peertransfer",
            index=models.Index(
                condition=models.Q(("status", "under_review")), fields=["created_at"], name="peer_transfer_review_idx"
            ),
        ),
        migrations.AddConstraint(
            model_name="peertransfer",
            constraint=models.CheckConstraint(
                condition=models.Q(("amount__gt", 0)), name="peer_transfer_amount_positive"
            ),
        ),
        migrations.AddConstraint(
            model_name="peertransfer",
            constraint=models.CheckConstraint(
                condition=models.Q(("sender", models.F("recipient")), _negated=True), name="peer_transfer_not_to_self"
            ),
        ),
        migrations.AddConstraint(
            model_name="peertransfer",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("ledger_transfer__isnull", False), ("status", "posted")),
                    models.Q(
                        ("hold__isnull", False),
                        ("ledger_transfer__isnull", True),
                        ("status__in", ["under_review", "rejected"]),
                    ),
                    _connector="OR",
                ),
                name="peer_transfer_money_matches_status",
            ),
        ),
        migrations.AddConstraint(
            model_name="peertransfer",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("receive_code__isnull", False), ("receive_code_single_use", False), _connector="OR"
                ),
                name="peer_transfer_single_use_needs_code",
            ),
        ),
        migrations.AddConstraint(
            model_name="peertransfer",
            constraint=models.UniqueConstraint(
                fields=("sender", "idempotency_key"), name="peer_transfer_key_per_sender"
            ),
        ),
        migrations.AddConstraint(
            model_name="peertransfer",
            constraint=models.UniqueConstraint(
                condition=models.Q(("receive_code_single_use", True), models.Q(("status", "rejected"), _negated=True)),
                fields=("receive_code",),
                name="peer_transfer_single_use_code_paid_once",
            ),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name="peertransfer",
            trigger=pgtrigger.compiler.Trigger(
                name="peer_transfer_no_delete",
                sql=pgtrigger.compiler.UpsertTriggerSql(
                    func="RAISE EXCEPTION 'pgtrigger: Cannot delete rows from % table', TG_TABLE_NAME;",
                    hash="56961bdbb110b00cdf68680151617da6a45aad6f",
                    operation="DELETE",
                    pgid="pgtrigger_peer_transfer_no_delete_74681",
                    table="wallet_peertransfer",
                    when="BEFORE",
                ),
            ),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name="peertransfer",
            trigger=pgtrigger.compiler.Trigger(
                name="peer_transfer_terms_read_only",
                sql=pgtrigger.compiler.UpsertTriggerSql(
                    condition='WHEN (OLD."sender_id" IS DISTINCT FROM (NEW."sender_id") OR OLD."recipient_id" IS DISTINCT FROM (NEW."recipient_id") OR OLD."amount" IS DISTINCT FROM (NEW."amount") OR OLD."currency" IS DISTINCT FROM (NEW."currency") OR OLD."memo" IS DISTINCT FROM (NEW."memo") OR OLD."idempotency_key" IS DISTINCT FROM (NEW."idempotency_key") OR OLD."request_fingerprint" IS DISTINCT FROM (NEW."request_fingerprint") OR OLD."receive_code_id" IS DISTINCT FROM (NEW."receive_code_id") OR OLD."receive_code_single_use" IS DISTINCT FROM (NEW."receive_code_single_use") OR OLD."guard_reference" IS DISTINCT FROM (NEW."guard_reference") OR OLD."hold_id" IS DISTINCT FROM (NEW."hold_id") OR OLD."created_at" IS DISTINCT FROM (NEW."created_at"))',
                    func="RAISE EXCEPTION 'pgtrigger: Cannot update rows from % table', TG_TABLE_NAME;",
                    hash="0dde8f05457a92a2723c885de61b0e72d77c74ff",
                    operation="UPDATE",
                    pgid="pgtrigger_peer_transfer_terms_read_only_1b6ff",
                    table="wallet_peertransfer",
                    when="BEFORE",
                ),
            ),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
