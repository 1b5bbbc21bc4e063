"""The staff admin for the registry.

Written for a million accounts: no COUNT(*) of the whole table, list filters that never scan
accounts to build their choices, joins chosen up front, and one search rule shared with the
call-centre screens (accounts.selectors.account_search). Status is never edited here: it belongs to
accounts.services.status, and the account page shows its history instead (docs/admin.md).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import models
from django.http import FileResponse, Http404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join

from accounts import normalize
from accounts.access import account_ref, scope_to_programs
from accounts.admin_audit import AuditHistoryMixin
from accounts.admin_downloads import customer_data_download
from accounts.admin_mixins import ProgramScopedMixin, ReadOnlyMixin
from accounts.models import (
    Closure,
    FeeSchedule,
    ImportRun,
    JrcRow,
    Phase,
    PowerContentLabel,
    Product,
    Program,
    ProgramAccess,
    RateSchedule,
    ReadDate,
    ServiceAccount,
    StatusChange,
    TradingPartner,
    Utility,
)
from accounts.selectors import account_count_estimate, account_search, search_plan
from accounts.services.calendar import calendar_cache_clear, today
from accounts.services.fees import fee_schedule_in_force
from accounts.services.reads import NoReadDate, next_read_date
from accounts.validators import ContactEmailField, PhoneNumberField

admin.site.site_header = "CCA Notices — staff"
admin.site.site_title = "CCA Notices staff"
admin.site.index_title = "Programs, accounts and imports"


# --- large tables --------------------------------------------------------------------------


class LargeTablePaginator(Paginator):
    """Counts at most `cap` rows; an unfiltered list uses PostgreSQL's row estimate instead.

    COUNT(*) over a million rows reads them all on every page view. Staff narrow a list by
    searching or filtering, so an exact figure above a few thousand is never worth that.
    `estimated` and `capped` tell the templates to say "about" / "more than".
    """

    cap = 10_000
    estimated = False  # count is PostgreSQL's estimate of the whole table
    capped = False  # there are more than `cap` rows; count is `cap`

    @cached_property
    def count(self):
        qs = self.object_list
        if not qs.query.where:
            estimate = account_count_estimate(table=qs.model._meta.db_table)
            if estimate is not None and estimate > self.cap:
                self.estimated = True
                return estimate
        # Counting a LIMITed, unordered subquery stops after cap + 1 rows.
        counted = qs.order_by()[: self.cap + 1].count()
        if counted > self.cap:
            self.capped = True
            return self.cap
        return counted


class LargeTableAdmin(admin.ModelAdmin):
    paginator = LargeTablePaginator

    class Media:
        css = {"all": ["admin-extra/accounts.css"]}

    show_full_result_count = False
    # Facet counts run one COUNT per filter choice over the whole table.
    show_facets = admin.ShowFacets.NEVER
    list_per_page = 50
    list_max_show_all = 200


# --- filters that do not scan accounts ------------------------------------------------------


class PhaseFilter(admin.SimpleListFilter):
    """Phases from the phase table (never DISTINCT over accounts); only the chosen program's."""

    title = "phase"
    parameter_name = "phase__id__exact"

    def lookups(self, request, model_admin):
        phases = scope_to_programs(
            Phase.objects.select_related("program").order_by("program__name", "number"),
            request.user,
        )
        program_id = request.GET.get("program__id__exact")
        if program_id and program_id.isdigit():
            phases = phases.filter(program_id=program_id)
        return [(str(p.pk), f"{p.program.short_name or p.program.slug}: {p.name}") for p in phases]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(phase_id=self.value())
        return queryset


class LanguageFilter(admin.SimpleListFilter):
    """Languages the programs publish notices in, plus the site's; no scan of accounts."""

    title = "language"
    parameter_name = "language"

    def lookups(self, request, model_admin):
        return _language_choices()

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(language=self.value())
        return queryset


def _language_choices(extra: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    names = dict(settings.LANGUAGES)
    codes = set(names) | set(extra)
    for langs in Program.objects.values_list("languages", flat=True):
        codes.update(code for code in (langs or []) if isinstance(code, str))
    return [(code, f"{names.get(code, code)} ({code})") for code in sorted(codes)]


def _titled_boolean(title: str):
    """A yes/no filter whose heading is `title` (the field names are lower-case abbreviations)."""

    class TitledBooleanFilter(admin.BooleanFieldListFilter):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.title = title

    return TitledBooleanFilter


# --- utilities, tariffs, read schedule ------------------------------------------------------

# A web address typed without a scheme is an https one (Django 6's default; no warning now).
URL_HTTPS: dict[type[models.Field[Any, Any]], dict[str, Any]] = {
    models.URLField: {"assume_scheme": "https"}
}


@admin.register(Utility)
class UtilityAdmin(admin.ModelAdmin):
    formfield_overrides = URL_HTTPS
    list_display = ["code", "name", "phone", "website"]
    search_fields = ["code", "name"]


@admin.register(RateSchedule)
class RateScheduleAdmin(admin.ModelAdmin):
    list_display = ["code", "utility", "customer_class", "description"]
    list_filter = ["utility", "customer_class"]
    list_select_related = ["utility"]
    search_fields = ["code", "description"]


@admin.register(ReadDate)
class ReadDateAdmin(admin.ModelAdmin):
    list_display = ["read_date", "read_cycle", "utility"]
    list_filter = ["utility", "read_cycle"]
    list_select_related = ["utility"]
    date_hierarchy = "read_date"
    ordering = ["read_date", "read_cycle"]
    list_per_page = 100


# --- programs: phases, products, fee schedule -----------------------------------------------


class ClosureInline(admin.TabularInline):
    """Days the program closes on one of its calendars (also loaded from the program file)."""

    model = Closure
    extra = 0
    fields = ["date", "calendar", "reason"]


class PhaseInline(admin.TabularInline):
    model = Phase
    extra = 0
    fields = [
        "number",
        "name",
        "enrollment_start",
        "enrollment_end",
        "rule",
        "rule_values",
        "notices_scheduled_at",
    ]
    readonly_fields = ["notices_scheduled_at"]


class ProductInline(admin.TabularInline):
    model = Product
    extra = 0
    fields = ["code", "name", "is_default", "renewable_pct", "carbon_free_pct", "description"]


class FeeScheduleInForceInline(ReadOnlyMixin, admin.TabularInline):
    """Rows already in force (or superseded): never edited, so every fee assessed and every notice
    that disclosed a fee can be traced to the row used. A change is a new row below."""

    model = FeeSchedule
    verbose_name = "fee schedule row in force or past"
    verbose_name_plural = (
        "Fee schedule — in force and past (read-only; add a new row below to change a fee)"
    )
    readonly_fields = [
        "customer_class",
        "effective_from",
        "admin_fee",
        "cost_recovery_charge",
        "total",
        "state",
        "note",
    ]
    fields = [*readonly_fields]
    extra = 0
    can_delete = False

    def get_queryset(self, request):
        return super().get_queryset(request).filter(effective_from__lte=today())

    @admin.display(description="total fee")
    def total(self, obj):
        return obj.total

    @admin.display(description="state")
    def state(self, obj):
        current = fee_schedule_in_force(
            program=obj.program, customer_class=obj.customer_class, on=today()
        )
        return "in force" if current and current.pk == obj.pk else "superseded"


class PlannedFeeForm(forms.ModelForm):
    class Meta:
        model = FeeSchedule
        fields = ["customer_class", "effective_from", "admin_fee", "cost_recovery_charge", "note"]

    def clean_effective_from(self):
        day = self.cleaned_data["effective_from"]
        if day and day < today():
            raise forms.ValidationError(
                f"A fee change applies from today ({today():%Y-%m-%d}) or later: fees already "
                "assessed were computed from the rows then in force."
            )
        return day


class FeeSchedulePlannedInline(admin.TabularInline):
    """Rows that take effect after today: still editable until their date arrives."""

    model = FeeSchedule
    form = PlannedFeeForm
    verbose_name = "planned fee schedule row"
    verbose_name_plural = (
        "Fee schedule — planned changes (take effect on their date; disclose them in notices)"
    )
    extra = 0

    def get_queryset(self, request):
        return super().get_queryset(request).filter(effective_from__gt=today())


class TradingPartnerInline(ReadOnlyMixin, admin.StackedInline):
    """The EDI profile is the program file's [trading_partner] (load_program); shown here, with
    the control numbers drawn so far, never edited by hand."""

    model = TradingPartner
    verbose_name_plural = "EDI trading partner profile (from the program file)"
    can_delete = False
    exclude = ["codes"]
    readonly_fields = ["codes_in_force"]

    @admin.display(description="Code values that differ from the defaults")
    def codes_in_force(self, obj):
        return obj.codes or "none (docs/formats/ccasr-edi.md defaults)"


@admin.register(Program)
class ProgramAdmin(AuditHistoryMixin, ProgramScopedMixin, admin.ModelAdmin):
    program_field = "pk"
    formfield_overrides = URL_HTTPS
    list_display = [
        "name",
        "slug",
        "utility",
        "phone",
        "ivr_phone",
        "free_window_days",
        "cutoff_days",
        "cutoff_unit",
    ]
    list_select_related = ["utility"]
    search_fields = ["name", "short_name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["created_at", "updated_at"]
    inlines = [
        PhaseInline,
        ProductInline,
        FeeScheduleInForceInline,
        FeeSchedulePlannedInline,
        ClosureInline,
        TradingPartnerInline,
    ]

    # A supervisor keeps the fee schedule (add/change_feeschedule) without change_program: the
    # program page is open to them, its own fields read-only, only the fee inline editable.
    def _keeps_fees_only(self, request) -> bool:
        user = request.user
        return not user.has_perm("accounts.change_program") and (
            user.has_perm("accounts.add_feeschedule")
            or user.has_perm("accounts.change_feeschedule")
        )

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) or self._keeps_fees_only(request)

    def get_readonly_fields(self, request, obj=None):
        if self._keeps_fees_only(request):
            return [f for fs in self.get_fieldsets(request, obj) for f in fs[1]["fields"]]
        return super().get_readonly_fields(request, obj)

    def get_prepopulated_fields(self, request, obj=None):
        return (
            {} if self._keeps_fees_only(request) else super().get_prepopulated_fields(request, obj)
        )

    def save_model(self, request, obj, form, change):
        if self._keeps_fees_only(request):
            return  # nothing of the program itself is theirs to change
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        # A closure or calendar choice saved here counts in this process at once (others within
        # the calendar cache's TTL, accounts.services.calendar).
        calendar_cache_clear()

    fieldsets = [
        (None, {"fields": ["name", "short_name", "slug", "utility"]}),
        (
            "Contacts printed on notices",
            {
                "fields": [
                    "phone",
                    "ivr_phone",
                    "tty_phone",
                    "call_centre_phone",
                    "website",
                    "email",
                    "return_address",
                    "languages",
                ]
            },
        ),
        (
            "Opt-out and enrollment settings",
            {
                "fields": [
                    "free_window_days",
                    "cutoff_days",
                    "cutoff_unit",
                    "min_bundled_stay_months",
                    "participant_after_days",
                    "accept_optouts_before_notice",
                    "optout_refusal_message",
                    "reentry_fee",
                    "large_customer_entry_fee",
                    "confirmation_days",
                    "ccasr_response_days",
                ]
            },
        ),
        (
            "Notices and mail",
            {"fields": ["notice_rule_set", "mail_lead_business_days", "mailer_id"]},
        ),
        (
            "Business days (docs/rules.md R-BUSINESS-DAYS)",
            {"fields": ["mail_calendar", "utility_calendar", "office_calendar"]},
        ),
        (
            "Board report: the CPUC's 15/15 rule, or stricter",
            {"fields": ["suppression_min_customers", "suppression_max_share_pct"]},
        ),
        ("Record", {"classes": ["collapse"], "fields": ["created_at", "updated_at"]}),
    ]


# --- imports --------------------------------------------------------------------------------


class ReadOnlyAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """A record of what happened: viewable, never added, changed or deleted by hand."""

    actions = None


@admin.register(ImportRun)
class ImportRunAdmin(ProgramScopedMixin, ReadOnlyAdmin):
    list_display = [
        "started_at",
        "program",
        "kind",
        "file_name",
        "actor",
        "outcome",
        "rows",
        "created",
        "updated",
        "unchanged",
        "rejected",
        "status_kept",
        "reject_file_link",
    ]
    list_filter = ["program", "kind", "outcome"]
    list_select_related = ["program"]
    search_fields = ["file_name", "actor", "sha256"]
    date_hierarchy = "started_at"
    fieldsets = [
        (None, {"fields": ["program", "kind", "outcome", "message"]}),
        ("Who and when", {"fields": ["actor", "started_at", "finished_at", "duration"]}),
        ("File", {"fields": ["file_name", "sha256", "reject_file_link"]}),
        (
            "Counts",
            {"fields": ["rows", "created", "updated", "unchanged", "rejected", "status_kept"]},
        ),
    ]
    readonly_fields = [
        "program",
        "kind",
        "outcome",
        "message",
        "actor",
        "started_at",
        "finished_at",
        "duration",
        "file_name",
        "sha256",
        "reject_file_link",
        "rows",
        "created",
        "updated",
        "unchanged",
        "rejected",
        "status_kept",
    ]

    @admin.display(description="duration")
    def duration(self, obj):
        if not obj.finished_at:
            return "—"
        return f"{(obj.finished_at - obj.started_at).total_seconds():.1f} s"

    @admin.display(description="reject file")
    def reject_file_link(self, obj):
        if not obj.reject_file:
            return "—"
        if not os.path.isfile(obj.reject_file):
            return format_html(
                "{} <em>(no longer on the server)</em>", os.path.basename(obj.reject_file)
            )
        url = reverse("admin:accounts_importrun_reject_file", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, os.path.basename(obj.reject_file))

    def get_urls(self):
        return [
            path(
                "<int:pk>/reject-file/",
                self.admin_site.admin_view(self.reject_file_view),
                name="accounts_importrun_reject_file",
            ),
            *super().get_urls(),
        ]

    @customer_data_download("import reject file", model=ImportRun, pk_kwarg="pk")
    def reject_file_view(self, request, pk):
        """Serves exactly the reject file recorded on the run (the import wrote it beside its
        input)."""
        run = self.get_queryset(request).filter(pk=pk).first()
        if run is None:
            raise Http404("no such import run")
        if not self.has_view_permission(request, run):
            raise PermissionDenied
        if not run.reject_file or not os.path.isfile(run.reject_file):
            raise Http404("the reject file of this run is no longer on the server")
        return FileResponse(
            open(run.reject_file, "rb"),
            as_attachment=True,
            filename=os.path.basename(run.reject_file),
            content_type="text/csv",
        )


# --- service accounts -----------------------------------------------------------------------

STATUS_HISTORY_ORDER = ["-at", "-id"]


class StatusHistoryInline(ReadOnlyMixin, admin.TabularInline):
    """The account's status history, newest first. Written only by accounts.services.status."""

    model = StatusChange
    verbose_name = "status change"
    verbose_name_plural = "Status history (newest first)"
    readonly_fields = ["at", "change", "channel", "who", "reason"]
    fields = [*readonly_fields]
    ordering = STATUS_HISTORY_ORDER
    extra = 0
    can_delete = False
    show_change_link = False
    classes = ["status-history"]

    @admin.display(description="from → to")
    def change(self, obj):
        return _status_change_html(obj)

    @admin.display(description="who")
    def who(self, obj):
        return obj.actor_name


def _status_change_html(obj: StatusChange):
    if not obj.from_status:
        return format_html(
            '<span class="status-badge status-{}">{}</span> <span class="quiet">(created)</span>',
            obj.to_status,
            obj.to_status_label,
        )
    return format_html(
        '<span class="status-badge status-{}">{}</span> → '
        '<span class="status-badge status-{}">{}</span>',
        obj.from_status,
        obj.from_status_label,
        obj.to_status,
        obj.to_status_label,
    )


class ServiceAccountContactForm(forms.ModelForm):
    """Staff correct contact details only; each correction is normalised like the import does."""

    language = forms.ChoiceField(choices=())
    # The one rule per field, as the import, the agent screen, the API and moves apply it.
    email = ContactEmailField(required=False, widget=forms.EmailInput(attrs={"size": 40}))
    phone = PhoneNumberField(required=False, max_length=32)

    class Meta:
        model = ServiceAccount
        fields = [
            "mailing_address",
            "mailing_city",
            "mailing_state",
            "mailing_zip",
            "email",
            "phone",
            "language",
            "address_needs_repair",
        ]
        widgets = {
            "email": forms.EmailInput(attrs={"size": 40}),
            "mailing_address": forms.TextInput(attrs={"size": 50}),
            "mailing_city": forms.TextInput(attrs={"size": 24}),
            "mailing_state": forms.TextInput(attrs={"size": 3}),
            "mailing_zip": forms.TextInput(attrs={"size": 10}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "language" in self.fields:
            current = (self.instance.language,) if self.instance and self.instance.language else ()
            self.fields["language"].choices = _language_choices(current)
            self.fields["language"].help_text = "Language of this customer's notices and calls."

    def _normal(self, name, rule):
        """The import's rule for the field (accounts.normalize), its message as the error."""
        try:
            return rule(self.cleaned_data.get(name) or "")
        except normalize.InvalidValue as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean_mailing_address(self):
        return self._normal("mailing_address", normalize.street_line)

    def clean_mailing_city(self):
        return self._normal("mailing_city", normalize.city)

    def clean_mailing_state(self):
        return self._normal("mailing_state", normalize.state_careful)

    def clean_mailing_zip(self):
        return self._normal("mailing_zip", normalize.zip_code)


class AccountChangeList(ChangeList):
    @cached_property
    def search_plan(self):
        return search_plan(self.query)


@admin.register(ServiceAccount)
class ServiceAccountAdmin(AuditHistoryMixin, ProgramScopedMixin, LargeTableAdmin):
    form = ServiceAccountContactForm
    # Few, stacked columns: the list must fit beside the navigation and the filters at 1280 px.
    list_display = [
        "account_number",
        "customer_name",
        "status_display",
        "service_location",
        "program_phase",
        "flags",
    ]
    list_display_links = ["account_number", "customer_name"]
    list_select_related = ["program", "phase"]
    # The model orders by program, which Django follows to Program.name: a join and a sort of
    # every row. program_id + account_number is the unique index, read in order.
    ordering = ["program_id", "account_number"]
    # Sorting a million rows by anything but the indexed account number is a full sort.
    sortable_by = ["account_number"]
    list_filter = [
        "program",
        PhaseFilter,
        "customer_class",
        "status",
        LanguageFilter,
        ("care", _titled_boolean("CARE")),
        ("nem", _titled_boolean("NEM")),
        "direct_access",
        "medical_baseline",
        "address_needs_repair",
    ]
    # Only switches the search box on: get_search_results applies accounts.selectors.account_search.
    search_fields = ["account_number"]
    search_help_text = (
        "Account number (or its first digits), phone number in any format, or words of the "
        "customer's name or address."
    )
    actions = None
    inlines = [StatusHistoryInline]
    readonly_fields = [
        "program",
        "account_number",
        "customer_name",
        "status_display",
        "status_changed_at",
        "created_by",
        "customer_class",
        "rate_schedule_display",
        "read_cycle_display",
        "phase",
        "product",
        "enrollment_date",
        "service_start_date",
        "opt_out_code",
        "flags",
        "proof_of_notice",
        "service_address",
        "service_city",
        "service_zip",
        "import_run",
        "created_at",
        "updated_at",
    ]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    ("account_number", "program"),
                    "customer_name",
                    ("status_display", "status_changed_at"),
                    "created_by",
                ]
            },
        ),
        (
            "Enrollment",
            {
                "fields": [
                    ("phase", "enrollment_date"),
                    ("customer_class", "rate_schedule_display"),
                    "read_cycle_display",
                    "product",
                    "service_start_date",
                    "opt_out_code",
                    "flags",
                    "proof_of_notice",
                ]
            },
        ),
        (
            "Service address (from the utility's file)",
            {
                "fields": [
                    "service_address",
                    ("service_city", "service_zip"),
                ]
            },
        ),
        (
            "Contact — staff may correct",
            {
                "description": "Corrections are recorded in this account's History. "
                "The service address, class and enrollment come from the utility's file "
                "and change only by import.",
                "fields": [
                    "mailing_address",
                    ("mailing_city", "mailing_state", "mailing_zip"),
                    "address_needs_repair",
                    "email",
                    "phone",
                    "language",
                ],
            },
        ),
        ("Record", {"classes": ["collapse"], "fields": ["import_run", "created_at", "updated_at"]}),
    ]

    def get_changelist(self, request, **kwargs):
        return AccountChangeList

    def get_search_results(self, request, queryset, search_term):
        return account_search(query=search_term, queryset=queryset), False

    def has_add_permission(self, request):
        # Accounts come from the utility's file (import_accounts), which also writes their first
        # status.
        return False

    def has_delete_permission(self, request, obj=None):
        # An account is history (notices, opt-outs, fees); it leaves by a status change, never by
        # deletion.
        return False

    # --- columns and facts ---

    @admin.display(description="created")
    def created_by(self, obj):
        """The account's first history entry: the status history starts with its first change."""
        run = obj.import_run
        if run is None:
            return date_format(timezone.localtime(obj.created_at), "DATETIME_FORMAT")
        return format_html(
            '{} by {}, from <a href="{}">import run {}</a> ({})',
            date_format(timezone.localtime(obj.created_at), "DATETIME_FORMAT"),
            run.actor,
            reverse("admin:accounts_importrun_change", args=[run.pk]),
            run.pk,
            Path(run.file_name).name,
        )

    @admin.display(description="proof of notice")
    def proof_of_notice(self, obj):
        from django.urls import NoReverseMatch, reverse
        from django.utils.html import format_html_join

        try:
            notices = reverse("admin:cca_notices_accountnotices_change", args=[obj.pk])
            certificate = reverse("admin:cca_notices_notice_certificate", args=[obj.pk])
        except NoReverseMatch:
            return "—"
        kinds = [
            "pre_enrollment_1",
            "pre_enrollment_2",
            "post_enrollment_1",
            "post_enrollment_2",
            "new_customer_1",
            "new_customer_2",
        ]
        ref = account_ref(obj.pk)  # signed: preview URLs cannot be counted through
        previews = format_html_join(
            " · ",
            '{} (<a href="{}">PDF</a>, <a href="{}">PNG</a>)',
            (
                (
                    kind.replace("_", " "),
                    reverse("mailers:notice-preview", args=[ref, kind, "pdf"]),
                    reverse("mailers:notice-preview", args=[ref, kind, "png"]),
                )
                for kind in kinds
            ),
        )
        return format_html(
            '<a href="{}">Notices of this account</a> · <a href="{}">Notice certificate (PDF)</a>'
            '<br><span class="quiet">Preview a letter: {}</span>',
            notices,
            certificate,
            previews,
        )

    @admin.display(description="service address")
    def service_location(self, obj):
        return format_html(
            '{}<br><span class="quiet">{} {}</span>',
            obj.service_address,
            obj.service_city,
            obj.service_zip,
        )

    @admin.display(description="program / phase / class")
    def program_phase(self, obj):
        program = obj.program.short_name or obj.program.slug
        return format_html(
            '{}<br><span class="quiet">{}<br>{}</span>',
            program,
            obj.phase.name if obj.phase_id else "no phase",
            obj.get_customer_class_display(),
        )

    @admin.display(description="language, flags")
    def flags(self, obj):
        names = (
            [dict(settings.LANGUAGES).get(obj.language, obj.language)]
            if obj.language != "en"
            else []
        )
        names += [
            label
            for label, on in (
                ("CARE", obj.care),
                ("NEM", obj.nem),
                ("Medical baseline", obj.medical_baseline),
                ("Direct access", obj.direct_access),
                ("Address needs repair", obj.address_needs_repair),
            )
            if on
        ]
        if not names:
            return "—"
        return format_html_join(" ", '<span class="flag">{}</span>', ((n,) for n in names))

    @admin.display(description="status")
    def status_display(self, obj):
        return format_html(
            '<span class="status-badge status-{}">{}</span>', obj.status, obj.get_status_display()
        )

    @admin.display(description="rate schedule")
    def rate_schedule_display(self, obj):
        tariff = RateSchedule.objects.filter(
            utility_id=obj.program.utility_id, code=obj.rate_schedule
        ).first()
        if tariff and tariff.description:
            return f"{obj.rate_schedule} — {tariff.description}"
        return obj.rate_schedule

    @admin.display(description="meter-read cycle")
    def read_cycle_display(self, obj):
        try:
            upcoming = next_read_date(
                utility_id=obj.program.utility_id, read_cycle=obj.read_cycle, on_or_after=today()
            )
        except NoReadDate:
            return f"{obj.read_cycle} (no upcoming read in the loaded schedule)"
        return f"{obj.read_cycle} (next read {upcoming:%a %b %-d, %Y})"


@admin.register(StatusChange)
class StatusChangeAdmin(ProgramScopedMixin, ReadOnlyAdmin, LargeTableAdmin):
    program_field = "account__program"
    list_display = ["at", "account_link", "change", "channel", "actor_name", "reason"]
    # Not from_status: it has no choices, so its filter would be a DISTINCT over the whole table.
    list_filter = ["channel", "to_status"]
    list_select_related = ["account"]
    # Newest first by primary key: the pk index serves it; ordering by "at" would sort the table.
    ordering = ["-id"]
    sortable_by = []
    search_fields = ["account__account_number"]
    search_help_text = "The account's number, phone, or words of its name or address."
    readonly_fields = ["account_link", "change", "at", "channel", "actor_name", "actor", "reason"]
    fields = [*readonly_fields]

    def get_search_results(self, request, queryset, search_term):
        if not search_term.strip():
            return queryset, False
        return queryset.filter(account__in=account_search(query=search_term).values("pk")), False

    @admin.display(description="account")
    def account_link(self, obj):
        url = reverse("admin:accounts_serviceaccount_change", args=[obj.account_id])
        return format_html('<a href="{}">{}</a>', url, obj.account)

    @admin.display(description="from → to")
    def change(self, obj):
        return _status_change_html(obj)


class _ReadOnlyRatesAdmin(ProgramScopedMixin, ReadOnlyMixin, admin.ModelAdmin):
    """Rates come from the JRC files (import_jrc); staff read them here, never edit them."""


@admin.register(JrcRow)
class JrcRowAdmin(_ReadOnlyRatesAdmin):
    list_display = [
        "rate_schedule",
        "customer_class",
        "product",
        "effective_from",
        "avg_monthly_kwh",
        "utility_monthly_bill",
        "cca_monthly_bill",
        "difference",
        "difference_pct",
    ]
    list_filter = ["program", "customer_class", "product", "effective_from"]
    list_select_related = ["product"]
    search_fields = ["rate_schedule"]


@admin.register(PowerContentLabel)
class PowerContentLabelAdmin(_ReadOnlyRatesAdmin):
    list_display = ["name", "source", "year", "renewable_pct", "carbon_free_pct", "ghg_lbs_per_mwh"]
    list_filter = ["program", "year"]


# --- staff users: the programs each may see (accounts.access) -----------------------------------


class ProgramAccessInline(admin.TabularInline):
    model = ProgramAccess
    extra = 1
    fields = ["program", "granted_at"]
    readonly_fields = ["granted_at"]
    verbose_name = "program this user may see"
    verbose_name_plural = "programs this user may see (a superuser sees every program)"


class StaffUserAdmin(UserAdmin):
    inlines = [*UserAdmin.inlines, ProgramAccessInline]


admin.site.unregister(User)
admin.site.register(User, StaffUserAdmin)
