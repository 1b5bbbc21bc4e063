"""Per request: a request id for the logs and the audit context (channel, actor) for the audit log.

The channel follows the URL: `/api/` is the API, `/ivr/` the IVR, `/admin/` staff, everything
else the customer web pages; the admin's agent and reply-card screens name their own channel.
"""

from __future__ import annotations

from accounts import audit_context
from accounts.audit_context import AuditChannel

# Admin screens that are customer channels of their own (url names in optouts/admin.py).
_VIEW_CHANNELS = {
    "optouts_agent": AuditChannel.AGENT,
    "optouts_reply_cards": AuditChannel.REPLY_CARD,
}
_PATH_CHANNELS = (
    ("/api/", AuditChannel.API),
    ("/ivr/", AuditChannel.IVR),
    ("/admin/", AuditChannel.ADMIN),
)


def channel_for_path(path: str) -> str:
    for prefix, channel in _PATH_CHANNELS:
        if path.startswith(prefix):
            return channel
    return AuditChannel.WEB


class RequestContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = audit_context.request_id_accept(request.headers.get("X-Request-ID"))
        with audit_context.audit_context(
            channel=channel_for_path(request.path_info),
            # The user is read when an entry is written: API token authentication sets it late.
            user=lambda: getattr(request, "user", None),
            actor_name="anonymous",
            request_id=request_id,
            remote_addr=request.META.get("REMOTE_ADDR") or None,
        ):
            request.request_id = request_id
            response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        match = request.resolver_match
        if match is not None and match.url_name in _VIEW_CHANNELS:
            audit_context.audit_channel_set(_VIEW_CHANNELS[match.url_name])
        return None
