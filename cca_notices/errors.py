"""What a visitor sees when a request fails: a short page (customer pages) or JSON (the API),
never a traceback. Wired as Django's handler400/403/404/500 (cca_notices/urls.py) and as DRF's
exception handler (settings.REST_FRAMEWORK)."""

from __future__ import annotations

import logging

from django.core.exceptions import BadRequest
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import loader
from django.utils import translation
from rest_framework.exceptions import ValidationError
from rest_framework.views import exception_handler

logger = logging.getLogger(__name__)

TITLES = {
    400: "The request could not be read",
    403: "You may not open this page",
    404: "Page not found",
    500: "Something went wrong on our side",
}
# What a visitor is told, per status; only a BadInput's own message (written by us) is added.
EXPLANATIONS = {
    400: "Something in the address or the form was not valid. Go back and try again.",
    403: "Sign in with an account that may see it, or go back to the start.",
    404: "The address may be mistyped, or the page has moved.",
    500: "Your request was not completed. Please try again in a few minutes, or call us.",
}


class BadInput(BadRequest):
    """Input we refuse before any view runs; its message is shown to the sender."""


def _wants_json(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def error_response(request: HttpRequest, status: int, message: str = "") -> HttpResponse:
    """The page (or, under /api/, the JSON body) for `status`, with `message` if given."""
    if _wants_json(request):
        return JsonResponse({"detail": message or TITLES[status]}, status=status)
    lang = "es" if request.path.startswith("/es/") else "en"
    with translation.override(lang):
        body = loader.render_to_string(
            "errors/error.html",
            {
                "status": status,
                "title": TITLES[status],
                "explanation": EXPLANATIONS[status],
                "message": message,
                "LANGUAGE_CODE": lang,
                "home": "/es/opt-out/" if lang == "es" else "/opt-out/",
            },
        )
    return HttpResponse(body, status=status)


def bad_request(request, exception=None):
    return error_response(request, 400, str(exception) if isinstance(exception, BadInput) else "")


def permission_denied(request, exception=None):
    return error_response(request, 403)


def page_not_found(request, exception=None):
    return error_response(request, 404)


def server_error(request):
    return error_response(request, 500)


def api_exception_handler(exc, context):
    """DRF's handler, plus: a Django ValidationError (a model or field check that reached the
    view) is a 400 naming the field, not a 500."""
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        exc = ValidationError(detail)
    return exception_handler(exc, context)
