"""The payer's side of the sandbox: ``/sandbox/cashier/<protocol>/<order_no>/`` shows what a
payer sees after scanning a QR code or opening a cashier page, and its button pays.

WeChat native ``code_url`` and H5 ``h5_url`` point here; the Alipay sandbox gateway shows it
after checking the signed page-pay request. Paying notifies the merchant like PAY_NOW does.
"""

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from payments.sandbox import payment_engine
from payments.sandbox.models import Protocol, SandboxPayment

# The payer's name for each protocol. Protocol's own labels name what a payout goes through
# (a WeChat v3 "merchant transfer"), which is not what a payer at a cashier does.
PAYMENT_NAMES: dict[str, str] = {
    Protocol.WECHAT_V3: "WeChat Pay (API v3)",
    Protocol.WECHAT_V2: "WeChat Pay (API v2)",
    Protocol.ALIPAY: "Alipay",
}


def cashier_url(request: HttpRequest, payment: SandboxPayment) -> str:
    return request.build_absolute_uri(reverse("sandbox-cashier", args=[payment.protocol, payment.order_no]))


@csrf_exempt  # The payer's browser has no session with the sandbox, like a channel's cashier page.
@require_http_methods(["GET", "POST"])
def cashier(request: HttpRequest, protocol: str, order_no: str) -> HttpResponse:
    if protocol not in Protocol.values:
        raise Http404("No such channel.")
    payment = payment_engine.payment_find(protocol=protocol, order_no=order_no)
    if payment is None:
        raise Http404("No such payment.")
    if request.method == "POST" and payment.state == SandboxPayment.State.NOT_PAID:
        payment_engine.payment_pay_and_notify(payment_id=payment.pk)
        return redirect(request.path)
    return render(request, "sandbox/cashier.html", {"payment": payment, "channel": PAYMENT_NAMES[payment.protocol]})


urlpatterns = [path("cashier/<str:protocol>/<str:order_no>/", cashier, name="sandbox-cashier")]
