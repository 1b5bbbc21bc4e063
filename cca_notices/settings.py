"""One settings module, read from the environment (names in docs/configuration.md).

With nothing set, the app runs on a SQLite file and Celery runs tasks eagerly, so a new user
needs nothing installed beyond Python.
"""

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
    "rest_framework.authtoken",
    "drf_spectacular",
    "django_celery_beat",
    "accounts",
    "cca_notices",
    "optouts",
]

MIDDLEWARE = [
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
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Celery: without a broker the tasks run in-process, so the embedded default needs no Redis.
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Synced into django-celery-beat's tables when beat starts; staff can pause entries in the admin.
from cca_notices.beat_schedule import BEAT_SCHEDULE as CELERY_BEAT_SCHEDULE  # noqa: E402, F401

EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
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
# Only behind a proxy that overwrites X-Forwarded-For.
OPTOUT_TRUST_X_FORWARDED_FOR = env.bool("OPTOUT_TRUST_X_FORWARDED_FOR", default=False)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
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
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # WeasyPrint and fontTools log every rendering step at INFO; only their warnings matter here.
    "loggers": {
        name: {"level": "WARNING"} for name in ("django.db.backends", "weasyprint", "fontTools")
    },
}

LOGIN_URL = "/admin/login/"
