"""Liveness and readiness (/healthz, /readyz; docs/operations.md says what to alert on).

Readiness names every check that failed: the database, the cache (rate limits), the Celery
broker, the age of the beat's last heartbeat, and the age of the oldest undelivered outbox item
of each kind (confirmation e-mail/SMS, letter, CCASR) against READYZ_MAX_AGE_S.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from celery import shared_task
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.utils import timezone
from kombu import Connection

from cca_notices.models import Heartbeat
from optouts.services.outbox import OUTBOX_KINDS, outbox_oldest

BEAT = "beat"
# Seconds; READYZ_MAX_AGE_S overrides any of them.
DEFAULT_MAX_AGE_S = {
    "beat": 10 * 60,  # the heartbeat runs every minute
    "confirmation": 30 * 60,  # e-mail and SMS leave within minutes (sweep every 5 minutes)
    "letter": 4 * 24 * 3600,  # issued by the daily run, then a daily mail batch; a weekend
    "ccasr": 3 * 24 * 3600,  # exported daily on business days
}

Result = dict[str, object]


def max_age_s(name: str) -> int:
    configured = getattr(settings, "READYZ_MAX_AGE_S", None) or {}
    return int(configured.get(name, DEFAULT_MAX_AGE_S[name]))


@shared_task(name="cca_notices.health.heartbeat")
def heartbeat() -> str:
    """Scheduled by beat every minute; run by a worker, so its age covers beat, broker and
    worker at once."""
    Heartbeat.objects.update_or_create(name=BEAT, defaults={"at": timezone.now()})
    return BEAT


def check_database() -> Result:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return {}


def check_cache() -> Result:
    cache.set("readyz-probe", 1, timeout=30)
    if cache.get("readyz-probe") != 1:
        raise RuntimeError("cache did not return what was written")
    return {}


def check_broker() -> Result:
    url = settings.CELERY_BROKER_URL
    if getattr(settings, "CELERY_TASK_ALWAYS_EAGER", False) or url.startswith("memory://"):
        return {"detail": "no broker: tasks run in the web process"}
    with Connection(url, connect_timeout=2) as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
    return {}


def _age_s(at: dt.datetime | None) -> float | None:
    return None if at is None else round((timezone.now() - at).total_seconds(), 1)


def check_beat() -> Result:
    if not getattr(settings, "READYZ_BEAT_REQUIRED", False):
        return {"detail": "not required (READYZ_BEAT_REQUIRED off)"}
    at = Heartbeat.objects.filter(name=BEAT).values_list("at", flat=True).first()
    age, limit = _age_s(at), max_age_s("beat")
    if age is None or age > limit:
        raise AgeExceeded({"age_s": age, "max_age_s": limit})
    return {"age_s": age, "max_age_s": limit}


class AgeExceeded(Exception):
    def __init__(self, result: Result):
        age = result.get("age_s", result.get("oldest_age_s"))
        super().__init__(f"age {age} s over {result['max_age_s']} s")
        self.result = result


def check_outbox() -> dict[str, Callable[[], Result]]:
    """One check per outbox kind, from one read of the oldest items."""
    oldest = outbox_oldest()

    def check(kind: str) -> Callable[[], Result]:
        def run() -> Result:
            age, limit = _age_s(oldest[kind]), max_age_s(kind)
            if age is not None and age > limit:
                raise AgeExceeded({"oldest_age_s": age, "max_age_s": limit})
            return {"oldest_age_s": age, "max_age_s": limit}

        return run

    return {f"outbox_{kind}": check(kind) for kind in oldest}


CHECKS: dict[str, Callable[[], Result]] = {
    "database": check_database,
    "cache": check_cache,
    "broker": check_broker,
    "beat": check_beat,
}
CHECK_NAMES = frozenset(CHECKS) | {f"outbox_{kind}" for kind in OUTBOX_KINDS}


def readiness(only: set[str] | None = None) -> tuple[bool, dict[str, Result]]:
    """Every check (or the ones named in `only`), each {"ok": bool, …}; ready when all are ok.
    A load balancer asks for `database` only: the app rides out a Redis outage, and a backlog
    is for people to act on, not a reason to take every node out of rotation."""
    checks = dict(CHECKS)
    results: dict[str, Result] = {}
    if only is None or any(name.startswith("outbox") for name in only):
        try:
            checks.update(check_outbox())
        except Exception as exc:  # the database is down: the outbox cannot be read either
            results["outbox"] = {"ok": False, "error": _error(exc)}
    if only is not None:
        checks = {name: run for name, run in checks.items() if name in only}
    for name, run in checks.items():
        try:
            results[name] = {"ok": True, **run()}
        except AgeExceeded as exc:
            results[name] = {"ok": False, **exc.result, "error": str(exc)}
        except Exception as exc:
            results[name] = {"ok": False, "error": _error(exc)}
    return all(r["ok"] for r in results.values()), results


def _error(exc: Exception) -> str:
    # The exception's class and first line: enough to act on, no connection string.
    first = str(exc).splitlines()[0][:200] if str(exc) else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__
