"""Admin for notices: proof of notice for staff. Notices are read-only here — they change only
through the scheduling and lifecycle services, so what the admin shows is what happened."""

from django.contrib import admin
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from accounts.access import scope_to_programs
from accounts.admin_downloads import customer_data_download
from accounts.admin_mixins import ProgramScopedMixin, ReadOnlyMixin
from accounts.models import Program, ServiceAccount
from accounts.services.calendar import today as business_today
from cca_notices.certificate import notice_certificate_generate
from cca_notices.models import AccountNotices, MailBatch, Notice, NoticeChange, RuleSet, ScheduleRun
from cca_notices.services.mail_standing import (
    batches_overdue_q,
    batches_unconfirmed_q,
    notices_due_q,
    notices_late_q,
)


class NoticeDueFilter(admin.SimpleListFilter):
    """The staff home's mail figures (cca_notices.services.mail_standing): same rule, same rows."""

    title = "due for mailing"
    parameter_name = "due"

    def lookups(self, request, model_admin):
        return [
            ("now", "Due for a batch now"),
            ("late", "Late: mail date passed, in no batch"),
        ]

    def queryset(self, request, queryset):
        today = business_today()
        if self.value() == "now":
            return queryset.filter(notices_due_q(programs=Program.objects.all(), today=today))
        if self.value() == "late":
            return queryset.filter(notices_late_q(today=today))
        return queryset


class BatchMailingFilter(admin.SimpleListFilter):
    title = "mailing confirmed"
    parameter_name = "mailing"

    def lookups(self, request, model_admin):
        return [
            ("unconfirmed", "Not confirmed mailed"),
            ("overdue", "Not confirmed, mail date passed"),
        ]

    def queryset(self, request, queryset):
        if self.value() == "unconfirmed":
            return queryset.filter(batches_unconfirmed_q())
        if self.value() == "overdue":
            return queryset.filter(batches_overdue_q(today=business_today()))
        return queryset


def certificate_url(account_id: int) -> str:
    return reverse("admin:cca_notices_notice_certificate", args=[account_id])


@admin.register(RuleSet)
class RuleSetAdmin(admin.ModelAdmin):
    list_display = [
        "code",
        "name",
        "pre_offsets",
        "post_count",
        "post_window_days",
        "new_customer_offsets",
        "free_window_days",
    ]
    search_fields = ["code", "name"]


class NoticeChangeInline(ReadOnlyMixin, admin.TabularInline):
    model = NoticeChange
    extra = 0
    readonly_fields = [
        "at",
        "actor_name",
        "old_mail_date",
        "new_mail_date",
        "old_enrollment_date",
        "new_enrollment_date",
        "old_status",
        "new_status",
        "reason",
    ]
    fields = [*readonly_fields]


@admin.register(Notice)
class NoticeAdmin(ProgramScopedMixin, ReadOnlyMixin, admin.ModelAdmin):
    list_display = [
        "account_link",
        "kind",
        "mail_date",
        "status",
        "mailed_on",
        "batch",
        "piece_id",
        "return_date",
        "certificate",
    ]
    # Filters that need no DISTINCT over millions of rows (choices and the small program table).
    list_filter = [
        NoticeDueFilter,
        "status",
        "kind",
        "program",
        ("return_date", admin.EmptyFieldListFilter),
    ]
    list_select_related = ["account", "batch"]
    search_fields = ["=account__account_number", "=piece_id", "=batch__reference"]
    ordering = ["-pk"]  # the primary key index; sorting by date over all notices would scan them
    show_full_result_count = (
        False  # a COUNT(*) over millions of notices on every page is not worth it
    )
    raw_id_fields = ["account", "batch"]
    readonly_fields = [f.name for f in Notice._meta.fields]
    inlines = [NoticeChangeInline]

    @admin.display(description="account", ordering="account__account_number")
    def account_link(self, obj):
        url = reverse("admin:cca_notices_accountnotices_change", args=[obj.account_id])
        return format_html('<a href="{}">{}</a>', url, obj.account.account_number)

    @admin.display(description="proof")
    def certificate(self, obj):
        return format_html('<a href="{}">certificate (PDF)</a>', certificate_url(obj.account_id))

    def has_view_permission(self, request, obj=None):
        return (
            request.user.is_active
            and request.user.is_staff
            and (request.user.has_perm("cca_notices.view_notice") or request.user.is_superuser)
        )

    def get_urls(self):
        extra = [
            path(
                "certificate/<int:account_id>/",
                self.admin_site.admin_view(self.certificate_view),
                name="cca_notices_notice_certificate",
            ),
        ]
        return extra + super().get_urls()

    @customer_data_download(
        "notice certificate", model=ServiceAccount, pk_kwarg="account_id", permission=None
    )
    def certificate_view(self, request, account_id: int):
        if not self.has_view_permission(request):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied
        account = get_object_or_404(
            scope_to_programs(ServiceAccount.objects.all(), request.user), pk=account_id
        )
        doc = notice_certificate_generate(account=account, issued_by=request.user.get_username())
        response = HttpResponse(doc.content, content_type=doc.content_type)
        disposition = "attachment" if request.GET.get("download") else "inline"
        response["Content-Disposition"] = f'{disposition}; filename="{doc.name}"'
        return response


class NoticeInline(ReadOnlyMixin, admin.TabularInline):
    model = Notice
    extra = 0
    readonly_fields = [
        "kind",
        "mail_date",
        "status",
        "mailed_on",
        "batch",
        "piece_id",
        "return_date",
        "return_reason",
        "enrollment_date",
    ]
    fields = [*readonly_fields]
    ordering = ["mail_date", "kind"]
    show_change_link = True

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("batch")


@admin.register(AccountNotices)
class AccountNoticesAdmin(ProgramScopedMixin, ReadOnlyMixin, admin.ModelAdmin):
    """Proof of notice by account: search an account, see its notices, print the certificate."""

    list_display = [
        "account_number",
        "customer_name",
        "program",
        "phase",
        "status",
        "address_needs_repair",
        "certificate",
    ]
    list_filter = ["program", "status", "address_needs_repair"]
    list_select_related = ["program", "phase"]
    search_fields = ["=account_number"]
    show_full_result_count = False
    readonly_fields = [
        "account_number",
        "customer_name",
        "program",
        "phase",
        "read_cycle",
        "status",
        "enrollment_date",
        "mailing_address",
        "mailing_city",
        "mailing_state",
        "mailing_zip",
        "address_needs_repair",
        "certificate",
    ]
    fields = [*readonly_fields]
    inlines = [NoticeInline]

    @admin.display(description="notice certificate")
    def certificate(self, obj):
        return format_html('<a href="{}">PDF</a>', certificate_url(obj.pk))

    def has_view_permission(self, request, obj=None):
        return (
            request.user.is_active
            and request.user.is_staff
            and (request.user.has_perm("cca_notices.view_notice") or request.user.is_superuser)
        )


def can_download_batches(user) -> bool:
    """Mail-operations staff: the `download_mailbatch` permission (superusers have every one)."""
    return user.is_active and user.is_staff and user.has_perm("cca_notices.download_mailbatch")


@admin.register(MailBatch)
class MailBatchAdmin(ProgramScopedMixin, ReadOnlyMixin, admin.ModelAdmin):
    """Mail batches: who built each and when, its counts, and its files to download. The files are
    served by a staff-only view from the batch's folder, never from a public media URL."""

    list_display = [
        "reference",
        "program",
        "kind",
        "mail_date",
        "piece_count",
        "notice_count",
        "merged_count",
        "excluded_count",
        "page_count",
        "created_by",
        "built_via",
        "created_at",
        "mailed_at",
        "downloads",
    ]
    list_filter = [
        BatchMailingFilter,
        "program",
        "kind",
        "built_via",
        ("mailed_at", admin.EmptyFieldListFilter),
    ]
    list_select_related = ["program"]
    search_fields = ["=reference"]
    date_hierarchy = "mail_date"
    readonly_fields = [
        "reference",
        "program",
        "kind",
        "mail_date",
        "created_by",
        "built_via",
        "created_at",
        "mailed_at",
        "piece_count",
        "notice_count",
        "merged_count",
        "excluded_count",
        "page_count",
        "mailer_id",
        "first_serial",
        "folder",
        "files_written_at",
        "file_table",
        "excluded_table",
        "letters_link",
    ]
    fields = [*readonly_fields]

    @admin.display(description="confirmation letters")
    def letters_link(self, obj):
        """A letter batch's pieces are optouts.Confirmation rows: their own admin list."""
        if not obj.is_letter_batch:
            return "—"
        url = reverse("admin:optouts_confirmation_changelist") + f"?batch__id__exact={obj.pk}"
        late = obj.meta.get("late_letters", 0)
        return format_html(
            '<a href="{}">{} letter(s)</a> ({} batched after their due date)',
            url,
            obj.piece_count,
            late,
        )

    def get_urls(self):
        extra = [
            path(
                "<int:batch_id>/files/<str:name>",
                self.admin_site.admin_view(self.download_view),
                name="cca_notices_mailbatch_download",
            ),
        ]
        return extra + super().get_urls()

    @customer_data_download(
        "mail batch file", model=MailBatch, pk_kwarg="batch_id", permission=None
    )
    def download_view(self, request, batch_id: int, name: str):
        from django.core.exceptions import PermissionDenied
        from django.http import FileResponse, Http404

        if not can_download_batches(request.user):
            raise PermissionDenied
        batch = get_object_or_404(self.get_queryset(request), pk=batch_id)
        listed = {f["name"] for f in batch.meta.get("files", [])}
        if name not in listed or not batch.folder:
            raise Http404("no such file in this batch")
        # Only a name the batch recorded, inside the batch's own folder.
        from pathlib import Path

        folder = Path(batch.folder).resolve()
        target = (folder / name).resolve()
        if target.parent != folder or not target.is_file():
            raise Http404(
                "the file is not on this server any more; "
                "write the batch again (build_mail_batch --reference)"
            )
        return FileResponse(open(target, "rb"), as_attachment=True, filename=name)

    def _file_url(self, batch, name):
        return reverse("admin:cca_notices_mailbatch_download", args=[batch.pk, name])

    @admin.display(description="files")
    def downloads(self, obj):
        files = obj.meta.get("files", [])
        if not files:
            return "—"
        manifest = next((f for f in files if f["type"] == "manifest"), None)
        data = next((f for f in files if f["type"] == "data"), None)
        letters = sum(1 for f in files if f["type"] == "letters")
        links = format_html_join(
            ", ",
            '<a href="{}">{}</a>',
            (
                (self._file_url(obj, f["name"]), label)
                for f, label in ((manifest, "manifest"), (data, "data CSV"))
                if f
            ),
        )
        return format_html("{} · {} PDF file(s)", links, letters)

    @admin.display(description="files (SHA-256 as in the manifest)")
    def file_table(self, obj):
        files = obj.meta.get("files", [])
        if not files:
            return "not written yet"
        rows = format_html_join(
            "",
            '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td>'
            "<td><code>{}</code></td></tr>",
            (
                (
                    self._file_url(obj, f["name"]),
                    f["name"],
                    f["type"],
                    f"{f.get('bytes', 0):,}",
                    f.get("letters", f.get("rows", "")),
                    f.get("sha256", ""),
                )
                for f in files
            ),
        )
        return format_html(
            "<table><tr><th>file</th><th>type</th><th>bytes</th><th>letters/rows</th><th>SHA-256</th></tr>{}</table>",
            rows,
        )

    @admin.display(description="left out of the batch")
    def excluded_table(self, obj):
        excluded = obj.meta.get("excluded", {})
        if not excluded:
            return "none"
        return format_html_join(format_html("<br>"), "{}: {}", excluded.items())


@admin.register(ScheduleRun)
class ScheduleRunAdmin(ProgramScopedMixin, ReadOnlyMixin, admin.ModelAdmin):
    list_display = [
        "started_at",
        "program",
        "phase",
        "actor_name",
        "created",
        "rescheduled",
        "cancelled",
        "not_moved",
        "unscheduled_accounts",
    ]
    list_filter = ["program"]
    list_select_related = ["program", "phase"]
