"""What the current request or task is about, for every log line it writes.

Context variables rather than thread-locals: a gthread worker runs one request per thread, and
an async view's coroutines each see the request that started them.
"""

from contextvars import ContextVar

request_id: ContextVar[str] = ContextVar("request_id", default="")
user_id: ContextVar[str] = ContextVar("user_id", default="")
order_no: ContextVar[str] = ContextVar("order_no", default="")

FIELDS = {"request_id": request_id, "user_id": user_id, "order_no": order_no}


def context_clear() -> None:
    for variable in FIELDS.values():
        variable.set("")
