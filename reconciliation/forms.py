"""The forms of the discrepancy desk and the bill upload in the admin: they check the shape of
what staff type; reconciliation.services and reconciliation.desk decide the rest."""

from django import forms

from payments.channels.bills import BillKind
from payments.channels.models import Channel
from reconciliation import services
from reconciliation.models import MONEY_ACTIONS

REASON_MAX_LENGTH = 500


def errors_text(form: forms.Form) -> str:
    """``"Reason: This field is required."``: a form's errors as one admin message."""
    return " ".join(
        f"{form[name].label}: {' '.join(map(str, messages))}" if name in form.fields else " ".join(map(str, messages))
        for name, messages in form.errors.items()
    )


class BillChannelField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Channel) -> str:
        return f"{obj.code} ({', '.join(services.channel_kinds(obj))})"


class BillUploadForm(forms.Form):
    """A channel's bill as staff downloaded it from the merchant portal."""

    channel = BillChannelField(queryset=Channel.objects.none())
    bill_date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    kind = forms.ChoiceField(choices=[(kind.value, kind.value) for kind in BillKind])
    file = forms.FileField(allow_empty_file=False)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        with_bills = [channel.pk for channel in Channel.objects.filter(enabled=True) if services.channel_kinds(channel)]
        self.fields["channel"].queryset = Channel.objects.filter(pk__in=with_bills).order_by("code")  # type: ignore[attr-defined]

    def clean(self):
        cleaned = super().clean() or {}
        channel, kind = cleaned.get("channel"), cleaned.get("kind")
        if channel is not None and kind and kind not in services.channel_kinds(channel):
            self.add_error("kind", f"{channel.code} has no {kind} bill.")
        return cleaned


class ReasonForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}), max_length=REASON_MAX_LENGTH, strip=True
    )


class ProposalForm(ReasonForm):
    """A step that moves money, for a supervisor to approve."""

    action = forms.ChoiceField(choices=[(action.value, action.label) for action in MONEY_ACTIONS])
    amount = forms.DecimalField(
        max_digits=18,
        decimal_places=2,
        required=False,
        help_text="Corrections only: posted to the channel's clearing account (negative takes away).",
    )

    field_order = ["action", "amount", "reason"]
