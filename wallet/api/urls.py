from django.urls import path

from wallet.api import receive_codes, views
from wallet.campaigns import api as campaigns

urlpatterns = [
    path("wallet/", views.WalletDetailApi.as_view(), name="wallet-detail"),
    path("wallet/entries/", views.WalletEntriesApi.as_view(), name="wallet-entries"),
    path("transfers/", views.TransferSendApi.as_view(), name="transfer-send"),
    path("transfers/<int:transfer_id>/", views.TransferDetailApi.as_view(), name="transfer-detail"),
    path("campaign/rewards/", campaigns.RewardCreateApi.as_view(), name="campaign-rewards"),
    path("wallet/rewards/settle/", campaigns.RewardsSettleApi.as_view(), name="wallet-rewards-settle"),
]
urlpatterns += [
    path("receive-codes/", receive_codes.ReceiveCodeListCreateApi.as_view(), name="receive-code-list"),
    path("receive-codes/<int:code_id>/", receive_codes.ReceiveCodeDetailApi.as_view(), name="receive-code-detail"),
    path(
        "receive-codes/<int:code_id>/revoke/", receive_codes.ReceiveCodeRevokeApi.as_view(), name="receive-code-revoke"
    ),
]
