"""Campaign income API (docs/WALLET.md, "Campaign income"): platform services give rewards,
users settle theirs before they look at their balance or withdraw."""

from django.contrib.auth import get_user_model
from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from wallet import errors
from wallet.campaigns import services
from wallet.campaigns.models import NAME_MAX_LENGTH, TOKEN_MAX_LENGTH, Reward
from wallet.campaigns.reasons import REWARD_STATUS
from wallet.rest.fields import MoneyField, SignedMoneyField
from wallet.rest.inputs import StrictCharField
from wallet.rest.reasons import StatusCodeField, StatusMessageField
from wallet.rest.schema import NOT_BLANK, api_schema
from wallet.rest.users import request_user

CREDIT_REWARD = "wallet.credit_reward"
_TOKEN = RegexValidator(r"^[!-~]+$", message=_("A token is visible ASCII characters without blanks."))


class CanCreditRewards(BasePermission):
    """Platform services' accounts only (the ``reward_service`` role, config/roles.py)."""

    message = "Only platform services may give rewards."

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.has_perm(CREDIT_REWARD))


class RewardCreateApi(APIView):
    permission_classes = [IsAuthenticated, CanCreditRewards]

    @extend_schema_serializer(component_name="RewardInput")
    class InputSerializer(serializers.Serializer):
        campaign = StrictCharField(max_length=NAME_MAX_LENGTH, validators=[NOT_BLANK], help_text="The campaign's name.")
        user = StrictCharField(max_length=150, validators=[NOT_BLANK], help_text="The username rewarded.")
        amount = MoneyField()
        token = StrictCharField(
            max_length=TOKEN_MAX_LENGTH,
            validators=[_TOKEN],
            help_text="The reward's idempotency key, unique forever: the same token is the same reward.",
        )

    @extend_schema_serializer(component_name="Reward")
    class OutputSerializer(serializers.Serializer):
        token = serializers.CharField()
        campaign = serializers.CharField(source="campaign.name")
        user = serializers.CharField(source="user.username")
        amount = SignedMoneyField()
        status = serializers.ChoiceField(choices=Reward.Status.choices, help_text="pending until credited.")
        status_code = StatusCodeField(catalogue=REWARD_STATUS, enum_name="RewardStatusCode")
        status_message = StatusMessageField(catalogue=REWARD_STATUS)
        created_at = serializers.DateTimeField()
        credited_at = serializers.DateTimeField(allow_null=True, help_text="Null while pending.")

    @api_schema(
        request=InputSerializer,
        responses={202: OutputSerializer, 200: OutputSerializer},
        errors=[
            errors.ValidationFailed,
            exceptions.PermissionDenied,
            errors.IdempotencyConflict,
            errors.Conflict,
            exceptions.UnsupportedMediaType,
            errors.BudgetExhausted,
            errors.CampaignNotActive,
        ],
        summary="Give a user a reward from a campaign (platform services)",
        description=(
            "Accepted pending (202) and credited to the user's wallet within moments, or at once when the "
            "user settles. The token is the idempotency key: the same token with the same campaign, user and "
            "amount answers the same reward again (200); with anything else, idempotency_conflict (409). "
            "budget_exhausted (422) when the campaign cannot pay it; campaign_not_active (422) outside its "
            "window or while paused or ended. Unknown campaign or user: validation_error."
        ),
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        user = get_user_model().objects.filter(username=data["user"], is_active=True).first()
        if user is None:
            raise errors.ValidationFailed(_("No such user."), fields={"user": "not_found"})
        acceptance = services.reward_accept(
            campaign_name=data["campaign"], user=user, amount=data["amount"], token=data["token"]
        )
        code = status.HTTP_202_ACCEPTED if acceptance.created else status.HTTP_200_OK
        return Response(self.OutputSerializer(acceptance.reward).data, status=code)


class RewardsSettleApi(APIView):
    @extend_schema_serializer(component_name="RewardsSettled")
    class OutputSerializer(serializers.Serializer):
        settled_count = serializers.IntegerField(source="count", help_text="Rewards this call credited.")
        settled_amount = SignedMoneyField(source="amount", help_text="What they added to the balance.")
        balance = SignedMoneyField(help_text="The wallet's balance after, every reward accepted before included.")
        available = SignedMoneyField(help_text="What can be spent or withdrawn now.")

    @api_schema(
        request=None,
        responses={200: OutputSerializer},
        errors=[exceptions.PermissionDenied],
        summary="Credit your pending campaign rewards now",
        description=(
            "Call it before showing the balance or the withdrawal page: every reward accepted for you is "
            "credited when it answers. Calling it again settles nothing more (0) and is harmless."
        ),
    )
    def post(self, request: Request) -> Response:
        settlement = services.rewards_settle(user=request_user(request))
        return Response(self.OutputSerializer(settlement).data)
