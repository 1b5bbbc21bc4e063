"""REST API v1. Each app adds its routes here."""
from django.urls import path

from accounts import api as accounts_api

urlpatterns = [
    path("programs/", accounts_api.ProgramList.as_view(), name="api-programs"),
]
