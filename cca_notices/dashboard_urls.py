"""The staff home and dashboard, mounted at /admin/ ahead of the admin's own URLs: the admin's
index ("admin:index") is then the staff home. Every view passes admin_view (staff only)."""

from django.contrib import admin
from django.urls import path

from cca_notices import dashboard_views as views

staff = admin.site.admin_view

urlpatterns = [
    path("", staff(views.staff_home), name="staff-home"),
    path("dashboard/<slug:slug>/", staff(views.dashboard), name="staff-dashboard"),
    path(
        "dashboard/<slug:slug>/report.pdf",
        staff(views.board_report),
        {"fmt": "pdf"},
        name="staff-board-report-pdf",
    ),
    path(
        "dashboard/<slug:slug>/report.csv",
        staff(views.board_report),
        {"fmt": "csv"},
        name="staff-board-report-csv",
    ),
    path(
        "dashboard/<slug:slug>/<slug:key>.csv",
        staff(views.dashboard_csv),
        name="staff-dashboard-csv",
    ),
]
