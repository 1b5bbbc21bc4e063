"""Fixed-window rate limits in Django's cache (Redis in production, shared by all workers).

Limits are settings (docs/optouts.md): OPTOUT_RATE_LIMITS = {scope: (requests, seconds)}.
"""

from __future__ import annotations

import hashlib
import threading

import redis
from django.conf import settings
from django.core.cache import cache
from django.core.signals import setting_changed
from redis.commands.core import Script

DEFAULT_LIMITS = {
    # Lookups of an account from one client address (a household, an office behind NAT).
    "web_ip": (30, 600),
    # Lookups of one account number from anywhere: slows guessing of ZIPs for a known number.
    "web_account": (10, 3600),
    # IVR: lookups per calling number, and per account number.
    "ivr_caller": (15, 600),
    "ivr_account": (10, 3600),
}

REDIS_CACHE = "django.core.cache.backends.redis.RedisCache"

# The scopes in order, in one round trip: a counter is created with its window's expiry by the
# attempt that finds none, and the first scope over its limit stops the count, so an address
# already refused spends none of an account's attempts.
_COUNT_SCRIPT = """
for i, key in ipairs(KEYS) do
  local count = redis.call('INCR', key)
  if count == 1 then redis.call('EXPIRE', key, ARGV[2 * i]) end
  if count > tonumber(ARGV[2 * i - 1]) then return i end
end
return 0
"""

_lock = threading.Lock()
_scripts: dict[str, Script] = {}  # the count script, registered on each Redis URL


def _configured() -> dict:
    return getattr(settings, "OPTOUT_RATE_LIMITS", None) or {}


def limit_for(scope: str) -> tuple[int, int]:
    return tuple(_configured().get(scope, DEFAULT_LIMITS[scope]))


def _cache_key(scope: str, key: str) -> str:
    digest = hashlib.sha256(f"{scope}:{key}".encode()).hexdigest()[:32]
    return f"optout-rl:{digest}"


def _count_script() -> Script | None:
    """The count script on the default cache's Redis server (its first, the one Django writes
    to), or None when the cache is not Redis."""
    config = settings.CACHES["default"]
    if config["BACKEND"] != REDIS_CACHE:
        return None
    location = config["LOCATION"]
    url = (location if isinstance(location, str) else location[0]).split(",")[0]
    with _lock:
        if url not in _scripts:
            _scripts[url] = redis.Redis.from_url(url).register_script(_COUNT_SCRIPT)
        return _scripts[url]


def _forget_scripts(*, setting, **kwargs):
    if setting == "CACHES":
        with _lock:
            _scripts.clear()


setting_changed.connect(_forget_scripts)


def rate_limits_hit(*, attempts: list[tuple[str, str]]) -> bool:
    """Count one attempt for each (scope, key) in turn; True at the first scope whose limit is
    exceeded in its current window (the scopes after it are not counted)."""
    keys = [_cache_key(scope, key) for scope, key in attempts]
    limits = [limit_for(scope) for scope, _ in attempts]
    script = _count_script()
    if script is None:
        return any(_count(key, *limit) for key, limit in zip(keys, limits, strict=True))
    # Django's key for each counter (prefix and version), as its own cache calls would make.
    keys = [cache.make_key(key) for key in keys]
    return script(keys=keys, args=[n for limit in limits for n in limit]) != 0


def _count(key: str, limit: int, seconds: int) -> bool:
    """The same count through Django's cache API, for caches other than Redis."""
    # add() is atomic: only the first request of a window creates the counter with its expiry.
    if cache.add(key, 1, timeout=seconds):
        return limit < 1
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add() and incr()
        cache.add(key, 1, timeout=seconds)
        count = 1
    return count > limit


def rate_limit_hit(*, scope: str, key: str) -> bool:
    """Count one attempt; True when the limit for `scope` is exceeded in the current window."""
    return rate_limits_hit(attempts=[(scope, key)])


def client_ip(request) -> str:
    """REMOTE_ADDR, or the left-most X-Forwarded-For when OPTOUT_TRUST_X_FORWARDED_FOR is set
    (only behind a proxy that overwrites the header)."""
    if getattr(settings, "OPTOUT_TRUST_X_FORWARDED_FOR", False):
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            return forwarded.split(",")[0].strip()
    return request.META.get("REMOTE_ADDR", "")
