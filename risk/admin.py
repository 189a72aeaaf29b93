"""Risk admin: withdrawal and transfer rules for finance supervisors, the window and rollout switches for operations,
decisions and the blocklist for everyone who reviews.

Rules are switched off, never deleted; the ``enabled`` column is editable in the list so the
window and the staged rollout flip without a deploy. Every change goes through
``risk.services.rule_change``, which allows each column only to those who may change it
(docs/WITHDRAWALS.md, "Who may change what"). Evaluations are the decisions log and are
read-only. The blocklist changes only through risk.services, with the staff user as actor.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from risk import selectors, services
from risk.models import BlocklistEntry, RiskEvaluation, RiskRule


@admin.register(RiskRule)
class RiskRuleAdmin(admin.ModelAdmin):
    list_display = ("code", "flow", "kind", "enabled", "action", "parameters", "priority", "message")
    list_editable = ("enabled",)
    list_filter = ("flow", "enabled", "kind", "action")
    ordering = ("flow", "priority", "id")
    fields = (
        "code",
        "flow",
        "kind",
        "enabled",
        "action",
        "priority",
        "amount",
        "count",
        "period",
        "closed_from",
        "closed_until",
        "percent",
        "message",
        "updated_at",
    )

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ("updated_at",)
        # A rule's code, flow and kind are its identity: hits and evaluations refer to them.
        changeable = selectors.rule_changeable_fields(rule=obj, actor=request.user)
        return tuple(name for name in self.fields if name not in changeable)

    def has_change_permission(self, request, obj=None):
        if request.user.has_perm("risk.change_riskrule"):
            return True
        if not request.user.has_perm("risk.switch_riskrule"):
            return False
        return obj is None or bool(selectors.rule_changeable_fields(rule=obj, actor=request.user))

    def get_changelist_form(self, request, **kwargs):
        """The list's ``enabled`` box is live only on the rows this user may switch."""
        base = super().get_changelist_form(request, **kwargs)
        user = request.user

        class SwitchForm(base):  # type: ignore[valid-type, misc]
            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                if "enabled" not in selectors.rule_changeable_fields(rule=self.instance, actor=user):
                    self.fields["enabled"].disabled = True

        return SwitchForm

    def save_model(self, request, obj, form, change):
        if not change:
            super().save_model(request, obj, form, change)
            return
        changes = {name: form.cleaned_data[name] for name in form.changed_data}
        services.rule_change(rule=obj, actor=request.user, changes=changes)

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("parameters"))
    def parameters(self, rule: RiskRule) -> str:
        if rule.kind == RiskRule.Kind.COUNT_LIMIT:
            return gettext("at most %(count)s per %(period)s") % {
                "count": rule.count,
                "period": rule.get_period_display(),
            }
        if rule.kind == RiskRule.Kind.AMOUNT_LIMIT:
            return gettext("at most %(amount)s per %(period)s") % {
                "amount": rule.amount,
                "period": rule.get_period_display(),
            }
        if rule.kind == RiskRule.Kind.WINDOW:
            return gettext("closed %(from)s-%(until)s") % {
                "from": f"{rule.closed_from:%H:%M}",
                "until": f"{rule.closed_until:%H:%M}",
            }
        if rule.kind == RiskRule.Kind.ROLLOUT:
            return f"{rule.percent} %"
        return "" if rule.amount is None else str(rule.amount)


@admin.register(RiskEvaluation)
class RiskEvaluationAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "flow",
        "user",
        "amount",
        "outcome",
        "approvals_required",
        "refusal_code",
        "reasons",
    )
    list_filter = ("flow", "outcome", "created_at")
    search_fields = ("user__username__exact",)
    search_help_text = _("Exact username.")
    list_select_related = ("user",)
    ordering = ("-created_at", "-id")
    date_hierarchy = "created_at"
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("reasons"))
    def reasons(self, evaluation: RiskEvaluation) -> str:
        return "; ".join(evaluation.reasons)


class BlockUserForm(forms.ModelForm):
    """Staff type the username; the label is the username (payout accounts come from payments)."""

    user = forms.ModelChoiceField(
        queryset=get_user_model().objects.all(),
        to_field_name="username",
        widget=forms.TextInput,
        label=_("Username"),
        error_messages={"invalid_choice": _("No user with this username.")},
    )

    class Meta:
        model = BlocklistEntry
        fields = ("user", "reason")


@admin.register(BlocklistEntry)
class BlocklistEntryAdmin(admin.ModelAdmin):
    list_display = ("kind", "user", "label", "reason", "active", "created_by", "created_at", "removed_by", "removed_at")
    list_filter = ("active", "kind", "created_at")
    search_fields = ("user__username__exact", "label")
    list_select_related = ("user", "created_by", "removed_by")
    ordering = ("-created_at", "-id")
    actions = ["remove_from_blocklist"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = BlockUserForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("user", "reason")
        return (
            "kind",
            "user",
            "label",
            "fingerprint",
            "reason",
            "active",
            "created_by",
            "created_at",
            "removed_by",
            "removed_at",
        )

    def save_form(self, request, form, change):
        """Adds through the service, which records the actor and returns an already active entry."""
        user = form.cleaned_data["user"]
        return services.blocklist_add(
            kind=BlocklistEntry.Kind.USER,
            user=user,
            label=user.get_username(),
            reason=form.cleaned_data["reason"],
            actor=request.user,
        )

    def save_model(self, request, obj, form, change):
        """Saved by services.blocklist_add in save_form."""

    def save_related(self, request, form, formsets, change):
        """An entry has no related rows to save."""

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_remove_permission(self, request) -> bool:
        return request.user.has_perm("risk.change_blocklistentry")

    @admin.action(description=_("Remove from blocklist"), permissions=["remove"])
    def remove_from_blocklist(self, request, queryset: QuerySet[BlocklistEntry]) -> None:
        entries = list(queryset.filter(active=True).order_by("pk"))
        for entry in entries:
            services.blocklist_remove(entry=entry, actor=request.user)
        self.message_user(
            request,
            ngettext("Removed %(count)d blocklist entry.", "Removed %(count)d blocklist entries.", len(entries))
            % {"count": len(entries)},
            messages.SUCCESS,
        )
