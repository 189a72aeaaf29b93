from django.urls import path

from wallet.api import views
from wallet.redpackets import api as redpackets_api

urlpatterns = [
    path("wallet/", views.WalletDetailApi.as_view(), name="wallet-detail"),
    path("wallet/entries/", views.WalletEntriesApi.as_view(), name="wallet-entries"),
    path("transfers/", views.TransferSendApi.as_view(), name="transfer-send"),
    path("transfers/<int:transfer_id>/", views.TransferDetailApi.as_view(), name="transfer-detail"),
]

urlpatterns += [
    path("red-packets/", redpackets_api.RedPacketSendApi.as_view(), name="red-packet-send"),
    path("red-packets/sent/", redpackets_api.RedPacketsSentApi.as_view(), name="red-packets-sent"),
    path("red-packets/received/", redpackets_api.RedPacketsReceivedApi.as_view(), name="red-packets-received"),
    path("red-packets/<str:packet_no>/", redpackets_api.RedPacketDetailApi.as_view(), name="red-packet-detail"),
    path("red-packets/<str:packet_no>/grab/", redpackets_api.RedPacketGrabApi.as_view(), name="red-packet-grab"),
]
