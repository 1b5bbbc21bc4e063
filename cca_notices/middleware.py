"""Refuse a NUL character before any view sees it.

PostgreSQL cannot store or compare a text value holding U+0000, so a NUL that reached a query
(an account number in the path, a `?program=`, an Idempotency-Key, a session cookie, a form
field) became a server error. No legitimate input of this product holds one: a 400 that says
where it was is the answer."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, QueryDict

from cca_notices.errors import error_response

NUL = "\x00"
# Form bodies are parsed here only when Django would parse them anyway (urlencoded or multipart).
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def nul_found(request: HttpRequest) -> str:
    """Where a NUL is in the request ("the path", "the query parameter 'q'", …), or ""."""
    if NUL in request.path_info or NUL in request.path:
        return "the path"
    where = _in_params(request.GET, "query parameter")
    if where:
        return where
    for key, value in request.META.items():
        if key.startswith("HTTP_") and isinstance(value, str) and NUL in value:
            return f"the header {key[5:].replace('_', '-').title()}"
    if request.method == "POST" and request.content_type in FORM_TYPES:
        return _in_params(request.POST, "form field")
    return ""


def _in_params(params: QueryDict, kind: str) -> str:
    for key, values in params.lists():
        if NUL in key or any(NUL in v for v in values):
            return f"the {kind} {key.replace(NUL, '')!r}"
    return ""


class RejectNulMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        where = nul_found(request)
        if where:
            return error_response(
                request, 400, f"A NUL character (\\x00) is not allowed in {where}."
            )
        return self.get_response(request)
