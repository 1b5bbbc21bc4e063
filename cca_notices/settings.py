"""One settings module, read from the environment (names in docs/configuration.md).

With nothing set, the app runs on a SQLite file and Celery runs tasks eagerly, so a new user
needs nothing installed beyond Python.
"""

import os
from datetime import timedelta
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)
VAR_DIR = env.path("VAR_DIR", default=BASE_DIR / "var")


def _local_secret_key() -> str:
    """A key made once per install and kept in var/, so no key is ever committed or shared."""
    import secrets

    path = Path(VAR_DIR) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = env.str("SECRET_KEY", default="") or _local_secret_key()
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "knox",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "csp",
    "django_celery_beat",
    # Before accounts, whose admin replaces auditlog's view of the audit log.
    "auditlog",
    "accounts",
    "cca_notices",
    "optouts",
]

MIDDLEWARE = [
    # First: the request id and the audit context (channel, actor) cover everything below.
    "cca_notices.middleware.RequestContextMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Before anything reads the session, the user or a form: a NUL never reaches PostgreSQL.
    "cca_notices.middleware.RejectNulMiddleware",
    # Static files from the app itself, under runserver and gunicorn alike (no separate web
    # server needed).
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "cca_notices.security_headers.PermissionsPolicyMiddleware",
    # Last, as django-axes requires: it answers a locked-out login with 429.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "cca_notices.urls"
WSGI_APPLICATION = "cca_notices.wsgi.application"

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

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{Path(VAR_DIR) / 'db.sqlite3'}")}
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # A covering index's INCLUDE columns are a PostgreSQL speed-up; SQLite builds the index on
    # its key columns alone, which is all the embedded default needs.
    SILENCED_SYSTEM_CHECKS = ["models.W040"]
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and a busy timeout let the dev server and an eager Celery task share the file.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("es", "Español")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Customer-facing dates and money per language (accounts.services.display).
FORMAT_MODULE_PATH = ["cca_notices.formats"]
# Every date in this product is a business date in the CCA's own time zone.
TIME_ZONE = "America/Los_Angeles"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env.path("STATIC_ROOT", default=Path(VAR_DIR) / "static")
MEDIA_ROOT = env.path("MEDIA_ROOT", default=Path(VAR_DIR) / "media")
MEDIA_URL = "media/"
# Serve straight from the app's static folders unless `collectstatic` was run (then from
# STATIC_ROOT).
WHITENOISE_USE_FINDERS = env.bool("WHITENOISE_USE_FINDERS", default=True)
Path(STATIC_ROOT).mkdir(parents=True, exist_ok=True)  # WhiteNoise warns about a missing root
WHITENOISE_AUTOREFRESH = DEBUG

# Redis when configured (shared by gunicorn workers: rate limits must hold across them).
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            # A cache outage answers in a second instead of hanging the request (/readyz says so).
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Celery: without a broker the tasks run in-process, so the embedded default needs no Redis.
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TIMEZONE = TIME_ZONE
# A task is acknowledged when it finishes, so a worker killed mid-task (SIGKILL, OOM) leaves its
# message to be delivered again: after the visibility timeout on Redis, at once when a prefork
# child dies. Tasks are idempotent (claims with a lease); docs/reliability.md, "Killed workers".
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Task modules outside the apps' tasks.py: the heartbeat and the outbox sweep.
CELERY_IMPORTS = ["cca_notices.health", "optouts.services.outbox"]
# The worker logs through LOGGING below (JSON, request ids), not Celery's own plain format.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Longer than the longest task (a mail batch), or a running task is delivered a second time.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)
}
# How long a confirmation's claim, and a mail batch's write or file claim, hold before the work
# of a killed worker is taken again (seconds).
CONFIRMATION_CLAIM_LEASE_SECONDS = env.int("CONFIRMATION_CLAIM_LEASE_SECONDS", default=600)
CONFIRMATION_MAX_ATTEMPTS = env.int("CONFIRMATION_MAX_ATTEMPTS", default=8)
MAIL_BATCH_LEASE_SECONDS = env.int("MAIL_BATCH_LEASE_SECONDS", default=900)
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Synced into django-celery-beat's tables when beat starts; staff can pause entries in the admin.
from cca_notices.beat_schedule import BEAT_SCHEDULE as CELERY_BEAT_SCHEDULE  # noqa: E402, F401

# /readyz (cca_notices/health.py, docs/operations.md): the beat's heartbeat is required where
# a broker is (beat runs there); ages in seconds over the defaults there.
READYZ_BEAT_REQUIRED = env.bool("READYZ_BEAT_REQUIRED", default=bool(REDIS_URL))
READYZ_MAX_AGE_S = env.json("READYZ_MAX_AGE_S", default={})
# The outbox sweep sends e-mail and SMS confirmations still pending this many seconds after
# they were written (the after-commit task has had its chance; optouts/services/outbox.py).
OUTBOX_REDELIVER_AFTER_S = env.int("OUTBOX_REDELIVER_AFTER_S", default=60)

# The console backend (e-mails printed, recipients and all) only on the embedded default; with a
# real database and no EMAIL_URL, e-mail confirmations wait, pending, until one is set
# (optouts.services.confirmations.email_configured) and `check --deploy` names it.
EMAIL_NOT_CONFIGURED = "optouts.email_backend.NotConfiguredBackend"
if env.str("EMAIL_URL", default="") or "DATABASE_URL" not in os.environ:
    EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
    vars().update(EMAIL_CONFIG)
else:
    EMAIL_BACKEND = EMAIL_NOT_CONFIGURED
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="notices@localhost")

TWILIO_ACCOUNT_SID = env.str("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN = env.str("TWILIO_AUTH_TOKEN", default="")
# {"webhooks_sharedkey_…": "secret", …}: webhook signing keys, for webhooks configured to sign
# with a shared key (X-Twilio-Webhooks-Signature-Settings) instead of the auth token.
TWILIO_WEBHOOK_SHARED_KEYS = env.json("TWILIO_WEBHOOK_SHARED_KEYS", default={})
TWILIO_FROM_NUMBER = env.str("TWILIO_FROM_NUMBER", default="")
# The URL Twilio called, when a proxy rewrites scheme or host (signatures are over that URL).
IVR_PUBLIC_BASE_URL = env.str("IVR_PUBLIC_BASE_URL", default="")
OPTOUT_IVR_VOICES = env.json("OPTOUT_IVR_VOICES", default={}) or None

# Opt-out rate limits, JSON {"scope": [attempts, seconds]} over the defaults in
# optouts/services/ratelimit.py (docs/optouts.md).
OPTOUT_RATE_LIMITS = env.json("OPTOUT_RATE_LIMITS", default={}) or None
# The client address for rate limits: 0 = REMOTE_ADDR; n = the address the n-th proxy from us
# appended to X-Forwarded-For (the left of the header is the client's to forge).
OPTOUT_TRUSTED_PROXY_COUNT = env.int("OPTOUT_TRUSTED_PROXY_COUNT", default=0)
# Former switch, read as OPTOUT_TRUSTED_PROXY_COUNT = 1 when that is unset.
OPTOUT_TRUST_X_FORWARDED_FOR = env.bool("OPTOUT_TRUST_X_FORWARDED_FOR", default=False)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Tokens stored as SHA-512 digests, with an expiry, revocable (docs/api.md).
        "knox.auth.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # The opt-out channels' one rate limiter (scope api_user), Redis-down fallback included.
    "DEFAULT_THROTTLE_CLASSES": ["optouts.throttling.OptOutRateThrottle"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "cca_notices.api_params.StrictCursorPagination",
    "PAGE_SIZE": 100,
    # A bad parameter is a 400 naming it, never a 500 (cca_notices/errors.py).
    "EXCEPTION_HANDLER": "cca_notices.errors.api_exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "CCA Notices API",
    "DESCRIPTION": "Opt-outs, account status and notices for a Community Choice Aggregator.",
    "VERSION": "1.0.0",
    # Swagger UI from our own static files (drf-spectacular-sidecar), never from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SERVE_PERMISSIONS": ["cca_notices.api_access.SchemaReader"],
}
# The schema and Swagger UI are for signed-in staff and API users unless this opens them.
API_DOCS_PUBLIC = env.bool("API_DOCS_PUBLIC", default=False)
REST_KNOX = {
    "TOKEN_TTL": timedelta(days=env.int("API_TOKEN_TTL_DAYS", default=90)),
    "AUTH_HEADER_PREFIX": "Token",
}

# --- security (docs/configuration.md "Security"): Django's own names, read from the environment.
# Off by default so `make run` serves plain HTTP on 127.0.0.1; production sets them (behind TLS).
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
# "HTTP_X_FORWARDED_PROTO,https": only behind a proxy that sets (and strips) that header.
SECURE_PROXY_SSL_HEADER = env.tuple("SECURE_PROXY_SSL_HEADER", default=None) or None
USE_X_FORWARDED_HOST = env.bool("USE_X_FORWARDED_HOST", default=False)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=False)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=False)
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=8 * 3600)
SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# django-csp: everything from this site only. Styles allow inline because Django's admin and
# Swagger UI set style attributes; no inline script runs anywhere.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"

# Staff login throttled against guessing (django-axes): after AXES_FAILURE_LIMIT failures for one
# user name from one address, that pair is locked out for AXES_COOLOFF_MINUTES (429).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=30))
AXES_LOCKOUT_PARAMETERS = [
    [p.strip() for p in group.split("+")]
    for group in env.list("AXES_LOCKOUT_PARAMETERS", default=["username+ip_address"])
]
AXES_RESET_ON_SUCCESS = True
# The client address as the opt-out rate limiter reads it (one rule for the proxy set-up).
AXES_CLIENT_IP_CALLABLE = "optouts.services.ratelimit.client_ip"

# Logs: one JSON object a line on stderr (time, level, logger, message, request_id, extra);
# LOG_FORMAT=text for a developer's terminal. No customer data in any record
# (docs/operations.md, "Logs").
LOG_FORMAT = env.str("LOG_FORMAT", default="json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "accounts.log_format.RequestIdFilter"},
        "require_debug_false": {"()": "django.utils.log.RequireDebugFalse"},
    },
    "formatters": {
        "json": {"()": "accounts.log_format.JsonFormatter"},
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "text" if LOG_FORMAT == "text" else "json",
            "filters": ["request_id"],
        },
        # Django's error e-mail to ADMINS (none unless set), through the reporter below.
        "mail_admins": {
            "class": "django.utils.log.AdminEmailHandler",
            "filters": ["require_debug_false"],
            "level": "ERROR",
        },
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # Django's own loggers through the same JSON handler (its defaults print plain text).
        "django": {"handlers": ["mail_admins"], "level": "INFO", "propagate": True},
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
        # At DEBUG these print whole template contexts and SQL parameters: customer data.
        # Pinned above DEBUG whatever LOG_LEVEL says.
        "django.template": {"level": "INFO"},
        # WeasyPrint and fontTools log every rendering step at INFO; only their warnings matter.
        **{
            name: {"level": "WARNING"}
            for name in ("django.db.backends", "weasyprint", "fontTools", "axes")
        },
    },
}
ADMINS = [tuple(a.split(":", 1)) for a in env.list("ADMINS", default=[]) if ":" in a]
# Error reports (the ADMINS e-mail, the debug page) never show POST data, local variables or
# query strings: every view here handles customer data.
DEFAULT_EXCEPTION_REPORTER_FILTER = "accounts.log_format.CustomerDataReporterFilter"
DEFAULT_EXCEPTION_REPORTER = "accounts.log_format.CustomerDataExceptionReporter"

# The audit log (docs/operations.md, "Audit log"): django-auditlog records every save and delete
# of these models into accounts.AuditEntry, with the channel and actor set at the edges.
AUDITLOG_LOGENTRY_MODEL = "accounts.AuditEntry"
# auditlog's own migrations create its default table, which the swapped model leaves unused;
# without them the app adds no table (the log is accounts_auditentry, migration accounts 0009).
MIGRATION_MODULES = {"auditlog": None}
AUDITLOG_CID_GETTER = "accounts.audit_context.current_request_id"
AUDITLOG_STORE_JSON_CHANGES = True
AUDITLOG_MASK_CALLABLE = "accounts.audit_log.mask_value"
AUDITLOG_INCLUDE_TRACKING_MODELS = (
    # program settings
    "accounts.Utility",
    "accounts.Program",
    "accounts.Closure",
    "accounts.Phase",
    "accounts.RateSchedule",
    "accounts.Product",
    "accounts.FeeSchedule",
    "accounts.PowerContentLabel",
    "cca_notices.RuleSet",
    # accounts, their status and their imports
    # The personal code alone opts a customer out: the log says it changed, not its value.
    {"model": "accounts.ServiceAccount", "mask_fields": ["opt_out_code"]},
    "accounts.StatusChange",
    "accounts.ImportRun",
    # notices and batches
    "cca_notices.Notice",
    "cca_notices.NoticeChange",
    "cca_notices.MailBatch",
    "cca_notices.ScheduleRun",
    # opt-outs, fees and waivers, re-entry, rejoin, CCASRs, moves, confirmations
    "optouts.OptOutRequest",
    "optouts.RetentionAcceptance",
    "optouts.FeeEntry",
    "optouts.FeeExport",
    "optouts.ReentryRequest",
    "optouts.RejoinRequest",
    "optouts.ServiceRequest",
    "optouts.CcasrExport",
    "optouts.Move",
    {"model": "optouts.Confirmation", "exclude_fields": ["letter_pdf"]},
    # who may do what
    {
        "model": "auth.User",
        "m2m_fields": ["groups", "user_permissions"],
        "exclude_fields": ["password", "last_login"],
    },
    {"model": "auth.Group", "m2m_fields": ["permissions"]},
)

LOGIN_URL = "/admin/login/"
