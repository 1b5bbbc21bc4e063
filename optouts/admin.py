"""Opt-outs in the admin: the record (read-only), the call-centre agent screen, the reply-card
batch screen and a supervisor's fee waiver. Every write goes through optouts.services."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import Prefetch
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from accounts.access import programs_visible, scope_to_programs
from accounts.admin_downloads import customer_data_download
from accounts.admin_mixins import ProgramScopedMixin, ReadOnlyMixin
from accounts.models import Channel, ServiceAccount, Status, StatusChange
from accounts.selectors import account_search
from accounts.services import calendar as _calendar
from accounts.services.status import Actor
from optouts.forms import AgentRecordForm, AgentSearchForm, ReplyCardBatchForm
from optouts.models import (
    Confirmation,
    FeeEntry,
    FeeExport,
    Move,
    OptOutRequest,
    Outcome,
    ReentryRequest,
    RejoinRequest,
    ReturnPath,
    ServiceRequestType,
)
from optouts.services.fees import fee_entries_mark_billed
from optouts.services.intake import Decision, OptOutRefused, optout_quote, optout_submit
from optouts.services.notices import account_notices
from optouts.services.rejoin import RejoinRefused, rejoin_submit
from optouts.services.reply_cards import reply_cards_enter
from optouts.services.standing import (
    CONFIRMATION_NOT_SENT,
    confirmations_overdue_q,
)
from optouts.services.waivers import optout_fee_waive

AGENT_RESULTS = 25


def _search(query: str, user):
    qs = scope_to_programs(ServiceAccount.objects.select_related("program"), user)
    return account_search(query=query, queryset=qs)[:AGENT_RESULTS]


class WaiverForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), help_text="Kept with the opt-out for audit."
    )


@admin.register(OptOutRequest)
class OptOutRequestAdmin(ProgramScopedMixin, admin.ModelAdmin):
    list_display = [
        "confirmation_code",
        "account_link",
        "program",
        "channel",
        "outcome",
        "effective_date",
        "fee_column",
        "received_at",
        "actor_name",
        "confirmation_column",
    ]
    actions = ["record_rejoin"]
    list_filter = ["program", "channel", "outcome", "service_request", "fee_waived"]
    search_fields = ["=confirmation_code", "=account__account_number"]
    list_select_related = ["program", "account"]
    date_hierarchy = "received_at"
    show_full_result_count = False
    readonly_fields = [f.name for f in OptOutRequest._meta.fields]
    change_list_template = "admin/optouts/optoutrequest/change_list.html"

    def has_add_permission(self, request):
        return False  # recorded through the agent screen, which applies the rules

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .prefetch_related(
                Prefetch(
                    "confirmations",
                    queryset=Confirmation.objects.order_by("created_at").defer("letter_pdf"),
                )
            )
        )

    @admin.display(description="Confirmation")
    def confirmation_column(self, obj):
        """Which confirmation went out, how and when."""
        return _confirmation_text(list(obj.confirmations.all()))

    @admin.action(
        description=(
            "Record a rejoin for the selected opt-outs' accounts "
            "(the customer asked to opt back in)"
        )
    )
    def record_rejoin(self, request, queryset):
        record_rejoin(self, request, queryset)

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not request.user.has_perm("optouts.record_optout"):
            actions.pop("record_rejoin", None)  # read-only roles are not offered it
        return actions

    def has_delete_permission(self, request, obj=None):
        return False  # the proof of what the customer was told

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="Account", ordering="account__account_number")
    def account_link(self, obj):
        url = reverse("admin:optouts_agent") + f"?account={obj.account_id}"
        return format_html('<a href="{}">{}</a>', url, obj.account.account_number)

    @admin.display(description="Fee")
    def fee_column(self, obj):
        if obj.fee_waived:
            return format_html("<s>${}</s> waived", obj.fee_amount)
        return f"${obj.fee_amount}" if obj.fee_amount else "—"

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("agent/", wrap(self.agent_view), name="optouts_agent"),
            path("reply-cards/", wrap(self.reply_cards_view), name="optouts_reply_cards"),
            path("<int:pk>/waive/", wrap(self.waive_view), name="optouts_waive"),
            *super().get_urls(),
        ]

    def _context(self, request, **extra):
        return {**self.admin_site.each_context(request), "opts": self.model._meta, **extra}

    # --- call-centre agent screen ----------------------------------------------------------
    def agent_view(self, request):
        if not request.user.has_perm("optouts.record_optout"):
            raise PermissionDenied
        search = AgentSearchForm(request.GET or None)
        results = (
            list(_search(search.cleaned_data["q"], request.user)) if search.is_valid() else None
        )
        account = None
        wanted = request.GET.get("account", "").strip()
        if wanted.isdecimal() and len(wanted) < 19:  # a bigint primary key
            account = get_object_or_404(
                scope_to_programs(
                    ServiceAccount.objects.select_related("program", "program__utility", "product"),
                    request.user,
                ),
                pk=int(wanted),
            )
        elif wanted:
            # A hand-edited or truncated link: say so on the page instead of a server error.
            messages.error(request, f"No account with id {wanted[:40]!r}: search for it below.")
        record_form = AgentRecordForm(request.POST or None)
        if account is not None and request.method == "POST" and record_form.is_valid():
            data = record_form.cleaned_data
            try:
                sub = optout_submit(
                    account=account,
                    channel=data["channel"],
                    actor=Actor.of(request.user),
                    return_path=data["return_path"] or None,
                    moving_out=data["moving_out"],
                    contact_email=data["contact_email"],
                    contact_phone=data["contact_phone"],
                    note=data["note"],
                )
            except (OptOutRefused, ValueError) as exc:
                messages.error(request, f"Not recorded: {exc}")
            else:
                verb = "Recorded" if sub.created else "Already recorded"
                messages.success(
                    request,
                    f"{verb}: confirmation code {sub.request.confirmation_code} "
                    f"({sub.request.get_outcome_display()}).",
                )
                return HttpResponseRedirect(
                    f"{reverse('admin:optouts_agent')}?account={account.pk}"
                )
        detail = {}
        if account is not None:
            quote = optout_quote(account=account)
            detail = {
                "quote": quote,
                **_agent_quote_display(account=account, quote=quote),
                "move_quote": optout_quote(account=account, moving_out=True),
                "history": StatusChange.objects.filter(account=account).order_by("-at", "-id")[:50],
                "optouts": OptOutRequest.objects.filter(account=account).order_by("-received_at"),
                "notices": account_notices(account=account),
            }
        return TemplateResponse(
            request,
            "admin/optouts/agent.html",
            self._context(
                request,
                title="Call-centre: find an account and record an opt-out",
                search=search,
                results=results,
                account=account,
                record_form=record_form,
                **detail,
            ),
        )

    # --- returned reply cards --------------------------------------------------------------
    def reply_cards_view(self, request):
        if not request.user.has_perm("optouts.record_optout"):
            raise PermissionDenied
        programs = list(programs_visible(request.user).order_by("name"))
        form = ReplyCardBatchForm(request.POST or None)
        rows = []
        if request.method == "POST" and form.is_valid():
            program = next((p for p in programs if str(p.pk) == request.POST.get("program")), None)
            if program is None and len(programs) == 1:
                program = programs[0]
            if program is None:
                messages.error(request, "Choose the program the cards belong to.")
            else:
                rows = reply_cards_enter(
                    lines=form.cleaned_data["lines"], program=program, user=request.user
                )
                counts = {
                    k: sum(1 for r in rows if r["result"] == k)
                    for k in ("recorded", "already", "not_found", "refused")
                }
                messages.info(
                    request,
                    "Reply cards: {recorded} recorded, {already} already recorded, "
                    "{not_found} not found, {refused} refused.".format(**counts),
                )
        return TemplateResponse(
            request,
            "admin/optouts/reply_cards.html",
            self._context(
                request, title="Enter returned reply cards", form=form, rows=rows, programs=programs
            ),
        )

    # --- supervisor's fee waiver -----------------------------------------------------------
    def waive_view(self, request, pk):
        if not request.user.has_perm("optouts.waive_fee"):
            raise PermissionDenied
        optout = get_object_or_404(self.get_queryset(request).select_related("account"), pk=pk)
        form = WaiverForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                optout_fee_waive(
                    optout=optout, user=request.user, reason=form.cleaned_data["reason"]
                )
            except ValueError as exc:
                messages.error(request, str(exc))
            else:
                messages.success(request, f"Fee waived for {optout.confirmation_code}.")
                return HttpResponseRedirect(
                    f"{reverse('admin:optouts_agent')}?account={optout.account_id}"
                )
        return TemplateResponse(
            request,
            "admin/optouts/waive.html",
            self._context(
                request,
                title=f"Waive the termination fee of {optout.confirmation_code}",
                form=form,
                optout=optout,
            ),
        )


def _label(choices: type[models.TextChoices], value: str | None) -> str:
    try:
        return choices(value or "").label
    except ValueError:
        return value or ""


def _agent_quote_display(*, account: ServiceAccount, quote: Decision) -> dict:
    """The quote in words an agent reads to a caller, not codes; for an account that cannot opt
    out, why, with the opt-out already on file (code, date, channel) when there is one."""
    existing = None
    if not quote.accepted:
        existing = (
            OptOutRequest.objects.filter(account=account, is_current=True)
            .order_by("-received_at")
            .first()
        )
    refusal: str = {
        str(Outcome.ALREADY_OPTED_OUT): (
            "This account has already opted out, so there is nothing more to record. "
            "Tell the customer their earlier opt-out stands."
        ),
        str(Outcome.CLOSED): "This account is closed (the customer moved out); it cannot opt out.",
    }.get(quote.outcome, quote.refusal_message)
    return {
        "outcome_label": _label(Outcome, quote.outcome),
        "to_status_label": _label(Status, quote.to_status),
        "service_request_label": _label(ServiceRequestType, quote.service_request),
        "refusal_text": refusal,
        "existing_optout": existing,
        "return_rows": [(_label(ReturnPath, o.path), o) for o in quote.return_options],
    }


# --- fee ledger, CCASR work queue, re-entry, rejoin, moves, confirmations ----------------------


def _confirmation_text(confs) -> str:
    if not confs:
        return "—"
    parts = []
    for c in confs:
        if c.status == Confirmation.Status.SENT:
            parts.append(
                f"{c.get_kind_display()}: {c.get_method_display().lower()} "
                f"sent {c.sent_at:%Y-%m-%d %H:%M}"
            )
        elif c.status == Confirmation.Status.MAILED:
            parts.append(
                f"{c.get_kind_display()}: letter mailed {c.mailed_on} (piece {c.piece_id})"
            )
        elif c.status == Confirmation.Status.RETURNED:
            parts.append(
                f"{c.get_kind_display()}: letter returned {c.returned_on} ({c.return_reason})"
            )
        elif c.status == Confirmation.Status.BATCHED:
            parts.append(
                f"{c.get_kind_display()}: letter in mail batch (piece {c.piece_id}), "
                f"due {c.due_date}"
            )
        elif c.status == Confirmation.Status.ISSUED:
            parts.append(
                f"{c.get_kind_display()}: letter issued, waiting for a mail batch, due {c.due_date}"
            )
        else:
            parts.append(
                f"{c.get_kind_display()}: {c.get_method_display().lower()} pending, "
                f"due {c.due_date}"
            )
    return "; ".join(parts)


class ReadOnlyAdmin(ProgramScopedMixin, ReadOnlyMixin, admin.ModelAdmin):
    """Written only by services; the admin shows them and offers actions that call services."""


@admin.action(
    description=(
        "Record a rejoin for the selected opt-outs' accounts (the customer asked to opt back in)"
    )
)
def record_rejoin(modeladmin, request, queryset):
    if not request.user.has_perm("optouts.record_optout"):
        raise PermissionDenied
    for optout in queryset.select_related("account"):
        try:
            rejoin = rejoin_submit(
                account=optout.account, channel=Channel.PHONE, actor=Actor.of(request.user)
            )
        except RejoinRefused as exc:
            messages.error(request, f"{optout.account.account_number}: not rejoined. {exc}")
        else:
            fee = f", entry fee ${rejoin.entry_fee}" if rejoin.entry_fee else ""
            messages.success(
                request,
                f"{optout.account.account_number}: rejoined, "
                f"confirmation {rejoin.confirmation_code}, "
                f"service resumes {rejoin.effective_date or 'at the next read'}{fee}.",
            )


@admin.register(FeeEntry)
class FeeEntryAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "account_number",
        "kind",
        "customer_class",
        "amount",
        "status",
        "schedule_from",
        "assessed_on",
        "export",
        "waiver",
    ]
    list_filter = ["status", "kind", "program", "customer_class"]
    search_fields = ["=account__account_number", "=optout__confirmation_code"]
    list_select_related = ["account", "fee_schedule", "export", "waived_by"]
    date_hierarchy = "created_at"
    actions = ["mark_billed"]

    @admin.display(description="Account", ordering="account__account_number")
    def account_number(self, obj):
        return obj.account.account_number

    @admin.display(description="Fee schedule from")
    def schedule_from(self, obj):
        return obj.fee_schedule.effective_from if obj.fee_schedule_id else "—"

    @admin.display(description="Waiver")
    def waiver(self, obj):
        if obj.status != FeeEntry.Status.WAIVED:
            if obj.status == FeeEntry.Status.ASSESSED and obj.optout_id:
                return format_html(
                    '<a href="{}">waive…</a>', reverse("admin:optouts_waive", args=[obj.optout_id])
                )
            return ""
        return f"by {obj.waived_by} {obj.waived_at:%Y-%m-%d}: {obj.waiver_reason}"

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not request.user.has_perm("optouts.waive_fee"):
            actions.pop("mark_billed", None)
        return actions

    @admin.action(description="Mark exported entries billed today (the utility confirmed billing)")
    def mark_billed(self, request, queryset):
        if not request.user.has_perm("optouts.waive_fee"):
            raise PermissionDenied
        n = fee_entries_mark_billed(
            entry_ids=queryset.values_list("pk", flat=True),
            billed_on=_calendar.today(),
            reference=f"admin {request.user.get_username()}",
        )
        messages.info(
            request, f"{n} entries marked billed (entries not yet exported are left alone)."
        )


@admin.register(FeeExport)
class FeeExportAdmin(ReadOnlyAdmin):
    list_display = [
        "file_name",
        "program",
        "entries",
        "total",
        "created_at",
        "actor_name",
        "sha256",
    ]
    list_filter = ["program"]


class ConfirmationColumn:
    @admin.display(description="Confirmation")
    def confirmation(self, obj):
        return _confirmation_text(list(obj.confirmations.all()))


@admin.register(ReentryRequest)
class ReentryRequestAdmin(ConfirmationColumn, ReadOnlyAdmin):
    list_display = [
        "account",
        "path",
        "notice_date",
        "cca_service_until",
        "tbs_from",
        "bundled_from",
        "standard_rates_from",
        "min_stay_until",
        "reentry_fee",
        "confirmation",
    ]
    list_filter = ["path", "program"]
    search_fields = ["=account__account_number", "=optout__confirmation_code"]
    list_select_related = ["account"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .prefetch_related(
                Prefetch("confirmations", queryset=Confirmation.objects.defer("letter_pdf"))
            )
        )


@admin.register(RejoinRequest)
class RejoinRequestAdmin(ConfirmationColumn, ReadOnlyAdmin):
    list_display = [
        "confirmation_code",
        "account",
        "request_date",
        "effective_date",
        "entry_fee",
        "channel",
        "actor_name",
        "confirmation",
    ]
    list_filter = ["program", "channel"]
    search_fields = ["=confirmation_code", "=account__account_number"]
    list_select_related = ["account"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .prefetch_related(
                Prefetch("confirmations", queryset=Confirmation.objects.defer("letter_pdf"))
            )
        )


@admin.register(Move)
class MoveAdmin(ReadOnlyAdmin):
    list_display = [
        "import_run",
        "line",
        "type",
        "move_date",
        "old_account",
        "new_account",
        "status_kept",
    ]
    list_filter = ["type", "program"]
    list_select_related = ["old_account", "new_account", "import_run"]


class ConfirmationDueFilter(admin.SimpleListFilter):
    """The staff home's "confirmations overdue" (optouts.services.standing): same rows."""

    title = "due"
    parameter_name = "due"

    def lookups(self, request, model_admin):
        return [("overdue", "Overdue: past the due date, not sent")]

    def queryset(self, request, queryset):
        if self.value() == "overdue":
            return queryset.filter(confirmations_overdue_q(today=_calendar.today()))
        return queryset


@admin.register(Confirmation)
class ConfirmationAdmin(ReadOnlyAdmin):
    """Which way each confirmation went (e-mail or letter) and how far it got: e-mail sent, or
    letter issued → in a mail batch (piece ID) → mailed / returned, against its due date."""

    list_display = [
        "account",
        "kind",
        "method",
        "status",
        "due_date",
        "sent_or_mail_date",
        "on_time_display",
        "batch_link",
        "piece_id",
        "mailed_on",
        "returned_on",
        "overdue",
        "letter",
    ]
    list_filter = [
        ConfirmationDueFilter,
        "status",
        "kind",
        "method",
        "program",
        ("batch", admin.EmptyFieldListFilter),
    ]
    search_fields = ["=account__account_number", "=piece_id", "=batch__reference"]
    list_select_related = ["account", "batch"]
    exclude = ["letter_pdf"]

    def get_queryset(self, request):
        return super().get_queryset(request).defer("letter_pdf")

    @admin.display(description="Sent / mail date")
    def sent_or_mail_date(self, obj):
        return obj.sent_on or "—"

    @admin.display(boolean=True, description="In time")
    def on_time_display(self, obj):
        return obj.on_time

    @admin.display(description="Mail batch")
    def batch_link(self, obj):
        if not obj.batch_id:
            return "—"
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:cca_notices_mailbatch_change", args=[obj.batch_id]),
            obj.batch.reference,
        )

    @admin.display(boolean=True, description="Overdue")
    def overdue(self, obj):
        return obj.status in CONFIRMATION_NOT_SENT and obj.due_date < _calendar.today()

    @admin.display(description="Letter")
    def letter(self, obj):
        if obj.method != Confirmation.Method.LETTER or not obj.letter_sha256:
            return ""
        return format_html(
            '<a href="{}">PDF</a>', reverse("admin:optouts_confirmation_pdf", args=[obj.pk])
        )

    def get_urls(self):
        return [
            path(
                "<int:pk>/letter.pdf",
                self.admin_site.admin_view(self.pdf_view),
                name="optouts_confirmation_pdf",
            ),
            *super().get_urls(),
        ]

    @customer_data_download(
        "confirmation letter", model=Confirmation, pk_kwarg="pk", permission=None
    )
    def pdf_view(self, request, pk):
        if not self.has_view_permission(request):
            raise PermissionDenied
        conf = get_object_or_404(self.get_queryset(request).defer(None), pk=pk)
        if not conf.letter_pdf:
            raise PermissionDenied
        response = HttpResponse(bytes(conf.letter_pdf), content_type="application/pdf")
        response["Content-Disposition"] = (
            f'inline; filename="{conf.kind}-{conf.account_id}-{conf.pk}.pdf"'
        )
        return response


# The CCASR work queue, EDI interchanges, transfers and reconciliations (their own module).
from optouts import admin_edi  # noqa: E402, F401
