"""Grabs per second on one hot red packet: the Redis path against database-only paths.

Creates its own database (dropped and recreated), migrates it, makes ``--grabbers`` users in
one group and, for each variant in turn, a fresh packet of as many shares; ``--threads``
threads (each with its own connection) then grab it, every user once, until it is empty, and
as many late users grab it after (each is told ``red_packet_empty``):

- ``redis, hot escrow``: the product's path (``wallet.redpackets.services.redpacket_grab``):
  pop a share id in Redis, claim its row and post escrow -> grabber in one transaction;
- ``database, SKIP LOCKED``: no Redis: the same membership check, then ``SELECT ... FOR UPDATE
  SKIP LOCKED LIMIT 1`` picks an unclaimed share row, then the same claim and posting (no
  finish check, no "grabbed before" answer: a lower bound of its cost);
- ``redis, locked escrow``: the product's path with an escrow account that is not hot, so
  every posting locks the escrow's balance row: what the hot account saves.

It checks after each variant that every share went to one user once and the sums are exact,
and at the end that the ledger audit is clean; it exits 1 otherwise.

    .venv/bin/python bench/redpacket.py [--grabbers 1000] [--threads 16] [--rounds 1]
"""

import argparse
import os
import sys
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

AMOUNT_PER_SHARE = Decimal("0.10")
LOCKED_ESCROW = "escrow:redpacket-bench-locked"


def grab_redis(packet, user) -> None:
    from wallet.redpackets import services

    if not services.redpacket_grab(packet=packet, user=user).created:
        raise RuntimeError("a user grabbed twice")


def grab_database(packet, user) -> None:
    """The same claim and posting, with the share picked by a row lock instead of Redis."""
    from django.db import connection, transaction
    from django.utils import timezone

    from wallet.errors import NotFound, RedPacketEmpty
    from wallet.redpackets import selectors, services
    from wallet.redpackets.models import RedPacketShare

    # The same check of who may grab as the product's path, so only the share picking differs.
    if not selectors.is_intended_recipient(packet=packet, user=user):
        raise NotFound()
    with transaction.atomic(durable=True):
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT id FROM wallet_redpacketshare WHERE packet_id = %s AND grabbed_by_id IS NULL AND NOT refunded"
                " ORDER BY position LIMIT 1 FOR UPDATE SKIP LOCKED",
                [packet.pk],
            )
            row = cursor.fetchone()
            if row is None:
                raise RedPacketEmpty()
            now = timezone.now()
            cursor.execute(
                "UPDATE wallet_redpacketshare SET grabbed_by_id = %s, grabbed_at = %s WHERE id = %s"
                " RETURNING amount, position",
                [user.pk, now, row[0]],
            )
            amount, position = cursor.fetchone()
        share = RedPacketShare(
            pk=row[0], packet=packet, amount=amount, position=position, grabbed_by=user, grabbed_at=now
        )
        transfer = services._share_post(share)
        RedPacketShare.objects.filter(pk=share.pk).update(transfer_id=transfer.pk)


def run(variant: str, grab: Callable, sender, group, users, late, threads: int) -> tuple[float, float]:
    """Grabs per second while the packet has shares, then refusals per second of ``late``
    users who come after it is empty."""
    from wallet.errors import RedPacketEmpty
    from wallet.redpackets import services

    amount = AMOUNT_PER_SHARE * len(users)
    packet = services.redpacket_send(
        sender=sender,
        amount=amount,
        count=len(users),
        mode="lucky",
        group=group,
        idempotency_key=f"bench-{variant}-{time.monotonic_ns()}",
    ).packet
    errors: list[str] = []

    def one(user) -> None:
        grab(packet, user)

    def too_late(user) -> None:
        try:
            grab(packet, user)
        except RedPacketEmpty:
            return
        raise RuntimeError("a late grabber got a share")

    elapsed = in_threads(one, users, threads, errors)
    check(packet, amount, len(users), errors)
    late_elapsed = in_threads(too_late, late, threads, errors)
    check(packet, amount, len(users), errors)
    return len(users) / elapsed, len(late) / late_elapsed


def in_threads(work: Callable, users, threads: int, errors: list[str]) -> float:
    """Seconds for ``threads`` threads, one connection each, to run ``work`` for every user."""
    from django.db import connections

    barrier = threading.Barrier(threads + 1)

    def worker(mine) -> None:
        try:
            barrier.wait()
            for user in mine:
                work(user)
        except Exception as exc:  # reported by check(), the bench fails
            errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            connections.close_all()

    workers = [threading.Thread(target=worker, args=(users[i::threads],)) for i in range(threads)]
    for thread in workers:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in workers:
        thread.join()
    return time.perf_counter() - started


def check(packet, amount: Decimal, count: int, errors: list[str]) -> None:
    from django.db.models import Count, Sum

    from wallet.redpackets.models import RedPacketShare

    paid = RedPacketShare.objects.filter(packet=packet, transfer__isnull=False).aggregate(
        n=Count("id"), users=Count("grabbed_by", distinct=True), total=Sum("amount")
    )
    if errors or paid != {"n": count, "users": count, "total": amount}:
        print(f"FAILED: {paid} (expected {count} shares to {count} users, {amount}); errors: {errors[:3]}")
        raise SystemExit(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--grabbers", type=int, default=1000, help="users, and shares per packet (default 1000)")
    parser.add_argument("--threads", type=int, default=16, help="concurrent grabbers, one connection each")
    parser.add_argument("--rounds", type=int, default=1, help="measure every variant this many times (default 1)")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/wallet_bench_redpacket")
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/12"))
    args = parser.parse_args()

    os.environ.update(
        {
            "DATABASE_URL": args.database_url,
            "REDIS_URL": args.redis_url,
            "CELERY_BROKER_URL": args.redis_url,
            "CACHE_KEY_PREFIX": "bench_redpacket",
            "DJANGO_DEBUG": "false",
            "DATABASE_CONN_MAX_AGE": "0",
            "RED_PACKET_MAX_COUNT": str(args.grabbers),
            "RED_PACKET_MAX_AMOUNT": str(AMOUNT_PER_SHARE * args.grabbers * 4),
            "DJANGO_SETTINGS_MODULE": "config.settings",
        }
    )
    from config.keys import keys_generate

    os.environ.update(keys_generate(key_id="bench1") | dict(os.environ))
    import django
    from django.core.management import call_command

    from bench.databases import recreate_database

    started = time.perf_counter()
    recreate_database(args.database_url)
    django.setup()
    call_command("migrate", verbosity=0)

    from django.contrib.auth import get_user_model

    from wallet import services as ledger
    from wallet.audit import ledger_audit
    from wallet.redpackets import selectors
    from wallet.redpackets.models import ChatGroup, ChatGroupMember

    user_model = get_user_model()
    sender = user_model.objects.create(username="bench-sender")
    user_model.objects.bulk_create(user_model(username=f"bench{n}") for n in range(2 * args.grabbers))
    everyone = list(user_model.objects.filter(username__regex=r"^bench[0-9]+$").order_by("pk"))
    users, late = everyone[: args.grabbers], everyone[args.grabbers :]
    group = ChatGroup.objects.create(name="bench", owner=sender)
    ChatGroupMember.objects.bulk_create(ChatGroupMember(group=group, user=u) for u in [sender, *everyone])
    variants = 3 * args.rounds  # packets to fund
    ledger.transfer_post(
        idempotency_key="bench-funding",
        kind="recharge",
        legs=[
            ledger.Leg(ledger.account_for_system(code="clearing:bench"), -AMOUNT_PER_SHARE * args.grabbers * variants),
            ledger.Leg(ledger.account_for_user(user=sender), AMOUNT_PER_SHARE * args.grabbers * variants),
        ],
    )
    # Every grab's wallet exists before the clock starts, in every variant alike.
    for user in everyone:
        ledger.account_for_user(user=user)
    ledger.account_for_system(code=LOCKED_ESCROW)
    print(
        f"{os.cpu_count()} CPUs | load {os.getloadavg()} | {args.grabbers} grabbers on {args.threads} threads"
        f" | set up in {time.perf_counter() - started:.0f}s"
    )

    results: dict[str, list[tuple[float, float]]] = {}
    for round_no in range(1, args.rounds + 1):
        for name, grab, escrow in (
            ("redis, hot escrow", grab_redis, selectors.ESCROW_ACCOUNT),
            ("database, SKIP LOCKED", grab_database, selectors.ESCROW_ACCOUNT),
            ("redis, locked escrow", grab_redis, LOCKED_ESCROW),
        ):
            selectors.ESCROW_ACCOUNT = escrow  # read by the services at each posting
            rates = run(name, grab, sender, group, users, late, args.threads)
            selectors.ESCROW_ACCOUNT = "escrow:redpacket"
            results.setdefault(name, []).append(rates)
            print(
                f"  round {round_no}  {name:22} {rates[0]:8.0f} grabs/s {rates[1]:8.0f} empty answers/s"
                f"   load {os.getloadavg()[0]:.2f}",
                flush=True,
            )

    print(f"\n{'variant':22} {'grabs/s (best)':>15} {'empty answers/s (best)':>23}")
    for name, measured in results.items():
        print(f"{name:22} {max(r[0] for r in measured):15.0f} {max(r[1] for r in measured):23.0f}")
    violations = ledger_audit()
    print("ledger audit:", "clean" if not violations else [str(v) for v in violations])
    if violations:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
