"""REST API v1. Each app adds its routes in its own api_urls module."""

from django.urls import include, path

from accounts import api as accounts_api

urlpatterns = [
    path("programs/", accounts_api.ProgramList.as_view(), name="api-programs"),
    path("", include("optouts.api_urls")),
]
