"""Many workers on one broker: payouts drained by workers on their own queue, at the channel's
limit, while another kind's queue is flooded.

Every process is started on its own, as it would be on its own host, sharing only the
database, the Redis server (cache, locks and the channels' rate limits) and the broker
(``--broker redis`` on Redis, or ``amqp`` on RabbitMQ, ``--amqp-url``):

- two web servers (two gunicorn masters of one process each, on two ports) serving the
  channel sandbox; the first and third worker send their payouts to the first, the second to
  the second, as a load balancer would spread them;
- three Celery workers with hostnames of their own. Split (the default): two read only the
  ``payouts`` queue, the third every other queue. ``--shared``: all three read every queue, as
  before the queues were split.

It creates ``2 × --count`` withdrawals of 1.00 waiting for review, then runs two phases. Each
pauses the workers' consumers of ``payouts`` and ``exports`` (Celery's ``cancel_consumer``),
approves ``--count`` withdrawals from this process (their payouts queued on commit), queues the
phase's flood, resumes the consumers at once and waits until every payout is final:

1. quiet: nothing else queued;
2. flooded: ``--flood`` export housekeeping tasks (``wallet.export_jobs_purge``, a quick
   database query each) waiting on the ``exports`` queue when the workers resume.

For each phase it prints the drain rate against the limit; the most payouts the channel's
limiter let go within any one second (read from its window in Redis while the phase runs: never
over the limit, which is one for the whole cluster); the busiest calendar second of payouts
marked dispatched by the workers and of their arrivals at the sandbox (the same payouts, later
by a database write or an HTTP trip: on a loaded machine some slip into the next second);
time from releasing the payout workers to success (p50, p99); how many flood tasks waited when
the payouts were released and when the last one finished. Then double payouts (must be 0) and
the ledger audit (must be clean); it exits 1 if either fails or the limiter let more go in a second.

    .venv/bin/python bench/cluster.py [--broker redis|amqp] [--count 2000] [--rate-limit 50] [--flood 20000] [--shared]
"""

import argparse
import bisect
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.payout import create_pending, free_port, percentile, wait_for_port  # noqa: E402
from config import queues  # noqa: E402

START_TIMEOUT = 90
OTHER_QUEUES = tuple(name for name in queues.QUEUES if name != queues.PAYOUTS)
FLOOD_TASK = "wallet.export_jobs_purge"


def web_start(port: int, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(  # noqa: S603
        [
            *(sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}"),
            *("--workers", "1", "--threads", "4", "--log-level", "warning"),
        ],
        cwd=ROOT,
        env=env,
    )


def worker_start(name: str, queue_names: tuple[str, ...], env: dict[str, str], log: Path, threads: int):
    return subprocess.Popen(  # noqa: S603
        [
            *(sys.executable, "-m", "celery", "-A", "config", "worker", "--hostname", f"{name}@%h"),
            *("--queues", ",".join(queue_names), "--pool", "threads", "--concurrency", str(threads)),
            *("--loglevel", "WARNING", "--logfile", str(log)),
            *("--without-heartbeat", "--without-mingle", "--without-gossip"),
        ],
        cwd=ROOT,
        env=env,
    )


def wait_ready(workers: dict[str, subprocess.Popen], logs: dict[str, Path]) -> dict[str, str]:
    """A worker at WARNING logs nothing when ready: ask each by name over the broker. Their
    full names (name@host), by short name."""
    from config.celery import app

    deadline = time.monotonic() + START_TIMEOUT
    names: dict[str, str] = {}
    while set(names) != set(workers):
        for name, process in workers.items():
            if process.poll() is not None:
                raise SystemExit(f"worker {name} exited with {process.returncode}:\n{logs[name].read_text()[-2000:]}")
        for reply in app.control.ping(timeout=1.0) or []:
            names.update((full.split("@")[0], full) for full in reply)
        if time.monotonic() > deadline:
            raise SystemExit(f"workers {sorted(set(workers) - set(names))} did not answer in {START_TIMEOUT} s")
    return names


def consumed(queue: str, destination: list[str], *, on: bool) -> None:
    """Stop or start a queue's consumers (Celery's remote control, over the broker)."""
    from config.celery import app

    command = app.control.add_consumer if on else app.control.cancel_consumer
    replies = command(queue, destination=destination, reply=True, timeout=10)
    if len(replies) != len(destination):
        raise SystemExit(f"only {replies} answered {command.__name__} {queue}")


class LimiterWatch(threading.Thread):
    """Reads the channel's moving window in Redis (the ``limits`` library keeps the time of each
    of the last ``limit`` payouts it let go in one list) every 50 ms, and keeps every time seen:
    each stays in the list for at least a second, so none is missed."""

    def __init__(self, redis_url: str) -> None:
        super().__init__(daemon=True)
        import redis

        self.client = redis.Redis.from_url(redis_url)
        self.seen: set[float] = set()
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(0.05):
            for key in self.client.scan_iter(match="*channel/bank/*"):
                self.seen.update(float(entry) for entry in self.client.lrange(key, 0, -1))

    def busiest_window(self) -> int:
        """The most payouts let go within any one second."""
        times = sorted(self.seen)
        return max((bisect.bisect_left(times, start + 1.0) - i for i, start in enumerate(times)), default=0)


def phase(
    label: str,
    ids: list[int],
    *,
    flood: int,
    rate_limit: int,
    processes: list[subprocess.Popen],
    consumers: dict[str, list[str]],
) -> dict:
    """Approve ``ids`` and queue the flood while no worker takes payouts or exports (this
    process approves slower than the limit on a busy machine), then let the workers go at once
    and time the payouts."""
    from django.contrib.auth import get_user_model
    from django.db.models import Count
    from django.db.models.functions import TruncSecond
    from django.utils import timezone

    from config.celery import app
    from config.observability.broker import queue_lengths
    from payments.sandbox.models import SandboxHit
    from payments.withdrawals import services
    from payments.withdrawals.models import Withdrawal, WithdrawalStatus

    reviewer = get_user_model().objects.get(username="bench-reviewer")
    for queue, destination in consumers.items():
        consumed(queue, destination, on=False)
    approving = time.perf_counter()
    for withdrawal in Withdrawal.objects.filter(pk__in=ids).order_by("pk"):
        services.withdrawal_approve(withdrawal=withdrawal, actor=reviewer)
    approve_seconds = time.perf_counter() - approving
    flooding = time.perf_counter()
    for _ in range(flood):
        app.send_task(FLOOD_TASK)
    flood_seconds = time.perf_counter() - flooding
    flood_queued = queue_lengths([queues.EXPORTS])[queues.EXPORTS]
    watch = LimiterWatch(os.environ["REDIS_URL"])
    watch.start()
    released_at = timezone.now()
    for queue, destination in consumers.items():
        consumed(queue, destination, on=True)
    final = (WithdrawalStatus.SUCCESS, WithdrawalStatus.FAILED)
    orders = Withdrawal.objects.filter(pk__in=ids)
    while orders.exclude(status__in=final).exists():
        if any(process.poll() is not None for process in processes):
            raise SystemExit("a worker or a web server died")
        time.sleep(0.5)
    flood_left = queue_lengths([queues.EXPORTS])[queues.EXPORTS]
    watch.stopped.set()
    watch.join()

    hits = SandboxHit.objects.filter(order_no__in=orders.values("order_no"))
    arrivals = hits.annotate(s=TruncSecond("received_at")).values("s").annotate(n=Count("id"))
    admissions = orders.annotate(s=TruncSecond("dispatched_at")).values("s").annotate(n=Count("id"))
    latencies = [(finished - released_at).total_seconds() for finished in orders.values_list("finished_at", flat=True)]
    drain = max(latencies)
    return {
        "phase": label,
        "states": dict(orders.values_list("status").annotate(n=Count("id"))),
        "flood": flood,
        "flood_queued": flood_queued,
        "flood_send_s": flood_seconds,
        "approve_per_s": len(ids) / approve_seconds,
        "rate": len(ids) / drain,
        "share": len(ids) / drain / rate_limit,
        "window": watch.busiest_window(),
        "admitted": max(row["n"] for row in admissions),
        "busiest": max(row["n"] for row in arrivals),
        "p50": percentile(latencies, 0.5),
        "p99": percentile(latencies, 0.99),
        "flood_left": flood_left,
        "load": os.getloadavg()[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--broker", choices=["redis", "amqp"], default="redis")
    parser.add_argument("--count", type=int, default=2_000, help="payouts per phase")
    parser.add_argument("--rate-limit", type=int, default=50, help="the bank channel's payouts per second")
    parser.add_argument("--flood", type=int, default=20_000, help="export tasks queued in the second phase")
    parser.add_argument("--threads", type=int, default=4, help="threads of each worker's pool")
    parser.add_argument("--shared", action="store_true", help="every worker reads every queue")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/wallet_bench_broker_cluster")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/12")
    parser.add_argument("--amqp-url", default="amqp://guest:guest@127.0.0.1:5672/h_broker")
    args = parser.parse_args()

    from config.keys import keys_generate

    broker_url = args.amqp_url if args.broker == "amqp" else args.redis_url
    webs = [free_port(), free_port()]
    # Fresh secrets, as a deployment has; DEBUG because the sandbox runs only there.
    env = (
        keys_generate(key_id="bench1")
        | os.environ
        | {
            "DATABASE_URL": args.database_url,
            "REDIS_URL": args.redis_url,
            "CELERY_BROKER_URL": broker_url,
            "CACHE_KEY_PREFIX": "bench",
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{webs[0]}",
            "SANDBOX_ENABLED": "true",
            "SANDBOX_BASE_URL": f"http://127.0.0.1:{webs[0]}/sandbox",
            "DJANGO_DEBUG": "true",  # the sandbox and plain HTTP run only in DEBUG (config.checks)
            "LOG_LEVEL": "WARNING",
            "DJANGO_SETTINGS_MODULE": "config.settings",
        }
    )
    os.environ.update(env)
    import django
    import redis
    from django.core.management import call_command

    from bench.databases import recreate_database

    recreate_database(args.database_url)
    redis.Redis.from_url(args.redis_url).flushdb()
    subprocess.run([sys.executable, "-m", "celery", "-A", "config", "purge", "-f"], cwd=ROOT, env=env, check=True)  # noqa: S603
    django.setup()
    call_command("migrate", verbosity=0)

    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.db.models import Count

    from payments.channels.models import Channel
    from payments.sandbox.models import SandboxPayout
    from wallet.audit import ledger_audit

    Channel.objects.filter(code="bank").update(rate_limit_per_second=args.rate_limit)
    started = time.perf_counter()
    ids = create_pending(2 * args.count)
    print(f"created {len(ids)} pending withdrawals in {time.perf_counter() - started:.0f} s", flush=True)
    reviewer = get_user_model().objects.create(username="bench-reviewer", is_staff=True)
    reviewer.groups.add(Group.objects.get(name="finance_reviewer"))

    logs_dir = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    split = not args.shared
    layout = {
        "w1": ((queues.PAYOUTS,) if split else queues.QUEUES, webs[0]),
        "w2": ((queues.PAYOUTS,) if split else queues.QUEUES, webs[1]),
        "w3": (OTHER_QUEUES if split else queues.QUEUES, webs[0]),
    }
    web_processes = [web_start(port, env) for port in webs]
    logs = {name: logs_dir / f"{name}.log" for name in layout}
    workers = {
        name: worker_start(
            name,
            queue_names,
            env
            | {"SANDBOX_BASE_URL": f"http://127.0.0.1:{port}/sandbox", "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}"},
            logs[name],
            args.threads,
        )
        for name, (queue_names, port) in layout.items()
    }
    processes = [*web_processes, *workers.values()]
    try:
        for port, web in zip(webs, web_processes, strict=True):
            wait_for_port(port, web)
        names = wait_ready(workers, logs)
        consumers = {
            queue: [names[name] for name, (queue_names, _) in layout.items() if queue in queue_names]
            for queue in (queues.PAYOUTS, queues.EXPORTS)
        }
        print(f"broker {args.broker}; workers: " + "; ".join(f"{n}: {','.join(q)}" for n, (q, _) in layout.items()))
        common = {"rate_limit": args.rate_limit, "processes": processes, "consumers": consumers}
        results = [
            phase("quiet", ids[: args.count], flood=0, **common),
            phase("exports flooded", ids[args.count :], flood=args.flood, **common),
        ]
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(60)

    print(
        f"\n| phase | final states | flood queued | payouts/s (limit {args.rate_limit}) | share of limit "
        "| most let go in 1 s by the limiter | busiest second: sent / at the sandbox | release to success p50 / p99 "
        "| flood waiting at start / when done | load (1 min) |\n"
        "|---|---|---|---|---|---|---|---|---|---|"
    )
    for row in results:
        print(
            f"| {row['phase']} | {row['states']} | {row['flood']} | {row['rate']:.1f} | {row['share']:.2f} "
            f"| {row['window']} | {row['admitted']} / {row['busiest']} | {row['p50']:.1f} s / {row['p99']:.1f} s "
            f"| {row['flood_queued']} / {row['flood_left']} | {row['load']:.1f} |"
        )
    doubles = SandboxPayout.objects.values("order_no").annotate(n=Count("id")).filter(n__gt=1).count()
    violations = ledger_audit()
    print(
        f"\napprovals/s: {', '.join(format(row['approve_per_s'], '.0f') for row in results)}; "
        f"flood sent in {results[1]['flood_send_s']:.1f} s\n"
        f"double payouts: {doubles}; ledger audit: {violations or 'clean'}\n"
        f"load average after: {os.getloadavg()}"
    )
    if doubles or violations or any(row["window"] > args.rate_limit for row in results):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
