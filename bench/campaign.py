"""Campaign income at a high rate: one hot campaign account against ordinary accounts (docs/WALLET.md).

Creates its own database (dropped and recreated), migrates it, creates 1,000 reward recipients
and 1,000 ordinary funded source accounts, seeds the ledger with history as bench/ledger.py does
and runs ANALYZE, then, with the same number of worker threads (each its own connection):

- ``hot``: credits into a random recipient from ONE campaign account (``campaign:bench``,
  hot: never row-locked), one ``transfer_post`` per credit;
- ``ordinary``: the same credits, each recipient paid from its own ordinary source account
  (one source per user, so no two workers share a source row);
- ``accept``: ``reward_accept`` (what ``POST /api/v1/campaign/rewards/`` runs after
  authentication: the budget reservation in Redis and the pending row);
- ``credit, batch of N``: pending rewards credited by ``rewards_credit_pending`` at batch
  sizes 500 (one transfer per batch) and 1 (one transfer per reward), for twice ``--seconds``.

``hot`` and ``ordinary`` alternate for ``--rounds`` rounds, so load from elsewhere hits both
alike. Ends with the ledger invariants on the bench database.

    .venv/bin/python bench/campaign.py [--seconds 4] [--rounds 2] [--threads 8] [--seed-transfers 100000]
"""

import argparse
import os
import random
import sys
import threading
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
RECIPIENTS = 1000


def run_threads(count: int, seconds: float, work) -> tuple[int, float]:
    """``work(thread, rng, deadline)`` in ``count`` threads at once; (items done, elapsed seconds)."""
    from django.db import connections

    barrier = threading.Barrier(count + 1)
    done = [0] * count
    errors: list[BaseException] = []

    def target(n: int) -> None:
        rng = random.Random(n)
        try:
            barrier.wait()
            done[n] = work(n, rng, time.perf_counter() + seconds)
        except BaseException as exc:  # reported after the join
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=target, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return sum(done), time.perf_counter() - started


def credits(source_of, recipients: list[int], tag: str):
    """A worker posting credits of 0.01 to 8.88 into random recipients until its deadline."""
    from wallet import services

    def work(n: int, rng: random.Random, deadline: float) -> int:
        count = 0
        while time.perf_counter() < deadline:
            i = rng.randrange(len(recipients))
            amount = Decimal(rng.randint(1, 888)).scaleb(-2)
            services.transfer_post(
                idempotency_key=f"{tag}:{n}:{count}",
                kind="campaign_reward",
                legs=[services.Leg(source_of(i), -amount), services.Leg(recipients[i], amount)],
            )
            count += 1
        return count

    return work


def accepts(campaign_name: str, users: list, tag: str):
    from wallet.campaigns import services

    def work(n: int, rng: random.Random, deadline: float) -> int:
        count = 0
        while time.perf_counter() < deadline:
            amount = Decimal(rng.randint(1, 888)).scaleb(-2)
            services.reward_accept(
                campaign_name=campaign_name, user=rng.choice(users), amount=amount, token=f"{tag}:{n}:{count}"
            )
            count += 1
        return count

    return work


def pending_rewards_insert(url: str, campaign_id: int, user_ids: list[int], count: int, tag: str) -> None:
    """``count`` pending rewards over the recipients, as accepts would leave them (set-based)."""
    with psycopg.connect(url) as conn:
        conn.execute(
            """
            INSERT INTO wallet_reward (token, campaign_id, user_id, amount, status, created_at)
            SELECT %(tag)s || n, %(campaign)s, (%(users)s::bigint[])[1 + n %% cardinality(%(users)s::bigint[])],
                   (1 + n %% 888) / 100.0, 'pending', now()
              FROM generate_series(1, %(count)s) AS n
            """,
            {"tag": tag, "campaign": campaign_id, "users": user_ids, "count": count},
        )


def credit_batches(batch_size: int):
    from wallet.campaigns import services

    def work(n: int, rng: random.Random, deadline: float) -> int:
        count = 0
        while time.perf_counter() < deadline:
            credited = services.rewards_credit_batch(limit=batch_size).count
            if credited == 0:
                break
            count += credited
        return count

    return work


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=4.0, help="how long each measurement runs (default 4)")
    parser.add_argument("--rounds", type=int, default=2, help="hot / ordinary rounds, interleaved (default 2)")
    parser.add_argument("--threads", type=int, default=8, help="worker threads, each its own connection (default 8)")
    parser.add_argument("--seed-transfers", type=int, default=100_000, help="history before measuring (default 100k)")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/wallet_bench_campaign")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13")
    args = parser.parse_args()
    url = args.database_url

    sys.path.insert(0, str(ROOT))
    from bench.databases import recreate_database
    from bench.ledger import check_invariants, create_accounts, one, seed

    os.environ["DATABASE_URL"] = url
    os.environ["REDIS_URL"] = os.environ["CELERY_BROKER_URL"] = args.redis_url
    os.environ["CACHE_KEY_PREFIX"] = "wallet_bench_campaign"
    os.environ["DJANGO_DEBUG"] = "false"  # no query log in the workers
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django
    from django.core.management import call_command

    started = time.perf_counter()
    recreate_database(url)
    django.setup()
    call_command("migrate", verbosity=0)
    import redis
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from wallet.campaigns import services as campaigns

    redis.Redis.from_url(args.redis_url).flushdb()
    with psycopg.connect(url) as conn:
        print(one(conn.execute("SELECT version()"))[0], f"| {os.cpu_count()} CPUs | load {os.getloadavg()}")
    # 2,000 funded accounts: the first 1,000 receive rewards, the others are their ordinary sources.
    workload = create_accounts(2 * RECIPIENTS)
    seed(url, workload, args.seed_transfers)
    recipients, sources = workload.pool[:RECIPIENTS], workload.pool[RECIPIENTS:]
    manager = get_user_model().objects.create_user("bench-manager")
    campaign = campaigns.campaign_create(
        name="bench",
        title="Bench festival",
        budget_amount=Decimal("1000000000.00"),
        starts_at=timezone.now(),
        ends_at=timezone.now() + timedelta(days=1),
        actor=manager,
    )
    print(
        f"seeded {args.seed_transfers} transfers on {2 * RECIPIENTS} accounts in {time.perf_counter() - started:.0f}s"
    )

    rates: dict[str, list[float]] = {"hot": [], "ordinary": []}
    for round_no in range(1, args.rounds + 1):
        for name, source_of in (("hot", lambda i: campaign.account_id), ("ordinary", lambda i: sources[i])):
            done, elapsed = run_threads(args.threads, args.seconds, credits(source_of, recipients, f"{name}{round_no}"))
            rates[name].append(done / elapsed)
            print(
                f"  round {round_no}  {name:9} {args.threads} threads {done / elapsed:8.0f} credits/s"
                f"   load {os.getloadavg()[0]:.2f}",
                flush=True,
            )

    users = list(get_user_model().objects.filter(accounts__pk__in=recipients[:RECIPIENTS]))
    done, elapsed = run_threads(args.threads, args.seconds, accepts(campaign.name, users, "accept"))
    accept_rate = done / elapsed
    print(f"  accept    {args.threads} threads {accept_rate:8.0f} rewards/s   load {os.getloadavg()[0]:.2f}")
    campaigns.rewards_credit_pending(max_batches=10_000)  # the accepted ones, out of the measurement

    user_ids = [user.pk for user in users]
    credit_rates = {}
    for batch_size, count in ((500, 50_000), (1, 5_000)):
        pending_rewards_insert(url, campaign.pk, user_ids, count, f"batch{batch_size}:")
        done, elapsed = run_threads(args.threads, args.seconds * 2, credit_batches(batch_size))
        credit_rates[batch_size] = done / elapsed
        campaigns.rewards_credit_pending(max_batches=10_000)  # what is left, out of the measurement
        print(
            f"  credit, batch of {batch_size:<4} {args.threads} threads {done / elapsed:8.0f} rewards/s"
            f" ({done} in {elapsed:.1f}s)   load {os.getloadavg()[0]:.2f}",
            flush=True,
        )

    hot, ordinary = max(rates["hot"]), max(rates["ordinary"])
    print(f"\n{'what':34} {'per second':>11}")
    print(f"{'credits from one hot campaign':34} {hot:>11.0f}")
    print(f"{'credits from 1,000 ordinary':34} {ordinary:>11.0f}")
    print(f"{'hot / ordinary':34} {hot / ordinary:>11.2f}")
    print(f"{'accepts (service call)':34} {accept_rate:>11.0f}")
    for batch_size, rate in credit_rates.items():
        print(f"{f'rewards credited, batch of {batch_size}':34} {rate:>11.0f}")
    ok = check_invariants(url)
    redis.Redis.from_url(args.redis_url).flushdb()
    print(f"\nload {os.getloadavg()} | total {time.perf_counter() - started:.0f}s")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
