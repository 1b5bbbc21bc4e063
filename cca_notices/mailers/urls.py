"""Included by the lead under /admin/notices/preview/ (staff only)."""

from django.urls import path

from cca_notices.mailers import views

app_name = "mailers"
urlpatterns = [
    path("<str:ref>/<slug:kind>.<str:fmt>", views.notice_preview, name="notice-preview"),
]
