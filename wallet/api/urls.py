from django.urls import path

from wallet.api import views
from wallet.campaigns import api as campaigns

urlpatterns = [
    path("wallet/", views.WalletDetailApi.as_view(), name="wallet-detail"),
    path("wallet/entries/", views.WalletEntriesApi.as_view(), name="wallet-entries"),
    path("transfers/", views.TransferSendApi.as_view(), name="transfer-send"),
    path("transfers/<int:transfer_id>/", views.TransferDetailApi.as_view(), name="transfer-detail"),
    path("campaign/rewards/", campaigns.RewardCreateApi.as_view(), name="campaign-rewards"),
    path("wallet/rewards/settle/", campaigns.RewardsSettleApi.as_view(), name="wallet-rewards-settle"),
]
