"""The one rate limiter of the opt-out channels: the web form, the IVR and the API all call
`rate_limits_hit`. Fixed windows counted in Django's cache (Redis in production, shared by all
workers); when the cache cannot be reached, a per-process count in this module takes over, so a
Redis outage neither refuses customers (no 500) nor lifts the limits.

Limits are settings (docs/optouts.md): OPTOUT_RATE_LIMITS = {scope: (requests, seconds)}.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import threading
import time

import redis
from django.conf import settings
from django.core.cache import cache
from django.core.signals import setting_changed
from redis.commands.core import Script

log = logging.getLogger(__name__)

DEFAULT_LIMITS = {
    # Lookups of an account from one client address (a household, an office behind NAT).
    "web_ip": (30, 600),
    # Lookups of one account number from anywhere: slows guessing of ZIPs for a known number.
    "web_account": (10, 3600),
    # IVR: lookups per calling number, and per account number.
    "ivr_caller": (15, 600),
    "ivr_account": (10, 3600),
    # API: requests per token's user (a feed posts many opt-outs; a stolen token still slows).
    "api_user": (1200, 60),
}

REDIS_CACHE = "django.core.cache.backends.redis.RedisCache"
# After the shared cache fails, this many seconds on the local count before trying it again, so
# an outage does not add a connection attempt to every request.
RETRY_SHARED_AFTER_S = 5.0
# A counter call to Redis waits at most this long (the default is to wait forever).
REDIS_TIMEOUT_S = 0.5

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
    limit, seconds = _configured().get(scope, DEFAULT_LIMITS[scope])
    return int(limit), int(seconds)


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
            client = redis.Redis.from_url(
                url, socket_connect_timeout=REDIS_TIMEOUT_S, socket_timeout=REDIS_TIMEOUT_S
            )
            _scripts[url] = client.register_script(_COUNT_SCRIPT)
        return _scripts[url]


class _LocalCounts:
    """Fixed windows in this process's memory: the fallback while the shared cache is down.
    With N web processes a client gets at most N times its limit — bounded, never unlimited."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[float, int]] = {}  # key → (window ends, count)

    def hit(self, keys: list[str], limits: list[tuple[int, int]]) -> bool:
        now = time.monotonic()
        with self._lock:
            if len(self._windows) > 100_000:  # forget finished windows now and then
                self._windows = {k: v for k, v in self._windows.items() if v[0] > now}
            for key, (limit, seconds) in zip(keys, limits, strict=True):
                ends, count = self._windows.get(key, (0.0, 0))
                if ends <= now:
                    ends, count = now + seconds, 0
                self._windows[key] = (ends, count + 1)
                if count + 1 > limit:
                    return True
        return False

    def clear(self) -> None:
        with self._lock:
            self._windows.clear()


_local = _LocalCounts()
_shared_down_until = 0.0  # monotonic time before which the shared cache is not tried
_warned = False  # one warning per outage, not one per request


def _forget_state(*, setting, **kwargs):
    global _shared_down_until, _warned
    if setting in ("CACHES", "OPTOUT_RATE_LIMITS"):
        with _lock:
            _scripts.clear()
            _shared_down_until, _warned = 0.0, False
        _local.clear()


setting_changed.connect(_forget_state)


def _shared_hit(keys: list[str], limits: list[tuple[int, int]]) -> bool:
    script = _count_script()
    if script is None:
        return any(_count(key, *limit) for key, limit in zip(keys, limits, strict=True))
    # Django's key for each counter (prefix and version), as its own cache calls would make.
    keys = [cache.make_key(key) for key in keys]
    return script(keys=keys, args=[n for limit in limits for n in limit]) != 0


def rate_limits_hit(*, attempts: list[tuple[str, str]]) -> bool:
    """Count one attempt for each (scope, key) in turn; True at the first scope whose limit is
    exceeded in its current window (the scopes after it are not counted)."""
    global _shared_down_until, _warned
    keys = [_cache_key(scope, key) for scope, key in attempts]
    limits = [limit_for(scope) for scope, _ in attempts]
    if time.monotonic() >= _shared_down_until:
        try:
            hit = _shared_hit(keys, limits)
        except (redis.RedisError, OSError) as exc:
            _shared_down_until = time.monotonic() + RETRY_SHARED_AFTER_S
            if not _warned:
                _warned = True
                log.warning(
                    "rate limits: shared cache unreachable (%s); counting in this process "
                    "until it is back",
                    type(exc).__name__,
                )
        else:
            if _warned:
                _warned = False
                log.warning("rate limits: shared cache reachable again")
            return hit
    return _local.hit(keys, limits)


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
    """One scope through the same limiter (`rate_limits_hit`)."""
    return rate_limits_hit(attempts=[(scope, key)])


def client_ip(request) -> str:
    """The client's address: REMOTE_ADDR, or, behind OPTOUT_TRUSTED_PROXY_COUNT proxies, the
    address the outermost trusted proxy appended to X-Forwarded-For (n-th from the right).
    Everything left of it was written by the client and is never believed."""
    remote = request.META.get("REMOTE_ADDR", "")
    proxies = trusted_proxy_count()
    if proxies < 1:
        return remote
    hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    hops = [h for h in hops if h]
    if len(hops) < proxies:
        # Fewer hops than proxies: the request did not come through all of them.
        return remote
    candidate = hops[-proxies]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote


def trusted_proxy_count() -> int:
    count = getattr(settings, "OPTOUT_TRUSTED_PROXY_COUNT", 0) or 0
    if not count and getattr(settings, "OPTOUT_TRUST_X_FORWARDED_FOR", False):
        count = 1  # the former switch: one proxy in front, which appends the client's address
    return int(count)
