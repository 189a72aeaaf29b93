from django.urls import path

from payments.api import notify, views

urlpatterns = [
    path("payout-accounts/", views.PayoutAccountsApi.as_view(), name="payout-accounts"),
    path("withdrawals/", views.WithdrawalsApi.as_view(), name="withdrawals"),
    path("withdrawals/<str:order_no>/", views.WithdrawalDetailApi.as_view(), name="withdrawal-detail"),
    path("withdrawals/<str:order_no>/cancel/", views.WithdrawalCancelApi.as_view(), name="withdrawal-cancel"),
    path("notify/<slug:channel_code>/", notify.payout_notify, name="notify"),
]
