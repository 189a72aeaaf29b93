from django.urls import path

from wallet.api import receive_codes, views
from wallet.campaigns import api as campaigns
from wallet.payment_password import api as payment_password
from wallet.redpackets import api as redpackets_api

urlpatterns = [
    path("wallet/", views.WalletDetailApi.as_view(), name="wallet-detail"),
    path("wallet/entries/", views.WalletEntriesApi.as_view(), name="wallet-entries"),
    path("wallet/payment-password/", payment_password.PaymentPasswordApi.as_view(), name="payment-password"),
    path("wallet/payment-password/token/", payment_password.PaymentTokenApi.as_view(), name="payment-token"),
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

urlpatterns += [
    path("red-packets/", redpackets_api.RedPacketSendApi.as_view(), name="red-packet-send"),
    path("red-packets/sent/", redpackets_api.RedPacketsSentApi.as_view(), name="red-packets-sent"),
    path("red-packets/received/", redpackets_api.RedPacketsReceivedApi.as_view(), name="red-packets-received"),
    path("red-packets/<str:packet_no>/", redpackets_api.RedPacketDetailApi.as_view(), name="red-packet-detail"),
    path("red-packets/<str:packet_no>/grab/", redpackets_api.RedPacketGrabApi.as_view(), name="red-packet-grab"),
]
