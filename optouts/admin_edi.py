"""The utility desk in the admin: the CCASR work queue (rejected requests shown with the utility's
reason, corrected and sent again), the interchanges sent and received, the transfers, and the
enrollment reconciliations with their CSV report. Every write goes through optouts.services."""

from __future__ import annotations

import io

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from accounts.admin_downloads import customer_data_download
from accounts.admin_mixins import ProgramScopedMixin, ReadOnlyMixin
from accounts.models import Program
from accounts.services import calendar as _calendar
from accounts.services.spreadsheet import spreadsheet_writer
from optouts.models import (
    CcasrExport,
    EdiInterchangeIn,
    EdiTransfer,
    EnrollmentReconciliation,
    PreEnrollmentOptOut,
    ReconciliationItem,
    ServiceRequest,
)
from optouts.services.ccasr import ccasr_resend
from optouts.services.edi_reconciliation import reconciliation_report_rows
from optouts.services.standing import ccasr_overdue_q


class ReadOnlyAdmin(ProgramScopedMixin, ReadOnlyMixin, admin.ModelAdmin):
    """Read-only, and only the rows of the user's programs (accounts.access)."""


class WorkQueueFilter(admin.SimpleListFilter):
    """The utility desk's view: rejected requests waiting to be corrected and sent again."""

    title = "work queue"
    parameter_name = "queue"

    def lookups(self, request, model_admin):
        return [
            ("rejected", "Rejected: to correct and send again"),
            ("queued", "Queued for the next interchange"),
            ("awaiting", "Sent, awaiting the utility"),
            ("overdue", "Sent, unanswered past the utility's deadline"),
        ]

    def queryset(self, request, queryset):
        if self.value() == "overdue":
            return queryset.filter(
                ccasr_overdue_q(programs=Program.objects.all(), today=_calendar.today())
            )
        if self.value() == "rejected":
            return queryset.filter(status=ServiceRequest.Status.REJECTED, resent_as__isnull=True)
        status = {
            "queued": ServiceRequest.Status.QUEUED,
            "awaiting": ServiceRequest.Status.EXPORTED,
        }.get(self.value())
        return queryset.filter(status=status) if status else queryset


class ResendForm(forms.Form):
    effective_date = forms.DateField(
        required=False, help_text="Leave blank to keep each request's effective date."
    )
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))


@admin.register(ServiceRequest)
class ServiceRequestAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "type",
        "account_number",
        "effective_date",
        "status",
        "source",
        "rejection",
        "resent",
        "export",
        "created_at",
    ]
    list_filter = [WorkQueueFilter, "status", "type", "source", "program"]
    search_fields = ["=id", "=account__account_number"]
    list_select_related = ["account", "export", "resent_as"]
    actions = ["resend"]
    show_full_result_count = False

    @admin.display(description="Account", ordering="account__account_number")
    def account_number(self, obj):
        return obj.account.account_number

    @admin.display(description="Utility's reason")
    def rejection(self, obj):
        return f"{obj.rejection_code} {obj.rejection_reason}".strip() or ""

    @admin.display(description="Sent again as")
    def resent(self, obj):
        new = getattr(obj, "resent_as", None)
        if new is None:
            return ""
        url = reverse("admin:optouts_servicerequest_change", args=[new.pk])
        return format_html('<a href="{}">#{}</a> ({})', url, new.pk, new.status)

    def get_actions(self, request):
        # Read-only roles (the compliance auditor) are not offered a write.
        actions = super().get_actions(request)
        if not request.user.has_perm("optouts.change_servicerequest"):
            actions.pop("resend", None)
        return actions

    @admin.action(description="Correct and send again the selected rejected requests")
    def resend(self, request, queryset):
        if not request.user.has_perm("optouts.change_servicerequest"):
            raise PermissionDenied
        rejected = queryset.filter(status=ServiceRequest.Status.REJECTED, resent_as__isnull=True)
        form = ResendForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            created = ccasr_resend(
                request_ids=rejected.values_list("pk", flat=True),
                actor_name=request.user.get_username(),
                effective_date=form.cleaned_data["effective_date"],
                note=form.cleaned_data["note"],
            )
            messages.info(
                request,
                f"{len(created)} request(s) queued for the next interchange, each a new request "
                "superseding the rejected one (only rejected requests not yet sent again are "
                "sent).",
            )
            return None
        return TemplateResponse(
            request,
            "admin/optouts/servicerequest/resend.html",
            {
                **self.admin_site.each_context(request),
                "title": "Correct and send again",
                "requests": rejected.select_related("account"),
                "form": form,
                "selected": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME),
                "opts": self.model._meta,
            },
        )


@admin.register(CcasrExport)
class CcasrExportAdmin(ReadOnlyAdmin):
    list_display = [
        "file_name",
        "kind",
        "program",
        "requests",
        "interchange_control_number",
        "group_control_number",
        "ack_status",
        "created_at",
        "sha256",
    ]
    list_filter = ["program", "kind", "ack_status"]


@admin.register(EdiInterchangeIn)
class EdiInterchangeInAdmin(ReadOnlyAdmin):
    list_display = [
        "file_name",
        "kind",
        "program",
        "sender_id",
        "interchange_control_number",
        "imported_at",
        "counts",
    ]
    list_filter = ["program", "kind"]


@admin.register(PreEnrollmentOptOut)
class PreEnrollmentOptOutAdmin(ReadOnlyAdmin):
    program_field = "account__program"
    list_display = [
        "account",
        "phase",
        "export",
        "sent_at",
        "accepted",
        "rejection_code",
        "rejection_reason",
        "answered_at",
    ]
    list_filter = ["phase", "accepted"]
    list_select_related = ["account", "phase", "export"]
    search_fields = ["=account__account_number"]


@admin.register(EdiTransfer)
class EdiTransferAdmin(ReadOnlyAdmin):
    list_display = ["file_name", "direction", "method", "remote", "at", "bytes", "result", "error"]
    list_filter = ["program", "direction", "method", "result"]
    search_fields = ["file_name"]


class ReconciliationItemInline(ReadOnlyMixin, admin.TabularInline):
    model = ReconciliationItem
    fields = ["kind", "account_number", "utility_date", "request_link", "note"]
    readonly_fields = ["kind", "account_number", "utility_date", "request_link", "note"]
    extra = 0

    @admin.display(description="Service request")
    def request_link(self, obj):
        if not obj.service_request_id:
            return ""
        url = reverse("admin:optouts_servicerequest_change", args=[obj.service_request_id])
        return format_html('<a href="{}">#{}</a>', url, obj.service_request_id)


SUMMARY_FIELDS = (
    "program",
    "phase",
    "file_name",
    "created_at",
    "actor_name",
    "matched",
    "opted_out_enrolled",
    "unknown",
    "not_enrolled",
    "report",
    "sha256",
)


@admin.register(EnrollmentReconciliation)
class EnrollmentReconciliationAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "program",
        "phase",
        "file_name",
        "matched",
        "opted_out_enrolled",
        "unknown",
        "not_enrolled",
        "report",
    ]
    list_filter = ["program"]
    inlines = [ReconciliationItemInline]
    fields = SUMMARY_FIELDS
    readonly_fields = SUMMARY_FIELDS

    def _count(self, obj, key):
        return obj.counts.get(key, 0)

    @admin.display(description="Matched")
    def matched(self, obj):
        return self._count(obj, "matched")

    @admin.display(description="Opted out, disconnected")
    def opted_out_enrolled(self, obj):
        return self._count(obj, ReconciliationItem.Kind.OPTED_OUT_ENROLLED)

    @admin.display(description="Unknown to us")
    def unknown(self, obj):
        return self._count(obj, ReconciliationItem.Kind.UNKNOWN_ACCOUNT)

    @admin.display(description="Eligible, not enrolled")
    def not_enrolled(self, obj):
        return self._count(obj, ReconciliationItem.Kind.NOT_ENROLLED)

    @admin.display(description="Report")
    def report(self, obj):
        url = reverse("admin:optouts_reconciliation_csv", args=[obj.pk])
        return format_html('<a href="{}">Download the report (CSV)</a>', url)

    def get_urls(self):
        return [
            path(
                "<int:pk>/report.csv",
                self.admin_site.admin_view(self.report_view),
                name="optouts_reconciliation_csv",
            ),
            *super().get_urls(),
        ]

    @customer_data_download(
        "enrollment reconciliation CSV", model=EnrollmentReconciliation, pk_kwarg="pk"
    )
    def report_view(self, request, pk):
        if not self.has_view_permission(request):
            raise PermissionDenied
        # Through the admin's queryset, so another program's reconciliation is "not found".
        rec = get_object_or_404(self.get_queryset(request), pk=pk)
        buf = io.StringIO()
        writer = spreadsheet_writer(buf)
        for row in reconciliation_report_rows(rec):
            writer.writerow(row)
        response = HttpResponse(buf.getvalue(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = (
            f'attachment; filename="reconciliation_{rec.program.slug}_{rec.pk}.csv"'
        )
        return response
