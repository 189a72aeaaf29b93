"""Every figure of the dashboard, read at one moment and kept in the cache for a minute.

Staff open the admin index all day; the figures are the same for everyone within a minute, so
they are read once per minute whoever asks, and the page says how old they are. Each staff
member then sees the part their permissions allow (config.dashboard.panels).
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.core.cache import cache
from django.utils import timezone

from config.dashboard import selectors
from config.dashboard.selectors import ChannelDay, Queue, Volume

# Bumped when the snapshot's shape changes, so a deploy never reads the previous one's.
CACHE_KEY = "dashboard:snapshot:1"
CACHE_SECONDS = 60
CHART_DAYS = 14


@dataclass(frozen=True)
class Snapshot:
    taken_at: datetime
    days: list[date]  # the chart's days, oldest first; the last is today, local time
    volumes: dict[str, dict[date, Volume]]
    channel_days: dict[str, list[ChannelDay]]
    channel_names: dict[int, str]
    withdrawal_queue: Queue
    four_eyes: int
    transfer_queue: Queue
    incidents: dict[str, int]

    @property
    def today(self) -> date:
        return self.days[-1]

    @property
    def yesterday(self) -> date:
        return self.days[-2]


def snapshot_take(*, now: datetime) -> Snapshot:
    today = timezone.localdate(now)
    days = [today - timedelta(days=back) for back in range(CHART_DAYS - 1, -1, -1)]
    withdrawal_queue, four_eyes = selectors.withdrawal_queue()
    return Snapshot(
        taken_at=now,
        days=days,
        volumes=selectors.volumes_by_day(first_day=days[0], last_day=today),
        channel_days=selectors.channel_days(first_day=days[-2], last_day=today),
        channel_names=selectors.channel_names(),
        withdrawal_queue=withdrawal_queue,
        four_eyes=four_eyes,
        transfer_queue=selectors.transfer_queue(),
        incidents={name: rows.count() for name, rows in selectors.incidents(now=now).items()},
    )


def snapshot_get() -> Snapshot:
    """The cached snapshot, or a new one when the last is over a minute old."""
    snapshot = cache.get(CACHE_KEY)
    if snapshot is None:
        snapshot = snapshot_take(now=timezone.now())
        cache.set(CACHE_KEY, snapshot, CACHE_SECONDS)
    return snapshot
