"""The statement's counterparty: what naming the other side of each entry costs a page
(docs/WALLET.md, docs/PERFORMANCE.md).

Drops and recreates its own database, migrates it, and seeds one busy user whose wallet has
``--entries`` p2p entries with ``--friends`` other users, plus ANALYZE. Then times the first page
(50 rows) and a page deep in the history (the cursor's ``created_at <`` filter), each the median
of ``--repeat`` runs, with the counterparty (``wallet.selectors.statement_entries``: the other
side's account code and username) and without (the same query before it had one). The API then
names a page's entries (``wallet.statements``); p2p lines need no further query. Ledger rows
are inserted by SQL with triggers off for speed (every transfer is balanced by construction);
the balances are not kept, which a read does not need.

    .venv/bin/python bench/statement.py [--entries 50000] [--friends 500] [--repeat 30]
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
PAGE = 50

SEED_SQL = """
SET session_replication_role = replica;
INSERT INTO auth_user (username, password, is_superuser, first_name, last_name, email, is_staff, is_active,
                       date_joined)
SELECT 'bench' || n, '!', false, '', '', '', false, true, now() FROM generate_series(0, %(friends)s) n;
INSERT INTO wallet_account (code, owner_id, kind, currency, balance, held, allow_negative, is_hot, status,
                            created_at, updated_at)
SELECT 'user:' || id || ':CNY', id, 'user', 'CNY', 0, 0, true, false, 'active', now(), now() FROM auth_user;
INSERT INTO wallet_transfer (idempotency_key, fingerprint, kind, memo, reference, created_at)
SELECT 'bench:' || n, '', 'p2p', '', 'p2p:' || n, now() - n * interval '1 second'
  FROM generate_series(1, %(entries)s) n;
INSERT INTO wallet_entry (transfer_id, account_id, amount, balance_after, created_at)
SELECT t.id, busy.id, CASE WHEN t.id %% 2 = 0 THEN -1 ELSE 1 END, 0, t.created_at
  FROM wallet_transfer t, (SELECT a.id FROM wallet_account a JOIN auth_user u ON u.id = a.owner_id
                            WHERE u.username = 'bench0') busy
UNION ALL
SELECT t.id, friend.id, CASE WHEN t.id %% 2 = 0 THEN 1 ELSE -1 END, 0, t.created_at
  FROM wallet_transfer t
  JOIN LATERAL (SELECT a.id FROM wallet_account a JOIN auth_user u ON u.id = a.owner_id
                 WHERE u.username = 'bench' || (1 + t.id %% %(friends)s)) friend ON true;
SET session_replication_role = origin;
ANALYZE
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=50_000)
    parser.add_argument("--friends", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/wallet_bench_statement")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("DJANGO_DEBUG", "true")  # a bench database, development keys
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from bench.databases import recreate_database

    connection.close()
    recreate_database(args.database_url)
    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    with psycopg.connect(args.database_url, autocommit=True) as conn:
        for statement in SEED_SQL.split(";\n"):
            conn.execute(statement.encode(), {"entries": args.entries, "friends": args.friends})
    print(f"{args.entries:,} entries seeded in {time.perf_counter() - started:.0f} s", flush=True)
    _measure(args.repeat)


def _measure(repeat: int) -> None:
    from wallet.models import Account, Entry
    from wallet.selectors import statement_entries

    account = Account.objects.get(owner__username="bench0")
    deep = Entry.objects.filter(account=account).order_by("-created_at", "-id").values_list("created_at", flat=True)
    middle = deep[Entry.objects.filter(account=account).count() // 2]
    queries = {
        "with counterparty": lambda: statement_entries(account=account),
        "without (before)": lambda: Entry.objects.filter(account=account).select_related("transfer"),
    }
    print("\n| page | query | median ms | p95 ms |")
    print("|---|---|---:|---:|")
    for page, where in (("first", {}), ("middle of the history", {"created_at__lt": middle})):
        for name, query in queries.items():
            timings = []
            for _ in range(repeat):
                started = time.perf_counter()
                rows = list(query().filter(**where).order_by("-created_at", "-id")[:PAGE])
                timings.append((time.perf_counter() - started) * 1000)
                assert len(rows) == PAGE
            timings.sort()
            p95 = timings[int(len(timings) * 0.95) - 1]
            print(f"| {page} | {name} | {statistics.median(timings):.2f} | {p95:.2f} |", flush=True)


if __name__ == "__main__":
    main()
