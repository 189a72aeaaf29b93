"""Balance payments per second into ONE merchant: its account hot against locked (docs/PERFORMANCE.md).

Creates its own database (dropped and recreated) and uses its own Redis database, migrates,
funds ``--payers`` wallets and makes two merchants: ``hot-shop``, whose account
``merchant:hot-shop`` is hot as every merchant's now is (postings only insert entries), and
``locked-shop``, whose account was created before merchants were hot (``is_hot`` false: every
posting locks and updates its one row). Before the clock starts each merchant creates
``--count`` orders of 1.00 for random payers (``merchant_payment_create``); then ``--threads``
threads, each with its own database connection, pay them from the balance through
``payment_order_pay`` (one durable transaction: lock the order, debit the payer, credit the
merchant, log, record), and the run reports payments per second and latency p50 / p99 per
mode. Modes alternate over ``--rounds`` rounds so load from elsewhere hits both alike.

Ends by checking every order succeeded, each merchant holds exactly what was paid to it, and the
ledger audit is clean; exits 1 otherwise.

    .venv/bin/python bench/merchant.py [--count 300] [--threads 8] [--rounds 2] [--payers 200]
"""

import argparse
import os
import queue
import random
import statistics
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.payout import percentile  # noqa: E402

AMOUNT = Decimal("1.00")
FUNDING = Decimal("100000.00")
MODES = ("hot", "locked")


def setup(payers: int) -> dict:
    """Funded payers and the two merchants, by mode."""
    from django.contrib.auth import get_user_model

    from payments.merchants import services as merchants
    from wallet import services as ledger
    from wallet.models import Account

    users = get_user_model().objects
    clearing = ledger.account_for_system(code="clearing:bench")
    payer_rows = [users.create(username=f"payer{n}") for n in range(payers)]
    for user in payer_rows:
        ledger.transfer_post(
            idempotency_key=f"fund:{user.pk}",
            kind="recharge",
            legs=[ledger.Leg(clearing, -FUNDING), ledger.Leg(ledger.account_for_user(user=user), FUNDING)],
        )
    # An account made before merchant accounts were hot: merchant_create finds and keeps it.
    Account.objects.create(code="merchant:locked-shop", kind=Account.Kind.MERCHANT, currency="CNY")
    shops = {
        mode: merchants.merchant_create(
            code=f"{mode}-shop", name=f"{mode} shop", service_user=users.create(username=f"{mode}-shop")
        ).merchant
        for mode in MODES
    }
    assert shops["hot"].account.is_hot and not shops["locked"].account.is_hot
    return {"payers": payer_rows, "shops": shops}


def create_orders(shop, payers: list, count: int, tag: str) -> list:
    from payments.merchants import services as merchants

    rng = random.Random(tag)
    return [
        merchants.merchant_payment_create(
            merchant=shop,
            business_order_no=f"{tag}-{n}",
            amount=AMOUNT,
            subject="Bench order",
            payer=rng.choice(payers).username,
            idempotency_key=f"{tag}-{n}",
        ).order
        for n in range(count)
    ]


def pay_all(orders: list, threads: int) -> tuple[float, list[float], int]:
    """(payments per second, latencies in ms, failures) of ``threads`` threads paying ``orders``."""
    from django.db import connections

    from payments.orders import services as payment_orders

    work: queue.Queue = queue.Queue()
    for order in orders:
        work.put(order)
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(threads + 1)

    def payer_thread() -> None:
        mine, failed = [], []
        barrier.wait()
        while True:
            try:
                order = work.get_nowait()
            except queue.Empty:
                break
            started = time.perf_counter()
            try:
                payment_orders.payment_order_pay(order=order, payer=order.user, method="balance", client_type="app")
            except Exception as exc:  # counted and shown: the check at the end fails the run
                failed.append(f"{type(exc).__name__}: {exc}")
            mine.append((time.perf_counter() - started) * 1000)
        connections.close_all()
        with lock:
            latencies.extend(mine)
            failures.extend(failed)

    pool = [threading.Thread(target=payer_thread) for _ in range(threads)]
    for thread in pool:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in pool:
        thread.join()
    elapsed = time.perf_counter() - started
    if failures:
        print(f"    {len(failures)} failed, first: {failures[0]}")
    return len(orders) / elapsed, latencies, len(failures)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=300, help="payments per mode and round (default 300)")
    parser.add_argument("--threads", type=int, default=8, help="concurrent payers, each its own connection")
    parser.add_argument("--rounds", type=int, default=2, help="rounds, alternating the modes (default 2)")
    parser.add_argument("--payers", type=int, default=200, help="funded payers the orders are spread over")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/wallet_bench_merchant")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/12")
    args = parser.parse_args()

    from bench.databases import recreate_database

    os.environ.update(
        {
            "DATABASE_URL": args.database_url,
            "REDIS_URL": args.redis_url,
            "CELERY_BROKER_URL": args.redis_url,
            "CACHE_KEY_PREFIX": "bench",
            "DJANGO_DEBUG": "true",  # the development keys; no web server runs
            "LOG_LEVEL": "WARNING",
            "DJANGO_SETTINGS_MODULE": "config.settings",
        }
    )
    import django
    import redis
    from django.conf import settings
    from django.core.management import call_command

    started = time.perf_counter()
    recreate_database(args.database_url)
    redis.Redis.from_url(args.redis_url).flushdb()
    django.setup()
    settings.DEBUG = False  # no query log kept per connection
    call_command("migrate", verbosity=0)
    world = setup(args.payers)
    print(
        f"set up {args.payers} payers and 2 merchants in {time.perf_counter() - started:.0f} s | {os.cpu_count()} CPUs"
    )

    from django.db.models import Count, Sum

    from payments.orders.models import PaymentOrder
    from wallet.audit import ledger_audit
    from wallet.models import Entry

    results: dict[str, list[tuple[float, list[float]]]] = {mode: [] for mode in MODES}
    failed = 0
    for round_no in range(1, args.rounds + 1):
        for mode in MODES if round_no % 2 else reversed(MODES):
            orders = create_orders(world["shops"][mode], world["payers"], args.count, f"{mode}-{round_no}")
            rate, latencies, failures = pay_all(orders, args.threads)
            failed += failures
            results[mode].append((rate, latencies))
            print(
                f"  round {round_no}  {mode:6} {rate:7.0f} payments/s  p50 {statistics.median(latencies):6.1f} ms"
                f"  p99 {percentile(latencies, 0.99):6.1f} ms   load {os.getloadavg()[0]:.2f}",
                flush=True,
            )

    print(
        f"\n{'merchant account':18} {'payments/s':>10} {'p50 ms':>8} {'p99 ms':>8}"
        f"  best of rounds, {args.threads} threads"
    )
    for mode in MODES:
        rate, latencies = max(results[mode], key=lambda result: result[0])
        print(f"{mode:18} {rate:10.0f} {statistics.median(latencies):8.1f} {percentile(latencies, 0.99):8.1f}")

    states = dict(PaymentOrder.objects.values_list("status").annotate(n=Count("id")))
    expected = AMOUNT * args.count * args.rounds
    credited = {
        mode: Entry.objects.filter(account=world["shops"][mode].account).aggregate(total=Sum("amount"))["total"]
        for mode in MODES
    }
    world["shops"]["locked"].account.refresh_from_db()
    violations = ledger_audit()
    print(
        f"\nfinal states: {states}\ncredited: {credited} (each expected {expected}); locked balance column "
        f"{world['shops']['locked'].account.balance}\nledger audit: {violations or 'clean'}\n"
        f"total {time.perf_counter() - started:.0f} s, load average after: {os.getloadavg()}"
    )
    if (
        failed
        or states != {"success": args.count * args.rounds * len(MODES)}
        or any(total != expected for total in credited.values())
        or world["shops"]["locked"].account.balance != expected
        or violations
    ):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
