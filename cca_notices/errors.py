"""What a visitor sees when a request fails: a short page (customer pages) or JSON (the API),
never a traceback. Wired as Django's handler400/403/404/500 (cca_notices/urls.py) and as DRF's
exception handler (settings.REST_FRAMEWORK)."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import loader
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import ValidationError
from rest_framework.views import exception_handler

# What a visitor is told per status, in the language of the page (the customer pages are English
# and Spanish; the Spanish is in locale/es/LC_MESSAGES/django.po); only a message written for
# the visitor (the NUL check's, cca_notices.middleware) is added to it.
TEXTS = {
    400: (
        _("The request could not be read"),
        _("Something in the address or the form was not valid. Go back and try again."),
    ),
    403: (
        _("You may not open this page"),
        _("Sign in with an account that may see it, or go back to the start."),
    ),
    404: (_("Page not found"), _("The address may be mistyped, or the page has moved.")),
    500: (
        _("Something went wrong on our side"),
        _("Your request was not completed. Please try again in a few minutes, or call us."),
    ),
}
BACK = _("Back to the opt-out page")
ERROR = _("Error")


def _wants_json(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def page_language(request: HttpRequest) -> str:
    """The language of the page asked for, from its path alone (/es/… is Spanish): an error may
    be answered before LocaleMiddleware has run. The API speaks English."""
    if _wants_json(request):
        return "en"
    return translation.get_language_from_path(request.path_info) or settings.LANGUAGE_CODE


def error_response(request: HttpRequest, status: int, message: str = "") -> HttpResponse:
    """The page (or, under /api/, the JSON body) for `status`, with `message` if given (already
    in the page's language, `page_language`)."""
    if _wants_json(request):
        with translation.override("en"):  # the API speaks English
            return JsonResponse({"detail": message or str(TEXTS[status][0])}, status=status)
    lang = page_language(request)
    with translation.override(lang):
        title, explanation = TEXTS[status]
        body = loader.render_to_string(
            "errors/error.html",
            {
                "status": status,
                "title": str(title),
                "explanation": str(explanation),
                "message": message,
                "back": str(BACK),
                "error": str(ERROR),
                "LANGUAGE_CODE": lang,
                "home": "/es/opt-out/" if lang == "es" else "/opt-out/",
            },
        )
    return HttpResponse(body, status=status)


def bad_request(request, exception=None):
    # An exception's own text may quote internals: the visitor gets the page's words only.
    return error_response(request, 400)


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
