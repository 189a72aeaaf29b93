"""The admin index's dashboard on a small and a large database (config.dashboard, figures in
docs/PERFORMANCE.md).

For each size (``--sizes``, payment orders; withdrawals are a fifth of them, refunds a tenth,
user-to-user transfers three tenths) the bench drops and recreates its own database, migrates
it and seeds, with set-based SQL and triggers off, a year of orders spread evenly in time, most
succeeded, some failed, closed or still open, with a few stuck ones, plus ANALYZE. Foreign keys
the dashboard never follows (holds, risk evaluations, ledger transfers) hold placeholder ids:
the bench reads, and no constraint that checks a row's own columns is switched off. Rows go in
in time order, as orders do, and VACUUM ANALYZE follows, as autovacuum would.

Then, each the median of ``--repeat`` runs: the snapshot (every figure's query, what a cache
miss costs), the whole admin index as a superuser with an empty cache and with the minute's
snapshot cached, and the dashboard's own part of a cached page (its panels, links and chart);
and on the largest size, each figure's query plan (its scans and PostgreSQL's own time) and the
snapshot again without the dashboard's indexes.

    .venv/bin/python bench/dashboard.py [--sizes 20000,2000000] [--repeat 15]
"""

import argparse
import os
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
USERS = 1000
DAYS = 365
SCAN = re.compile(r"(Seq Scan|Index Only Scan|Index Scan|Bitmap Index Scan)( using \w+)? on \w+")
DASHBOARD_INDEXES = ("payment_order_created_idx", "payment_order_open_created_idx", "peer_transfer_status_idx")

SEED_SQL = """
SET session_replication_role = replica;
INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email, is_staff, is_active,
                       date_joined)
SELECT '!', false, 'bench' || n, '', '', '', false, true, now() FROM generate_series(1, %(users)s) n;
CREATE TEMP TABLE bench_user AS SELECT row_number() OVER (ORDER BY id) - 1 AS i, id FROM auth_user
 WHERE username LIKE 'bench%%';
-- Payment orders: a year of them, newest last; 90 %% paid, 3 %% failed, the rest closed unpaid
-- but for those of the last hour, still paying, and one in 10,000 the expiry sweep missed (stuck).
-- Withdrawals: 95 %% paid, 3 %% failed, the rest rejected; the last 50 wait for review.
INSERT INTO payments_paymentorder
       (order_no, user_id, business_type, business_order_no, method, channel_id, client_type, subject, amount,
        currency, fee, channel_merchant_id, channel_app_id, status, idempotency_key, request_fingerprint,
        return_url, pay_params, transaction_id, refunded_amount, status_reason, failure_code, expires_at,
        created_at, updated_at, paid_at, finished_at, merchant_account_id, notify_url)
SELECT 'PB' || lpad(n::text, 23, '0'), u.id, k.business_type, k.business_order_no, 'wechat_native',
       (SELECT id FROM payments_channel WHERE code = CASE WHEN n %% 3 = 0 THEN 'alipay' ELSE 'wechat_pay' END),
       'web', 'Bench', a.amount, 'CNY', 0, '', '',
       st.status, 'bench-' || n, '', '', '{}', '', 0, '', '', t.created_at + interval '2 hours', t.created_at,
       t.created_at, CASE WHEN st.status = 'success' THEN t.created_at END,
       CASE WHEN st.status <> 'paying' THEN t.created_at END, k.merchant_account_id, ''
  FROM generate_series(1, %(orders)s) n
  JOIN bench_user u ON u.i = n %% %(users)s
 CROSS JOIN LATERAL (SELECT (100 + (n::bigint * 7919) %% 99900) / 100.0 AS amount) a
 CROSS JOIN LATERAL (SELECT now() - (1 - n::float / %(orders)s) * %(days)s * interval '1 day' AS created_at) t
 CROSS JOIN LATERAL (SELECT CASE WHEN n %% 100 < 90 THEN 'success' WHEN n %% 100 < 95 THEN 'closed'
                                 WHEN n %% 100 < 98 THEN 'failed'
                                 WHEN n %% 10000 = 9999 OR n > %(orders)s - %(orders)s / 8760 THEN 'paying'
                                 ELSE 'closed' END AS status) st
 CROSS JOIN LATERAL (SELECT CASE WHEN n %% 4 = 0 THEN 'order_payment' ELSE 'recharge' END AS business_type,
                            CASE WHEN n %% 4 = 0 THEN 'BO-' || n ELSE '' END AS business_order_no,
                            CASE WHEN n %% 4 = 0 THEN 1 END AS merchant_account_id) k
 ORDER BY n;
INSERT INTO payments_withdrawal
       (order_no, user_id, payout_account_id, channel_id, amount, fee, actual_amount, currency, status,
        idempotency_key, request_fingerprint, hold_id, risk_evaluation_id, approvals_required, status_reason,
        failure_code, channel_reference, created_at, updated_at, approved_at, dispatched_at, finished_at)
SELECT 'WB' || lpad(n::text, 23, '0'), u.id, 1, (SELECT id FROM payments_channel WHERE code = 'bank'),
       a.amount, 0, a.amount, 'CNY',
       CASE WHEN n > %(withdrawals)s - 50 THEN 'pending' WHEN n %% 100 < 95 THEN 'success'
            WHEN n %% 100 < 98 THEN 'failed' ELSE 'rejected' END,
       'bench-' || n, '', n, n, CASE WHEN a.amount >= 800 THEN 2 ELSE 1 END, '', '', '', t.created_at,
       t.created_at, t.created_at, t.created_at, t.created_at
  FROM generate_series(1, %(withdrawals)s) n
  JOIN bench_user u ON u.i = n %% %(users)s
 CROSS JOIN LATERAL (SELECT (100 + (n::bigint * 7919) %% 99900) / 100.0 AS amount) a
 CROSS JOIN LATERAL (SELECT now() - (1 - n::float / %(withdrawals)s) * %(days)s * interval '1 day' AS created_at) t
 ORDER BY n;
INSERT INTO payments_refund
       (refund_no, payment_order_id, amount, currency, reason, status, requested_by_id, idempotency_key,
        request_fingerprint, channel_refund_id, failure_code, status_reason, created_at, updated_at, sent_at,
        finished_at)
SELECT 'RB' || lpad(n::text, 23, '0'), n, 1.00, 'CNY', '', CASE WHEN n %% 50 = 0 THEN 'failed' ELSE 'success' END,
       u.id, 'bench-' || n, '', '', '', '', t.created_at, t.created_at, t.created_at, t.created_at
  FROM generate_series(1, %(refunds)s) n
  JOIN bench_user u ON u.i = n %% %(users)s
 CROSS JOIN LATERAL (SELECT now() - (1 - n::float / %(refunds)s) * %(days)s * interval '1 day' AS created_at) t
 ORDER BY n;
INSERT INTO wallet_peertransfer
       (sender_id, recipient_id, amount, currency, memo, status, idempotency_key, request_fingerprint,
        receive_code_single_use, guard_reference, ledger_transfer_id, status_reason, created_at)
SELECT s.id, r.id, (100 + (n::bigint * 7919) %% 9900) / 100.0, 'CNY', '', 'posted', 'bench-' || n, '', false, '', n,
       '', now() - (1 - n::float / %(transfers)s) * %(days)s * interval '1 day'
  FROM generate_series(1, %(transfers)s) n
  JOIN bench_user s ON s.i = n %% %(users)s
  JOIN bench_user r ON r.i = (n + 1) %% %(users)s
 ORDER BY n;
SET session_replication_role = DEFAULT;
VACUUM ANALYZE
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="20000,2000000", help="payment orders per database, comma-separated")
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/wallet_bench_dashboard")
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/11"))
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    os.environ["DATABASE_URL"] = args.database_url
    os.environ["REDIS_URL"] = args.redis_url
    os.environ.setdefault("DJANGO_DEBUG", "true")  # a bench database, development keys
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    sizes = [int(size) for size in args.sizes.split(",")]
    rows = []
    for size in sizes:
        _seed(args.database_url, size)
        rows.extend(_measure(size, args.repeat, with_indexes=True))
    _plans()
    with psycopg.connect(args.database_url, autocommit=True) as conn:
        for name in DASHBOARD_INDEXES:
            conn.execute(f"DROP INDEX {name}")  # noqa: S608 - fixed names
        conn.execute("ANALYZE")
    rows.extend(_measure(sizes[-1], args.repeat, with_indexes=False))
    print("\n| payment orders | rows in all | dashboard indexes | what | median ms | p90 ms |")
    print("|---:|---:|---|---|---:|---:|")
    for row in rows:
        print(
            f"| {row['size']:,} | {row['rows']:,} | {row['indexes']} | {row['what']} | "
            f"{row['median']:.1f} | {row['p90']:.1f} |"
        )


def _seed(url: str, orders: int) -> None:
    from django.core.management import call_command
    from django.db import connection

    from bench.databases import recreate_database

    connection.close()
    recreate_database(url)
    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    sizes = {
        "orders": orders,
        "withdrawals": orders // 5,
        "refunds": orders // 10,
        "transfers": orders * 3 // 10,
        "users": USERS,
        "days": DAYS,
    }
    with psycopg.connect(url, autocommit=True) as conn:
        for statement in SEED_SQL.split(";\n"):
            conn.execute(statement.encode(), sizes)
    print(f"{orders:,} payment orders and the rest seeded in {time.perf_counter() - started:.0f} s", flush=True)


def _plans() -> None:
    """Each of the snapshot's queries with the scans PostgreSQL chose and its execution time."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from config.dashboard.snapshot import snapshot_take

    with CaptureQueriesContext(connection) as captured:
        snapshot_take(now=timezone.now())
    print("\n| query | scans | ms in PostgreSQL |\n|---|---|---:|")
    with connection.cursor() as cursor:
        for query in captured.captured_queries:
            cursor.execute(f"EXPLAIN (ANALYZE, COSTS OFF) {query['sql']}")
            plan = [line for (line,) in cursor.fetchall()]
            scans = sorted({found.group(0) for line in plan if (found := SCAN.search(line))})
            milliseconds = float(plan[-1].split(":")[1].split()[0])
            print(f"| `{query['sql'][:60]}…` | {'; '.join(scans)} | {milliseconds:.1f} |", flush=True)


def _measure(orders: int, repeat: int, *, with_indexes: bool) -> list[dict]:
    from django.contrib.auth.models import User
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from config.dashboard.panels import dashboard_for
    from config.dashboard.snapshot import CACHE_KEY, snapshot_take
    from config.tests.staff import otp_login

    connection.close()
    root, _ = User.objects.get_or_create(username="bench-root", defaults={"is_staff": True, "is_superuser": True})
    client = otp_login(Client(), root)
    total = orders + orders // 5 + orders // 10 + orders * 3 // 10

    def page(cached: bool) -> None:
        if not cached:
            cache.delete(CACHE_KEY)
        response = client.get("/admin/")
        assert response.status_code == 200 and b'id="dashboard"' in response.content

    runs: dict[str, Callable[[], object]] = {
        "snapshot (every figure, a cache miss)": lambda: snapshot_take(now=timezone.now())
    }
    if with_indexes:
        runs["admin index, cache empty"] = lambda: page(cached=False)
        runs["admin index, snapshot cached"] = lambda: page(cached=True)
        runs["its panels and chart alone, snapshot cached"] = lambda: dashboard_for(root)
    rows = []
    for what, run in runs.items():
        run()  # warm the connection and PostgreSQL's buffers
        timings = []
        for _ in range(repeat):
            started = time.perf_counter()
            run()
            timings.append((time.perf_counter() - started) * 1000)
        timings.sort()
        row = {
            "size": orders,
            "rows": total,
            "indexes": "yes" if with_indexes else "no",
            "what": what,
            "median": statistics.median(timings),
            "p90": timings[max(int(len(timings) * 0.9) - 1, 0)],
        }
        print(f"{orders:,} orders, indexes {row['indexes']}: {what}: {row['median']:.1f} ms", flush=True)
        rows.append(row)
    return rows


if __name__ == "__main__":
    main()
