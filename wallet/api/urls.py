from django.urls import path

from wallet.api import views

urlpatterns = [
    path("wallet/", views.WalletDetailApi.as_view(), name="wallet-detail"),
    path("wallet/entries/", views.WalletEntriesApi.as_view(), name="wallet-entries"),
    path("transfers/", views.TransferSendApi.as_view(), name="transfer-send"),
    path("transfers/<int:transfer_id>/", views.TransferDetailApi.as_view(), name="transfer-detail"),
]
