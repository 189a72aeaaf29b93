"""Settings, read only from the environment (docs/ARCHITECTURE.md §11).

Without variables the defaults point at a local PostgreSQL and Redis; `make run` and
`make test` export the URLs of whichever servers they chose or started.
"""

from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from kombu import Exchange, Queue

from config import queues
from config.keys import DEVELOPMENT_VALUES

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

DEBUG = env.bool("DJANGO_DEBUG", default=False)
# The three secrets default to published development values, which only DEBUG accepts: outside it
# the process refuses to start (config.checks).
SECRET_KEY = env("DJANGO_SECRET_KEY", default=DEVELOPMENT_VALUES["DJANGO_SECRET_KEY"])
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
# `make run` on one machine (config/run.py): the sandbox and plain HTTP on loopback without DEBUG's
# error pages. Accepted only while every allowed host is a loopback name, so it cannot serve a
# real domain (config.checks).
LOCAL_DEMO = env.bool("WALLET_LOCAL_DEMO", default=False)
_PLAIN_HTTP = DEBUG or LOCAL_DEMO

# Web security (docs/OPERATIONS.md, "Production settings"): HTTPS only, short staff sessions and
# strict cookies unless DEBUG or the local demo serve plain HTTP (tests, `make run`); each can be
# changed through the environment. config.security adds the admin's Content-Security-Policy.
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=not _PLAIN_HTTP)
# Paths answered over plain HTTP too (regular expressions without the leading slash), such as the
# probes of a load balancer that talks HTTP to the pods.
SECURE_REDIRECT_EXEMPT = env.list("DJANGO_SECURE_REDIRECT_EXEMPT", default=[r"^healthz$", r"^readyz$", r"^metrics$"])
# Behind a TLS-terminating proxy, the header it sets to "https" (e.g. X-Forwarded-Proto). Opt-in:
# trusted without a proxy that always overwrites it, any client could claim to be on HTTPS.
_proxy_header = env("DJANGO_SECURE_PROXY_SSL_HEADER", default="")
SECURE_PROXY_SSL_HEADER = ("HTTP_" + _proxy_header.upper().replace("-", "_"), "https") if _proxy_header else None
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=0 if _PLAIN_HTTP else 365 * 24 * 60 * 60)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not _PLAIN_HTTP)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=not _PLAIN_HTTP)
SECURE_REFERRER_POLICY = env("DJANGO_SECURE_REFERRER_POLICY", default="same-origin")
SECURE_CROSS_ORIGIN_OPENER_POLICY = env("DJANGO_SECURE_CROSS_ORIGIN_OPENER_POLICY", default="same-origin")
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_SECURE = env.bool("DJANGO_SESSION_COOKIE_SECURE", default=not _PLAIN_HTTP)
CSRF_COOKIE_SECURE = env.bool("DJANGO_CSRF_COOKIE_SECURE", default=not _PLAIN_HTTP)
LANGUAGE_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = env("DJANGO_SESSION_COOKIE_SAMESITE", default="Lax")
CSRF_COOKIE_SAMESITE = env("DJANGO_CSRF_COOKIE_SAMESITE", default="Lax")
LANGUAGE_COOKIE_SAMESITE = SESSION_COOKIE_SAMESITE
# A staff session ends after a working day, and when the browser closes.
SESSION_COOKIE_AGE = env.int("DJANGO_SESSION_COOKIE_AGE", default=8 * 60 * 60)
SESSION_EXPIRE_AT_BROWSER_CLOSE = env.bool("DJANGO_SESSION_EXPIRE_AT_BROWSER_CLOSE", default=True)

INSTALLED_APPS = [
    # The admin under config.staff_access.StaffAdminSite: staff sign in with a second factor.
    "config.staff_access.apps.StaffAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "django_celery_beat",
    "django_fsm_log",
    "import_export",
    "pgtrigger",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    # Changes to controls (config.controls): the database keeps their history, shown in the admin.
    "pghistory",
    "pghistory.admin",
    "wallet",
    "risk",
    "payments",
    "reconciliation",
    "config.apps.ProjectConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "config.security.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # After sessions, before CommonMiddleware: the language of each request, from the switch's
    # cookie, else Accept-Language, else LANGUAGE_CODE.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    # Changes to controls: who and which request, recorded with each history row (config.controls).
    "config.controls.middleware.HistoryMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a locked-out sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

# Changes to controls (config.controls): pghistory's events list is the one with the export.
PGHISTORY_ADMIN_CLASS = "config.controls.history.ControlEventsAdmin"

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": env.db_url("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/wallet"),
}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
# A kept connection is checked with a "SELECT 1" before a request's first query, a round trip
# per request (docs/PERFORMANCE.md, "HTTP under load"); off, a connection the server closed meanwhile
# fails that one request before it is replaced.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("DATABASE_CONN_HEALTH_CHECKS", default=True)
DATABASES["default"].setdefault("TEST", {})["NAME"] = env(
    "DATABASE_TEST_NAME", default="test_" + DATABASES["default"]["NAME"]
)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env("REDIS_URL", default="redis://127.0.0.1:6379/0")
CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env("CACHE_KEY_PREFIX", default="wallet"),
        "OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient"},
    }
}

# Staff sign-in (docs/OPERATIONS.md, "Staff sign-in"): django-axes counts failed passwords per
# username and address and refuses that pair for a cool-off period after too many; django-otp
# asks every staff member but the read-only roles for a TOTP or backup code (config.staff_access).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Always on: one environment variable must not be able to switch off a control.
AXES_ENABLED = True
AXES_VERBOSE = False
AXES_FAILURE_LIMIT = env.int("STAFF_LOCKOUT_FAILURES", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("STAFF_LOCKOUT_MINUTES", default=30))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "config.staff_access.lockout.lockout_response"
# The address is the connection's, or the trusted proxy's CLIENT_IP_HEADER (below): never a
# header any client may set, or each guess would come from a new address.
AXES_CLIENT_IP_CALLABLE = "config.staff_access.policy.client_ip"
# The TOTP issuer shown in the staff's authenticator apps.
OTP_TOTP_ISSUER = env("STAFF_TOTP_ISSUER", default="Wallet back-office")

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# The admin and the API speak English and Simplified Chinese (docs/OPERATIONS.md, "Languages");
# each name is written in its own language, so staff find theirs in the switch whatever is shown.
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
LANGUAGE_CODE = env("DJANGO_LANGUAGE_CODE", default="en")
if LANGUAGE_CODE not in dict(LANGUAGES):
    raise ImproperlyConfigured(f"DJANGO_LANGUAGE_CODE must be one of {', '.join(dict(LANGUAGES))}.")
# The admin's language switch remembers the choice in a cookie for a year.
LANGUAGE_COOKIE_AGE = 365 * 24 * 60 * 60
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = env("TIME_ZONE", default="Asia/Shanghai")
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env("DJANGO_STATIC_ROOT", default=str(BASE_DIR / "var" / "static")))
# Files the product keeps (the channels' bills): never served by the web server.
MEDIA_ROOT = Path(env("MEDIA_ROOT", default=str(BASE_DIR / "var" / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # JSON only: the API speaks nothing else, and a malformed form body reads as an empty form.
    "DEFAULT_PARSER_CLASSES": ["wallet.rest.parsers.JSONParser"],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "wallet.rest.errors.exception_handler",
    "COERCE_DECIMAL_TO_STRING": True,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Wallet back-office API",
    "DESCRIPTION": "Wallets, withdrawals, payments and refunds. Money is always a decimal string.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI and Redoc from our own static files (drf-spectacular-sidecar), never a CDN: the
    # docs open on a machine without internet and load no third-party script into our origin.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# Redis or RabbitMQ (docs/OPERATIONS.md, "Broker and queues"); the cache, the locks and the
# channels' rate limits stay on REDIS_URL whichever carries the tasks.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# No task runs longer than this (an export's own limit, EXPORT_TIME_LIMIT, is longer still).
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# How long a worker may hold a task it took without acknowledging it. A task retried with a
# countdown is held, unacknowledged, until it is due: reconciliation asks again for a bill after
# up to RECONCILIATION_RETRY_MAX_SECONDS (an hour). Redis gives a held task to another worker
# after this (its visibility timeout), so it outlasts every countdown and every run; RabbitMQ
# closes the channel of a consumer holding one longer than its consumer_timeout (30 minutes by
# default), which the server must set to at least this (compose.yaml).
CELERY_BROKER_HOLD_SECONDS = 7200
CELERY_BROKER_TRANSPORT_OPTIONS = queues.transport_options(CELERY_BROKER_URL, hold_seconds=CELERY_BROKER_HOLD_SECONDS)
# A worker that starts before its broker waits for it rather than exiting.
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A worker that loses its broker connection stops the tasks it runs: the broker gives their
# unacknowledged messages to another worker, and one copy running is enough.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
# One queue per kind of work (config/queues.py): a worker without -Q reads them all, one with
# -Q only those; an unknown queue name is refused rather than made.
CELERY_TASK_DEFAULT_QUEUE = queues.DEFAULT
CELERY_TASK_QUEUES = tuple(Queue(name, Exchange(name), routing_key=name) for name in queues.QUEUES)
CELERY_TASK_ROUTES = {task: {"queue": queue} for task, queue in queues.TASK_QUEUES.items()}
CELERY_TASK_CREATE_MISSING_QUEUES = False
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = TIME_ZONE

# Exports (docs/OPERATIONS.md, "Exports"): files outside the web root, kept for a while; more
# rows than the threshold are written by the worker, which may take this long for them.
EXPORT_ROOT = Path(env("EXPORT_ROOT", default=str(BASE_DIR / "var" / "exports")))
EXPORT_ASYNC_THRESHOLD = env.int("EXPORT_ASYNC_THRESHOLD", default=10_000)
EXPORT_RETENTION_HOURS = env.int("EXPORT_RETENTION_HOURS", default=24)
EXPORT_CHUNK_SIZE = env.int("EXPORT_CHUNK_SIZE", default=2_000)
EXPORT_TIME_LIMIT = env.int("EXPORT_TIME_LIMIT", default=1_800)
CELERY_TASK_ANNOTATIONS = {
    "wallet.export_job_process": {"time_limit": EXPORT_TIME_LIMIT, "soft_time_limit": EXPORT_TIME_LIMIT - 60}
}

IMPORT_EXPORT_EXPORT_PERMISSION_CODE = "export"
IMPORT_EXPORT_IMPORT_PERMISSION_CODE = "import"
IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT = True

# Where channels reach us (notify URLs they call back) and, with no real credentials, where our
# adapters reach the channel sandbox mounted at /sandbox/ (docs/ARCHITECTURE.md §6). The sandbox pays whatever
# its cashier page is asked to, so it is off unless asked for: `make run`, the tests and the
# benches turn it on; a channel without credentials then goes to it, otherwise it is not routed.
PUBLIC_BASE_URL = env("PUBLIC_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")
SANDBOX_ENABLED = env.bool("SANDBOX_ENABLED", default=False)
if SANDBOX_ENABLED:
    # Its tables, admin, URLs and tasks exist only then; production code never imports it.
    INSTALLED_APPS.insert(INSTALLED_APPS.index("reconciliation"), "payments.sandbox")
SANDBOX_BASE_URL = env("SANDBOX_BASE_URL", default=f"{PUBLIC_BASE_URL}/sandbox").rstrip("/")
# Seconds an adapter waits for a channel's answer once connected; past it the outcome is unknown.
CHANNEL_READ_TIMEOUT = env.float("CHANNEL_READ_TIMEOUT", default=10.0)

# First retry delay of a payout task after a transient channel error; doubles each time (3 retries).
PAYOUT_RETRY_BASE_SECONDS = env.float("PAYOUT_RETRY_BASE_SECONDS", default=5.0)
# How long a payment order may wait for the payer before the sweep closes it.
PAYMENT_ORDER_TTL_MINUTES = env.int("PAYMENT_ORDER_TTL_MINUTES", default=30)
# How long a rotated merchant webhook secret still signs beside the new one (docs/MERCHANTS.md).
MERCHANT_SECRET_OVERLAP_HOURS = env.int("MERCHANT_SECRET_OVERLAP_HOURS", default=24)
# The request header that carries the client's address when a trusted proxy sets it (for
# example X-Real-IP); empty: the connection's address. WeChat H5 checks the payer's IP.
CLIENT_IP_HEADER = env("CLIENT_IP_HEADER", default="")

# Delivers user notifications (payments.notifications.senders); a dotted path to a callable.
NOTIFICATION_SENDER = env("NOTIFICATION_SENDER", default="payments.notifications.senders.log_sender")

# Per-user rates of wallet.rest.throttles, kept in Redis ("10/minute", "100/hour").
THROTTLE_RATES = {
    "withdrawal_submit": env("WITHDRAWAL_SUBMIT_RATE", default="10/minute"),
    "payment_create": env("PAYMENT_CREATE_RATE", default="30/minute"),
    "refund_request": env("REFUND_REQUEST_RATE", default="30/minute"),
    "red_packet_send": env("RED_PACKET_SEND_RATE", default="30/minute"),
    "red_packet_grab": env("RED_PACKET_GRAB_RATE", default="60/minute"),
    "merchant_payment_create": env("MERCHANT_PAYMENT_CREATE_RATE", default="600/minute"),
}

# Largest amount the API accepts in one request, in yuan.
WALLET_MAX_AMOUNT = env("WALLET_MAX_AMOUNT", default="1000000.00")
WALLET_CURRENCY = "CNY"

# AES-256-GCM keys for sensitive fields (payout accounts), newest first: "id:base64key,id:base64key".
# New values are encrypted with the first; every listed key still decrypts.
FIELD_ENCRYPTION_KEYS = env("FIELD_ENCRYPTION_KEYS", default=DEVELOPMENT_VALUES["FIELD_ENCRYPTION_KEYS"])
# HMAC-SHA256 key of the blind indexes that find a card number or openid without decrypting.
BLIND_INDEX_KEY = env("BLIND_INDEX_KEY", default=DEVELOPMENT_VALUES["BLIND_INDEX_KEY"])

# Observability (docs/OPERATIONS.md, "Metrics, alerts and probes"): JSON log lines (LOG_FORMAT=json,
# the default without DEBUG) or plain ones, each with the request's id, user and order and with
# secrets masked; /metrics for loopback callers or a bearer METRICS_TOKEN; the request middleware
# (request id, HTTP metrics) first in MIDDLEWARE; django-health-check for /readyz.
LOG_FORMAT = env("LOG_FORMAT", default="text" if DEBUG else "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "context": {"()": "config.observability.logs.ContextFilter"},
        "masking": {"()": "config.observability.logs.MaskingFilter"},
    },
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(user_id)s %(order_no)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["context", "masking"]}
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
}
METRICS_TOKEN = env("METRICS_TOKEN", default="")
OBSERVED_CELERY_QUEUES = env.list("OBSERVED_CELERY_QUEUES", default=list(queues.QUEUES))
INSTALLED_APPS.append("health_check")
MIDDLEWARE.insert(0, "config.observability.http.ObservabilityMiddleware")

# Reconciliation (docs/RECONCILIATION.md): a one-sided item in the last minutes of a day waits
# for the next day's bill; a bill not published yet is asked for again (doubling delays, capped)
# until this hour of the next day, then the run fails with an alert.
RECONCILIATION_CROSS_DAY_MINUTES = env.int("RECONCILIATION_CROSS_DAY_MINUTES", default=30)
RECONCILIATION_BILL_DEADLINE_HOUR = env.int("RECONCILIATION_BILL_DEADLINE_HOUR", default=14)
RECONCILIATION_RETRY_SECONDS = env.int("RECONCILIATION_RETRY_SECONDS", default=900)
RECONCILIATION_RETRY_MAX_SECONDS = env.int("RECONCILIATION_RETRY_MAX_SECONDS", default=3600)
# PostgreSQL memory for sorts and hashes inside a run's transaction only (SET LOCAL work_mem).
RECONCILIATION_WORK_MEM = env("RECONCILIATION_WORK_MEM", default="64MB")

# Webhooks to business systems (docs/WEBHOOKS.md): the delay before each attempt of a round, in
# seconds (the first is the delivery itself; after the last failure the event is failed), the
# connect and read timeouts of one attempt, and how many attempts to one merchant may be under
# way at once across every worker (over it, an attempt waits a little, it is not made).
WEBHOOK_RETRY_DELAYS = [
    float(delay) for delay in env.list("WEBHOOK_RETRY_DELAYS", default=["0", "30", "60", "90", "120", "150"])
]
WEBHOOK_CONNECT_TIMEOUT = env.float("WEBHOOK_CONNECT_TIMEOUT", default=3.0)
WEBHOOK_READ_TIMEOUT = env.float("WEBHOOK_READ_TIMEOUT", default=5.0)
WEBHOOK_MERCHANT_CONCURRENCY = env.int("WEBHOOK_MERCHANT_CONCURRENCY", default=2)
WEBHOOK_BUSY_RETRY_SECONDS = env.float("WEBHOOK_BUSY_RETRY_SECONDS", default=5.0)
# Deliveries to loopback, private and other non-public addresses: only for tests and the local
# demo; outside DEBUG the processes refuse to start with it on (config.checks).
WEBHOOK_ALLOW_PRIVATE_URLS = env.bool("WEBHOOK_ALLOW_PRIVATE_URLS", default=False)


# Red packets (docs/WALLET.md): shares per packet and the largest packet, in yuan.
RED_PACKET_MAX_COUNT = env.int("RED_PACKET_MAX_COUNT", default=100)
RED_PACKET_MAX_AMOUNT = env("RED_PACKET_MAX_AMOUNT", default="200.00")

# Payment password (docs/WALLET.md, "Payment password"): what a valid one looks like, how many
# wrong tries lock it and for how long, and how long a one-time payment token lives.
PAYMENT_PASSWORD_PATTERN = env("PAYMENT_PASSWORD_PATTERN", default=r"^[0-9]{6}$")
PAYMENT_PASSWORD_MAX_TRIES = env.int("PAYMENT_PASSWORD_MAX_TRIES", default=5)
PAYMENT_PASSWORD_LOCK_SECONDS = env.int("PAYMENT_PASSWORD_LOCK_SECONDS", default=30 * 60)
PAYMENT_TOKEN_TTL_SECONDS = env.int("PAYMENT_TOKEN_TTL_SECONDS", default=5 * 60)
