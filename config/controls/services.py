"""Proposing, approving and rejecting changes to controls (docs/OPERATIONS.md, "Changes to
controls").

A proposal is applied by a second person holding ``project.approve_changeproposal`` (finance
supervisors; superusers), never by its author, in one transaction that first re-reads the
object under a lock: if it changed since the proposal, the proposal is stale and nothing is
applied.
"""

from datetime import datetime
from typing import Any, cast

import pghistory
from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from config.controls.models import ChangeProposal
from config.controls.registry import control_of
from config.controls.snapshots import snapshot, snapshot_apply, snapshot_diff
from wallet.errors import Conflict, PermissionDenied, ValidationFailed

Operation = ChangeProposal.Operation
Status = ChangeProposal.Status


def proposal_submit(
    *,
    actor: User,
    operation: str,
    obj: models.Model,
    many: dict[str, list[int]] | None = None,
    reason: str = "",
) -> ChangeProposal:
    """Propose ``obj`` as it stands in memory (unsaved changes, or a new row) for ``create`` or
    ``update``, or its removal for ``delete``; ``many`` holds a form's many-to-many choice."""
    model = type(obj)
    if operation == Operation.CREATE:
        before: dict[str, Any] = {}
        after = snapshot(obj, many)
    else:
        before = snapshot(model._default_manager.get(pk=obj.pk))
        after = {} if operation == Operation.DELETE else snapshot(obj, many)
    if operation == Operation.UPDATE and not snapshot_diff(before, after):
        raise ValidationFailed(_("Nothing to change."))
    return ChangeProposal.objects.create(
        content_type=ContentType.objects.get_for_model(model, for_concrete_model=True),
        object_id="" if operation == Operation.CREATE else str(obj.pk),
        object_repr=str(obj)[:200],
        operation=operation,
        before=before,
        after=after,
        reason=reason[:255],
        proposed_by=actor,
    )


def _lock_pending(proposal: ChangeProposal, actor: User) -> ChangeProposal:
    proposal = ChangeProposal.objects.select_for_update().get(pk=proposal.pk)
    if proposal.status != Status.PENDING:
        raise Conflict(_("This proposal was already decided."))
    if proposal.proposed_by_id == actor.pk:
        raise PermissionDenied(_("A change needs a second person: you cannot decide your own proposal."))
    if not actor.has_perm("project.approve_changeproposal"):
        raise PermissionDenied(_("You may not decide changes to controls."))
    return proposal


def _decide(proposal: ChangeProposal, actor: User, status: str, now: datetime) -> ChangeProposal:
    proposal.status = status
    proposal.decided_by = actor
    proposal.decided_at = now
    proposal.save(update_fields=["status", "decided_by", "decided_at", "object_id"])
    return proposal


def _apply(proposal: ChangeProposal, now: datetime) -> bool:
    """Write the proposal to its object; False, and nothing written, if the object changed since.
    The time stamps the proposal sets (a block's removal) take the approval's time: the change
    happens then."""
    model = cast(type[models.Model], proposal.content_type.model_class())  # a control is installed
    if proposal.operation == Operation.CREATE:
        obj = model()
    else:
        current = model._default_manager.select_for_update().filter(pk=proposal.object_id).first()
        if current is None or snapshot(current) != proposal.before:
            return False
        obj = current
    if proposal.operation == Operation.DELETE:
        obj.delete()
        return True
    many = snapshot_apply(obj, proposal.after)
    for name in control_of(model).stamped_on_approval:
        if proposal.after.get(name) is not None:
            setattr(obj, name, now)
    obj.full_clean()
    if proposal.operation == Operation.CREATE:
        obj.save()
    else:
        changed = snapshot_diff(proposal.before, proposal.after).keys() - set(many)
        stamps = [column.name for column in type(obj)._meta.concrete_fields if getattr(column, "auto_now", False)]
        obj.save(update_fields=[*changed, *stamps] if changed else [])
    for name in many:
        getattr(obj, name).set(proposal.after[name])
    proposal.object_id = str(obj.pk)
    return True


@transaction.atomic(durable=True)
def proposal_approve(*, proposal: ChangeProposal, actor: User) -> ChangeProposal:
    """Apply the proposal. When its object changed since it was proposed nothing is applied and
    the proposal is kept as stale (the caller reads ``status``)."""
    proposal = _lock_pending(proposal, actor)
    now = timezone.now()
    with pghistory.context(proposal=proposal.pk, proposed_by=proposal.proposed_by_id):
        applied = _apply(proposal, now)
        return _decide(proposal, actor, Status.APPLIED if applied else Status.STALE, now)


@transaction.atomic(durable=True)
def proposal_reject(*, proposal: ChangeProposal, actor: User) -> ChangeProposal:
    proposal = _lock_pending(proposal, actor)
    with pghistory.context(proposal=proposal.pk, proposed_by=proposal.proposed_by_id):
        return _decide(proposal, actor, Status.REJECTED, timezone.now())
