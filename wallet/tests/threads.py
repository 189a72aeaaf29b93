"""Run work on many connections at once, for the concurrency tests of every app."""

import threading
from collections import Counter
from collections.abc import Callable

from django.db import connections

from wallet.errors import ApplicationError


def run_in_threads(count: int, work: Callable[[int], str]) -> Counter:
    """Start ``count`` threads behind one barrier; each returns an outcome name.

    A refusal counts as its error code, anything else unexpected as its type and message.
    """
    barrier = threading.Barrier(count)
    outcomes: list[str] = []
    lock = threading.Lock()

    def target(i: int) -> None:
        try:
            barrier.wait(30)
            outcome = work(i)
        except ApplicationError as exc:
            outcome = exc.code
        except Exception as exc:  # the outcome records what went wrong
            outcome = f"{type(exc).__name__}: {exc}"
        finally:
            connections.close_all()
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=target, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return Counter(outcomes)
