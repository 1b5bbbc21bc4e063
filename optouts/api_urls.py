"""Opt-out API routes under /api/v1/ (docs/api.md)."""

from django.urls import path

from optouts import api

urlpatterns = [
    path("opt-outs/", api.OptOutListCreate.as_view(), name="api-optouts"),
    path(
        "accounts/<str:account_number>/opt-out-status/",
        api.AccountOptOutStatus.as_view(),
        name="api-optout-status",
    ),
]
