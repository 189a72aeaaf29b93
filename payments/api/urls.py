from django.urls import path

from payments.api import notify, payment_views, views

urlpatterns = [
    path("payout-accounts/", views.PayoutAccountsApi.as_view(), name="payout-accounts"),
    path("withdrawals/", views.WithdrawalsApi.as_view(), name="withdrawals"),
    path("withdrawals/<str:order_no>/", views.WithdrawalDetailApi.as_view(), name="withdrawal-detail"),
    path("withdrawals/<str:order_no>/cancel/", views.WithdrawalCancelApi.as_view(), name="withdrawal-cancel"),
    path("recharges/", payment_views.RechargeCreateApi.as_view(), name="recharges"),
    path("recharges/<str:order_no>/", payment_views.RechargeDetailApi.as_view(), name="recharge-detail"),
    path("recharges/<str:order_no>/close/", payment_views.RechargeCloseApi.as_view(), name="recharge-close"),
    path("payments/", payment_views.PaymentCreateApi.as_view(), name="payments"),
    path("payments/<str:order_no>/", payment_views.PaymentDetailApi.as_view(), name="payment-detail"),
    path("payments/<str:order_no>/close/", payment_views.PaymentCloseApi.as_view(), name="payment-close"),
    path("payments/<str:order_no>/refunds/", payment_views.RefundRequestApi.as_view(), name="payment-refunds"),
    path("refunds/<str:refund_no>/", payment_views.RefundDetailApi.as_view(), name="refund-detail"),
    path("notify/<slug:channel_code>/", notify.ChannelNotifyApi.as_view(), name="notify"),
]
