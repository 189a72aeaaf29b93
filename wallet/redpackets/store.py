"""The Redis side of a red packet: its ungrabbed share ids in a list, and who popped one.

A cache of the database, never the record: each grab pops a share id in one Lua script, and
the database's share row decides whether the grab stands (docs/WALLET.md, "Redis and the
database"). A flushed or expired list shows as "not loaded" (the ``loaded`` marker is gone)
and is rebuilt from the ungrabbed share rows; a stale or repeated id is refused by the row.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from django.conf import settings
from django.utils import timezone
from django_redis import get_redis_connection
from redis import Redis
from redis.commands.core import Script

# How long the keys outlive the packet's expiry: the expiry sweep drops them before that.
KEEP_AFTER_EXPIRY_SECONDS = 24 * 3600

# KEYS: shares list, loaded marker, grabbers set. ARGV: user id.
# -> {-1} not loaded, {-2} this user popped one already, {0} empty, {1, share id, shares left}.
_POP = """
if redis.call('EXISTS', KEYS[2]) == 0 then return {-1} end
if redis.call('SISMEMBER', KEYS[3], ARGV[1]) == 1 then return {-2} end
local share = redis.call('LPOP', KEYS[1])
if not share then return {0} end
redis.call('SADD', KEYS[3], ARGV[1])
return {1, tonumber(share), redis.call('LLEN', KEYS[1])}
"""

# KEYS: shares list, grabbers set. ARGV: share id, user id. Only into a loaded list: a list
# that was dropped meanwhile is rebuilt from the database, which still has the share.
_PUT_BACK = """
redis.call('SREM', KEYS[2], ARGV[2])
if redis.call('EXISTS', KEYS[3]) == 1 then redis.call('RPUSH', KEYS[1], ARGV[1]) end
return 1
"""

# KEYS: shares list, loaded marker, grabbers set. ARGV: seconds to live, then share ids, then
# '|' and the grabbers' user ids. Replaces all three at once, so a rebuild never appends to
# what another left.
_LOAD = """
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
local ttl = tonumber(ARGV[1])
local into = KEYS[1]
for i = 2, #ARGV do
  if ARGV[i] == '|' then into = KEYS[3] else redis.call(into == KEYS[1] and 'RPUSH' or 'SADD', into, ARGV[i]) end
end
redis.call('SET', KEYS[2], '1', 'EX', ttl)
for _, key in ipairs({KEYS[1], KEYS[3]}) do
  if redis.call('EXISTS', key) == 1 then redis.call('EXPIRE', key, ttl) end
end
return 1
"""

NOT_LOADED = "not_loaded"
ALREADY = "already"
EMPTY = "empty"


@dataclass(frozen=True)
class Popped:
    share_id: int
    shares_left: int


@dataclass(frozen=True)
class _Scripts:
    pop: Script
    put_back: Script
    load: Script


def _client() -> Redis:
    return get_redis_connection("default")


@lru_cache(maxsize=1)
def _scripts() -> _Scripts:
    client = _client()
    return _Scripts(
        pop=client.register_script(_POP),
        put_back=client.register_script(_PUT_BACK),
        load=client.register_script(_LOAD),
    )


def _keys(packet_id: int) -> tuple[str, str, str]:
    # One hash tag per packet: the three keys live on one node of a cluster.
    base = f"{settings.CACHES['default']['KEY_PREFIX']}:redpacket:{{{packet_id}}}"
    return f"{base}:shares", f"{base}:loaded", f"{base}:grabbers"


def share_pop(*, packet_id: int, user_id: int) -> Popped | str:
    """A share id for the user, or ``NOT_LOADED``, ``ALREADY`` or ``EMPTY``."""
    shares, loaded, grabbers = _keys(packet_id)
    answer = _scripts().pop(keys=[shares, loaded, grabbers], args=[user_id], client=_client())
    outcome = int(answer[0])
    if outcome == 1:
        return Popped(share_id=int(answer[1]), shares_left=int(answer[2]))
    return {-1: NOT_LOADED, -2: ALREADY, 0: EMPTY}[outcome]


def share_put_back(*, packet_id: int, share_id: int, user_id: int) -> None:
    """Undo a pop whose grab did not commit."""
    shares, loaded, grabbers = _keys(packet_id)
    _scripts().put_back(keys=[shares, grabbers, loaded], args=[share_id, user_id], client=_client())


def grabber_forget(*, packet_id: int, user_id: int) -> None:
    """Undo the mark of a pop whose id the database refused (taken or refunded meanwhile)."""
    _client().srem(_keys(packet_id)[2], user_id)


def packet_load(*, packet_id: int, share_ids: Iterable[int], grabber_ids: Iterable[int], expires_at: datetime) -> None:
    """Replace the packet's keys with these ungrabbed shares and grabbers."""
    ttl = max(int((expires_at - timezone.now()).total_seconds()), 0) + KEEP_AFTER_EXPIRY_SECONDS
    args: list[int | str] = [ttl, *share_ids, "|", *grabber_ids]
    _scripts().load(keys=list(_keys(packet_id)), args=args, client=_client())


def packet_is_loaded(*, packet_id: int) -> bool:
    return bool(_client().exists(_keys(packet_id)[1]))


def packet_drop(*, packet_id: int) -> None:
    """Forget an expired packet's keys (its shares were refunded)."""
    _client().delete(*_keys(packet_id))


def shares_left(*, packet_id: int) -> int:
    return int(_client().llen(_keys(packet_id)[0]))


def packet_shares(*, packet_id: int) -> list[int]:
    """The share ids in the list, for the admin and the tests."""
    return [int(share) for share in _client().lrange(_keys(packet_id)[0], 0, -1)]
