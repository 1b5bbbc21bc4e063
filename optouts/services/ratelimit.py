"""Fixed-window rate limits in Django's cache (Redis in production, shared by all workers).

Limits are settings (docs/optouts.md): OPTOUT_RATE_LIMITS = {scope: (requests, seconds)}.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.cache import cache

DEFAULT_LIMITS = {
    # Lookups of an account from one client address (a household, an office behind NAT).
    "web_ip": (30, 600),
    # Lookups of one account number from anywhere: slows guessing of ZIPs for a known number.
    "web_account": (10, 3600),
    # IVR: lookups per calling number, and per account number.
    "ivr_caller": (15, 600),
    "ivr_account": (10, 3600),
}


def _configured() -> dict:
    return getattr(settings, "OPTOUT_RATE_LIMITS", None) or {}


def limit_for(scope: str) -> tuple[int, int]:
    return tuple(_configured().get(scope, DEFAULT_LIMITS[scope]))


def rate_limit_hit(*, scope: str, key: str) -> bool:
    """Count one attempt; True when the limit for `scope` is exceeded in the current window."""
    limit, seconds = limit_for(scope)
    digest = hashlib.sha256(f"{scope}:{key}".encode()).hexdigest()[:32]
    cache_key = f"optout-rl:{digest}"
    # add() is atomic: only the first request of a window creates the counter with its expiry.
    if cache.add(cache_key, 1, timeout=seconds):
        return limit < 1
    try:
        count = cache.incr(cache_key)
    except ValueError:  # expired between add() and incr()
        cache.add(cache_key, 1, timeout=seconds)
        count = 1
    return count > limit


def client_ip(request) -> str:
    """REMOTE_ADDR, or the left-most X-Forwarded-For when OPTOUT_TRUST_X_FORWARDED_FOR is set
    (only behind a proxy that overwrites the header)."""
    if getattr(settings, "OPTOUT_TRUST_X_FORWARDED_FOR", False):
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            return forwarded.split(",")[0].strip()
    return request.META.get("REMOTE_ADDR", "")
