"""One day's reconciliation from file to finished run, against a naive in-memory matcher
(docs/RECONCILIATION.md, figures in docs/PERFORMANCE.md).

For each size N (``--sizes``): the bench drops and recreates its own database, migrates it and
seeds, with set-based SQL, N paid WeChat Pay orders of one day over 1,000 users, each with its
ledger transfer. It writes that day's WeChat Pay trade bill (the channel's CSV, back-ticks and
summary) with 0.1 % of differences of every kind: lines missing (``local_only``), lines of
unknown orders (``channel_only``), wrong amounts, wrong states and wrong fees. Then, each in a
process of its own so its memory is its own:

- ``run``: ``reconciliation.services.bill_upload`` on the file: stream-parse, COPY, match in SQL,
  book the fees, check the clearing account; and the peak private memory (RssAnon) of its
  PostgreSQL backend, sampled every 50 ms;
- ``naive``: the reference: every order of the day in a Python dict, the same parser over the
  file, compared line by line.

Both must find exactly the injected differences. Prints seconds and peak RSS per size.

    .venv/bin/python bench/reconcile.py [--sizes 100000,1000000,3000000]
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import threading
import time
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg

ROOT = Path(__file__).resolve().parent.parent
CHINA = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 12, 6)
CHANNEL = "wechat_pay"
USERS = 1000
SHARE = 1000  # one line in SHARE of each kind of difference (0.1 %)
KINDS = ("local_only", "channel_only", "amount_mismatch", "status_mismatch", "fee_mismatch")

SEED_SQL = """
-- A bench seed: no triggers (the checks run after).
SET session_replication_role = replica;
INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email, is_staff, is_active,
                       date_joined)
SELECT '!', false, 'bench' || n, '', '', '', false, true, now() FROM generate_series(1, %(users)s) n;
INSERT INTO wallet_account (code, owner_id, kind, currency, balance, held, allow_negative, is_hot, status,
                            created_at, updated_at)
SELECT 'user:' || id || ':CNY', id, 'user', 'CNY', 0, 0, false, false, 'active', now(), now()
  FROM auth_user WHERE username LIKE 'bench%%';
CREATE TEMP TABLE bench_user AS SELECT row_number() OVER (ORDER BY id) - 1 AS i, id FROM auth_user
 WHERE username LIKE 'bench%%';
INSERT INTO payments_paymentorder
       (order_no, user_id, business_type, business_order_no, method, channel_id, client_type, subject, amount,
        currency, fee, channel_merchant_id, channel_app_id, status, idempotency_key, request_fingerprint,
        return_url, pay_params, transaction_id, refunded_amount, status_reason, failure_code, expires_at,
        created_at, updated_at, paid_at, finished_at)
SELECT 'PB' || lpad(n::text, 23, '0'), u.id, 'recharge', '', 'wechat_native', %(channel)s, 'web', 'Recharge',
       a.amount, 'CNY', round(a.amount * 0.006, 2), '', '', 'success', 'bench-' || n, repeat('0', 64),
       '', '{}', '42' || lpad(n::text, 26, '0'), 0, '', '', t.paid_at + interval '2 hours',
       t.paid_at - interval '1 minute', now(), t.paid_at, t.paid_at
  FROM generate_series(1, %(count)s) n
  JOIN bench_user u ON u.i = n %% %(users)s
 CROSS JOIN LATERAL (SELECT (100 + (n::bigint * 7919) %% 99900) / 100.0 AS amount) a
 CROSS JOIN LATERAL (SELECT %(start)s::timestamptz + (n::float / %(count)s) * interval '23 hours' AS paid_at) t;
WITH t AS (
    INSERT INTO wallet_transfer (idempotency_key, fingerprint, kind, memo, reference, created_at)
    SELECT 'payment:' || order_no, md5(order_no) || md5(order_no), 'recharge', '', order_no, paid_at
      FROM payments_paymentorder
    RETURNING id, reference, created_at
)
INSERT INTO wallet_entry (transfer_id, account_id, amount, balance_after, created_at)
SELECT t.id, x.account_id, x.amount, NULL, t.created_at
  FROM t JOIN payments_paymentorder p ON p.order_no = t.reference
  JOIN wallet_account w ON w.owner_id = p.user_id
 CROSS JOIN LATERAL (VALUES (%(clearing)s::bigint, -p.amount), (w.id, p.amount)) AS x(account_id, amount);
UPDATE wallet_account a SET balance = s.total
  FROM (SELECT account_id, sum(amount) AS total FROM wallet_entry GROUP BY account_id) s
 WHERE s.account_id = a.id AND NOT a.is_hot;
SET session_replication_role = DEFAULT;
ANALYZE;
"""
HEADER = (
    "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,"
    "应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,"
    "手续费,费率,订单金额,申请退款金额,费率备注"
)
SUMMARY = "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100000,1000000", help="comma-separated line counts (default 100k,1M)")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/wallet_bench_reconcile")
    parser.add_argument("--work-dir", default=str(ROOT / "var" / "bench"), help="where the bill files go")
    parser.add_argument("--child", choices=["run", "naive"], help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    args = parser.parse_args()
    _django(args.database_url)
    if args.child:
        print(json.dumps((_run if args.child == "run" else _naive)(Path(args.file))))
        return
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        rows.append(_size(size, args.database_url, Path(args.work_dir)))
    print("\n| lines | run s | run peak RSS MB | its backend peak anon MB | naive s | naive peak RSS MB | found |")
    print("|---:|---:|---:|---:|---:|---:|---|")
    for row in rows:
        print(
            f"| {row['lines']:,} | {row['run']['seconds']:.1f} | {row['run']['rss_mb']:.0f} | "
            f"{row['run']['backend_anon_mb']:.0f} | {row['naive']['seconds']:.1f} | {row['naive']['rss_mb']:.0f} | "
            f"{row['verdict']} |"
        )
    if any(row["verdict"] != "exact" for row in rows):
        sys.exit(1)


def _django(url: str) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_DEBUG", "true")  # a bench database, development keys
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def _size(size: int, url: str, work_dir: Path) -> dict:
    from django.core.management import call_command
    from django.db import connection

    from bench.databases import recreate_database

    started = time.perf_counter()
    connection.close()
    recreate_database(url)
    call_command("migrate", verbosity=0)
    _seed(url, size)
    print(f"{size:,} orders seeded in {time.perf_counter() - started:.0f} s", flush=True)
    work_dir.mkdir(parents=True, exist_ok=True)
    path = work_dir / f"wechat_pay-{DAY}-{size}.csv"
    injected = _bill_write(url, path, size)
    print(f"bill written: {path} ({path.stat().st_size / 2**20:.0f} MiB)", flush=True)
    naive = _child("naive", path, url)
    run = _child("run", path, url)
    verdict = "exact" if _as_set(run["found"]) == _as_set(naive["found"]) == injected else "WRONG"
    print(
        f"{size:,}: run {run['seconds']:.1f} s (import {run['import_seconds']:.1f} s), "
        f"naive {naive['seconds']:.1f} s, {verdict}",
        flush=True,
    )
    return {"lines": size, "run": run, "naive": naive, "verdict": verdict}


def _seed(url: str, size: int) -> None:
    from payments.channels.models import Channel
    from wallet import services as ledger

    channel = Channel.objects.get(code=CHANNEL)
    clearing = ledger.account_for_system(code=f"clearing:{CHANNEL}")
    start = datetime.combine(DAY, datetime.min.time(), tzinfo=CHINA)
    with psycopg.connect(url, autocommit=True) as conn:
        params = {"users": USERS, "count": size, "channel": channel.pk, "start": start, "clearing": clearing.pk}
        for statement in SEED_SQL.split(";\n"):
            if statement.strip():
                conn.execute(statement.encode(), params)


def _bill_write(url: str, path: Path, size: int) -> set[tuple[str, str]]:
    """The day's trade bill, differences injected at fixed strides; the set injected."""
    injected: set[tuple[str, str]] = set()
    count = total = fees = orders = Decimal(0)
    with psycopg.connect(url) as conn, conn.cursor(name="bill") as cursor, path.open("w", encoding="utf-8") as out:
        out.write(HEADER + "\r\n")
        cursor.itersize = 20_000
        cursor.execute("SELECT order_no, transaction_id, amount, fee, paid_at FROM payments_paymentorder ORDER BY id")
        for n, (order_no, transaction_id, amount, fee, paid_at) in enumerate(cursor, start=1):
            state = "SUCCESS"
            if n % SHARE == 1:
                injected.add(("local_only", order_no))
                continue
            if n % SHARE == 2:
                amount += Decimal("0.01")
                injected.add(("amount_mismatch", order_no))
            elif n % SHARE == 3:
                state = "PAYERROR"
                injected.add(("status_mismatch", order_no))
            elif n % SHARE == 4:
                fee += Decimal("0.01")
                injected.add(("fee_mismatch", order_no))
            lines = [(order_no, transaction_id, amount, fee, paid_at, state)]
            if n % SHARE == 5:
                extra = f"PX{n:023d}"
                lines.append((extra, f"43{n:026d}", Decimal("1.00"), Decimal("0.01"), paid_at, "SUCCESS"))
                injected.add(("channel_only", extra))
            for line in lines:
                out.write(_line(*line) + "\r\n")
                count += 1
                total += line[2]
                fees += line[3]
                orders += line[2]
        out.write(SUMMARY + "\r\n")
        summary = (count, f"{total:.2f}", "0.00", "0.00", f"{fees:.2f}", f"{orders:.2f}", "0.00")
        out.write(",".join(f"`{value}" for value in summary))
        out.write("\r\n")
    return injected


def _line(order_no, transaction_id, amount, fee, paid_at, state) -> str:
    fields = [
        paid_at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S"), "wxbench", "1900000001", "0", "", transaction_id,
        order_no, "o***x", "NATIVE", state, "OTHERS", "CNY", f"{amount:.2f}", "0.00", "0", "0", "0.00", "0.00", "",
        "", "Recharge", "", f"{fee:.2f}", "0.60%", f"{amount:.2f}", "0.00", "",
    ]  # fmt: skip
    return ",".join(f"`{field}" for field in fields)


def _child(kind: str, path: Path, url: str) -> dict:
    command = [sys.executable, __file__, "--child", kind, "--file", str(path), "--database-url", url]
    done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode:
        raise SystemExit(f"{kind} failed:\n{done.stdout}\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _run(path: Path) -> dict:
    from django.contrib.auth.models import User
    from django.db import connection

    from payments.channels.bills import BillKind
    from payments.channels.models import Channel
    from reconciliation import bills, services
    from reconciliation.models import BillFile, Discrepancy

    staff = User.objects.create_user("bench-staff", is_staff=True)
    channel = Channel.objects.get(code=CHANNEL)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (backend,) = cursor.fetchone()
    sampler = _Sampler(backend)
    rss_before = _rss_mb()
    started = time.perf_counter()
    imported = bills.bill_import(
        channel=channel,
        bill_date=DAY,
        kind=BillKind.TRADE,
        path=path,
        filename=path.name,
        source=BillFile.Source.UPLOAD,
        user=staff,
    )
    loaded = time.perf_counter()
    run = services.run_bill(
        run=services.run_open(channel=channel, bill_date=DAY, kind=BillKind.TRADE, user=staff), bill=imported.file
    )
    seconds = time.perf_counter() - started
    sampler.stop()
    if run.status != "succeeded":
        raise SystemExit(f"run failed: {run.error}")
    found = list(Discrepancy.objects.filter(run=run).values_list("kind", "order_no"))
    return {
        "seconds": seconds,
        "import_seconds": loaded - started,
        "rss_mb": _rss_mb(),
        "rss_before_mb": rss_before,
        "backend_anon_mb": sampler.peak_mb,
        "found": found,
        "matched": run.matched,
        "clearing_difference": str(run.clearing_difference),
    }


def _naive(path: Path) -> dict:
    """Every order of the day in a dict, the bill's lines compared against it."""
    from payments.channels.bills import BillKind, LineStatus, bill_parse
    from payments.orders.models import PaymentOrder

    started = time.perf_counter()
    ours = {
        order_no: (amount, fee)
        for order_no, amount, fee in PaymentOrder.objects.filter(channel__code=CHANNEL, status="success")
        .values_list("order_no", "amount", "fee")
        .iterator(chunk_size=20_000)
    }
    found = []
    with path.open("rb") as stream:
        for line in bill_parse("wechat_v3", stream, BillKind.TRADE):
            mine = ours.pop(line.order_no, None)
            if mine is None:
                found.append(("channel_only", line.order_no))
            elif line.status != LineStatus.SUCCESS:
                found.append(("status_mismatch", line.order_no))
            elif line.amount != mine[0]:
                found.append(("amount_mismatch", line.order_no))
            elif line.fee != mine[1]:
                found.append(("fee_mismatch", line.order_no))
    found.extend(("local_only", order_no) for order_no in ours)
    return {"seconds": time.perf_counter() - started, "rss_mb": _rss_mb(), "found": found}


class _Sampler:
    """The peak of a process's private resident memory, read from /proc every 50 ms."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak_mb, self._stopped = pid, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        status = Path(f"/proc/{self.pid}/status")
        while not self._stopped.wait(0.05):
            for text in status.read_text().splitlines():
                if text.startswith("RssAnon:"):
                    self.peak_mb = max(self.peak_mb, int(text.split()[1]) / 1024)

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join()


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _as_set(found: list) -> set[tuple[str, str]]:
    return {(item[0], item[1]) for item in found}


if __name__ == "__main__":
    main()
