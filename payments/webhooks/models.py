"""Webhooks to business systems (docs/WEBHOOKS.md): the outbox of events a merchant is told
about, and the log of every attempt to tell it.

An event is written in the transaction that settled what it reports, so it exists if and only
if that settlement committed; its body is fixed then and every attempt sends the same bytes.
"""

import uuid

import pgtrigger
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField, transition
from django_fsm_log.decorators import fsm_log_by, fsm_log_description
from django_fsm_log.models import StateLog

from payments.merchants.models import Merchant
from payments.transition_logs import TransitionLogManager


class WebhookEventStatus(models.TextChoices):
    PENDING = "pending", _("Pending")  # to be delivered: an attempt is due at next_attempt_at
    SUCCEEDED = "succeeded", _("Succeeded")  # the receiver answered SUCCESS
    FAILED = "failed", _("Failed")  # every attempt of the round failed; staff may resend it


class WebhookEvent(ConcurrentTransitionMixin, models.Model):
    """One thing a merchant is told about, delivered at least once until its receiver answers
    ``SUCCESS``. ``public_id`` is what the receiver deduplicates on; a resend keeps it."""

    Status = WebhookEventStatus

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, verbose_name=_("public id"))
    merchant = models.ForeignKey(
        Merchant, on_delete=models.PROTECT, related_name="webhook_events", verbose_name=_("merchant")
    )
    type = models.CharField(max_length=64, verbose_name=_("type"))
    # The exact JSON document POSTed (UTF-8): {"id", "type", "created_at", "data"}.
    body = models.TextField(verbose_name=_("body"))
    target_url = models.URLField(max_length=500, verbose_name=_("target url"))
    status = FSMField(
        max_length=16, choices=Status.choices, default=Status.PENDING, protected=True, verbose_name=_("status")
    )
    attempt_count = models.PositiveIntegerField(default=0, verbose_name=_("attempt count"))
    # Attempts since the event was created or last resent: where it is in the retry schedule.
    round_attempts = models.PositiveIntegerField(default=0, verbose_name=_("round attempts"))
    next_attempt_at = models.DateTimeField(null=True, blank=True, verbose_name=_("next attempt at"))
    # A worker that claimed the event holds it until then: no second delivery runs meanwhile,
    # and a worker that died mid-delivery only delays the event until the claim runs out.
    claimed_until = models.DateTimeField(null=True, blank=True, verbose_name=_("claimed until"))
    claim_token = models.UUIDField(null=True, blank=True, verbose_name=_("claim token"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))
    delivered_at = models.DateTimeField(null=True, blank=True, verbose_name=_("delivered at"))

    class Meta:
        verbose_name = _("webhook event")
        verbose_name_plural = _("webhook events")
        permissions = [("resend_webhookevent", "Can resend webhooks")]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="pending", next_attempt_at__isnull=False)
                | (~Q(status="pending") & Q(next_attempt_at__isnull=True)),
                name="webhook_event_due_iff_pending",
            ),
        ]
        indexes = [
            models.Index(fields=["next_attempt_at"], condition=Q(status="pending"), name="webhook_event_due_idx"),
            models.Index(fields=["merchant", "-created_at"], name="webhook_event_merchant_idx"),
        ]
        triggers = [
            pgtrigger.Protect(name="webhook_event_no_delete", operation=pgtrigger.Delete),
            pgtrigger.ReadOnly(
                name="webhook_event_content_read_only",
                fields=["public_id", "merchant", "type", "body", "target_url", "created_at"],
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.public_id}"

    @fsm_log_by
    @fsm_log_description
    @transition(field=status, source=Status.PENDING, target=Status.SUCCEEDED)
    def succeed(self, *, by=None, description: str = "") -> None:
        self.next_attempt_at = None
        self.delivered_at = timezone.now()

    @fsm_log_by
    @fsm_log_description
    @transition(field=status, source=Status.PENDING, target=Status.FAILED)
    def fail(self, *, by=None, description: str = "") -> None:
        self.next_attempt_at = None

    @fsm_log_by
    @fsm_log_description
    @transition(field=status, source=[Status.FAILED, Status.SUCCEEDED], target=Status.PENDING)
    def resend(self, *, by=None, description: str = "") -> None:
        """A new round of attempts from now, under the same event id."""
        self.round_attempts = 0
        self.next_attempt_at = timezone.now()


class AttemptOutcome(models.TextChoices):
    DELIVERED = "delivered", _("Delivered")  # 2xx with the body SUCCESS
    HTTP_ERROR = "http_error", _("HTTP error")  # any other status, redirects included
    BAD_ANSWER = "bad_answer", _("Bad answer")  # 2xx without SUCCESS
    TIMEOUT = "timeout", _("Timeout")
    CONNECTION_ERROR = "connection_error", _("Connection error")
    URL_REFUSED = "url_refused", _("URL refused")  # not http(s), or not a public address


class WebhookAttempt(models.Model):
    """One POST of an event and how it ended. Append-only."""

    Outcome = AttemptOutcome

    event = models.ForeignKey(WebhookEvent, on_delete=models.PROTECT, related_name="attempts", verbose_name=_("event"))
    number = models.PositiveIntegerField(verbose_name=_("number"))
    started_at = models.DateTimeField(verbose_name=_("started at"))
    http_status = models.PositiveSmallIntegerField(null=True, blank=True, verbose_name=_("http status"))
    latency_ms = models.PositiveIntegerField(verbose_name=_("latency ms"))
    outcome = models.CharField(max_length=16, choices=Outcome.choices, verbose_name=_("outcome"))
    # The start of the receiver's answer, as text (bounded, see delivery.EXCERPT_CHARS).
    answer_excerpt = models.CharField(max_length=500, blank=True, verbose_name=_("answer excerpt"))
    error = models.CharField(max_length=500, blank=True, verbose_name=_("error"))

    class Meta:
        verbose_name = _("webhook attempt")
        verbose_name_plural = _("webhook attempts")
        constraints = [
            models.UniqueConstraint(fields=["event", "number"], name="webhook_attempt_number_once"),
        ]
        triggers = [
            pgtrigger.Protect(name="webhook_attempt_append_only", operation=pgtrigger.Update | pgtrigger.Delete),
        ]

    def __str__(self) -> str:
        return f"{self.event_id} #{self.number} {self.outcome}"


class WebhookEventTransition(StateLog):
    """The transition log of webhook events: deliveries, give-ups and who resent what."""

    objects: models.Manager["WebhookEventTransition"] = TransitionLogManager("webhookevent")

    class Meta:
        verbose_name = _("webhook event transition")
        verbose_name_plural = _("webhook event transitions")
        proxy = True
