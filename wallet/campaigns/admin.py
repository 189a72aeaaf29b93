"""Campaigns and rewards in the admin (docs/WALLET.md, "Campaign income").

A campaign's page shows what it has spent against its budget: what its account paid out (the
ledger) and what is accepted but not yet credited (pending rewards). Opening and changing a
campaign, pausing, resuming and ending it call the services; rewards are read-only.
"""

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from wallet import errors
from wallet.adminkit import DateRangeFilter, ReadOnlyMixin
from wallet.campaigns import budget, selectors, services
from wallet.campaigns.models import Campaign, Reward


class CampaignForm(forms.ModelForm):
    """Checks the terms as the services do, so a refusal shows on its field."""

    class Meta:
        model = Campaign
        fields = ("name", "title", "budget", "starts_at", "ends_at")

    def clean(self):
        super().clean()
        data = self.cleaned_data
        if self.errors:
            return data
        try:
            services.campaign_terms_check(
                title=data["title"], budget_amount=data["budget"], starts_at=data["starts_at"], ends_at=data["ends_at"]
            )
            if self.instance.pk is None:
                services.campaign_name_check(name=data["name"])
        except errors.ApplicationError as error:
            field = next(iter(error.fields), None)
            self.add_error(field if field in self.fields else None, error.message)
        return data


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    form = CampaignForm
    list_display = ("name", "title", "status", "budget", "paid_out", "pending", "remaining", "progress", "ends_at")
    list_filter = ("status",)
    search_fields = ("name", "title")
    actions = ["pause_selected", "resume_selected", "end_selected", "recount_selected"]
    spending_fields = ("status", "account", "paid_out", "pending", "remaining", "progress", "counter")

    def get_queryset(self, request):
        return selectors.campaigns_with_spending()

    def get_fields(self, request, obj=None):
        editable = ("title", "budget", "starts_at", "ends_at")
        return ("name", *editable) if obj is None else ("name", *editable, *self.spending_fields)

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else ("name", *self.spending_fields)

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        terms = {name: form.cleaned_data[name] for name in ("title", "starts_at", "ends_at")}
        if change:
            services.campaign_change(
                campaign=obj, budget_amount=form.cleaned_data["budget"], actor=request.user, **terms
            )
            return
        created = services.campaign_create(
            name=form.cleaned_data["name"], budget_amount=form.cleaned_data["budget"], actor=request.user, **terms
        )
        obj.pk, obj.account_id = created.pk, created.account_id

    @admin.display(description=_("paid out (ledger)"))
    def paid_out(self, campaign: Campaign):
        return selectors.campaign_spending(campaign=campaign).paid_out

    @admin.display(description=_("accepted, not yet credited"))
    def pending(self, campaign: Campaign):
        return selectors.campaign_spending(campaign=campaign).pending

    @admin.display(description=_("remaining"))
    def remaining(self, campaign: Campaign):
        return selectors.campaign_spending(campaign=campaign).remaining

    @admin.display(description=_("spent of budget"))
    def progress(self, campaign: Campaign):
        percent = selectors.campaign_spending(campaign=campaign).percent
        return format_html(
            '<div style="width:120px;background:#e5e5e5;display:inline-block;vertical-align:middle">'
            '<div style="width:{}%;height:10px;background:#417690"></div></div> {}%',
            percent,
            percent,
        )

    @admin.display(description=_("budget counter (Redis)"))
    def counter(self, campaign: Campaign):
        value = budget.counter_read(campaign_id=campaign.pk)
        return gettext("missing: rebuilt on the next reward") if value is None else value

    @admin.action(description=_("Pause the selected campaigns"), permissions=["change"])
    def pause_selected(self, request, queryset: QuerySet[Campaign]):
        self._each(request, queryset, services.campaign_pause, gettext("%(campaign)s paused."))

    @admin.action(description=_("Resume the selected campaigns"), permissions=["change"])
    def resume_selected(self, request, queryset: QuerySet[Campaign]):
        self._each(request, queryset, services.campaign_resume, gettext("%(campaign)s resumed."))

    @admin.action(description=_("End the selected campaigns (for good)"), permissions=["change"])
    def end_selected(self, request, queryset: QuerySet[Campaign]):
        self._each(request, queryset, services.campaign_end, gettext("%(campaign)s ended."))

    @admin.action(description=_("Recount the budget counters from the rewards"), permissions=["change"])
    def recount_selected(self, request, queryset: QuerySet[Campaign]):
        for campaign in queryset.order_by("pk"):
            total = services.campaign_budget_recount(campaign_id=campaign.pk)
            self.message_user(
                request,
                gettext("%(campaign)s: %(total)s accepted.") % {"campaign": campaign.name, "total": total},
                messages.SUCCESS,
            )

    def _each(self, request, queryset: QuerySet[Campaign], service, done: str) -> None:
        """Runs the service on each campaign; ``done`` says it worked, with ``%(campaign)s``."""
        for campaign in queryset.order_by("pk"):
            try:
                service(campaign=campaign, actor=request.user)
            except errors.ApplicationError as error:
                self.message_user(request, error.message, messages.ERROR)
            else:
                self.message_user(request, done % {"campaign": campaign.name}, messages.SUCCESS)


@admin.register(Reward)
class RewardAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("token", "campaign", "user", "amount", "status", "created_at", "credited_at", "transfer")
    list_filter = ("status", "campaign", ("created_at", DateRangeFilter))
    search_fields = ("token__exact", "user__username__exact")
    search_help_text = _("Exact reward token or username.")
    list_select_related = ("campaign", "user")
    # Millions of rows: no count of the whole table on every page.
    show_full_result_count = False
