"""Red packets in the admin (docs/WALLET.md, "Admin"): read-only packets and shares, the escrow
balance against what open shares still owe at the top of the packet list, and the groups."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from wallet.adminkit import DateRangeFilter, ReadOnlyMixin, TransitionLogAdmin
from wallet.redpackets import selectors
from wallet.redpackets.models import ChatGroup, ChatGroupMember, RedPacket, RedPacketShare, RedPacketTransition


class ShareInline(ReadOnlyMixin, admin.TabularInline):
    model = RedPacketShare
    fields = ("position", "amount", "grabbed_by", "grabbed_at", "transfer", "refunded")
    ordering = ("position",)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("grabbed_by", "transfer")


@admin.register(RedPacket)
class RedPacketAdmin(ReadOnlyMixin, admin.ModelAdmin):
    change_list_template = "admin/wallet/redpacket/change_list.html"
    list_display = (
        "packet_no",
        "created_at",
        "sender",
        "recipient",
        "group",
        "mode",
        "amount",
        "count",
        "status",
        "refunded_amount",
        "expires_at",
        "finished_at",
    )
    list_filter = ("status", "mode", ("created_at", DateRangeFilter), ("expires_at", DateRangeFilter))
    search_fields = ("packet_no__exact", "sender__username__exact")
    search_help_text = _("Exact packet number or sender username.")
    list_select_related = ("sender", "recipient", "group")
    ordering = ("-created_at", "-id")
    show_full_result_count = False
    inlines = [ShareInline]

    def changelist_view(self, request, extra_context=None):
        """The line at the top: escrow must equal what the shares still owe, to the cent."""
        return super().changelist_view(
            request, extra_context={**(extra_context or {}), "escrow": selectors.escrow_check()}
        )


@admin.register(RedPacketShare)
class RedPacketShareAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("id", "packet", "position", "amount", "grabbed_by", "grabbed_at", "transfer", "refunded")
    list_filter = ("refunded", ("grabbed_at", DateRangeFilter))
    search_fields = ("packet__packet_no__exact", "grabbed_by__username__exact")
    search_help_text = _("Exact packet number or grabber username.")
    list_select_related = ("packet", "grabbed_by", "transfer")
    ordering = ("-id",)
    show_full_result_count = False


@admin.register(RedPacketTransition)
class RedPacketTransitionAdmin(TransitionLogAdmin):
    """Every packet's send, finish and expiry, exportable for auditors."""

    numbered = RedPacket
    number_field = "packet_no"


class MemberInline(admin.TabularInline):
    model = ChatGroupMember
    fields = ("user", "joined_at")
    raw_id_fields = ("user",)
    extra = 0


@admin.register(ChatGroup)
class ChatGroupAdmin(admin.ModelAdmin):
    list_display = ("name", "owner", "created_at")
    search_fields = ("name",)
    raw_id_fields = ("owner",)
    inlines = [MemberInline]
