"""HTTP load on the API: req/s, latency percentiles and errors per endpoint, through the real stack.

Creates its own database (dropped and recreated) and uses its own Redis database, then starts
gunicorn exactly as `make run` does (``-c config/gunicorn.conf.py``, the local demo's settings:
DEBUG off, the sandbox on this server) once for the working tree ("after") and, with
``--before-ref``, once more for that commit's tree (``git archive`` into a temporary directory:
"before"), both on the same database. Then, per endpoint, per user count (``--users``, default
16 and 64), per server, interleaved: a headless locust process (``bench/http_locust.py``,
``FastHttpUser``, no think time, one keep-alive connection per user) runs ``--run-time``
seconds against 127.0.0.1, and the bench prints requests per second, p50 / p90 / p99 / max and
errors from locust's stats, plus the CPU seconds locust, gunicorn and the rest of the machine
used meanwhile. The endpoints:

- ``withdrawal_submit``: POST /api/v1/withdrawals/ of 10.00, with a Payment-Token;
- ``transfer``: POST /api/v1/transfers/ of 1.00 to the user's own recipient, with a Payment-Token;
- ``payment_create``: POST /api/v1/recharges/ of 1.00 by WeChat Pay native: the server calls the
  sandbox (on itself, over HTTP, as in `make run`), which is told the payers never pay;
- ``payment_notify``: POST /api/v1/notify/wechat_pay/ of the signed success notifies of the
  orders the previous payment_create run opened on that server (built before the clock starts);
  once each has been sent, they repeat (the channel's retries: verified, already applied);
- ``wallet_read``: GET /api/v1/wallet/; ``statement_page``: GET /api/v1/wallet/entries/.

Every user has its own wallet (funded), payout account and recipient; single-use payment tokens
are stored in Redis before each run the way POST payment-password/token/ stores them (issuing
one checks the password with Django's deliberately slow hasher: that is the token endpoint's
cost, not the spending request's). The per-user throttles are raised for the bench's servers and
the risk rules' count and amount limits lifted (they are still evaluated).

Last, the slow channel: ``--stalls`` bank payouts (sent from this process, as a Celery worker
sends them) meet the sandbox's ``timeout`` scenario, which holds each one's request in the
server for 30 s, past CHANNEL_READ_TIMEOUT; while they hang, wallet reads are timed from 8
threads for 5 s. It ends with the ledger audit and exits 1 on a violation.

    .venv/bin/python bench/http_load.py [--before-ref COMMIT] [--users 16,64] [--run-time 15] [--endpoints ...]
"""

# ruff: noqa: E402 - the project's root goes on sys.path before the imports of its packages
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import argparse
import csv
import hashlib
import io
import json
import os
import resource
import statistics
import subprocess
import tarfile
import tempfile
import threading
import time
import uuid
from base64 import b64encode
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import psutil
import requests

from bench.payout import free_port, percentile, wait_for_port

ENDPOINTS = ["withdrawal_submit", "transfer", "payment_create", "payment_notify", "wallet_read", "statement_page"]
MONEY = {"withdrawal_submit", "transfer"}
FUNDING = Decimal("10000000.00")
STATEMENT_ROWS = 60  # a statement's first page is 50 rows
STALL_READERS = 8
STALL_READ_SECONDS = 5.0


@dataclass
class Server:
    label: str
    tree: Path
    port: int
    env: dict[str, str]
    process: subprocess.Popen | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def tree_of(ref: str, into: Path) -> Path:
    """The files of commit ``ref`` under ``into``, read from git without touching any checkout."""
    archive = subprocess.run(["git", "archive", ref], cwd=ROOT, check=True, capture_output=True).stdout  # noqa: S603, S607
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def server_start(server: Server, env: dict[str, str], work: Path, channel: str) -> None:
    """gunicorn as config/run.py starts it, with that tree's config; its access log is discarded,
    its error log kept in the scratch directory."""
    metrics_dir = work / f"metrics-{server.port}"
    metrics_dir.mkdir()
    server.process = subprocess.Popen(  # noqa: S603
        [
            *(sys.executable, "-m", "gunicorn", "--config", str(server.tree / "config" / "gunicorn.conf.py")),
            *("config.wsgi", "--bind", f"127.0.0.1:{server.port}"),
        ],
        cwd=server.tree,
        env=env
        | {
            "PUBLIC_BASE_URL": server.base,
            "SANDBOX_BASE_URL": f"{channel}/sandbox",
            "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
            "PYTHONPATH": str(server.tree),
        }
        | server.env,
        stdout=subprocess.DEVNULL,
        stderr=(work / f"server-{server.port}.log").open("w"),
        process_group=0,
    )
    wait_for_port(server.port, server.process)


def warm_up(server: Server, identity: dict) -> None:
    """Wallet reads from 16 threads until each worker loaded the application and each thread
    opened its database connection: the first requests of a new worker take seconds."""
    auth = {"Authorization": f"Token {identity['auth']}"}

    def reads() -> None:
        with requests.Session() as session:
            for _ in range(20):
                session.get(f"{server.base}/api/v1/wallet/", headers=auth, timeout=60).raise_for_status()

    threads = [threading.Thread(target=reads) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def server_cpu(server: Server) -> float:
    """CPU seconds of the gunicorn master and its workers so far."""
    assert server.process is not None
    master = psutil.Process(server.process.pid)
    total = 0.0
    for process in [master, *master.children(recursive=True)]:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def database_backends(database_url: str) -> dict[int, float]:
    """CPU seconds so far of each PostgreSQL backend connected to the bench's database (their
    process title names it), by process id."""
    name = f" {urlsplit(database_url).path.lstrip('/')} "
    backends = {}
    for process in psutil.process_iter(["name", "cmdline"]):
        if process.info["name"] == "postgres" and name in " ".join(process.info["cmdline"] or []) + " ":
            try:
                times = process.cpu_times()
            except psutil.NoSuchProcess:
                continue
            backends[process.pid] = times.user + times.system
    return backends


def database_cpu(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds the backends used between two looks: a backend that exited meanwhile is not
    counted (connections are kept 60 s, so few do), one that started is counted whole."""
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


def seed(users: int) -> list[dict]:
    """``users`` funded senders, each with a payout account, an API token, a recipient of its own
    and ``STATEMENT_ROWS`` rows of history; the risk limits lifted so they do not refuse."""
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from payments.sandbox.payment_engine import payment_rule_add
    from payments.withdrawals import services as withdrawals
    from risk.models import RiskRule
    from wallet import services as ledger

    RiskRule.objects.filter(kind="count_limit").update(count=10**9)
    RiskRule.objects.filter(kind="amount_limit").update(amount=Decimal("1000000000.00"))
    RiskRule.objects.filter(code="transfer_new_recipient_review").update(enabled=False)
    payment_rule_add(protocol="wechat_v3", scenario="never_pay")
    clearing = ledger.account_for_system(code="clearing:bench")
    User = get_user_model()
    identities = []
    for n in range(users):
        user = User.objects.create(username=f"bench{n}")
        recipient = User.objects.create(username=f"bench-recipient{n}")
        ledger.account_for_user(user=recipient)
        wallet = ledger.account_for_user(user=user)
        for k in range(STATEMENT_ROWS):
            amount = FUNDING if k == 0 else Decimal("1.00")
            ledger.transfer_post(
                idempotency_key=f"bench:{n}:{k}",
                kind="recharge",
                legs=[ledger.Leg(clearing, -amount), ledger.Leg(wallet, amount)],
            )
        card, _ = withdrawals.payout_account_bind(
            user=user, kind="bank_card", card_number="6222020200112233446", holder_name="Bench", bank_code="ICBC"
        )
        identities.append(
            {
                "user_id": user.pk,
                "auth": Token.objects.create(user=user).key,
                "payout_account": card.pk,
                "recipient": recipient.username,
            }
        )
    return identities


def payment_tokens_issue(identities: list[dict], per_user: int, ttl: int) -> None:
    """Single-use payment tokens in Redis, stored as payment_token_issue stores them."""
    from django_redis import get_redis_connection

    from wallet.payment_password.services import TOKEN_KEY_PREFIX

    redis = get_redis_connection("default")
    with redis.pipeline(transaction=False) as pipe:
        for identity in identities:
            identity["payment_tokens"] = [uuid.uuid4().hex for _ in range(per_user)]
            for token in identity["payment_tokens"]:
                key = TOKEN_KEY_PREFIX + hashlib.sha256(token.encode()).hexdigest()
                pipe.set(key, str(identity["user_id"]), ex=ttl)
        pipe.execute()


def notifies_build(opened: list[tuple[int, int]], count: int) -> list[tuple[dict[str, str], str]]:
    """The signed success notifies of the first ``count`` recharges with an id in the ``opened``
    ranges, as the sandbox would send them once paid (the channel's work, done before the clock
    starts)."""
    from payments.orders.models import PaymentOrder
    from payments.sandbox import payment_engine
    from payments.sandbox.keys import keys_for
    from payments.sandbox.models import SandboxPayment
    from payments.sandbox.protocols import protocol_module

    chosen = PaymentOrder.objects.filter(pk__in=opened_ids(opened)).order_by("pk")
    order_nos = list(chosen.values_list("order_no", flat=True)[:count])
    secrets = keys_for("wechat_v3")
    module = protocol_module("wechat_v3")
    notifies = []
    for payment in SandboxPayment.objects.filter(protocol="wechat_v3", order_no__in=order_nos):
        payment = payment_engine.payment_pay(payment_id=payment.pk)
        headers, body = module.payment_notify_build(payment, secrets, amount=payment.amount, forged=False)
        notifies.append((headers, b64encode(body).decode()))
    return notifies


def opened_ids(opened: list[tuple[int, int]]) -> list[int]:
    """The ids of the payment orders in the (after, up to) ranges."""
    from payments.orders.models import PaymentOrder

    ids: list[int] = []
    for after, up_to in opened:
        ids += PaymentOrder.objects.filter(pk__gt=after, pk__lte=up_to).order_by("pk").values_list("pk", flat=True)
    return ids


def last_order_id() -> int:
    from payments.orders.models import PaymentOrder

    return PaymentOrder.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


@dataclass
class Result:
    requests: int
    failures: int
    rps: float
    p50: float
    p90: float
    p99: float
    max: float
    locust_cpu: float
    server_cpu: float
    database_cpu: float
    busy_cpu: float
    errors: str

    @property
    def server_cpu_per_request(self) -> float:
        return self.server_cpu * 1000 / max(self.requests, 1)

    @property
    def database_cpu_per_request(self) -> float:
        return self.database_cpu * 1000 / max(self.requests, 1)


def locust_run(  # noqa: PLR0913 - one run's coordinates
    server: Server, endpoint: str, users: int, seconds: int, data: dict, work: Path, database_url: str
) -> Result:
    """One headless locust process against ``server``: its stats, and where the CPU went."""
    data_file = work / "data.json"
    data_file.write_text(json.dumps(data))
    prefix = work / f"{server.port}-{endpoint}-{users}"
    before_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    server_before = server_cpu(server)
    database_before = database_backends(database_url)
    machine_before = psutil.cpu_times()
    locust = subprocess.run(  # noqa: S603
        [
            *(sys.executable, "-m", "locust", "-f", str(ROOT / "bench" / "http_locust.py"), "--headless"),
            *("--host", server.base, "--users", str(users), "--spawn-rate", str(users)),
            *("--run-time", f"{seconds}s", "--json-file", str(prefix), "--csv", str(prefix)),
            *("--skip-log", "--loglevel", "ERROR", "--exit-code-on-error", "0"),
        ],
        cwd=ROOT,
        env=os.environ | {"BENCH_HTTP_DATA": str(data_file), "BENCH_HTTP_ENDPOINT": endpoint},
        check=False,
        capture_output=True,
        text=True,
    )
    if locust.returncode:
        raise SystemExit(f"locust failed:\n{locust.stderr[-3000:]}")
    machine_after = psutil.cpu_times()
    after_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    locust_cpu = (after_children.ru_utime + after_children.ru_stime) - (
        before_children.ru_utime + before_children.ru_stime
    )
    busy = sum(machine_after) - sum(machine_before) - (machine_after.idle - machine_before.idle)
    busy -= machine_after.iowait - machine_before.iowait
    stats = next((entry for entry in json.loads(Path(f"{prefix}.json").read_text()) if entry["num_requests"]), None)
    if stats is None:
        raise SystemExit(f"locust made no request:\n{locust.stdout[-2000:]}\n{locust.stderr[-3000:]}")
    # Locust keeps latencies rounded (to 10 ms above 100 ms, to 100 ms above 1 s), by count.
    latencies = sorted((int(ms), n) for ms, n in stats["response_times"].items())
    with open(f"{prefix}_failures.csv") as failures_file:  # noqa: PTH123
        errors = "; ".join(f"{r['Occurrences']}x {r['Error'][:100]}" for r in csv.DictReader(failures_file))
    return Result(
        requests=stats["num_requests"],
        failures=stats["num_failures"],
        rps=stats["num_requests"] / (stats["last_request_timestamp"] - stats["start_time"]),
        p50=_percentile_counted(latencies, 0.5),
        p90=_percentile_counted(latencies, 0.9),
        p99=_percentile_counted(latencies, 0.99),
        max=stats["max_response_time"],
        locust_cpu=locust_cpu,
        server_cpu=server_cpu(server) - server_before,
        database_cpu=database_cpu(database_before, database_backends(database_url)),
        busy_cpu=busy,
        errors=errors,
    )


def _percentile_counted(latencies: list[tuple[int, int]], share: float) -> float:
    """The latency below which ``share`` of the requests fell, from (latency, count) pairs."""
    rank = share * sum(n for _, n in latencies)
    seen = 0
    for milliseconds, n in latencies:
        seen += n
        if seen >= rank:
            return milliseconds
    return latencies[-1][0]


def summary_print(
    results: dict[tuple[str, int, str], list[Result]],
    servers: list[Server],
    endpoints: list[str],
    user_counts: list[int],
) -> None:
    """Per endpoint, user count and server: the median of the rounds' req/s and p99, and CPU per
    request over all rounds; then each server against the first, the load-independent CPU ratio first."""
    print("\nmedian of the rounds (req/s, p99 ms), CPU ms per request of the web server and the database:")
    for (endpoint, users, label), runs in results.items():
        requests_total = sum(run.requests for run in runs)
        print(
            f"  {endpoint:18} {users:3} users {label:22} {statistics.median(run.rps for run in runs):6.0f} req/s, "
            f"p99 {statistics.median(run.p99 for run in runs):5.0f}, errors {sum(run.failures for run in runs)}, "
            f"CPU/req web {sum(run.server_cpu for run in runs) * 1000 / requests_total:5.1f} "
            f"db {sum(run.database_cpu for run in runs) * 1000 / requests_total:4.1f}"
        )
    if len(servers) < 2:
        return
    reference = servers[0].label
    print(f"\nagainst {reference}: web CPU per request, req/s (medians), p99")
    for endpoint in endpoints:
        for users in user_counts:
            old = results[(endpoint, users, reference)]
            old_cpu = sum(run.server_cpu for run in old) / sum(run.requests for run in old)
            parts = []
            for server in servers[1:]:
                new = results[(endpoint, users, server.label)]
                new_cpu = sum(run.server_cpu for run in new) / sum(run.requests for run in new)
                rps = statistics.median(run.rps for run in new) / statistics.median(run.rps for run in old)
                p99 = statistics.median(run.p99 for run in old), statistics.median(run.p99 for run in new)
                parts.append(
                    f"{server.label}: CPU {new_cpu / old_cpu:.2f}x, req/s {rps:.2f}x, p99 {p99[0]:.0f} -> {p99[1]:.0f}"
                )
            print(f"  {endpoint:18} {users:3} users: " + "; ".join(parts))


def stall_check(server: Server, identity: dict, stalls: int) -> str:
    """``stalls`` bank payouts meet the sandbox's ``timeout`` scenario (each holds one of the
    server's threads for 30 s, as a Celery worker's payout would); meanwhile wallet reads."""
    from django.test import override_settings

    from payments.channels import registry
    from payments.channels.base import PayoutRequest
    from payments.channels.models import Channel
    from payments.sandbox.engine import rule_add

    rule_add(protocol="bank", scenario="timeout", remaining=stalls)
    with override_settings(SANDBOX_BASE_URL=f"{server.base}/sandbox"):
        adapter = registry.payout_adapter(Channel.objects.get(code="bank"))
    outcomes: list[tuple[str, float]] = []

    def payout(n: int) -> None:
        started = time.perf_counter()
        request = PayoutRequest(
            order_no=f"STALL{uuid.uuid4().hex[:12]}{n}",
            amount=Decimal("1.00"),
            currency="CNY",
            payee="6222020200112233446",
            payee_name="Bench",
            bank_code="ICBC",
            remark="stall",
            notify_url=f"{server.base}/api/v1/notify/bank/",
        )
        try:
            outcome = str(adapter.payout(request).state)
        except Exception as error:  # noqa: BLE001 - the channel's timeout is the expected outcome
            outcome = type(error).__name__
        outcomes.append((outcome, time.perf_counter() - started))

    hanging = [threading.Thread(target=payout, args=(n,)) for n in range(stalls)]
    for thread in hanging:
        thread.start()
    time.sleep(1)
    auth = {"Authorization": f"Token {identity['auth']}"}
    latencies: list[float] = []
    failed = [0]
    lock = threading.Lock()
    deadline = time.perf_counter() + STALL_READ_SECONDS

    def read() -> None:
        session = requests.Session()
        mine, bad = [], 0
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                bad += session.get(f"{server.base}/api/v1/wallet/", headers=auth, timeout=10).status_code != 200
            except requests.RequestException:
                bad += 1
            mine.append((time.perf_counter() - started) * 1000)
        with lock:
            latencies.extend(mine)
            failed[0] += bad

    readers = [threading.Thread(target=read) for _ in range(STALL_READERS)]
    for thread in readers:
        thread.start()
    for thread in readers:
        thread.join()
    reads = (
        f"wallet reads from {STALL_READERS} threads meanwhile: {len(latencies)} in {STALL_READ_SECONDS:.0f} s "
        f"= {len(latencies) / STALL_READ_SECONDS:.0f}/s, p50 {percentile(latencies, 0.5):.0f} ms, "
        f"p99 {percentile(latencies, 0.99):.0f} ms, max {max(latencies):.0f} ms, errors {failed[0]}"
    )
    for thread in hanging:
        thread.join()
    kinds = sorted({outcome for outcome, _ in outcomes})
    return (
        f"{server.label}: {stalls} payouts held by the channel (the caller gave up with {kinds} after "
        f"{max(seconds for _, seconds in outcomes):.0f} s); {reads}"
    )


def main() -> None:  # noqa: PLR0915 - one linear script
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before-ref", help="also measure this commit's tree, interleaved with the working tree's")
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        help="also the working tree with other settings, e.g. 'w4t4:WEB_CONCURRENCY=4,WEB_THREADS=4' (repeatable)",
    )
    parser.add_argument("--users", default="16,64", help="concurrent users, comma-separated")
    parser.add_argument("--run-time", type=int, default=10, help="seconds per locust run")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds; the summary takes medians")
    parser.add_argument("--endpoints", default=",".join(ENDPOINTS))
    parser.add_argument("--stalls", type=int, default=4, help="payouts the channel holds at once")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/wallet_bench_http")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/10")
    args = parser.parse_args()
    user_counts = [int(n) for n in args.users.split(",")]
    endpoints = args.endpoints.split(",")

    from config.keys import keys_generate

    token_ttl = 3600
    # Fresh secrets, as a deployment has; the local demo's settings, as `make run` sets them.
    env = (
        keys_generate(key_id="bench1")
        | os.environ
        | {
            "DATABASE_URL": args.database_url,
            "REDIS_URL": args.redis_url,
            "CELERY_BROKER_URL": args.redis_url,
            "CACHE_KEY_PREFIX": "bench",
            "SANDBOX_ENABLED": "true",
            "WALLET_LOCAL_DEMO": "true",
            "DJANGO_DEBUG": "false",
            "WITHDRAWAL_SUBMIT_RATE": "1000000/minute",
            "PAYMENT_CREATE_RATE": "1000000/minute",
            "PAYMENT_TOKEN_TTL_SECONDS": str(token_ttl),
            "DJANGO_SETTINGS_MODULE": "config.settings",
        }
    )
    os.environ.update(env)
    from bench.databases import bench_prepare

    bench_prepare(args.database_url, args.redis_url)

    from wallet.audit import ledger_audit

    started = time.perf_counter()
    identities = seed(max(user_counts))
    print(f"seeded {len(identities)} users in {time.perf_counter() - started:.0f} s", flush=True)

    with tempfile.TemporaryDirectory(prefix="bench-http-") as scratch:
        work = Path(scratch)
        channel = Server("channel", ROOT, free_port(), {})
        servers = [Server("after", ROOT, free_port(), {})]
        if args.before_ref:
            before = tree_of(args.before_ref, work / "before")
            servers.insert(0, Server(f"before ({args.before_ref[:10]})", before, free_port(), {}))
        for variant in args.variant:
            label, _, assignments = variant.partition(":")
            settings = dict(assignment.split("=", 1) for assignment in assignments.split(","))
            servers.append(Server(label, ROOT, free_port(), settings))
        try:
            # The channel's side of payment creates: a server of its own, as a real channel is.
            # In `make run` the sandbox shares the API's threads: a create holds one while its
            # sandbox call waits for another, so as many concurrent creates as threads stall
            # every thread until the channel's read timeout (docs/PERFORMANCE.md).
            server_start(channel, env, work, channel.base)
            for server in servers:
                server_start(server, env, work, channel.base)
                warm_up(server, identities[0])
            results: dict[tuple[str, int, str], list[Result]] = {}
            # The orders each server's payment_create runs opened, for its notify runs: each
            # server gets as many first-time notifies as the slowest one opened.
            opened: dict[str, list[tuple[int, int]]] = {server.label: [] for server in servers}
            built: dict[str, list[tuple[dict[str, str], str]]] = {}
            print(
                f"\n{'endpoint':18} {'users':>5} {'server':22} {'req/s':>6} {'p50':>5} {'p90':>5} {'p99':>5} "
                f"{'max':>6} {'errors':>6}  {'CPU ms/req: web':>15} {'db':>5}  {'locust share':>12}  load",
                flush=True,
            )
            for _ in range(args.rounds):
                for endpoint in endpoints:
                    for users in user_counts:
                        for server in servers:
                            data: dict[str, Any] = {"identities": identities[:users], "notifies": []}
                            if endpoint in MONEY:
                                payment_tokens_issue(data["identities"], args.run_time * 1500 // users + 50, token_ttl)
                            if endpoint == "payment_notify":
                                # Once every server sent its new ones, the next runs repeat them.
                                if fewest := min(len(opened_ids(ranges)) for ranges in opened.values()):
                                    built[server.label] = notifies_build(opened[server.label], fewest)
                                    if server is servers[-1]:
                                        opened = {label: [] for label in opened}
                                data["notifies"] = built.get(server.label, [])
                            start = last_order_id()
                            result = locust_run(server, endpoint, users, args.run_time, data, work, args.database_url)
                            if endpoint == "payment_create":
                                opened[server.label].append((start, last_order_id()))
                            results.setdefault((endpoint, users, server.label), []).append(result)
                            print(
                                f"{endpoint:18} {users:5} {server.label:22} {result.rps:6.0f} {result.p50:5.0f} "
                                f"{result.p90:5.0f} {result.p99:5.0f} {result.max:6.0f} {result.failures:6}  "
                                f"{result.server_cpu_per_request:15.1f} {result.database_cpu_per_request:5.1f}  "
                                f"{result.locust_cpu / result.busy_cpu:12.0%}  {os.getloadavg()[0]:.1f}"
                                + (f" ({len(data['notifies'])} notifies, then repeated)" if data["notifies"] else "")
                                + (f"\n    errors: {result.errors}" if result.errors else ""),
                                flush=True,
                            )
            summary_print(results, servers, endpoints, user_counts)
            if args.stalls:
                print("\nslow channel:")
                for server in servers:
                    print("  " + stall_check(server, identities[0], args.stalls), flush=True)
        finally:
            for server in [*servers, channel]:
                if server.process is not None:
                    server.process.terminate()
            for server in [*servers, channel]:
                if server.process is not None:
                    server.process.wait(60)

    violations = ledger_audit()
    print(f"\nledger audit: {violations or 'clean'}\nload average after: {os.getloadavg()}")
    if violations:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
