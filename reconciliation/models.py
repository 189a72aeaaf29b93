"""Reconciliation's tables (docs/RECONCILIATION.md): the bills as the channels delivered them,
their lines, the runs that matched them against our orders, the one-sided items waiting for the
next day's bill, and the discrepancies the finance desk works on.

Only reconciliation/services.py writes them; money moves through wallet.services alone.
"""

from django.conf import settings
from django.contrib.postgres.indexes import BrinIndex
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField, transition
from django_fsm_log.decorators import fsm_log_by, fsm_log_description
from django_fsm_log.models import StateLog

from payments.channels.bills import BillKind, LineKind, LineStatus
from payments.channels.models import Channel
from payments.transition_logs import TransitionLogManager
from wallet.models import money_field

ORDER_NO_LENGTH = 64


class BillFile(models.Model):
    """One bill of a channel, day and kind, kept as delivered. A file is imported once (by its
    SHA-256); a corrected file for the same channel, day and kind supersedes the current one."""

    class Source(models.TextChoices):
        DOWNLOAD = "download", _("Downloaded from the channel")
        UPLOAD = "upload", _("Uploaded by staff")

    class Status(models.TextChoices):
        CURRENT = "current", _("Current")
        SUPERSEDED = "superseded", _("Superseded by a corrected file")

    channel = models.ForeignKey(Channel, on_delete=models.PROTECT, related_name="bill_files", verbose_name=_("channel"))
    bill_date = models.DateField(verbose_name=_("bill date"))
    kind = models.CharField(max_length=8, choices=[(k.value, k.name.title()) for k in BillKind], verbose_name=_("kind"))
    sha256 = models.CharField(max_length=64, unique=True, verbose_name=_("sha256"))
    file = models.FileField(upload_to="bills/%Y/%m/", verbose_name=_("file"))
    filename = models.CharField(max_length=255, verbose_name=_("filename"))
    size = models.PositiveBigIntegerField(verbose_name=_("size"))
    source = models.CharField(max_length=8, choices=Source.choices, verbose_name=_("source"))
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("uploaded by"),
    )
    line_count = models.PositiveIntegerField(verbose_name=_("line count"))
    amount_total = money_field(verbose_name=_("amount total"))
    fee_total = money_field(verbose_name=_("fee total"))
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.CURRENT, verbose_name=_("status"))
    superseded_by = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("superseded by")
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("bill file")
        verbose_name_plural = _("bill files")
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "bill_date", "kind"], condition=Q(status="current"), name="bill_file_one_current"
            ),
        ]
        indexes = [models.Index(fields=["channel", "-bill_date"], name="bill_file_channel_day_idx")]

    def __str__(self) -> str:
        return f"{self.channel.code} {self.kind} bill of {self.bill_date}"


class BillLine(models.Model):
    """A line of a bill, as the channel wrote it. Loaded with COPY (services.lines_load): the
    matching joins these rows to our orders in SQL. Each line keeps its fee, so the fee transfer
    of a bill is traceable to the lines it sums."""

    file = models.ForeignKey(
        BillFile, on_delete=models.PROTECT, related_name="lines", db_index=False, verbose_name=_("file")
    )
    line_no = models.PositiveIntegerField(verbose_name=_("line no"))
    kind = models.CharField(max_length=8, choices=[(k.value, k.name.title()) for k in LineKind], verbose_name=_("kind"))
    order_no = models.CharField(max_length=ORDER_NO_LENGTH, verbose_name=_("order no"))
    parent_no = models.CharField(max_length=ORDER_NO_LENGTH, blank=True, verbose_name=_("parent no"))
    channel_reference = models.CharField(max_length=64, blank=True, verbose_name=_("channel reference"))
    amount = money_field(verbose_name=_("amount"))
    fee = money_field(null=True, blank=True, verbose_name=_("fee"))
    status = models.CharField(
        max_length=10, choices=[(s.value, s.name.title()) for s in LineStatus], verbose_name=_("status")
    )
    occurred_at = models.DateTimeField(verbose_name=_("occurred at"))

    class Meta:
        verbose_name = _("bill line")
        verbose_name_plural = _("bill lines")
        indexes = [
            # A file's lines are written together, so a block range index finds them at a
            # fraction of a B-tree's size and of its cost on every COPY.
            BrinIndex(fields=["file"], name="bill_line_file_brin"),
            # A later day's run asks whether an earlier bill already had an order.
            models.Index(fields=["kind", "order_no"], name="bill_line_order_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.order_no}"


class FeeBooking(models.Model):
    """The fees of one bill as booked in the ledger: one transfer per channel, day and kind,
    and for a corrected bill only the difference (zero books nothing)."""

    channel = models.ForeignKey(Channel, on_delete=models.PROTECT, related_name="+", verbose_name=_("channel"))
    bill_date = models.DateField(verbose_name=_("bill date"))
    kind = models.CharField(max_length=8, choices=[(k.value, k.name.title()) for k in BillKind], verbose_name=_("kind"))
    file = models.OneToOneField(BillFile, on_delete=models.PROTECT, related_name="fee_booking", verbose_name=_("file"))
    amount = money_field(verbose_name=_("amount"))
    transfer = models.ForeignKey(
        "wallet.Transfer", null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("transfer")
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("fee booking")
        verbose_name_plural = _("fee bookings")
        indexes = [models.Index(fields=["channel", "bill_date", "kind"], name="fee_booking_day_idx")]

    def __str__(self) -> str:
        return f"{self.channel.code} {self.kind} fees of {self.bill_date}: {self.amount}"


class Outcome(models.TextChoices):
    """What matching found for one order: matched, or one of the discrepancy kinds."""

    LOCAL_ONLY = "local_only", _("Only in our books")
    CHANNEL_ONLY = "channel_only", _("Only in the channel's bill")
    AMOUNT_MISMATCH = "amount_mismatch", _("Amounts differ")
    STATUS_MISMATCH = "status_mismatch", _("States differ")
    FEE_MISMATCH = "fee_mismatch", _("Fees differ")
    LEDGER_MISMATCH = "ledger_mismatch", _("Ledger effects differ from the order's state")
    BALANCE_MISMATCH = "balance_mismatch", _("Balance differs from the user's movements")


class Run(models.Model):
    """One matching of a bill against our orders: what was compared, found and booked."""

    class Status(models.TextChoices):
        WAITING = "waiting", _("Waiting for the bill")
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")
        SUPERSEDED = "superseded", _("Superseded by a corrected bill")

    channel = models.ForeignKey(
        Channel, on_delete=models.PROTECT, related_name="reconciliation_runs", verbose_name=_("channel")
    )
    bill_date = models.DateField(verbose_name=_("bill date"))
    kind = models.CharField(max_length=8, choices=[(k.value, k.name.title()) for k in BillKind], verbose_name=_("kind"))
    file = models.ForeignKey(
        BillFile, null=True, blank=True, on_delete=models.PROTECT, related_name="runs", verbose_name=_("file")
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING, verbose_name=_("status"))
    error = models.TextField(blank=True, verbose_name=_("error"))
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("started by"),
    )
    bill_lines = models.PositiveIntegerField(default=0, verbose_name=_("bill lines"))
    bill_amount = money_field(default=0, verbose_name=_("bill amount"))
    local_records = models.PositiveIntegerField(default=0, verbose_name=_("local records"))
    local_amount = money_field(default=0, verbose_name=_("local amount"))
    matched = models.PositiveIntegerField(default=0, verbose_name=_("matched"))
    local_only = models.PositiveIntegerField(default=0, verbose_name=_("local only"))
    channel_only = models.PositiveIntegerField(default=0, verbose_name=_("channel only"))
    amount_mismatch = models.PositiveIntegerField(default=0, verbose_name=_("amount mismatch"))
    status_mismatch = models.PositiveIntegerField(default=0, verbose_name=_("status mismatch"))
    fee_mismatch = models.PositiveIntegerField(default=0, verbose_name=_("fee mismatch"))
    pooled = models.PositiveIntegerField(default=0, verbose_name=_("pooled"))
    pool_settled = models.PositiveIntegerField(default=0, verbose_name=_("pool settled"))
    fees_booked = money_field(default=0, verbose_name=_("fees booked"))
    # The clearing account against every current bill of the channel (services.clearing_check).
    clearing_balance = money_field(null=True, blank=True, verbose_name=_("clearing balance"))
    clearing_expected = money_field(null=True, blank=True, verbose_name=_("clearing expected"))
    clearing_difference = money_field(null=True, blank=True, verbose_name=_("clearing difference"))
    started_at = models.DateTimeField(auto_now_add=True, verbose_name=_("started at"))
    finished_at = models.DateTimeField(null=True, blank=True, verbose_name=_("finished at"))

    class Meta:
        verbose_name = _("run")
        verbose_name_plural = _("runs")
        constraints = [
            # Two runs of one channel, day and kind never overlap.
            models.UniqueConstraint(
                fields=["channel", "bill_date", "kind"],
                condition=Q(status__in=["waiting", "running"]),
                name="reconciliation_run_one_active",
            ),
        ]
        indexes = [models.Index(fields=["channel", "-bill_date"], name="reconciliation_run_day_idx")]
        permissions = [
            ("rerun_run", "Can re-run a reconciliation"),
            ("export_run", "Can export reconciliation runs"),
        ]

    def __str__(self) -> str:
        return f"{self.channel.code} {self.kind} {self.bill_date}"

    @property
    def duration(self):
        return self.finished_at - self.started_at if self.finished_at else None


class PoolItem(models.Model):
    """A one-sided item near midnight, waiting for the next day's bill (the cross-day pool):
    our success late on day D that the channel may book on D+1, or the channel's line late on D
    whose order we finish on D+1. It becomes a discrepancy only if that bill does not settle it."""

    class Side(models.TextChoices):
        LOCAL = "local", _("Ours, not yet in a bill")
        CHANNEL = "channel", _("The channel's, not yet final here")

    class Status(models.TextChoices):
        WAITING = "waiting", _("Waiting")
        SETTLED = "settled", _("Settled by the next bill")
        EXPIRED = "expired", _("Became a discrepancy")

    channel = models.ForeignKey(Channel, on_delete=models.PROTECT, related_name="+", verbose_name=_("channel"))
    kind = models.CharField(max_length=8, choices=[(k.value, k.name.title()) for k in BillKind], verbose_name=_("kind"))
    object_kind = models.CharField(
        max_length=8, choices=[(k.value, k.name.title()) for k in LineKind], verbose_name=_("object kind")
    )
    order_no = models.CharField(max_length=ORDER_NO_LENGTH, verbose_name=_("order no"))
    side = models.CharField(max_length=8, choices=Side.choices, verbose_name=_("side"))
    amount = money_field(null=True, blank=True, verbose_name=_("amount"))
    # The state the other side must reach to settle it: the channel's, for the channel's items.
    expected_status = models.CharField(max_length=16, blank=True, verbose_name=_("expected status"))
    bill_date = models.DateField(verbose_name=_("bill date"))
    due_date = models.DateField(verbose_name=_("due date"))
    run = models.ForeignKey(Run, on_delete=models.PROTECT, related_name="pool_items", verbose_name=_("run"))
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.WAITING, verbose_name=_("status"))
    settled_by = models.ForeignKey(
        Run, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("settled by")
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("pool item")
        verbose_name_plural = _("pool items")
        constraints = [
            models.UniqueConstraint(
                fields=["object_kind", "order_no"], condition=Q(status="waiting"), name="pool_item_waiting_once"
            ),
        ]
        indexes = [models.Index(fields=["channel", "kind", "status", "due_date"], name="pool_item_due_idx")]

    def __str__(self) -> str:
        return f"{self.object_kind} {self.order_no} waiting since {self.bill_date}"


class DiscrepancyStatus(models.TextChoices):
    OPEN = "open", _("Open")
    INVESTIGATING = "investigating", _("Investigating")
    RESOLVED = "resolved", _("Resolved")
    IGNORED = "ignored", _("Ignored")


class Action(models.TextChoices):
    """What the desk does about a discrepancy; the last two move money and need a supervisor."""

    REQUERY = "requery", _("Re-query the channel")
    APPLY_CHANNEL = "apply_channel", _("Apply the channel's truth")
    CORRECTION = "correction", _("Post a correction")


MONEY_ACTIONS = (Action.APPLY_CHANNEL, Action.CORRECTION)
WORK = "reconciliation.work_discrepancy"


class Discrepancy(ConcurrentTransitionMixin, models.Model):
    """Something our books and the channel's (or the ledger and the orders) disagree on,
    worked by the finance desk: open -> investigating -> resolved | ignored, each step logged
    with its actor (django-fsm-log). A step that moves money is proposed by one person and
    applied when a finance supervisor (another person) approves it."""

    Status = DiscrepancyStatus

    kind = models.CharField(max_length=16, choices=Outcome.choices, verbose_name=_("kind"))
    channel = models.ForeignKey(
        Channel, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("channel")
    )
    run = models.ForeignKey(
        Run, null=True, blank=True, on_delete=models.PROTECT, related_name="discrepancies", verbose_name=_("run")
    )
    bill_date = models.DateField(verbose_name=_("bill date"))
    object_kind = models.CharField(max_length=8, verbose_name=_("object kind"))
    order_no = models.CharField(max_length=ORDER_NO_LENGTH, verbose_name=_("order no"))
    local_amount = money_field(null=True, blank=True, verbose_name=_("local amount"))
    channel_amount = money_field(null=True, blank=True, verbose_name=_("channel amount"))
    local_status = models.CharField(max_length=16, blank=True, verbose_name=_("local status"))
    channel_status = models.CharField(max_length=16, blank=True, verbose_name=_("channel status"))
    local_fee = money_field(null=True, blank=True, verbose_name=_("local fee"))
    channel_fee = money_field(null=True, blank=True, verbose_name=_("channel fee"))
    detail = models.CharField(max_length=500, blank=True, verbose_name=_("detail"))
    status = FSMField(
        max_length=16, choices=Status.choices, default=Status.OPEN, protected=True, verbose_name=_("status")
    )
    # A money-moving action waiting for a supervisor: what, how much (corrections), by whom, why.
    proposed_action = models.CharField(
        max_length=16, choices=Action.choices, blank=True, verbose_name=_("proposed action")
    )
    proposed_amount = money_field(null=True, blank=True, verbose_name=_("proposed amount"))
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("proposed by"),
    )
    proposed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("proposed at"))
    proposal_reason = models.CharField(max_length=500, blank=True, verbose_name=_("proposal reason"))
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("approved by"),
    )
    resolution = models.CharField(max_length=500, blank=True, verbose_name=_("resolution"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))
    finished_at = models.DateTimeField(null=True, blank=True, verbose_name=_("finished at"))

    class Meta:
        verbose_name = _("discrepancy")
        verbose_name_plural = _("discrepancies")
        constraints = [
            # One discrepancy being worked per order and kind: re-runs do not pile up copies.
            models.UniqueConstraint(
                fields=["object_kind", "order_no", "kind"],
                condition=Q(status__in=["open", "investigating"]),
                name="discrepancy_one_active",
            ),
            models.CheckConstraint(
                condition=Q(proposed_action="") | Q(proposed_by__isnull=False), name="discrepancy_proposal_has_author"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "created_at"], name="discrepancy_queue_idx"),
            models.Index(fields=["object_kind", "order_no"], name="discrepancy_order_idx"),
        ]
        permissions = [
            ("work_discrepancy", "Can investigate, re-query, propose and ignore discrepancies"),
            ("approve_discrepancy", "Can approve a discrepancy action that moves money"),
            ("export_discrepancy", "Can export discrepancies"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.object_kind} {self.order_no}"

    @fsm_log_by
    @fsm_log_description
    @transition(field=status, source=Status.OPEN, target=Status.INVESTIGATING, permission=WORK)
    def investigate(self, *, by=None, description: str = "") -> None:
        """Someone took it."""

    @fsm_log_by
    @fsm_log_description
    @transition(field=status, source=[Status.OPEN, Status.INVESTIGATING], target=Status.RESOLVED, permission=WORK)
    def resolve(self, *, by=None, description: str = "") -> None:
        self._finish(description)

    @fsm_log_by
    @fsm_log_description
    @transition(field=status, source=[Status.OPEN, Status.INVESTIGATING], target=Status.IGNORED, permission=WORK)
    def ignore(self, *, by=None, description: str = "") -> None:
        self._finish(description)

    def _finish(self, reason: str) -> None:
        self.resolution = reason[:500]
        self.finished_at = timezone.now()


class DiscrepancyTransition(StateLog):
    """The desk's steps on discrepancies, as their own admin page and export."""

    objects: models.Manager["DiscrepancyTransition"] = TransitionLogManager("discrepancy", app_label="reconciliation")

    class Meta:
        verbose_name = _("discrepancy transition")
        verbose_name_plural = _("discrepancy transitions")
        proxy = True
        permissions = [("export_discrepancytransition", "Can export discrepancy transitions")]
