"""Opt-outs in the admin: the record (read-only), the call-centre agent screen, the reply-card
batch screen and a supervisor's fee waiver. Every write goes through optouts.services."""
from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from accounts.models import Program, ServiceAccount, StatusChange
from accounts.services.status import Actor
from optouts.forms import AgentRecordForm, AgentSearchForm, ReplyCardBatchForm
from optouts.models import OptOutRequest
from optouts.services.intake import OptOutRefused, optout_quote, optout_submit
from optouts.services.lookup import normalise_account_number
from optouts.services.notices import account_notices
from optouts.services.reply_cards import reply_cards_enter
from optouts.services.waivers import optout_fee_waive

try:  # the registry's search (name, address, phone, number); a plain lookup until it exists
    from accounts.selectors import account_search
except ImportError:  # pragma: no cover
    account_search = None

AGENT_RESULTS = 25


def _search(query: str):
    qs = ServiceAccount.objects.select_related("program")
    if account_search is not None:
        return account_search(query=query, queryset=qs)[:AGENT_RESULTS]
    return qs.filter(account_number=normalise_account_number(query))[:AGENT_RESULTS]


class WaiverForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), help_text="Kept with the opt-out for audit.")


@admin.register(OptOutRequest)
class OptOutRequestAdmin(admin.ModelAdmin):
    list_display = ["confirmation_code", "account_link", "program", "channel", "outcome", "effective_date",
                    "fee_column", "received_at", "actor_name"]
    list_filter = ["program", "channel", "outcome", "service_request", "fee_waived"]
    search_fields = ["=confirmation_code", "=account__account_number"]
    list_select_related = ["program", "account"]
    date_hierarchy = "received_at"
    show_full_result_count = False
    readonly_fields = [f.name for f in OptOutRequest._meta.fields]
    change_list_template = "admin/optouts/optoutrequest/change_list.html"

    def has_add_permission(self, request):
        return False  # recorded through the agent screen, which applies the rules

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
            return format_html('<s>${}</s> waived', obj.fee_amount)
        return f"${obj.fee_amount}" if obj.fee_amount else "—"

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("agent/", wrap(self.agent_view), name="optouts_agent"),
            path("reply-cards/", wrap(self.reply_cards_view), name="optouts_reply_cards"),
            path("<int:pk>/waive/", wrap(self.waive_view), name="optouts_waive"),
        ] + super().get_urls()

    def _context(self, request, **extra):
        return {**self.admin_site.each_context(request), "opts": self.model._meta, **extra}

    # --- call-centre agent screen ----------------------------------------------------------
    def agent_view(self, request):
        if not request.user.has_perm("optouts.record_optout"):
            raise PermissionDenied
        search = AgentSearchForm(request.GET or None)
        results = list(_search(search.cleaned_data["q"])) if search.is_valid() else None
        account = None
        if request.GET.get("account"):
            account = get_object_or_404(ServiceAccount.objects.select_related("program", "program__utility", "product"),
                                        pk=request.GET["account"])
        record_form = AgentRecordForm(request.POST or None)
        if account is not None and request.method == "POST" and record_form.is_valid():
            data = record_form.cleaned_data
            try:
                sub = optout_submit(
                    account=account, channel=data["channel"], actor=Actor.of(request.user),
                    return_path=data["return_path"] or None, moving_out=data["moving_out"],
                    contact_email=data["contact_email"], contact_phone=data["contact_phone"], note=data["note"])
            except (OptOutRefused, ValueError) as exc:
                messages.error(request, f"Not recorded: {exc}")
            else:
                verb = "Recorded" if sub.created else "Already recorded"
                messages.success(request, f"{verb}: confirmation code {sub.request.confirmation_code} "
                                          f"({sub.request.get_outcome_display()}).")
                return HttpResponseRedirect(f"{reverse('admin:optouts_agent')}?account={account.pk}")
        detail = {}
        if account is not None:
            detail = {
                "quote": optout_quote(account=account),
                "move_quote": optout_quote(account=account, moving_out=True),
                "history": StatusChange.objects.filter(account=account).order_by("-at", "-id")[:50],
                "optouts": OptOutRequest.objects.filter(account=account).order_by("-received_at"),
                "notices": account_notices(account=account),
            }
        return TemplateResponse(request, "admin/optouts/agent.html", self._context(
            request, title="Call-centre: find an account and record an opt-out", search=search, results=results,
            account=account, record_form=record_form, **detail))

    # --- returned reply cards --------------------------------------------------------------
    def reply_cards_view(self, request):
        if not request.user.has_perm("optouts.record_optout"):
            raise PermissionDenied
        programs = list(Program.objects.order_by("name"))
        form = ReplyCardBatchForm(request.POST or None)
        rows = []
        if request.method == "POST" and form.is_valid():
            program = next((p for p in programs if str(p.pk) == request.POST.get("program")), None)
            if program is None and len(programs) == 1:
                program = programs[0]
            if program is None:
                messages.error(request, "Choose the program the cards belong to.")
            else:
                rows = reply_cards_enter(lines=form.cleaned_data["lines"], program=program, user=request.user)
                counts = {k: sum(1 for r in rows if r["result"] == k) for k in ("recorded", "already", "not_found", "refused")}
                messages.info(request, "Reply cards: {recorded} recorded, {already} already recorded, "
                                       "{not_found} not found, {refused} refused.".format(**counts))
        return TemplateResponse(request, "admin/optouts/reply_cards.html", self._context(
            request, title="Enter returned reply cards", form=form, rows=rows, programs=programs))

    # --- supervisor's fee waiver -----------------------------------------------------------
    def waive_view(self, request, pk):
        if not request.user.has_perm("optouts.waive_fee"):
            raise PermissionDenied
        optout = get_object_or_404(OptOutRequest.objects.select_related("account"), pk=pk)
        form = WaiverForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                optout_fee_waive(optout=optout, user=request.user, reason=form.cleaned_data["reason"])
            except ValueError as exc:
                messages.error(request, str(exc))
            else:
                messages.success(request, f"Fee waived for {optout.confirmation_code}.")
                return HttpResponseRedirect(f"{reverse('admin:optouts_agent')}?account={optout.account_id}")
        return TemplateResponse(request, "admin/optouts/waive.html", self._context(
            request, title=f"Waive the termination fee of {optout.confirmation_code}", form=form, optout=optout))
