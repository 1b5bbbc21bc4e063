"""REST API v1. Each app adds its routes in its own api_urls module."""

from django.urls import include, path

from accounts import api as accounts_api
from cca_notices import api_auth

urlpatterns = [
    path("auth/login/", api_auth.ApiLogin.as_view(), name="api-login"),
    path("auth/logout/", api_auth.ApiLogout.as_view(), name="api-logout"),
    path("auth/logout-all/", api_auth.ApiLogoutAll.as_view(), name="api-logout-all"),
    path("programs/", accounts_api.ProgramList.as_view(), name="api-programs"),
    path("", include("optouts.api_urls")),
]
