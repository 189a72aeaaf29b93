"""Payment notifies handled per second: verify + credit, through the real HTTP stack.

Creates its own database (dropped and recreated) and uses its own Redis database, starts
gunicorn (``--web-workers`` processes, default 2, one thread each) serving the sandbox and our
notify endpoint, then:

1. opens ``--count`` WeChat Pay v3 native recharges of 1.00 at the sandbox over HTTP (the
   sandbox is told the payers never pay, so it sends no notify of its own); with
   ``--business-type order_payment`` order payments instead (created by one bench merchant and
   paid by the payers), which all credit the merchant's one (hot) account rather than each
   payer's wallet;
2. builds each order's TRANSACTION.SUCCESS notify as the sandbox would (platform-signed,
   AES-256-GCM resource), before the clock starts: signing is the channel's work, not ours;
3. POSTs them from ``--clients`` threads (default 8), each with a keep-alive session, and
   reports notifies per second and latency p50 / p90 / p99 / max;
4. sends every notify a second time (the channel's retries) and reports that pass alike: a
   duplicate is verified and found already applied, and credits nothing;
5. checks that every order succeeded, every wallet (or the merchant) was credited exactly once,
   and the ledger audit is clean.

    .venv/bin/python bench/notify.py [--count 2000] [--clients 8] [--web-workers 2] [--business-type order_payment]
"""

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.payout import free_port, percentile, wait_for_port  # noqa: E402

AMOUNT = Decimal("1.00")
USERS = 100


def open_orders(count: int, business_type: str) -> list[str]:
    """``count`` native orders opened at the sandbox, over ``USERS`` users."""
    from django.contrib.auth import get_user_model

    from payments.orders import services as payment_orders
    from payments.sandbox.payment_engine import payment_rule_add

    payment_rule_add(protocol="wechat_v3", scenario="never_pay")
    users = [get_user_model().objects.create(username=f"bench{n}") for n in range(USERS)]
    if business_type == "order_payment":
        return _open_order_payments(count, users)
    order_nos = []
    for n in range(count):
        creation = payment_orders.payment_order_create(
            user=users[n % USERS],
            business_type=business_type,
            method="wechat_native",
            amount=AMOUNT,
            client_type="web",
            idempotency_key=f"bench-{n}",
        )
        order_nos.append(creation.order.order_no)
    return order_nos


def _open_order_payments(count: int, users: list) -> list[str]:
    """The bench merchant's orders, each opened at the sandbox by its payer."""
    from django.contrib.auth import get_user_model

    from payments.merchants import services as merchants
    from payments.orders import services as payment_orders

    merchant = merchants.merchant_create(
        code="bench-shop", name="Bench Shop", service_user=get_user_model().objects.create(username="bench-shop")
    ).merchant
    order_nos = []
    for n in range(count):
        payer = users[n % USERS]
        order = merchants.merchant_payment_create(
            merchant=merchant,
            business_order_no=f"BO-{n}",
            amount=AMOUNT,
            subject="Bench order",
            payer=payer.username,
            idempotency_key=f"bench-{n}",
        ).order
        payment_orders.payment_order_pay(order=order, payer=payer, method="wechat_native", client_type="web")
        order_nos.append(order.order_no)
    return order_nos


def build_notifies(order_nos: list[str]) -> list[tuple[dict[str, str], bytes]]:
    from payments.sandbox import payment_engine
    from payments.sandbox.keys import keys_for
    from payments.sandbox.models import SandboxPayment
    from payments.sandbox.protocols import protocol_module

    secrets = keys_for("wechat_v3")
    module = protocol_module("wechat_v3")
    notifies = []
    for payment in SandboxPayment.objects.filter(protocol="wechat_v3", order_no__in=order_nos).order_by("id"):
        payment = payment_engine.payment_pay(payment_id=payment.pk)
        notifies.append(module.payment_notify_build(payment, secrets, amount=payment.amount, forged=False))
    return notifies


def fire(url: str, notifies: list[tuple[dict[str, str], bytes]], clients: int) -> tuple[float, list[float], int]:
    """(seconds, latencies, refused): ``clients`` threads share the notifies round-robin."""
    latencies: list[float] = []
    refused = [0]
    lock = threading.Lock()
    barrier = threading.Barrier(clients + 1)

    def client(share: list[tuple[dict[str, str], bytes]]) -> None:
        session = requests.Session()
        mine: list[float] = []
        bad = 0
        barrier.wait()
        for headers, body in share:
            started = time.perf_counter()
            response = session.post(url, data=body, headers=headers, timeout=30)
            mine.append(time.perf_counter() - started)
            bad += response.status_code >= 300
        with lock:
            latencies.extend(mine)
            refused[0] += bad

    threads = [threading.Thread(target=client, args=(notifies[n::clients],)) for n in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, latencies, refused[0]


def report(label: str, seconds: float, latencies: list[float], refused: int) -> None:
    milliseconds = [latency * 1000 for latency in latencies]
    print(
        f"{label}: {len(latencies)} in {seconds:.1f} s = {len(latencies) / seconds:.0f}/s; latency ms "
        f"p50 {percentile(milliseconds, 0.5):.1f}, p90 {percentile(milliseconds, 0.9):.1f}, "
        f"p99 {percentile(milliseconds, 0.99):.1f}, max {max(milliseconds):.1f}, "
        f"mean {statistics.mean(milliseconds):.1f}; refused {refused}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--business-type", choices=["recharge", "order_payment"], default="recharge")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/wallet_bench_notify")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13")
    args = parser.parse_args()

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    from config.keys import keys_generate

    # Fresh secrets, as a deployment has; DEBUG because the sandbox runs only there.
    env = (
        keys_generate(key_id="bench1")
        | os.environ
        | {
            "DATABASE_URL": args.database_url,
            "REDIS_URL": args.redis_url,
            "CELERY_BROKER_URL": args.redis_url,
            "CACHE_KEY_PREFIX": "bench",
            "PUBLIC_BASE_URL": base,
            "SANDBOX_ENABLED": "true",
            "SANDBOX_BASE_URL": f"{base}/sandbox",
            "DJANGO_DEBUG": "true",  # the sandbox and plain HTTP run only in DEBUG (config.checks)
            "LOG_LEVEL": "WARNING",
            "PAYMENT_CREATE_RATE": "1000000/minute",
            "DJANGO_SETTINGS_MODULE": "config.settings",
        }
    )
    os.environ.update(env)
    from bench.databases import bench_prepare

    bench_prepare(args.database_url, args.redis_url)

    from django.db.models import Count, Sum

    from payments.orders.models import PaymentOrder
    from wallet.audit import ledger_audit
    from wallet.models import Account, Entry

    web = subprocess.Popen(  # noqa: S603
        [
            *(sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}"),
            *("--workers", str(args.web_workers), "--threads", "1", "--log-level", "warning"),
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        wait_for_port(port, web)
        started = time.perf_counter()
        order_nos = open_orders(args.count, args.business_type)
        print(f"opened {len(order_nos)} orders at the sandbox in {time.perf_counter() - started:.0f} s", flush=True)
        notifies = build_notifies(order_nos)
        url = f"{base}/api/v1/notify/wechat_pay/"
        report("first notifies (verify + credit)", *fire(url, notifies, args.clients))
        report("duplicate notifies (verify, already applied)", *fire(url, notifies, args.clients))
    finally:
        web.terminate()
        web.wait(60)

    orders = PaymentOrder.objects.filter(order_no__in=order_nos)
    states = dict(orders.values_list("status").annotate(n=Count("id")))
    credited_kind = Account.Kind.USER if args.business_type == "recharge" else Account.Kind.MERCHANT
    # Merchant accounts are hot: their balance is the sum of their entries.
    credited = Entry.objects.filter(account__kind=credited_kind).aggregate(total=Sum("amount"))["total"]
    violations = ledger_audit()
    print(
        f"\nfinal states: {states}\n"
        f"credited to {credited_kind} accounts: {credited} (expected {AMOUNT * len(order_nos)})\n"
        f"ledger audit: {violations or 'clean'}\n"
        f"load average after: {os.getloadavg()}"
    )
    if states != {"success": len(order_nos)} or credited != AMOUNT * len(order_nos) or violations:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
