"""What a client may tell its user about a campaign reward (docs/WALLET.md, "Status codes")."""

from django.utils.translation import gettext_lazy as _

from wallet.campaigns.models import Reward, RewardStatus
from wallet.reasons import StatusCatalogue

_BY_STATUS = {RewardStatus.PENDING: "crediting", RewardStatus.CREDITED: "credited"}


def reward_status_code(reward: Reward) -> str:
    return _BY_STATUS[RewardStatus(reward.status)]


REWARD_STATUS = StatusCatalogue(
    code_of=reward_status_code,
    messages={
        "crediting": _("Accepted; it will be credited to the wallet shortly."),
        "credited": _("Credited to the wallet."),
    },
)
