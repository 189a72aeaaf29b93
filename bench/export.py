"""Export memory and speed: the entries changelist written to XLSX and CSV (docs/PERFORMANCE.md,
"Exports").

Drops and recreates its own database, migrates it and seeds ``--entries`` ledger entries by SQL
(transfers of two legs between ``--users`` users, triggers off: every transfer is balanced by
construction; balances are not kept, which an export does not need), then ANALYZE. Each size and
format is exported by a fresh process through ``wallet.exports.services.export_job_run`` on the
entries admin's rows (account, owner and transfer joined, newest first), so its peak RSS
(``ru_maxrss``) is that export's alone; flat memory means the same peak for every size.

    .venv/bin/python bench/export.py [--entries 1000000] [--sizes 10000,100000,1000000]
"""

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/wallet_bench_export"

SEED_SQL = """
SET session_replication_role = replica;
INSERT INTO auth_user (username, password, is_superuser, first_name, last_name, email, is_staff, is_active,
                       date_joined)
SELECT '用户' || n, '!', false, '', '', '', true, true, now() FROM generate_series(1, %(users)s) n;
INSERT INTO wallet_account (code, owner_id, kind, currency, balance, held, allow_negative, is_hot, status,
                            created_at, updated_at)
SELECT 'user:' || id || ':CNY', id, 'user', 'CNY', 0, 0, true, false, 'active', now(), now() FROM auth_user;
INSERT INTO wallet_transfer (idempotency_key, fingerprint, kind, memo, reference, created_at)
SELECT 'bench:' || n, '', 'p2p', '午饭 ' || n, 'order-' || n, now() - n * interval '1 second'
  FROM generate_series(1, %(transfers)s) n;
INSERT INTO wallet_entry (transfer_id, account_id, amount, balance_after, created_at)
SELECT t.id, a.id, -(1 + t.id %% 1000) / 100.0, 0, t.created_at
  FROM wallet_transfer t JOIN wallet_account a ON a.owner_id = (SELECT min(id) FROM auth_user) + t.id %% %(users)s
UNION ALL
SELECT t.id, a.id, (1 + t.id %% 1000) / 100.0, 0, t.created_at
  FROM wallet_transfer t
  JOIN wallet_account a ON a.owner_id = (SELECT min(id) FROM auth_user) + (t.id + 1) %% %(users)s;
SET session_replication_role = origin;
ANALYZE
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=1_000)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--formats", default="csv,xlsx")
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--measure", nargs=2, metavar=("ROWS", "FORMAT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    _django(args.database_url)
    if args.measure:
        _measure(int(args.measure[0]), args.measure[1])
        return
    from django.core.management import call_command
    from django.db import connection

    from bench.databases import recreate_database

    connection.close()
    recreate_database(args.database_url)
    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    with psycopg.connect(args.database_url, autocommit=True) as conn:
        for statement in SEED_SQL.split(";\n"):
            conn.execute(statement.encode(), {"users": args.users, "transfers": args.entries // 2})
    print(f"{args.entries:,} entries seeded in {time.perf_counter() - started:.0f} s\n", flush=True)
    print("| rows | format | seconds | rows/s | peak RSS MiB | file MiB |")
    print("|---:|---|---:|---:|---:|---:|")
    for file_format in args.formats.split(","):
        for size in args.sizes.split(","):
            command = [sys.executable, __file__, "--database-url", args.database_url, "--measure", size, file_format]
            print(subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip(), flush=True)  # noqa: S603


def _django(database_url: str) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_DEBUG", "true")  # a bench database, development keys
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("EXPORT_ROOT", "/tmp/wallet-bench-exports")  # noqa: S108
    import django

    django.setup()


def _measure(rows: int, file_format: str) -> None:
    from django.contrib.auth import get_user_model

    from wallet.exports.services import export_job_create, export_job_run, export_path
    from wallet.models import Entry
    from wallet.resources import EntryResource

    actor = get_user_model().objects.order_by("id").first()
    queryset = Entry.objects.select_related("account__owner", "transfer").order_by("-created_at", "-id")[:rows]
    job = export_job_create(
        actor=actor, model=Entry, resource_class=EntryResource, fields=[], query_string="", file_format=file_format
    )
    started = time.perf_counter()
    job = export_job_run(job=job, resource=EntryResource(), queryset=queryset)
    seconds = time.perf_counter() - started
    assert job.rows_written == rows, job.rows_written
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    size = export_path(job).stat().st_size / 2**20
    export_path(job).unlink()
    print(f"| {rows:,} | {file_format} | {seconds:.1f} | {rows / seconds:,.0f} | {peak:.0f} | {size:.1f} |")


if __name__ == "__main__":
    main()
