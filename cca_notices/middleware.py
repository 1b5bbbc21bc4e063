"""Per request, before any view: a NUL character refused (PostgreSQL cannot hold one), a
request id for the logs, and the audit context (channel, actor) for the audit log.

The channel follows the URL: `/api/` is the API, `/ivr/` the IVR, `/admin/` staff, everything
else the customer web pages; the admin's agent and reply-card screens name their own channel.
No legitimate input of this product holds a NUL: a 400 that says where it was is the answer, in
the page's language (Spanish under /es/).
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, QueryDict
from django.utils import translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts import audit_context
from accounts.audit_context import AuditChannel
from cca_notices.errors import error_response, page_language

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


NUL = "\x00"
# Form bodies are parsed here only when Django would parse them anyway (urlencoded or multipart).
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


# Where a NUL was found, in the words of the message; lazy, so each is said in the page's
# language when the message is built.
PLACES = {
    "path": _("the path"),
    "query": _("the query parameter %(name)s"),
    "header": _("the header %(name)s"),
    "form": _("the form field %(name)s"),
}


def nul_found(request: HttpRequest) -> tuple[str, str] | None:
    """Where a NUL is in the request: a key of PLACES and the parameter or header named (blank
    for the path), or None."""
    if NUL in request.path_info or NUL in request.path:
        return "path", ""
    name = _in_params(request.GET)
    if name is not None:
        return "query", name
    for key, value in request.META.items():
        if key.startswith("HTTP_") and isinstance(value, str) and NUL in value:
            return "header", key[5:].replace("_", "-").title()
    if request.method == "POST" and request.content_type in FORM_TYPES:
        name = _in_params(request.POST)
        if name is not None:
            return "form", name
    return None


def _in_params(params: QueryDict) -> str | None:
    for key, values in params.lists():
        if NUL in key or any(NUL in v for v in values):
            return repr(key.replace(NUL, ""))
    return None


def nul_message(place: str, name: str) -> str:
    """The visitor's message for a NUL found at `place`, in the active language."""
    where = PLACES[place] % {"name": name}
    return gettext("A NUL character (\\x00) is not allowed in %(where)s.") % {"where": where}


class RejectNulMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        found = nul_found(request)
        if found is None:
            return self.get_response(request)
        # Before LocaleMiddleware: the page's language comes from its path (/es/… is Spanish).
        with translation.override(page_language(request)):
            message = nul_message(*found)
        return error_response(request, 400, message)
