"""Customer opt-out pages: /opt-out/ and /es/opt-out/ (interfaces.md).

Three steps: find the account → see what will happen → confirm. The account found in step one
travels to step two in a signed, expiring token, so nothing is recorded until the customer
confirms. The mailer's QR code opens `/opt-out/?code=…`: the personal code alone opts the
customer out, so it is taken from the URL once, kept in the session and the browser is sent on
(303) to the clean form URL — access logs, browser history and Referer headers never hold it.
"""

from __future__ import annotations

import functools
import logging

from django.conf import settings
from django.core import signing
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import get_script_prefix, reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from accounts.models import Channel, Program, ServiceAccount
from accounts.services.status import Actor
from optouts.forms import ConfirmForm, LookupForm
from optouts.models import OptOutRequest
from optouts.services.intake import OptOutRefused, optout_quote, optout_submit
from optouts.services.lookup import (
    AmbiguousAccount,
    account_for_code,
    account_for_customer,
    normalise_account_number,
)
from optouts.services.ratelimit import client_ip, rate_limits_hit
from optouts.services.retention import retention_accept, retention_offer

log = logging.getLogger(__name__)
TOKEN_SALT = "optouts.web.account"
DONE_SALT = "optouts.web.done"
DONE_COOKIE = "optout_done"
DONE_MAX_AGE_S = 24 * 3600
TOKEN_MAX_AGE = 30 * 60
CODE_SESSION_KEY = "optouts.personal_code"
WEB_ACTOR = Actor("web form")
# Lazy: translated when the page is rendered in its language, not when the module loads.
NOT_FOUND = gettext_lazy(
    "We could not find an account with that account number and ZIP code. Check both "
    "against your notice or your utility bill, or call us."
)
AMBIGUOUS = gettext_lazy(
    "More than one program serves an account with that number and ZIP code. Please enter the "
    "personal code printed on your notice instead, or call us."
)


@functools.lru_cache(maxsize=64)
def _reversed(prefix: str, lang: str, name: str) -> str:
    return reverse(f"optouts:{name}_es" if lang == "es" else f"optouts:{name}")


def _url(lang: str, name: str) -> str:
    # Every page links four or five of these; the URLconf is fixed for the process's life.
    return _reversed(get_script_prefix(), lang, name)


def _default_program() -> Program | None:
    # The pages show the program's utility: read with it, not by a second query.
    programs = list(Program.objects.select_related("utility")[:2])
    return programs[0] if len(programs) == 1 else None


def _render(request, lang, template, context, status=200):
    with translation.override(lang):
        if "program" not in context:
            context["program"] = _default_program()
        context.update(
            lang=lang,
            other_lang="en" if lang == "es" else "es",
            form_url=_url(lang, "form"),
            other_url=_url("en" if lang == "es" else "es", "form"),
        )
        response = render(request, template, context, status=status)
    response["Content-Language"] = lang
    return response


def _mask(number: str) -> str:
    return "…" + number[-4:]


@require_http_methods(["GET", "POST"])
def optout_form(request, lang="en"):
    if request.method == "GET":
        if "code" in request.GET:
            return _code_taken(request, lang)
        code = request.session.get(CODE_SESSION_KEY, "")
        form = LookupForm(initial={"code": code})
        response = _render(
            request, lang, "optouts/form.html", {"form": form, "from_code": bool(code)}
        )
        if code:
            response["Cache-Control"] = "private, no-store"  # the page holds the code
        return response

    form = LookupForm(request.POST)
    with translation.override(lang):
        valid = form.is_valid()
    if not valid:
        return _render(request, lang, "optouts/form.html", {"form": form}, status=400)
    data = form.cleaned_data
    number = (
        normalise_account_number(data.get("account_number", "")) or data.get("code", "").upper()
    )
    if rate_limits_hit(attempts=[("web_ip", client_ip(request)), ("web_account", number)]):
        return _render(request, lang, "optouts/rate_limited.html", {}, status=429)
    if data.get("code"):
        account = account_for_code(code=data["code"])
    else:
        try:
            account = account_for_customer(
                account_number=data["account_number"], zip_code=data["zip_code"]
            )
        except AmbiguousAccount:
            with translation.override(lang):
                form.add_error(None, AMBIGUOUS)
            return _render(request, lang, "optouts/form.html", {"form": form}, status=400)
    if account is not None and data.get("code"):
        request.session.pop(CODE_SESSION_KEY, None)  # used: the form no longer offers it
    if account is None:
        with translation.override(lang):
            form.add_error(None, NOT_FOUND)
        return _render(
            request, lang, "optouts/form.html", {"form": form, "not_found": True}, status=400
        )
    return _preview(request, lang, account)


class HttpResponseSeeOther(HttpResponseRedirect):
    status_code = 303


def _code_taken(request, lang) -> HttpResponse:
    """The QR code's `?code=…`: into the session, then 303 to the form's clean URL."""
    code = request.GET.get("code", "").strip()[:12]
    if code:
        request.session[CODE_SESSION_KEY] = code
    else:
        request.session.pop(CODE_SESSION_KEY, None)
    response = HttpResponseSeeOther(_url(lang, "form"))
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response


def _preview(request, lang, account: ServiceAccount):
    decision = optout_quote(account=account)
    token = signing.dumps({"a": account.pk}, salt=TOKEN_SALT, compress=True)
    # Only an account that cannot opt out can have a current opt-out to show (an opt-out
    # leaves a status that refuses another); the others are spared the query.
    existing = (
        None
        if decision.accepted
        else OptOutRequest.objects.filter(account=account, is_current=True).first()
    )
    return _render(
        request,
        lang,
        "optouts/preview.html",
        {
            "account": account,
            "masked": _mask(account.account_number),
            "d": decision,
            "program": account.program,
            "existing": existing,
            "token": token,
            "offer": retention_offer(account=account) if decision.accepted else None,
            "confirm_url": _url(lang, "confirm"),
            "stay_url": _url(lang, "stay"),
            "form": ConfirmForm(initial={"t": token, "return_path": "advance_notice"}),
        },
    )


def _account_from_token(token: str, *, full: bool = True) -> ServiceAccount | None:
    try:
        payload = signing.loads(token, salt=TOKEN_SALT, max_age=TOKEN_MAX_AGE)
    except signing.BadSignature:
        return None
    if not full:
        # optout_submit loads (and locks) the account itself: only its id is needed here.
        return ServiceAccount(pk=payload.get("a")) if isinstance(payload.get("a"), int) else None
    return (
        ServiceAccount.objects.select_related("program", "product")
        .filter(pk=payload.get("a"))
        .first()
    )


def _expired(request, lang):
    with translation.override(lang):
        message = _(
            "Your session has expired. Please enter your account number and ZIP code again."
        )
    return _render(
        request,
        lang,
        "optouts/form.html",
        {"form": LookupForm(), "page_error": message},
        status=400,
    )


@require_http_methods(["POST"])
def optout_confirm(request, lang="en"):
    form = ConfirmForm(request.POST)
    account = _account_from_token(request.POST.get("t", ""), full=False)
    if account is None:
        return _expired(request, lang)
    with translation.override(lang):
        valid = form.is_valid()
    if not valid:
        return _preview(request, lang, _account_from_token(request.POST["t"]))
    try:
        submission = optout_submit(
            account=account,
            channel=Channel.WEB,
            actor=WEB_ACTOR,
            return_path=form.cleaned_data.get("return_path") or None,
            language=lang,
            contact_email=form.cleaned_data.get("contact_email", ""),
        )
    except ServiceAccount.DoesNotExist:
        return _expired(request, lang)
    except OptOutRefused as exc:
        program = Program.objects.get(accounts__pk=account.pk)
        return _render(
            request,
            lang,
            "optouts/refused.html",
            {"d": exc.decision, "message": str(exc), "program": program},
            status=409,
        )
    done = signing.dumps({"r": submission.request.pk}, salt=DONE_SALT)
    # In a cookie for the done page only, not in its URL: a URL lands in access logs and browser
    # history, and this one would show the code and the fee to whoever opened it within a day.
    response = HttpResponseRedirect(_url(lang, "done"))
    response.set_cookie(
        DONE_COOKIE,
        done,
        max_age=DONE_MAX_AGE_S,
        path=_url(lang, "done"),
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )
    return response


@require_http_methods(["GET"])
def optout_done(request, lang="en"):
    try:
        payload = signing.loads(
            request.COOKIES.get(DONE_COOKIE, ""), salt=DONE_SALT, max_age=DONE_MAX_AGE_S
        )
    except signing.BadSignature:
        return HttpResponseRedirect(_url(lang, "form"))
    r = (
        OptOutRequest.objects.select_related("program", "account")
        .filter(pk=payload.get("r"))
        .first()
    )
    if r is None:
        return HttpResponseRedirect(_url(lang, "form"))
    response = _render(
        request,
        lang,
        "optouts/done.html",
        {"r": r, "program": r.program, "masked": _mask(r.account.account_number)},
    )
    response["Cache-Control"] = "private, no-store"  # the code and the fee
    return response


@require_http_methods(["POST"])
def optout_stay(request, lang="en"):
    """The customer took the retention offer: switch to the default product, no opt-out recorded."""
    account = _account_from_token(request.POST.get("t", ""))
    if account is None:
        return _expired(request, lang)
    try:
        row = retention_accept(account=account, channel=Channel.WEB)
    except ValueError:
        return _preview(request, lang, account)
    return _render(
        request,
        lang,
        "optouts/stayed.html",
        {
            "row": row,
            "program": account.program,
            "product": account.program.products.get(code=row.to_product_code),
        },
    )
