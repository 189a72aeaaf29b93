"""How far a long management command got, printed while it works (docs/OPERATIONS.md, "Demo and
drills"): ``120/200 final, 80 processing, 12 s``.

A line is printed at most every ``EVERY_SECONDS``, and none before the first interval has passed,
so a command that ends in a moment stays quiet and one that takes minutes shows it is alive. One
printer for every command, so they all read alike.
"""

import time
from collections.abc import Callable

EVERY_SECONDS = 3.0


class Progress:
    """Counts ``done`` of ``total`` (None: not known in advance) things named ``noun``."""

    def __init__(self, write: Callable[[str], object], *, noun: str, total: int | None = None) -> None:
        self._write = write
        self.noun = noun
        self.total = total
        # Read here, not as a default argument, so a test can make every update print.
        self._every = EVERY_SECONDS
        self._started = self._printed = time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self._started

    def update(self, done: int, *details: str) -> None:
        """Print where the command is, if the last line is old enough; ``details`` follow the count."""
        now = time.monotonic()
        if now - self._printed < self._every:
            return
        self._printed = now
        self._write(self.line(done, *details))

    def line(self, done: int, *details: str) -> str:
        count = f"{done}/{self.total}" if self.total is not None else str(done)
        return "  " + ", ".join([f"{count} {self.noun}", *filter(None, details), f"{self.elapsed():.0f} s"])
