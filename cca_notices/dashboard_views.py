"""The staff home page (/admin/), the dashboard of each program, its CSV downloads and the board
report. An edge: the numbers come from optouts.services.standing, .dashboard and .board_report;
this module only links each figure to the admin list that holds its rows (docs/admin.md) and
says how fresh the tallied figures are.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from urllib.parse import urlencode

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse

from accounts.access import programs_visible
from accounts.models import Program
from accounts.services.calendar import today as business_today
from accounts.services.tally import REFRESH_EVERY
from optouts.services.board_report import board_report_build, board_report_csv, board_report_pdf
from optouts.services.dashboard import Table, dashboard_build, dashboard_table, table_csv
from optouts.services.standing import ProgramStanding, programs_standing
from optouts.services.suppression import threshold_for

DASHBOARD_PERMISSION = "optouts.view_optoutrequest"


@dataclass(frozen=True)
class Figure:
    label: str
    count: int
    unit: str
    url: str | None  # None when the user may not open the list
    late: bool = False  # a figure a person must act on when it is not zero


# Why a method cannot leave, in the words of the setting to fix (docs/configuration.md).
UNSENDABLE = {
    "sms": "… of which texts this site cannot send: the Twilio settings are not set",
    "email": "… of which e-mails this site cannot send: EMAIL_URL is not set",
}


def _changelist(request, model: str, **params) -> str | None:
    app_label, model_name = model.split(".")
    if not request.user.has_perm(f"{app_label}.view_{model_name}"):
        return None
    url = reverse(f"admin:{app_label}_{model_name}_changelist")
    return f"{url}?{urlencode(params)}"


def standing_figures(request, s: ProgramStanding) -> dict[str, list[Figure]]:
    """Each figure of a program's standing with the filtered admin list that holds its rows."""
    p = {"program__id__exact": s.program.pk}
    m = s.mail
    return {
        "mail": [
            Figure(
                f"Due for a batch now (mail dates to {m.lead_date:%b %-d})",
                m.due,
                "notices",
                _changelist(request, "cca_notices.notice", due="now", **p),
            ),
            Figure(
                "Late: mail date passed, in no batch",
                m.late,
                "notices",
                _changelist(request, "cca_notices.notice", due="late", **p),
                late=True,
            ),
            Figure(
                f"Batches built, not confirmed mailed ({m.batches_unconfirmed_pieces} pieces)",
                m.batches_unconfirmed,
                "batches",
                _changelist(request, "cca_notices.mailbatch", mailing="unconfirmed", **p),
            ),
            Figure(
                "… of which past their mail date",
                m.batches_overdue,
                "batches",
                _changelist(request, "cca_notices.mailbatch", mailing="overdue", **p),
                late=True,
            ),
        ],
        "utility": [
            Figure(
                "Queued for the next file",
                s.ccasr_queued,
                "requests",
                _changelist(request, "optouts.servicerequest", queue="queued", **p),
            ),
            Figure(
                "Sent, awaiting the utility",
                s.ccasr_sent,
                "requests",
                _changelist(request, "optouts.servicerequest", queue="awaiting", **p),
            ),
            Figure(
                f"Unanswered past the deadline ({s.program.ccasr_response_days} business days)",
                s.ccasr_overdue,
                "requests",
                _changelist(request, "optouts.servicerequest", queue="overdue", **p),
                late=True,
            ),
            Figure(
                "Rejected: to fix and re-queue",
                s.ccasr_rejected,
                "requests",
                _changelist(request, "optouts.servicerequest", queue="rejected", **p),
                late=True,
            ),
        ],
        "customers": [
            Figure(
                "Confirmations overdue",
                s.confirmations_overdue,
                "confirmations",
                _changelist(request, "optouts.confirmation", due="overdue", **p),
                late=True,
            ),
            *(
                Figure(
                    UNSENDABLE[method],
                    n,
                    "confirmations",
                    _changelist(
                        request, "optouts.confirmation", due="overdue", method__exact=method, **p
                    ),
                )
                for method, n in sorted(s.confirmations_unsendable.items())
            ),
            Figure(
                "Returned mail waiting for address repair",
                s.address_repair,
                "accounts",
                _changelist(
                    request, "cca_notices.accountnotices", address_needs_repair__exact=1, **p
                ),
            ),
        ],
    }


def staff_home(request):
    """The admin's index: where each program stands today, then the admin's list of models."""
    today = business_today()
    programs = [
        {"standing": s, "figures": standing_figures(request, s)}
        # Only the programs this user is granted (accounts.access): another CCA's figures are
        # not theirs to see.
        for s in programs_standing(today=today, programs=programs_visible(request.user))
    ]
    context = {
        **admin.site.each_context(request),
        "title": "Where each program stands",
        "subtitle": None,
        "app_list": admin.site.get_app_list(request),
        "programs": programs,
        "today": today,
        "can_see_dashboard": request.user.has_perm(DASHBOARD_PERMISSION),
    }
    request.current_app = admin.site.name
    return TemplateResponse(request, "admin/staff_home.html", context)


def _program_for(request, slug: str) -> Program:
    if not request.user.has_perm(DASHBOARD_PERMISSION):
        raise PermissionDenied
    return get_object_or_404(programs_visible(request.user).select_related("utility"), slug=slug)


def dashboard(request, slug: str):
    program = _program_for(request, slug)
    board = dashboard_build(program=program, today=business_today())
    charts = [
        {"table": t, "chart": _chart_spec(t), "csv_url": _csv_url(program, t)}
        for t in board.tables.values()
    ]
    context = {
        **admin.site.each_context(request),
        "title": f"Dashboard: {program.name}",
        "program": program,
        "board": board,
        "charts": charts,
        "chart_data": {t.key: _chart_spec(t) for t in board.tables.values()},
        "refresh_minutes": int(REFRESH_EVERY.total_seconds() // 60),
        "threshold": threshold_for([program]),
    }
    request.current_app = admin.site.name
    return TemplateResponse(request, "admin/dashboard.html", context)


def _csv_url(program: Program, table: Table) -> str:
    return reverse("staff-dashboard-csv", args=[program.slug, table.key])


# How each table is drawn: chart type, the label column, and the columns that are datasets
# (with the axis each goes on). The numbers themselves are the table's rows.
CHARTS: dict[str, dict] = {
    "optouts_per_day": {
        "type": "bar",
        "x": "day",
        "series": [
            {"column": "optouts", "type": "line", "axis": "y"},
            {"column": "notices_mailed", "type": "bar", "axis": "y2"},
        ],
        "x_title": "Business day (date)",
        "y_title": "Opt-outs (per day)",
        "y2_title": "Notices mailed (per day)",
    },
    "rate_by_phase": {"type": "bar", "x": "group", "series": [{"column": "rate"}]},
    "rate_by_class": {"type": "bar", "x": "group", "series": [{"column": "rate"}]},
    "rate_by_city": {"type": "bar", "x": "group", "series": [{"column": "rate"}], "horiz": True},
    "rate_by_channel": {"type": "bar", "x": "group", "series": [{"column": "optouts"}]},
    "notice_compliance": {
        "type": "bar",
        "x": "group",
        "stacked": True,
        "series": [
            {"column": c} for c in ("scheduled", "on_time", "mailed_late", "overdue", "returned")
        ],
        "y_title": "Notices (count)",
    },
    "fees_by_week": {
        "type": "bar",
        "x": "week",
        "stacked": True,
        "series": [{"column": c} for c in ("to_export", "exported", "billed", "waived")],
        "y_title": "Fees ($)",
        "x_title": "Week assessed (from Monday)",
    },
}


def _chart_spec(table: Table) -> dict:
    spec = dict(CHARTS[table.key])
    cols = {c.key: c for c in table.columns}
    x = cols[spec["x"]]
    series = []
    for s in spec["series"]:
        col = cols[s["column"]]
        series.append(
            {
                **s,
                # Stacked series share the value axis, whose title carries the unit.
                "label": col.label
                if spec.get("stacked") or not col.unit
                else f"{col.label} ({col.unit})",
                "data": [float(v) for v in table.column(col.key)],
            }
        )
    first = cols[spec["series"][0]["column"]]
    return {
        **spec,
        "title": table.title,
        "labels": [_label(v) for v in table.column(x.key)],
        "series": series,
        "x_title": spec.get("x_title", x.label),
        "y_title": spec.get("y_title", f"{first.label} ({first.unit})"),
    }


def _label(value) -> str:
    # Dates on a chart's axis as "Nov 30"; the table and the CSV keep the ISO date.
    return f"{value:%b %-d}" if isinstance(value, dt.date) else str(value)


def dashboard_csv(request, slug: str, key: str):
    program = _program_for(request, slug)
    if key not in CHARTS:
        raise Http404("no such chart")
    table = dashboard_table(program=program, today=business_today(), key=key)
    return _file_response(table_csv(table=table), filename=f"{program.slug}-{key}.csv")


def board_report(request, slug: str, fmt: str):
    program = _program_for(request, slug)
    today = business_today()
    report = board_report_build(program=program, today=today)
    name = f"{program.slug}-board-report-{today:%Y-%m-%d}.{fmt}"
    if fmt == "pdf":
        # Shown in the browser unless the link asks to download it.
        return _file_response(
            board_report_pdf(report=report),
            filename=name,
            content_type="application/pdf",
            inline=not request.GET.get("download"),
        )
    return _file_response(board_report_csv(report=report), filename=name)


def _file_response(
    body: bytes, *, filename: str, content_type: str = "text/csv", inline: bool = False
) -> HttpResponse:
    """Every download of this module: a chart's CSV, the board report's CSV and PDF. The
    names are built from the program's slug and a date, so they need no quoting."""
    response = HttpResponse(body, content_type=content_type)
    disposition = "inline" if inline else "attachment"
    response["Content-Disposition"] = f'{disposition}; filename="{filename}"'
    return response
