"""The locust users of ``bench/http_load.py``: one endpoint per run, no think time (closed loop).

bench/http_load.py writes what the users need into the JSON file ``BENCH_HTTP_DATA`` names before
each run: one identity per user (API token, payout account, recipient, single-use payment
tokens) and, for the notify run, the signed notifies. ``BENCH_HTTP_ENDPOINT`` picks the
request. Each simulated user takes the next identity, so no two users share a wallet.
"""

import base64
import itertools
import json
import os
import uuid

from locust import FastHttpUser, constant, task

DATA = json.loads(open(os.environ["BENCH_HTTP_DATA"]).read())  # noqa: PTH123, SIM115 - read once at import
ENDPOINT = os.environ["BENCH_HTTP_ENDPOINT"]
_identities = itertools.count()
_notifies = itertools.count()
NOTIFIES = [(headers, base64.b64decode(body)) for headers, body in DATA["notifies"]]


class ApiUser(FastHttpUser):
    wait_time = constant(0)
    # One connection per user, kept alive, as a mobile client or a merchant's server holds one.
    concurrency = 1

    def on_start(self) -> None:
        self.me = DATA["identities"][next(_identities) % len(DATA["identities"])]
        self.auth = {"Authorization": f"Token {self.me['auth']}"}
        self.tokens = list(self.me.get("payment_tokens", []))

    def _money_headers(self) -> dict[str, str]:
        return self.auth | {"Idempotency-Key": uuid.uuid4().hex, "Payment-Token": self.tokens.pop()}

    @task
    def request(self) -> None:
        getattr(self, ENDPOINT)()

    def wallet_read(self) -> None:
        self.client.get("/api/v1/wallet/", headers=self.auth, name="wallet read")

    def statement_page(self) -> None:
        self.client.get("/api/v1/wallet/entries/", headers=self.auth, name="statement page")

    def withdrawal_submit(self) -> None:
        body = {"payout_account": self.me["payout_account"], "amount": "10.00"}
        self.client.post("/api/v1/withdrawals/", json=body, headers=self._money_headers(), name="withdrawal submit")

    def transfer(self) -> None:
        body = {"to": self.me["recipient"], "amount": "1.00"}
        self.client.post("/api/v1/transfers/", json=body, headers=self._money_headers(), name="transfer")

    def payment_create(self) -> None:
        body = {"amount": "1.00", "method": "wechat_native", "client_type": "web"}
        headers = self.auth | {"Idempotency-Key": uuid.uuid4().hex}
        self.client.post("/api/v1/recharges/", json=body, headers=headers, name="payment create")

    def payment_notify(self) -> None:
        headers, body = NOTIFIES[next(_notifies) % len(NOTIFIES)]
        # The signature covers these exact bytes, which geventhttpclient sends as they are.
        self.client.post("/api/v1/notify/wechat_pay/", data=body, headers=headers, name="payment notify")  # type: ignore[arg-type]
