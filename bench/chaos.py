"""Chaos drill: withdrawals and payment orders through the whole stack while its processes die.

Everything runs on scratch servers this drill starts under ``--var-dir`` (never the machine's):
an embedded PostgreSQL and two Redis servers (config/embedded.py), one the cache (rate limits,
dispatch markers, locks) and one the Celery broker, all on unix sockets; gunicorn with
config/gunicorn.conf.py (the sandbox channels and our notify endpoints) and ``--workers`` Celery
worker processes (prefork). Then:

1. ``--withdrawals`` withdrawals (bank cards and WeChat openids, submitted and approved from
   this process) and ``--payments`` WeChat Pay recharges (opened at the sandbox over HTTP; the
   sandbox pays them and notifies us back over HTTP from the workers), ``--fault-share`` of each
   with a sandbox fault: for payouts fail, slow, timeout, server error, dropped response,
   duplicate and late notifies, processing, bank return; for payments a late payer, a payer who
   never pays, duplicate, wrong-amount, badly signed and missing notifies;
2. meanwhile every ``--kill-every`` seconds SIGKILL a random worker's pool process, or the whole
   worker (restarted at once), now and then a gunicorn worker; once each: restart the cache
   Redis, the broker and PostgreSQL (stop, a few seconds, start);
3. the drill runs the sweeps itself, every few seconds, at a compressed horizon: their grace
   periods are taken as "approved 15 s" (1 min in production), "processing 30 s" (10 min),
   "dispatch queued 60 s" (15 min) by passing the sweeps a clock moved forward by the
   difference; payment orders expire after PAYMENT_ORDER_TTL_MINUTES=1 (30 in production);
4. after the last fault it waits up to ``--horizon`` seconds for every order to be final, then
   checks: no order lost (not final), no double payout (a payout paid for an order that did not
   succeed, or two ledger captures of one order), no double credit (two credits of one payment,
   a credit of an order not successful, a paid payment not credited), ``ledger_audit``, the
   reconciliation of the day's bills downloaded from the sandbox (each channel, each kind) and
   the internal reconciliation. Prints a table; exits 1 on any violation.

    .venv/bin/python bench/chaos.py [--withdrawals 10000] [--payments 10000] [--workers 3]
"""

import argparse
import contextlib
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.payout import free_port, wait_for_port  # noqa: E402
from config.embedded import EmbeddedPostgres, EmbeddedRedis, database_create  # noqa: E402

DATABASE = "chaos_bench"
USERS = 100
# The drill's sweep horizon, against production's graces (payments.withdrawals.payouts, .dispatch).
APPROVED_GRACE = timedelta(seconds=15)
PROCESSING_GRACE = timedelta(seconds=30)
QUEUED_GRACE = timedelta(seconds=60)
# A channel notifies until it is acknowledged; the sandbox's notify tasks run in the workers the
# drill kills. A payout whose planned notify is this overdue gets it again, from the drill.
REDELIVER_AFTER = timedelta(seconds=45)
# A worker younger than this is left alone: one whose pool dies while starting gives up.
WORKER_SETTLE_SECONDS = 10.0
SWEEP_EVERY = 5.0
READ_TIMEOUT = 3.0  # the adapters' CHANNEL_READ_TIMEOUT in the drill; the sandbox's timeouts outlast it
PAYOUT_FAULTS = [
    # (scenario, delay seconds, requests the rule applies to: None for the first decisive one)
    ("fail", 0, None),
    ("slow", 1.0, None),
    ("timeout", READ_TIMEOUT + 1, 1),
    ("server_error", 0, 1),
    ("drop_response", 0, None),
    ("duplicate_notify", 0, None),
    ("late_notify", 15.0, None),
    ("process", 3.0, None),
    ("return", 2.0, None),
]
# WeChat transfers have no bank return (payments/sandbox/wechat_v3.py): that one is the bank's.
WECHAT_PAYOUT_FAULTS = [fault for fault in PAYOUT_FAULTS if fault[0] != "return"]
PAYMENT_FAULTS = [
    ("pay_late", 10.0),
    ("never_pay", 0),
    ("duplicate_notify", 0),
    ("wrong_amount_notify", 0),
    ("bad_signature_notify", 0),
    ("paid_without_notify", 0),
]


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S', time.gmtime())} UTC] {message}", flush=True)


class Stack:
    """The scratch servers and the processes of the product, each stoppable and startable."""

    def __init__(self, var: Path, *, workers: int, concurrency: int) -> None:
        self.var = var
        self.logs = var / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.postgres = EmbeddedPostgres(var / "pg")
        self.cache = EmbeddedRedis(var / "cache")
        self.broker = EmbeddedRedis(var / "broker")
        self.port = free_port()
        self.concurrency = concurrency
        self.web: subprocess.Popen | None = None
        self.workers: list[subprocess.Popen | None] = [None] * workers
        self.worker_started = [0.0] * workers
        self.env: dict[str, str] = {}
        self.stopping = False

    def servers_start(self) -> None:
        self.postgres.start()
        database_create(self.postgres.url(DATABASE))
        self.cache.start()
        self.broker.start()

    def web_start(self) -> None:
        self.web = self._spawn(
            "web",
            [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.conf.py", "config.wsgi"]
            + ["--bind", f"127.0.0.1:{self.port}"],
        )
        wait_for_port(self.port, self.web)

    def worker_start(self, n: int) -> None:
        if self.stopping:
            return  # the chaos thread may still be running while the drill stops
        self.worker_started[n] = time.monotonic()
        self.workers[n] = self._spawn(
            f"worker{n}",
            [sys.executable, "-m", "celery", "-A", "config", "worker", "--hostname", f"chaos{n}@%h"]
            + ["--pool", "prefork", "--concurrency", str(self.concurrency), "--loglevel", "WARNING"]
            + ["--without-heartbeat", "--without-mingle", "--without-gossip"],
        )

    def _spawn(self, name: str, command: list[str]) -> subprocess.Popen:
        with (self.logs / f"{name}.log").open("ab") as out:
            # Its own process group, so a kill takes the pool processes with it.
            return subprocess.Popen(  # noqa: S603
                command, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT, process_group=0
            )

    def stop(self) -> None:
        self.stopping = True
        for process in [*self.workers, self.web]:
            if process is not None and process.poll() is None:
                process.terminate()
        for process in [*self.workers, self.web]:
            if process is not None:
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
        for server in (self.broker, self.cache, self.postgres):
            server.stop()


class Chaos(threading.Thread):
    """Kills a worker every few seconds; restarts the cache Redis, the broker and PostgreSQL
    once each, when the orders made reach a quarter, a half and three quarters."""

    def __init__(self, stack: Stack, *, every: float, progress: Callable[[], float]) -> None:
        super().__init__(daemon=True)
        self.stack = stack
        self.every = every
        self.progress = progress
        self.done = threading.Event()
        self.counts: Counter[str] = Counter()
        self.restarts: list[tuple[float, str, EmbeddedPostgres | EmbeddedRedis]] = [
            (0.25, "redis", stack.cache),
            (0.5, "broker", stack.broker),
            (0.75, "postgres", stack.postgres),
        ]

    def run(self) -> None:
        rng = random.Random(7)  # noqa: S311 - a drill, not security
        while not self.done.wait(self.every):
            for n, process in enumerate(self.stack.workers):
                if process is not None and process.poll() is not None:
                    self.stack.worker_start(n)  # died of its own: counted apart
                    self.counts["worker died by itself"] += 1
            self._kill(rng)
            if self.restarts and self.progress() >= self.restarts[0][0]:
                _, name, server = self.restarts.pop(0)
                self._restart(name, server)

    def _kill(self, rng: random.Random) -> None:
        roll = rng.random()
        if roll < 0.15 and self.stack.web is not None:
            children = psutil.Process(self.stack.web.pid).children()
            if children:
                rng.choice(children).kill()  # the master forks another
                self.counts["gunicorn worker SIGKILLed"] += 1
            return
        n = rng.randrange(len(self.stack.workers))
        worker = self.stack.workers[n]
        if worker is None or time.monotonic() - self.stack.worker_started[n] < WORKER_SETTLE_SECONDS:
            return
        children = psutil.Process(worker.pid).children()
        if roll < 0.6 and children:
            rng.choice(children).kill()  # the worker's master sees it die and forks another
            self.counts["worker pool process SIGKILLed"] += 1
        else:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
            self.stack.worker_start(n)
            self.counts["worker SIGKILLed (whole) and restarted"] += 1

    def _restart(self, name: str, server: EmbeddedPostgres | EmbeddedRedis) -> None:
        log(f"chaos: stopping {name}")
        server.stop()
        time.sleep(4)
        server.start()
        self.counts[f"{name} restarted"] += 1
        log(f"chaos: {name} is back")

    def finished(self) -> bool:
        return not self.restarts


def persist(step: Callable, errors: Counter, /, *args, attempts: int = 60, **kwargs):
    """Run ``step(*args, **kwargs)`` until the database, the cache or the broker answers again;
    the steps are idempotent (idempotency keys, state checks), so running one twice is safe."""
    import kombu.exceptions
    import redis
    from django.db import DatabaseError, connection

    for attempt in range(attempts):
        try:
            return step(*args, **kwargs)
        except (DatabaseError, redis.RedisError, kombu.exceptions.OperationalError, OSError) as exc:
            errors[type(exc).__name__] += 1
            if attempt == attempts - 1 or connection.in_atomic_block:
                raise
            connection.close()
            time.sleep(1)
    return None


def setup(args: argparse.Namespace) -> dict:
    """Users, funds, payout accounts and the channels' limits for the drill."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from payments.channels.models import Channel
    from payments.withdrawals import services
    from risk.models import RiskRule

    RiskRule.objects.update(enabled=False)
    RiskRule.objects.filter(code="large_amount_review").update(enabled=True, amount=Decimal("0.01"))
    Channel.objects.filter(payout_account_kind__in=["bank_card", "wechat_openid"]).update(
        rate_limit_per_second=args.rate_limit
    )
    users, accounts = [], []
    for n in range(USERS):
        user = get_user_model().objects.create(username=f"chaos{n}")
        _fund(user, Decimal(20 * (args.withdrawals // USERS + 1)))
        card, _ = services.payout_account_bind(
            user=user, kind="bank_card", card_number="6222020200112233446", holder_name="Chaos", bank_code="ICBC"
        )
        openid, _ = services.payout_account_bind(user=user, kind="wechat_openid", openid=f"oChaosDrill{n:06d}")
        users.append(user)
        accounts.append((card, openid))
    reviewer = get_user_model().objects.create(username="chaos-reviewer", is_staff=True)
    reviewer.groups.add(Group.objects.get(name="finance_reviewer"))
    return {"users": users, "accounts": accounts, "reviewer": reviewer}


def _fund(user, amount: Decimal) -> None:
    """A recharge paid at the sandbox and found paid by a query: real money in, which the
    internal reconciliation can explain (a bare ledger transfer it could not). The first ones
    wait for the sandbox to make its keys."""
    from payments.orders import services as orders
    from wallet import errors as app_errors

    for _ in range(10):
        try:
            order = orders.payment_order_create(
                user=user,
                business_type="recharge",
                method="wechat_native",
                amount=amount,
                client_type="web",
                idempotency_key="chaos-funding",
            ).order
            if orders.payment_order_sync(order=order).status == "success":
                return
        except app_errors.ChannelUnavailable:
            time.sleep(1)
    raise SystemExit(f"the funding recharge of {user} was not paid")


def withdrawals_make(count: int, share: float, world: dict, made: Counter, errors: Counter) -> None:
    from payments.sandbox.engine import rule_add
    from payments.withdrawals import services

    rng = random.Random(11)  # noqa: S311
    for n in range(count):
        withdrawal = persist(
            services.withdrawal_submit,
            errors,
            user=world["users"][n % USERS],
            payout_account=world["accounts"][n % USERS][n % 2],
            amount=Decimal(rng.randrange(500, 2000)) / 100,
            idempotency_key=f"chaos-w{n}",
        ).withdrawal
        if rng.random() < share:
            faults = PAYOUT_FAULTS if withdrawal.channel.adapter == "bank" else WECHAT_PAYOUT_FAULTS
            scenario, delay, remaining = rng.choice(faults)
            persist(
                rule_add,
                errors,
                protocol=withdrawal.channel.adapter,
                scenario=scenario,
                order_no=withdrawal.order_no,
                delay_seconds=delay,
                remaining=remaining,
            )
            made[f"w:{scenario}"] += 1
        persist(_approve, errors, withdrawal.pk, world["reviewer"])
        made["withdrawals"] += 1


def _approve(withdrawal_id: int, reviewer) -> None:
    from payments.withdrawals import services
    from payments.withdrawals.models import Withdrawal, WithdrawalStatus
    from wallet import errors as app_errors

    withdrawal = Withdrawal.objects.get(pk=withdrawal_id)
    if withdrawal.status == WithdrawalStatus.PENDING:
        # Conflict: approved by an attempt whose answer a dropped connection hid from us.
        with contextlib.suppress(app_errors.Conflict):
            services.withdrawal_approve(withdrawal=withdrawal, actor=reviewer)


def payments_make(count: int, share: float, world: dict, made: Counter, errors: Counter) -> None:
    from payments.sandbox.payment_engine import payment_rule_add

    rng = random.Random(13)  # noqa: S311
    for n in range(count):
        if rng.random() < share:
            scenario, delay = rng.choice(PAYMENT_FAULTS)
            # A rule for any order, used up by the next one opened (this thread opens them all).
            persist(payment_rule_add, errors, protocol="wechat_v3", scenario=scenario, delay_seconds=delay, remaining=1)
            made[f"p:{scenario}"] += 1
        amount = Decimal(rng.randrange(100, 5000)) / 100
        persist(_payment_open, errors, world["users"][n % USERS], amount, f"chaos-p{n}", errors)
        made["payments"] += 1


def _payment_open(user, amount: Decimal, key: str, errors: Counter) -> None:
    """A recharge opened at the sandbox; asked again (same key) while the channel does not
    answer, left to the expiry sweep after three tries."""
    from payments.orders import services as orders
    from wallet import errors as app_errors

    for _ in range(3):
        try:
            orders.payment_order_create(
                user=user,
                business_type="recharge",
                method="wechat_native",
                amount=amount,
                client_type="web",
                idempotency_key=key,
            )
            return
        except app_errors.ChannelUnavailable:
            errors["ChannelUnavailable"] += 1
            time.sleep(1)


class Sweeper(threading.Thread):
    """The sweeps beat runs in production, at the drill's compressed horizon."""

    def __init__(self, errors: Counter) -> None:
        super().__init__(daemon=True)
        self.done = threading.Event()
        self.errors = errors
        self.counts: Counter[str] = Counter()

    def run(self) -> None:
        from django.db import connection

        while not self.done.wait(SWEEP_EVERY):
            try:
                self.sweep()
            except Exception as exc:  # noqa: BLE001 - a sweep that fails runs again next time, as under beat
                self.errors[f"sweep: {type(exc).__name__}"] += 1
                connection.close()

    def sweep(self) -> None:
        from django.utils import timezone

        from payments.orders.services import payment_orders_expire
        from payments.withdrawals import dispatch, payouts
        from wallet.task_queue import task_enqueue

        now = timezone.now()
        stuck = payouts.approved_stuck_ids(now=now + payouts.APPROVED_GRACE - APPROVED_GRACE)
        lost = dispatch.dispatch_not_queued(stuck, now=now + dispatch.QUEUED_GRACE - QUEUED_GRACE)
        for withdrawal_id in lost:
            dispatch.dispatch_enqueue(withdrawal_id)
        self.counts["approved re-sent"] += len(lost)
        for withdrawal_id in payouts.processing_stuck_ids(now=now + payouts.PROCESSING_GRACE - PROCESSING_GRACE):
            task_enqueue("payments.withdrawal_check", withdrawal_id)
            self.counts["processing queried"] += 1
        self.counts["payments expired or found paid"] += payment_orders_expire(limit=1000)
        self.counts["channel notifies redelivered"] += channel_redeliver(now)


def channel_redeliver(now) -> int:
    """Play the channel's notify again for payouts whose notify is overdue: still processing
    at the sandbox (PROCESS, LATE_NOTIFY), or a bank return (RETURN) not yet returned there or
    not yet refunded here (the sandbox stops after four tries; a channel keeps notifying until
    acknowledged). The sandbox's own task runs here: it settles the payout and POSTs the notify
    to our endpoint."""
    from payments.sandbox.models import SandboxPayout, Scenario
    from payments.sandbox.tasks import sandbox_notify
    from payments.withdrawals.models import Withdrawal, WithdrawalStatus

    overdue = SandboxPayout.objects.filter(created_at__lt=now - REDELIVER_AFTER)
    refunded = Withdrawal.objects.filter(status=WithdrawalStatus.REFUNDED).values("order_no")
    settling = overdue.filter(
        state=SandboxPayout.State.PROCESSING, scenario__in=[Scenario.PROCESS, Scenario.LATE_NOTIFY]
    )
    returning = overdue.filter(scenario=Scenario.RETURN).exclude(
        state=SandboxPayout.State.RETURNED, order_no__in=refunded
    )
    due = [
        *((pk, SandboxPayout.State.SUCCESS) for pk in settling.values_list("pk", flat=True)),
        *((pk, SandboxPayout.State.RETURNED) for pk in returning.values_list("pk", flat=True)),
    ]
    for pk, state in due:
        sandbox_notify.apply(args=[pk, state])
    return len(due)


def finality() -> tuple[int, int]:
    from payments.orders.models import PaymentOrder
    from payments.withdrawals.models import Withdrawal
    from payments.withdrawals.payouts import NON_FINAL

    return (
        Withdrawal.objects.filter(status__in=NON_FINAL).count(),
        PaymentOrder.objects.filter(status__in=PaymentOrder.OPEN_STATUSES).count(),
    )


def checks() -> dict[str, Any]:
    """The drill's verdicts, from the database and the sandbox's books."""
    from django.db.models import Count
    from django.utils import timezone

    from payments.channels.models import Channel
    from payments.orders.models import PaymentOrder
    from payments.sandbox.models import SandboxPayment, SandboxPayout
    from payments.withdrawals.models import Withdrawal, WithdrawalStatus
    from payments.withdrawals.payouts import NON_FINAL
    from reconciliation import internal, services
    from reconciliation.models import Run
    from wallet.audit import ledger_audit
    from wallet.models import Transfer

    result: dict[str, Any] = {}
    result["withdrawals by status"] = dict(Withdrawal.objects.values_list("status").annotate(n=Count("id")))
    result["payments by status"] = dict(PaymentOrder.objects.values_list("status").annotate(n=Count("id")))
    result["lost (not final)"] = (
        Withdrawal.objects.filter(status__in=NON_FINAL).count()
        + PaymentOrder.objects.filter(status__in=PaymentOrder.OPEN_STATUSES).count()
    )
    paid_out = set(SandboxPayout.objects.filter(state__in=["success", "returned"]).values_list("order_no", flat=True))
    kept = set(
        Withdrawal.objects.filter(status__in=[WithdrawalStatus.SUCCESS, WithdrawalStatus.REFUNDED]).values_list(
            "order_no", flat=True
        )
    )
    captures = Transfer.objects.filter(kind="withdrawal").values("memo").annotate(n=Count("id")).filter(n__gt=1).count()
    result["double payouts"] = len(paid_out - kept) + captures
    result["succeeded, not paid out"] = len(kept - paid_out)
    credits = Counter(
        key.removeprefix("payment:")
        for key in Transfer.objects.filter(idempotency_key__startswith="payment:")
        .exclude(idempotency_key__endswith=":reversal")
        .values_list("idempotency_key", flat=True)
    )
    succeeded = set(PaymentOrder.objects.filter(status="success").values_list("order_no", flat=True))
    paid = set(SandboxPayment.objects.filter(state="paid").values_list("order_no", flat=True))
    result["double credits"] = sum(1 for n in credits.values() if n > 1) + len(set(credits) - succeeded)
    result["paid, not credited"] = len(paid - set(credits)) + len(succeeded - set(credits))
    result["ledger_audit"] = ledger_audit() or "clean"
    today = timezone.localdate()
    runs = []
    for channel in Channel.objects.filter(enabled=True).order_by("code"):
        for kind in services.channel_kinds(channel):
            run = services.run_download(run=services.run_open(channel=channel, bill_date=today, kind=kind))
            run = Run.objects.get(pk=run.pk)
            differences = run.local_only + run.channel_only + run.amount_mismatch + run.status_mismatch
            differences += run.fee_mismatch
            clean = run.status == Run.Status.SUCCEEDED and not differences and not run.clearing_difference
            runs.append(
                f"{channel.code}/{kind}: {run.status}, {run.matched} matched, {differences} differences, "
                f"clearing {run.clearing_difference or 0}" + ("" if clean else f" NOT CLEAN {run.error[:200]}")
            )
    result["reconciliation of the day"] = runs
    result["internal reconciliation"] = [str(d) for d in internal.internal_differences(day=today)] or "clean"
    return result


def violations(result: dict[str, Any]) -> list[str]:
    bad = [
        name for name in ("lost (not final)", "double payouts", "double credits", "paid, not credited") if result[name]
    ]
    bad += [name for name in ("ledger_audit", "internal reconciliation") if result[name] != "clean"]
    bad += [line for line in result["reconciliation of the day"] if "NOT CLEAN" in line]
    return bad


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--withdrawals", type=int, default=10_000)
    parser.add_argument("--payments", type=int, default=10_000)
    parser.add_argument("--fault-share", type=float, default=0.2)
    parser.add_argument("--workers", type=int, default=3, help="Celery worker processes")
    parser.add_argument("--concurrency", type=int, default=2, help="pool processes of each worker")
    parser.add_argument("--kill-every", type=float, default=5.0, help="seconds between kills")
    parser.add_argument("--rate-limit", type=int, default=200, help="payouts per second of each payout channel")
    parser.add_argument(
        "--horizon", type=float, default=600.0, help="seconds after the chaos for every order to be final"
    )
    parser.add_argument(
        "--var-dir",
        default=str(Path(tempfile.gettempdir()) / "wallet-chaos"),
        help="scratch servers' data (wiped at start)",
    )
    args = parser.parse_args()

    var = Path(args.var_dir)
    if var.exists():
        shutil.rmtree(var)
    stack = Stack(var, workers=args.workers, concurrency=args.concurrency)
    started = time.monotonic()
    try:
        stack.servers_start()
        drill(stack, args, started)
    finally:
        stack.stop()


def drill(stack: Stack, args: argparse.Namespace, started: float) -> None:
    from config.keys import keys_generate

    base = f"http://127.0.0.1:{stack.port}"
    stack.env = (
        keys_generate(key_id="chaos1")
        | {key: value for key, value in os.environ.items() if not key.startswith(("DATABASE_", "REDIS_", "CELERY_"))}
        | {
            "DATABASE_URL": stack.postgres.url(DATABASE),
            "REDIS_URL": stack.cache.url(),
            "CELERY_BROKER_URL": stack.broker.broker_url(),
            "CACHE_KEY_PREFIX": "chaos",
            "PUBLIC_BASE_URL": base,
            "SANDBOX_ENABLED": "true",
            "SANDBOX_BASE_URL": f"{base}/sandbox",
            "DJANGO_DEBUG": "true",  # the sandbox and plain HTTP run only in DEBUG (config.checks)
            "LOG_LEVEL": "WARNING",
            "CHANNEL_READ_TIMEOUT": str(READ_TIMEOUT),
            "PAYOUT_RETRY_BASE_SECONDS": "1",
            "PAYMENT_ORDER_TTL_MINUTES": "1",
            "PAYMENT_CREATE_RATE": "1000000/minute",
            "WEB_CONCURRENCY": "2",
            "WEB_THREADS": "8",
            "DJANGO_SETTINGS_MODULE": "config.settings",
        }
    )
    os.environ.update(stack.env)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    stack.web_start()
    world = setup(args)
    log(f"scratch servers under {stack.var}; web on {base}; {args.workers} workers x {args.concurrency}")
    for n in range(len(stack.workers)):
        stack.worker_start(n)

    made: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    total = args.withdrawals + args.payments
    chaos = Chaos(stack, every=args.kill_every, progress=lambda: (made["withdrawals"] + made["payments"]) / total)
    sweeper = Sweeper(errors)
    makers = [
        threading.Thread(target=withdrawals_make, args=(args.withdrawals, args.fault_share, world, made, errors)),
        threading.Thread(target=payments_make, args=(args.payments, args.fault_share, world, made, errors)),
    ]
    for thread in [chaos, sweeper, *makers]:
        thread.start()
    chaos_end = None
    while True:
        time.sleep(10)
        open_w, open_p = persist(finality, errors)
        making = any(thread.is_alive() for thread in makers)
        log(
            f"made {made['withdrawals']}/{args.withdrawals} withdrawals, {made['payments']}/{args.payments} payments; "
            f"not final: {open_w} withdrawals, {open_p} payments; chaos: {dict(chaos.counts)}; "
            f"load {os.getloadavg()[0]:.1f}"
        )
        if chaos_end is None and not making and chaos.finished():
            chaos.done.set()
            chaos_end = time.monotonic()
            log(f"chaos over after {chaos_end - started:.0f} s; waiting up to {args.horizon:.0f} s for every order")
        if chaos_end is not None and (open_w + open_p == 0 or time.monotonic() - chaos_end > args.horizon):
            break
    settled = time.monotonic()
    sweeper.done.set()
    sweeper.join()
    for n, worker in enumerate(stack.workers):
        if worker is not None:
            worker.terminate()
            worker.wait(60)
            stack.workers[n] = None
    result = checks()
    table(args, result, made, chaos, sweeper, errors, started, chaos_end or settled, settled)
    bad = violations(result)
    if bad:
        log(f"VIOLATIONS: {bad}")
        raise SystemExit(1)


def table(args, result, made, chaos, sweeper, errors, started, chaos_end, settled) -> None:
    rows = [
        (
            "orders",
            f"{args.withdrawals:,} withdrawals + {args.payments:,} payments, {args.fault_share:.0%} with a fault",
        ),
        ("faults injected", ", ".join(f"{k} {v}" for k, v in sorted(made.items()) if ":" in k)),
        *((name, str(value)) for name, value in result.items() if not isinstance(value, list)),
        *(("reconciliation", line) for line in result["reconciliation of the day"]),
        *(
            ("internal reconciliation", line)
            for line in result["internal reconciliation"]
            if isinstance(result["internal reconciliation"], list)
        ),
        ("chaos", ", ".join(f"{k}: {v}" for k, v in sorted(chaos.counts.items()))),
        ("sweeps (horizon 15 s / 30 s / 60 s)", ", ".join(f"{k}: {v}" for k, v in sorted(sweeper.counts.items()))),
        ("errors the drill retried", ", ".join(f"{k}: {v}" for k, v in sorted(errors.items())) or "none"),
        ("wall time", f"{settled - started:.0f} s, of which {settled - chaos_end:.0f} s after the chaos"),
        ("load average", str(os.getloadavg())),
    ]
    print("\n| | |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
