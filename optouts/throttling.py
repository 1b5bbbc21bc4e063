"""The API's throttle: the opt-out channels' one rate limiter (optouts.services.ratelimit), per
authenticated user (a feed's token), or per client address before authentication."""

from rest_framework.throttling import BaseThrottle

from optouts.services.ratelimit import client_ip, limit_for, rate_limits_hit


class OptOutRateThrottle(BaseThrottle):
    scope = "api_user"

    def allow_request(self, request, view) -> bool:
        user = getattr(request, "user", None)
        key = (
            f"user:{user.pk}" if user is not None and user.is_authenticated else client_ip(request)
        )
        return not rate_limits_hit(attempts=[(self.scope, key)])

    def wait(self) -> float:
        return float(limit_for(self.scope)[1])
