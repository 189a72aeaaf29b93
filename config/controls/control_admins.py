"""The risk and channel admins as controls: the apps' own admins, with their saves, deletes and
actions turned into proposals (config.controls.adminkit). They live here because the apps do
not import the project; config.admin registers them in place of the apps' ones."""

from django.contrib import admin
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from config.controls.adminkit import ProposedChangesMixin
from config.controls.models import ChangeProposal
from payments.channels import admin as channels_admin
from payments.channels.models import Channel
from risk import admin as risk_admin
from risk import selectors as risk_selectors
from risk.kinds import CHANGEABLE_FIELDS, SWITCHES
from risk.models import BlocklistEntry, RiskRule


class RiskRuleAdmin(ProposedChangesMixin, risk_admin.RiskRuleAdmin):
    """Only the window's and the rollout's switches, by those who may flip them, apply at once;
    whoever may propose edits every other column (but the rule's identity) as a proposal."""

    def _changeable(self, request, rule: RiskRule) -> frozenset[str]:
        if self.may_propose(request, rule):
            return CHANGEABLE_FIELDS
        return risk_selectors.rule_changeable_fields(rule=rule, actor=request.user)

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ("updated_at",)
        changeable = self._changeable(request, obj)
        return tuple(name for name in self.fields if name not in changeable)

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) or self.may_propose(request, obj)

    def get_changelist_form(self, request, **kwargs):
        base = admin.ModelAdmin.get_changelist_form(self, request, **kwargs)
        changeable = self._changeable

        class SwitchForm(base):  # type: ignore[valid-type, misc]
            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                if "enabled" not in changeable(request, self.instance):
                    self.fields["enabled"].disabled = True

        return SwitchForm

    def applies_directly(self, request, obj, form, change) -> bool:
        if not change:
            return False
        switches = SWITCHES.get(obj.kind, frozenset())
        return set(form.changed_data) <= switches & risk_selectors.rule_changeable_fields(rule=obj, actor=request.user)

    def save_directly(self, request, obj, form, change):
        risk_admin.RiskRuleAdmin.save_model(self, request, obj, form, change)


class BlocklistEntryAdmin(ProposedChangesMixin, risk_admin.BlocklistEntryAdmin):
    """Blocking and unblocking are proposals; the proposer is recorded as who blocks or removes."""

    asks_reason = False  # the block's own reason is the proposal's

    def save_model(self, request, obj, form, change):
        self.propose(request, ChangeProposal.Operation.CREATE, obj, reason=obj.reason)

    def save_form(self, request, form, change):
        user = form.cleaned_data["user"]
        return BlocklistEntry(
            kind=BlocklistEntry.Kind.USER,
            user=user,
            label=user.get_username(),
            reason=form.cleaned_data["reason"],
            created_by=request.user,
        )

    def has_remove_permission(self, request) -> bool:
        return super().has_remove_permission(request) or self.may_propose(request)

    @admin.action(description=_("Remove from blocklist"), permissions=["remove"])
    def remove_from_blocklist(self, request, queryset):
        for entry in queryset.filter(active=True).order_by("pk"):
            entry.active = False
            entry.removed_by = request.user
            entry.removed_at = timezone.now()
            self.propose(request, ChangeProposal.Operation.UPDATE, entry)


class ChannelAdmin(ProposedChangesMixin, channels_admin.ChannelAdmin):
    """Every change to a channel, switching it on or off too, is a proposal."""

    def get_readonly_fields(self, request, obj=None):
        if obj is None or not self.may_propose(request, obj):
            return super().get_readonly_fields(request, obj)
        return ("code", "updated_at")

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) or self.may_propose(request, obj)

    def save_model(self, request, obj, form, change):
        ProposedChangesMixin.save_model(self, request, obj, form, change)


CONTROL_ADMINS = ((RiskRule, RiskRuleAdmin), (BlocklistEntry, BlocklistEntryAdmin), (Channel, ChannelAdmin))
