"""Changes to a channel's settings, column by column as the actor may (channels.selectors)."""

from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from payments.channels import selectors
from payments.channels.models import Channel
from wallet import errors


@transaction.atomic
def channel_change(*, channel: Channel, actor: User, changes: dict[str, Any]) -> Channel:
    """Change a channel's settings, each column only if ``actor`` may (selectors); nothing
    changes when any is refused or the result breaks the channel's constraints."""
    refused = sorted(set(changes) - selectors.channel_changeable_fields(actor=actor))
    if refused:
        raise errors.PermissionDenied(
            _("You may not change %(items)s of the channel %(code)s.")
            % {"items": ", ".join(refused), "code": channel.code}
        )
    locked = Channel.objects.select_for_update().get(pk=channel.pk)
    for name, value in changes.items():
        setattr(locked, name, value)
    locked.full_clean()
    locked.save(update_fields=[*changes, "updated_at"])
    return locked
