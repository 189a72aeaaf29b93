"""A ledger a hundred times bigger than bench/ledger.py's: what grows with it (docs/PERFORMANCE.md,
"A ledger ten times bigger"; docs/SCALING.md).

Drops and recreates its own database, migrates it and creates ``--accounts`` user wallets plus
the hot ``clearing:bench`` and ``fees``. Then, in one run, at two sizes:

1. seeds ``--small-entries`` entries over the first ``--small-accounts`` wallets (each funded
   from clearing, then random user -> user transfers, one in ten to clearing), like
   bench/ledger.py, and measures;
2. grows the same database to ``--entries`` entries over all ``--accounts`` wallets (the rest
   funded, then more transfers among all of them) and measures again.

The seed is set-based (INSERT ... SELECT over generate_series) with triggers off (every transfer
is balanced by construction) and the secondary indexes of the entries and transfers dropped
during the load and built again after it, then VACUUM ANALYZE. Each stage measures, in order:

- statement page, p50 / p99 over ``--repeat`` random wallets of the first ``--small-accounts``
  (whose history is as deep at both sizes): the first page and one in the middle of the
  wallet's history, as the statement API reads it (``wallet.selectors.statement_entries``,
  newest first, 51 rows for a page of 50, the middle one behind the cursor's ``created_at <``);
- balance read, p50 / p99: a user's wallet summary (``wallet.selectors.wallet_summary``) and the
  hot clearing account's balance (``wallet.selectors.account_balance``), before the audit has a
  checkpoint (a sum of every entry) and after (its audited sum plus the entries since);
- ``ledger_audit``: the full run (checks plus building the checkpoint), then postings, then an
  incremental run over them and one with nothing new;
- postings: ``wallet.services.transfer_post`` from ``--processes`` processes for ``--seconds``.

    .venv/bin/python bench/ledger_scale.py [--entries 10000000] [--accounts 100000]
        [--small-entries 100000] [--small-accounts 1000] [--repeat 200] [--seconds 5] [--processes 4]
"""

import argparse
import os
import random
import sys
import time
from decimal import Decimal
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
PAGE = 50
FUNDING = Decimal("1000000.00")
CLEARING = "clearing:bench"
# A load bigger than this drops the secondary indexes of entries and transfers and builds them after.
REBUILD_INDEXES_OVER = 100_000

SEED_USERS_SQL = """
SET session_replication_role = replica;
INSERT INTO auth_user (username, password, is_superuser, first_name, last_name, email, is_staff, is_active,
                       date_joined)
SELECT 'bench' || n, '!', false, '', '', '', false, true, now() FROM generate_series(1, %(accounts)s) n;
INSERT INTO wallet_account (code, owner_id, kind, currency, balance, held, allow_negative, is_hot, status,
                            created_at, updated_at)
SELECT 'user:' || id || ':CNY', id, 'user', 'CNY', 0, 0, false, false, 'active', now(), now()
  FROM auth_user WHERE username LIKE 'bench%%' ORDER BY id
"""

# Transfers numbered from %(first)s to %(last)s: the first %(funded)s fund the wallets
# %(fund_from)s.. of the pool from clearing, the rest go between random wallets of the first
# %(users)s, every tenth one to clearing. Entries carry their running balance on top of the
# wallet's balance before the stage, and the balances move by the stage's entries.
GROW_SQL = """
SET session_replication_role = replica;
SET work_mem = '256MB';
CREATE TEMP TABLE seed_transfer (id bigint, created_at timestamptz, src bigint, dst bigint, amount numeric);
CREATE TEMP TABLE pool AS SELECT idx::int, id FROM unnest(%(pool)s::bigint[]) WITH ORDINALITY AS u (id, idx);
ANALYZE pool;
WITH t AS (
    INSERT INTO wallet_transfer (idempotency_key, fingerprint, kind, memo, reference, created_at)
    SELECT 'seed:' || n, '', CASE WHEN n < %(first)s + %(funded)s THEN 'recharge'
                                  WHEN n %% 10 = 0 THEN 'withdrawal' ELSE 'p2p' END,
           '', '', timestamptz '2026-01-01' + n * interval '1 second'
      FROM generate_series(%(first)s, %(last)s) AS n
    RETURNING id, created_at, substr(idempotency_key, 6)::bigint AS n
), r AS (
    SELECT t.*, t.n < %(first)s + %(funded)s AS funding,
           floor(random() * %(users)s)::int AS i, floor(random() * (%(users)s - 1))::int AS j
      FROM t
)
INSERT INTO seed_transfer (id, created_at, src, dst, amount)
SELECT r.id, r.created_at,
       CASE WHEN r.funding THEN %(clearing)s ELSE source.id END,
       CASE WHEN r.funding THEN funded.id WHEN r.n %% 10 = 0 THEN %(clearing)s ELSE target.id END,
       CASE WHEN r.funding THEN %(funding)s ELSE (1 + floor(random() * 1000)) / 100 END
  FROM r
  LEFT JOIN pool source ON source.idx = 1 + r.i
  LEFT JOIN pool target ON target.idx = 1 + (r.i + 1 + r.j) %% %(users)s
  LEFT JOIN pool funded ON funded.idx = %(fund_from)s + (r.n - %(first)s);
INSERT INTO wallet_entry (transfer_id, account_id, amount, balance_after, created_at)
SELECT l.transfer_id, l.account_id, l.amount,
       CASE WHEN a.is_hot THEN NULL
            ELSE a.balance + sum(l.amount) OVER (PARTITION BY l.account_id ORDER BY l.transfer_id) END,
       l.created_at
  FROM (SELECT id AS transfer_id, created_at, src AS account_id, -amount AS amount FROM seed_transfer
        UNION ALL
        SELECT id, created_at, dst, amount FROM seed_transfer) AS l
  JOIN wallet_account a ON a.id = l.account_id
 ORDER BY l.transfer_id, l.account_id;
UPDATE wallet_account a
   SET balance = a.balance + s.total, updated_at = now()
  FROM (SELECT account_id, sum(amount) AS total
          FROM (SELECT src AS account_id, -amount AS amount FROM seed_transfer
                UNION ALL
                SELECT dst, amount FROM seed_transfer) AS legs
         GROUP BY account_id) AS s
 WHERE a.id = s.account_id AND NOT a.is_hot;
DROP TABLE seed_transfer;
DROP TABLE pool
"""

SECONDARY_INDEXES = """
SELECT 'constraint', conname, conrelid::regclass::text, pg_get_constraintdef(oid)
  FROM pg_constraint WHERE conrelid IN ('wallet_entry'::regclass, 'wallet_transfer'::regclass) AND contype = 'u'
UNION ALL
SELECT 'index', i.indexname, i.tablename, i.indexdef
  FROM pg_indexes i
 WHERE i.tablename IN ('wallet_entry', 'wallet_transfer')
   AND i.indexname NOT IN (SELECT conname FROM pg_constraint WHERE contype IN ('u', 'p'))
"""


def ms(seconds: float) -> float:
    return seconds * 1000


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def execute_script(url: str, script: str, params: dict) -> None:
    with psycopg.connect(url, autocommit=True, cursor_factory=psycopg.ClientCursor) as conn:
        for statement in script.split(";\n"):
            conn.execute(statement, params)


def grow(url: str, *, pool: list[int], users: int, first: int, transfers: int, fund_from: int, funded: int) -> None:
    """Append ``transfers`` transfers, numbered from ``first``, with their entries (see GROW_SQL),
    the secondary indexes dropped during the load when it is large."""
    from wallet.models import Account

    clearing = Account.objects.get(code=CLEARING).pk
    rebuild = transfers > REBUILD_INDEXES_OVER
    with psycopg.connect(url, autocommit=True) as conn:
        indexes = list(conn.execute(SECONDARY_INDEXES)) if rebuild else []
        for kind, name, table, _definition in indexes:
            drop = f"ALTER TABLE {table} DROP CONSTRAINT {name}" if kind == "constraint" else f"DROP INDEX {name}"
            conn.execute(drop.encode())
    started = time.perf_counter()
    execute_script(
        url,
        GROW_SQL,
        {
            "pool": pool,
            "users": users,
            "first": first,
            "last": first + transfers - 1,
            "fund_from": fund_from,
            "funded": funded,
            "clearing": clearing,
            "funding": FUNDING,
        },
    )
    print(f"  {transfers:,} transfers inserted in {time.perf_counter() - started:.0f} s | load {load()}", flush=True)
    started = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '512MB'")
        for kind, name, table, definition in indexes:
            build = f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}" if kind == "constraint" else definition
            conn.execute(build.encode())
        if indexes:
            print(f"  {len(indexes)} indexes built in {time.perf_counter() - started:.0f} s", flush=True)
        started = time.perf_counter()
        conn.execute("VACUUM ANALYZE")
    print(f"  VACUUM ANALYZE in {time.perf_counter() - started:.0f} s | load {load()}", flush=True)


def timed(work, repeat: int) -> list[float]:
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        timings.append(time.perf_counter() - started)
    return timings


def measure_reads(sample: list, repeat: int) -> dict[str, list[float]]:
    from django.contrib.auth import get_user_model

    from wallet.models import Account, Entry
    from wallet.selectors import account_balance, statement_entries, wallet_summary

    rng = random.Random(7)
    accounts = list(Account.objects.filter(pk__in=sample))
    clearing = Account.objects.get(code=CLEARING)
    users = list(get_user_model().objects.filter(pk__in=[a.owner_id for a in accounts]))
    ordering = ("-created_at", "-id")

    def page(account, before=None) -> None:
        query = statement_entries(account=account)
        if before is not None:
            query = query.filter(created_at__lt=before)
        rows = list(query.order_by(*ordering)[: PAGE + 1])
        if not rows:
            raise RuntimeError(f"empty statement page for {account}")

    middles = {}
    for account in accounts:
        history = Entry.objects.filter(account=account).order_by(*ordering).values_list("created_at", flat=True)
        middles[account.pk] = history[history.count() // 2]

    def middle_page() -> None:
        account = rng.choice(accounts)
        page(account, middles[account.pk])

    results = {
        "statement, first page": timed(lambda: page(rng.choice(accounts)), repeat),
        "statement, middle page": timed(middle_page, repeat),
        "balance, user wallet summary": timed(lambda: wallet_summary(user=rng.choice(users)), repeat),
        "balance, hot clearing account, no checkpoint yet (every entry summed, as before)": timed(
            lambda: account_balance(account=clearing), max(5, repeat // 20)
        ),
    }
    return results


def measure_audit_and_postings(
    url: str, workload, seconds: float, processes: int, reads: dict[str, list[float]], repeat: int
) -> dict[str, float]:
    """The audit's runs and the postings between them; adds the hot balance read, timed while
    the postings' entries are after the checkpoint, to ``reads``."""
    from bench.ledger import ServicePath, measure
    from wallet.audit import ledger_audit, ledger_audit_run

    figures = {}
    started = time.perf_counter()
    if ledger_audit():
        raise RuntimeError("the seeded ledger is not clean")
    figures["audit, full checks only, as before (s)"] = time.perf_counter() - started
    started = time.perf_counter()
    run = ledger_audit_run(full=True)
    figures["audit, full (s)"] = time.perf_counter() - started
    if run.violations or run.checkpoint is None:
        raise RuntimeError(f"the full audit is not clean: {run.violations[:3]} {run.waited_for}")
    rate, refused = measure(ServicePath, "transfer", workload, url, processes, seconds)
    figures[f"postings/s, {processes} processes"] = rate
    figures["refused postings"] = refused
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM wallet_entry WHERE id > %s", [run.checkpoint]).fetchone()
        figures["entries after the checkpoint"] = row[0] if row else 0
    reads.update(measure_hot_balance(repeat))
    for label in ("audit, incremental over the postings (s)", "audit, incremental, nothing new (s)"):
        started = time.perf_counter()
        again = ledger_audit_run(full=False)
        figures[label] = time.perf_counter() - started
        if again.violations or again.checkpoint is None:
            raise RuntimeError(f"the incremental audit is not clean: {again.violations[:3]} {again.waited_for}")
    return figures


def measure_hot_balance(repeat: int) -> dict[str, list[float]]:
    """The hot account's balance once the audit has a checkpoint and entries were posted after it,
    and a check that it is the sum of every entry."""
    from django.db.models import Sum

    from wallet.models import Account, Entry
    from wallet.selectors import account_balance

    clearing = Account.objects.get(code=CLEARING)
    every_entry = Entry.objects.filter(account=clearing).aggregate(total=Sum("amount"))["total"]
    if account_balance(account=clearing) != every_entry:
        raise RuntimeError(f"the hot balance {account_balance(account=clearing)} is not its entries' {every_entry}")
    return {
        "balance, hot clearing account, from the audit checkpoint (after)": timed(
            lambda: account_balance(account=clearing), max(5, repeat // 20)
        )
    }


def report(stage: str, reads: dict[str, list[float]], figures: dict[str, float]) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT count(*) FROM wallet_entry), pg_size_pretty(pg_total_relation_size('wallet_entry'))"
        )
        entries, size = cursor.fetchone()
    print(f"\n### {stage}: {entries:,} entries, wallet_entry {size} with indexes | load {load()}")
    print("| read | p50 ms | p99 ms | runs |")
    print("|---|---:|---:|---:|")
    for name, timings in reads.items():
        print(f"| {name} | {ms(percentile(timings, 0.5)):.2f} | {ms(percentile(timings, 0.99)):.2f} | {len(timings)} |")
    for name, value in figures.items():
        print(f"- {name}: {value:,.2f}" if isinstance(value, float) else f"- {name}: {value:,}")
    print(flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=10_000_000, help="entries at the big size (default 10M)")
    parser.add_argument("--accounts", type=int, default=100_000, help="user wallets at the big size (default 100k)")
    parser.add_argument("--small-entries", type=int, default=100_000, help="entries at the small size (default 100k)")
    parser.add_argument("--small-accounts", type=int, default=1000, help="wallets at the small size (default 1,000)")
    parser.add_argument("--repeat", type=int, default=200, help="timed reads of each kind (default 200)")
    parser.add_argument("--seconds", type=float, default=5.0, help="how long the postings run (default 5)")
    parser.add_argument("--processes", type=int, default=4, help="posting processes (default 4)")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/wallet_bench_ledger10x")
    args = parser.parse_args()
    if args.small_accounts > args.accounts or args.small_entries < 2 * args.small_accounts:
        parser.error("the small stage needs at most --accounts wallets and two entries for each one's funding")

    sys.path.insert(0, str(ROOT))
    os.environ["DATABASE_URL"] = args.database_url
    os.environ["DJANGO_DEBUG"] = "false"  # no query log
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    from bench.databases import recreate_database

    started = time.perf_counter()
    recreate_database(args.database_url)
    django.setup()
    from django.core.management import call_command

    from bench.ledger import Workload
    from wallet import services
    from wallet.models import Account

    call_command("migrate", verbosity=0)
    with psycopg.connect(args.database_url) as conn:
        version = conn.execute("SELECT version()").fetchone()
    print(f"{version[0] if version else ''} | {os.cpu_count()} CPUs | load {load()}", flush=True)
    clearing = services.account_for_system(code=CLEARING)
    fees = services.account_for_system(code="fees")
    execute_script(args.database_url, SEED_USERS_SQL, {"accounts": args.accounts})
    pool = list(Account.objects.filter(kind=Account.Kind.USER).order_by("pk").values_list("pk", flat=True))
    sample = random.Random(1).sample(pool[: args.small_accounts], min(args.small_accounts, 100))

    stages = [
        ("small", args.small_accounts, args.small_entries, 1, args.small_accounts),
        ("big", args.accounts, args.entries, args.small_accounts + 1, args.accounts - args.small_accounts),
    ]
    transfers_so_far = 0
    for stage, users, entries, fund_from, funded in stages:
        with psycopg.connect(args.database_url) as conn:
            row = conn.execute("SELECT count(*) FROM wallet_entry").fetchone()
        transfers = (entries - (row[0] if row else 0)) // 2
        print(f"\n{stage}: growing to {entries:,} entries over {users:,} wallets", flush=True)
        grow(
            args.database_url,
            pool=pool,
            users=users,
            first=transfers_so_far + 1,
            transfers=transfers,
            fund_from=fund_from,
            funded=funded,
        )
        transfers_so_far += transfers
        with psycopg.connect(args.database_url) as conn:
            # The seed backdates its entries, which postings never do: an earlier stage's
            # checkpoint would not know them. Each stage starts as a ledger never audited.
            conn.execute("DELETE FROM wallet_auditedbalance")
            conn.execute("DELETE FROM wallet_auditcheckpoint")
        reads = measure_reads(sample, args.repeat)
        workload = Workload(pool[:users], clearing.pk, fees.pk)
        figures = measure_audit_and_postings(
            args.database_url, workload, args.seconds, args.processes, reads, args.repeat
        )
        report(f"{stage} ledger", reads, figures)
    print(f"total {time.perf_counter() - started:.0f} s | load {load()}")


if __name__ == "__main__":
    main()
