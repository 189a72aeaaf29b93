"""The API routes of every capability of payments, under /api/v1/."""

from django.urls import path

from payments.merchants import api as merchants
from payments.notify import api as notify
from payments.orders import api as orders
from payments.withdrawals import api as withdrawals

urlpatterns = [
    path("payout-accounts/", withdrawals.PayoutAccountsApi.as_view(), name="payout-accounts"),
    path("withdrawals/", withdrawals.WithdrawalsApi.as_view(), name="withdrawals"),
    path("withdrawals/<str:order_no>/", withdrawals.WithdrawalDetailApi.as_view(), name="withdrawal-detail"),
    path("withdrawals/<str:order_no>/cancel/", withdrawals.WithdrawalCancelApi.as_view(), name="withdrawal-cancel"),
    path("recharges/", orders.RechargeCreateApi.as_view(), name="recharges"),
    path("recharges/<str:order_no>/", orders.RechargeDetailApi.as_view(), name="recharge-detail"),
    path("recharges/<str:order_no>/close/", orders.RechargeCloseApi.as_view(), name="recharge-close"),
    path("payments/<str:order_no>/", orders.PaymentDetailApi.as_view(), name="payment-detail"),
    path("payments/<str:order_no>/pay/", orders.PaymentPayApi.as_view(), name="payment-pay"),
    path("payments/<str:order_no>/close/", orders.PaymentCloseApi.as_view(), name="payment-close"),
    path("refunds/<str:refund_no>/", orders.RefundDetailApi.as_view(), name="refund-detail"),
    path("notify/<slug:channel_code>/", notify.ChannelNotifyApi.as_view(), name="notify"),
    path("merchant/payments/", merchants.MerchantPaymentsApi.as_view(), name="merchant-payments"),
    path(
        "merchant/payments/<str:order_no>/",
        merchants.MerchantPaymentDetailApi.as_view(),
        name="merchant-payment-detail",
    ),
    path("merchant/payments/<str:order_no>/refunds/", merchants.MerchantRefundsApi.as_view(), name="merchant-refunds"),
    path(
        "merchant/payments/<str:order_no>/refunds/<str:refund_no>/",
        merchants.MerchantRefundDetailApi.as_view(),
        name="merchant-refund-detail",
    ),
]
