"""API tokens (django-rest-knox; docs/api.md "Tokens"): stored as SHA-512 digests, each with an
expiry (REST_KNOX TOKEN_TTL, API_TOKEN_TTL_DAYS), revocable one by one or all of a user's.

`POST /api/v1/auth/login/` with HTTP Basic credentials issues a token; the login goes through
django-axes like the admin's, so guessing a password is throttled there too. Operators issue a
token for an API-feed user with `manage.py issue_api_token USER`.
"""

from drf_spectacular.utils import extend_schema, inline_serializer
from knox import views as knox_views
from rest_framework import serializers, status
from rest_framework.authentication import BasicAuthentication
from rest_framework.response import Response

TOKEN = inline_serializer(
    "ApiToken",
    {
        "token": serializers.CharField(help_text="Shown once; only its digest is stored."),
        "expiry": serializers.DateTimeField(),
    },
)


class ApiLogin(knox_views.LoginView):
    authentication_classes = [BasicAuthentication]

    def handle_exception(self, exc):
        # django-axes marks the request it was given (this DRF request) when the user name and
        # address are locked out: answer 429 as the admin's login does, not a plain 401.
        if getattr(self.request, "axes_locked_out", False):
            return Response(
                {"detail": "Too many failed logins; try again later."},
                status=status.HTTP_429_TOO_MANY_REQUESTS,
            )
        return super().handle_exception(exc)

    @extend_schema(
        summary="Issue an API token (HTTP Basic credentials)", request=None, responses={200: TOKEN}
    )
    def post(self, request, format=None):
        return super().post(request, format=format)


class ApiLogout(knox_views.LogoutView):
    @extend_schema(summary="Revoke the token of this request", request=None, responses={204: None})
    def post(self, request, format=None):
        return super().post(request, format=format)


class ApiLogoutAll(knox_views.LogoutAllView):
    @extend_schema(summary="Revoke every token of this user", request=None, responses={204: None})
    def post(self, request, format=None):
        return super().post(request, format=format)
