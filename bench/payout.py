"""Payout pipeline throughput: drain N withdrawals through the sandbox at a channel rate limit.

Creates its own database (dropped and recreated) and uses its own Redis database, starts the
web server (gunicorn, 2 processes of 4 threads: the sandbox and our notify endpoint) and
``--workers`` Celery worker processes (``--pool prefork`` with ``--concurrency`` 1 by default, or
``--pool threads`` with several threads each, since a payout mostly waits on the network), then:

1. creates ``--count`` withdrawals of 1.00 waiting for review (before the worker starts, so no
   task exists yet), spread over 100 funded users;
2. approves them all from this process as fast as it can; each approval enqueues its payout on
   commit, so the queue fills faster than the channel's limit lets it drain;
3. waits until every order is final, then reports the approval rate, the achieved payout rate
   against the limit, end-to-end latency from approval to success (p50, p90, p99, max), the
   busiest second the sandbox saw, double payouts (must be 0) and the ledger audit.

    .venv/bin/python bench/payout.py [--count 10000] [--rate-limit 100] [--workers 2] [--pool threads --concurrency 8]
"""

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
USERS = 100
AMOUNT = Decimal("1.00")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the web server exited with {process.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise SystemExit("the web server did not start")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def create_pending(count: int) -> list[int]:
    """``count`` withdrawals of 1.00 in review (every amount reviewed), spread over 100 users."""
    from django.contrib.auth import get_user_model

    from payments.withdrawals import services
    from risk.models import RiskRule
    from wallet import services as ledger

    RiskRule.objects.filter(code__in=["hourly_count", "daily_count", "monthly_count"]).update(enabled=False)
    RiskRule.objects.filter(code="large_amount_review").update(amount=Decimal("0.01"))
    clearing = ledger.account_for_system(code="clearing:bench")
    ids: list[int] = []
    per_user = -(-count // USERS)
    for n in range(USERS):
        user = get_user_model().objects.create(username=f"bench{n}")
        wallet = ledger.account_for_user(user=user)
        funding = AMOUNT * per_user
        ledger.transfer_post(
            idempotency_key=f"bench:{n}",
            kind="recharge",
            legs=[ledger.Leg(clearing, -funding), ledger.Leg(wallet, funding)],
        )
        card, _ = services.payout_account_bind(
            user=user, kind="bank_card", card_number="6222020200112233446", holder_name="Bench", bank_code="ICBC"
        )
        for k in range(min(per_user, count - len(ids))):
            submission = services.withdrawal_submit(
                user=user, payout_account=card, amount=AMOUNT, idempotency_key=f"b{k}"
            )
            ids.append(submission.withdrawal.pk)
    return ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--rate-limit", type=int, default=100, help="the bank channel's payouts per second")
    parser.add_argument("--workers", type=int, default=2, help="Celery worker processes (default 2)")
    parser.add_argument("--pool", choices=["prefork", "threads"], default="prefork", help="each worker's pool")
    parser.add_argument("--concurrency", type=int, default=1, help="pool size of each worker (default 1)")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/wallet_bench_payout")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    args = parser.parse_args()

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    sys.path.insert(0, str(ROOT))
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
            "DJANGO_SETTINGS_MODULE": "config.settings",
        }
    )
    os.environ.update(env)
    from bench.databases import bench_prepare

    bench_prepare(args.database_url, args.redis_url)

    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.db.models import Count, F
    from django.db.models.functions import TruncSecond

    from payments.channels.models import Channel
    from payments.sandbox.models import SandboxHit, SandboxPayout
    from payments.withdrawals import services
    from payments.withdrawals.models import Withdrawal, WithdrawalStatus
    from wallet.audit import ledger_audit

    Channel.objects.filter(code="bank").update(rate_limit_per_second=args.rate_limit)
    started = time.perf_counter()
    ids = create_pending(args.count)
    print(f"created {len(ids)} pending withdrawals in {time.perf_counter() - started:.0f} s")

    web = subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--threads",
            "4",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    workers = [
        subprocess.Popen(  # noqa: S603
            [
                *(sys.executable, "-m", "celery", "-A", "config", "worker", "--hostname", f"bench{n}@%h"),
                *("--pool", args.pool, "--concurrency", str(args.concurrency), "--loglevel", "WARNING"),
                *("--without-heartbeat", "--without-mingle", "--without-gossip"),
            ],
            cwd=ROOT,
            env=env,
        )
        for n in range(args.workers)
    ]
    try:
        wait_for_port(port, web)
        reviewer = get_user_model().objects.create(username="bench-reviewer", is_staff=True)
        reviewer.groups.add(Group.objects.get(name="finance_reviewer"))
        approving = time.perf_counter()
        for withdrawal in Withdrawal.objects.filter(pk__in=ids).order_by("pk"):
            services.withdrawal_approve(withdrawal=withdrawal, actor=reviewer)
        approve_seconds = time.perf_counter() - approving
        print(f"approved {len(ids)} in {approve_seconds:.0f} s ({len(ids) / approve_seconds:.0f}/s)", flush=True)
        final = (WithdrawalStatus.SUCCESS, WithdrawalStatus.FAILED)
        while Withdrawal.objects.filter(pk__in=ids).exclude(status__in=final).exists():
            if any(process.poll() is not None for process in [*workers, web]):
                raise SystemExit("a worker or the web server died")
            time.sleep(1)
    finally:
        for process in [*workers, web]:
            process.terminate()
        for process in [*workers, web]:
            process.wait(60)

    orders = Withdrawal.objects.filter(pk__in=ids)
    states = dict(orders.values_list("status").annotate(n=Count("id")))
    latencies = [
        row.total_seconds()
        for row in orders.annotate(latency=F("finished_at") - F("approved_at")).values_list("latency", flat=True)
    ]
    first_sent = orders.order_by("dispatched_at").values_list("dispatched_at", flat=True).first()
    last_done = orders.order_by("-finished_at").values_list("finished_at", flat=True).first()
    drain = (last_done - first_sent).total_seconds()
    per_second = SandboxHit.objects.annotate(s=TruncSecond("received_at")).values("s").annotate(n=Count("id"))
    busiest = max(row["n"] for row in per_second)
    doubles = SandboxPayout.objects.values("order_no").annotate(n=Count("id")).filter(n__gt=1).count()
    repeated = SandboxPayout.objects.filter(requests__gt=1).count()
    violations = ledger_audit()
    print(
        f"\nfinal states: {states}\n"
        f"payouts: {len(ids)} in {drain:.1f} s from the first dispatch to the last success: "
        f"{len(ids) / drain:.1f}/s against a limit of {args.rate_limit}/s ({len(ids) / drain / args.rate_limit:.2f})\n"
        f"busiest second at the sandbox: {busiest} requests\n"
        f"latency from approval to success: p50 {percentile(latencies, 0.5):.1f} s, "
        f"p90 {percentile(latencies, 0.9):.1f} s, p99 {percentile(latencies, 0.99):.1f} s, "
        f"max {max(latencies):.1f} s, mean {statistics.mean(latencies):.1f} s\n"
        f"double payouts: {doubles}; orders the sandbox saw more than once: {repeated}\n"
        f"ledger audit: {violations or 'clean'}\n"
        f"load average after: {os.getloadavg()}"
    )
    if doubles or violations:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
