"""Telephone opt-out (Twilio voice webhooks under /ivr/, entry /ivr/voice/).

Every request must carry a valid X-Twilio-Signature made with TWILIO_AUTH_TOKEN — in DEBUG too;
with no token configured every IVR request is refused. What the caller has keyed so far is kept on
the server by Twilio's CallSid (`IvrCall`), never in a URL: the carrier logs every URL it calls,
and the account number and ZIP must not be in those logs. Each answer offers the steps it sends the
caller to; a request for any other step is refused with a spoken error. Nothing is recorded until
the caller presses 1 to confirm; the call's row is deleted when the call ends, and one left by a
hang-up is ignored after STATE_MAX_AGE and purged when a later call starts.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from contextvars import ContextVar
from decimal import Decimal

from django.conf import settings
from django.http import HttpResponse, HttpResponseForbidden
from django.urls import path, reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from twilio.request_validator import (
    SIGNATURE_SETTINGS_HEADER,
    RequestValidator,
    get_signature_algorithm,
)
from twilio.twiml.voice_response import VoiceResponse

from accounts.models import Channel, Program, ServiceAccount
from accounts.services import display
from accounts.services.status import Actor
from optouts.models import IvrCall, OptOutRequest, Outcome, ReturnPath
from optouts.services.intake import OptOutRefused, optout_quote, optout_submit
from optouts.services.lookup import account_for_customer, program_for_called_number
from optouts.services.ratelimit import rate_limits_hit

log = logging.getLogger(__name__)
STATE_MAX_AGE = 30 * 60
MAX_TRIES = 3
IVR_ACTOR = Actor("ivr")
AGENT_KEY = "*"
DEFAULT_VOICES = {"en": ("Polly.Joanna", "en-US"), "es": ("Polly.Lupe", "es-US")}


# --- plumbing ---------------------------------------------------------------------------------
def _signing_secret(signature_settings: str) -> str:
    """The secret Twilio signed with: the shared key the settings header names, else the auth token.

    A request that names a shared key is checked with that key only: were it checked with the
    auth token instead, a retired key could never be revoked."""
    for part in signature_settings.split(","):
        name, _, value = part.partition("=")
        if name.strip() == "key":
            return settings.TWILIO_WEBHOOK_SHARED_KEYS.get(value.strip(), "")
    return settings.TWILIO_AUTH_TOKEN


def _signature_ok(request) -> bool:
    signature = request.headers.get("X-Twilio-Signature", "")
    signature_settings = request.headers.get(SIGNATURE_SETTINGS_HEADER, "")
    secret = _signing_secret(signature_settings)
    if not secret or not signature:
        return False
    base = getattr(settings, "IVR_PUBLIC_BASE_URL", "")  # when a proxy rewrites scheme or host
    url = base.rstrip("/") + request.get_full_path() if base else request.build_absolute_uri()
    algorithm = get_signature_algorithm(signature_settings)
    return RequestValidator(secret).validate(url, request.POST, signature, algorithm)


# The steps the answer being built offers, each with the state it continues with (see _url).
_offered: ContextVar[dict | None] = ContextVar("ivr_offered", default=None)


def _call_load(call_sid: str) -> IvrCall | None:
    if not call_sid:
        return None
    fresh = timezone.now() - dt.timedelta(seconds=STATE_MAX_AGE)
    return IvrCall.objects.filter(call_sid=call_sid, updated_at__gte=fresh).first()


def _call_save(call_sid: str, offered: dict) -> None:
    if not call_sid:
        return  # without a CallSid nothing can be kept: the next step starts the call again
    if offered:
        IvrCall.objects.update_or_create(
            call_sid=call_sid, defaults={"steps": offered, "updated_at": timezone.now()}
        )
    else:  # the answer hangs up or transfers: the call's state is no longer needed
        IvrCall.objects.filter(call_sid=call_sid).delete()


def _calls_purge() -> None:
    """Rows of calls that hung up mid-way: nobody continues them after STATE_MAX_AGE."""
    stale = timezone.now() - dt.timedelta(seconds=STATE_MAX_AGE)
    IvrCall.objects.filter(updated_at__lt=stale).delete()


def twilio_webhook(step: str):
    """A Twilio webhook for `step`: checks the signature, finds the call's state for this step,
    runs the view and keeps the state of the steps its answer offers."""

    def decorator(view):
        @csrf_exempt
        @require_POST
        @functools.wraps(view)
        def wrapped(request, *args, **kwargs):
            if not _signature_ok(request):
                log.warning(
                    "IVR request refused: bad or missing Twilio signature (%s)", request.path
                )
                return HttpResponseForbidden("invalid signature")
            call_sid = request.POST.get("CallSid", "")[:64]
            call = _call_load(call_sid)
            offered = call.steps if call is not None else {}
            if step == "voice":
                _calls_purge()
                state = offered.get("voice", {})
            elif step == "agent":
                state = next(iter(offered.values()), {})
            elif step in offered:
                state = offered[step]
            elif offered:
                # A genuine Twilio request, but for a step this call was not sent to.
                log.warning("IVR step %s refused: the call was sent to %s", step, sorted(offered))
                return _twiml(_wrong_step(next(iter(offered.values())).get("l", "en")))
            else:
                return _twiml(_restart())  # no call state (expired, or no CallSid)
            if step not in ("voice", "agent") and "p" not in state:
                return _twiml(_restart())
            token = _offered.set({})
            try:
                with translation.override(state.get("l", "en")):
                    response = view(request, state, *args, **kwargs)
                _call_save(call_sid, _offered.get() or {})
            finally:
                _offered.reset(token)
            return _twiml(response)

        return wrapped

    return decorator


def _twiml(response: VoiceResponse) -> HttpResponse:
    return HttpResponse(str(response), content_type="text/xml")


def _url(name: str, state: dict) -> str:
    """The URL of step `name`, which the answer being built offers with `state`: the state is
    kept on the server (IvrCall), the URL carries nothing of the caller's."""
    offered = _offered.get()
    if offered is None:
        raise RuntimeError("IVR step URLs are built only inside a twilio_webhook view")
    offered[name] = state
    return reverse(f"optouts:ivr_{name}")


def _wrong_step(lang: str) -> VoiceResponse:
    r = VoiceResponse()
    with translation.override(lang):
        _say(r, _("Sorry, something went wrong with this call. Let us start again."), lang)
    r.redirect(reverse("optouts:ivr_voice"))
    return r


def _say(node, text: str, lang: str):
    voices = getattr(settings, "OPTOUT_IVR_VOICES", None) or DEFAULT_VOICES
    voice, language = voices.get(lang, voices["en"])
    node.say(text, voice=voice, language=language)


def digits(value: str) -> str:
    """Spoken digit by digit: '3041' → '3, 0, 4, 1' (the commas make the voice pause)."""
    return ", ".join(value)


def spoken_date(day, lang: str) -> str:
    return display.long_date(day, lang)


def spoken_money(amount: Decimal) -> str:
    dollars, cents = divmod(int(amount * 100), 100)
    return _("%(dollars)s dollars and %(cents)s cents") % {"dollars": dollars, "cents": cents}


def _restart() -> VoiceResponse:
    r = VoiceResponse()
    r.redirect(reverse("optouts:ivr_voice"))
    return r


def _program(state) -> Program | None:
    return Program.objects.filter(pk=state.get("p")).first()


# --- steps ------------------------------------------------------------------------------------
@twilio_webhook("voice")
def voice(request, state):
    program = program_for_called_number(
        called=request.POST.get("To", "") or request.POST.get("Called", "")
    )
    r = VoiceResponse()
    if program is None:
        _say(r, "We are sorry, this line is not in service. Goodbye.", "en")
        r.hangup()
        return r
    state = {"p": program.pk, "t": state.get("t", 0) + 1 if state.get("p") else 0}
    if state["t"] >= MAX_TRIES:
        return _agent_response(program, "en")
    g = r.gather(num_digits=1, action=_url("language", state), timeout=6)
    with translation.override("en"):
        _say(g, f"Thank you for calling {program.name}. For English, press 1.", "en")
    _say(g, "Para español, oprima 2.", "es")
    r.redirect(_url("voice", state))
    return r


@twilio_webhook("language")
def language(request, state):
    choice = request.POST.get("Digits", "")
    if choice not in ("1", "2"):
        return _redirect("voice", {**state, "t": state.get("t", 0)})
    state = {"p": state["p"], "l": "es" if choice == "2" else "en", "t": 0}
    with translation.override(state["l"]):
        return _account_prompt(state)


def _redirect(name, state):
    r = VoiceResponse()
    r.redirect(_url(name, state))
    return r


def _account_prompt(state, error: str = "") -> VoiceResponse:
    r = VoiceResponse()
    lang = state["l"]
    g = r.gather(finish_on_key="#", timeout=10, action=_url("account", state))
    if error:
        _say(g, error, lang)
    _say(
        g,
        _(
            "Please enter your service account number, as printed on your notice, "
            "then press the pound key. "
            "To speak with a representative, press star."
        ),
        lang,
    )
    r.redirect(_url("account", {**state, "t": state.get("t", 0)}))
    return r


def _retry(state, error: str, prompt) -> VoiceResponse:
    tries = state.get("t", 0) + 1
    if tries >= MAX_TRIES:
        program = _program(state)
        r = _agent_response(program, state["l"], lead=error)
        return r
    return prompt({**state, "t": tries}, error)


@twilio_webhook("account")
def account(request, state):
    entered = request.POST.get("Digits", "").rstrip("#")
    if entered.startswith(AGENT_KEY):
        return _agent_response(_program(state), state["l"])
    if not entered.isdigit() or not (6 <= len(entered) <= 32):
        return _retry(state, _("Sorry, that was not a valid account number."), _account_prompt)
    return _zip_prompt({**state, "n": entered})


def _zip_prompt(state, error: str = "") -> VoiceResponse:
    r = VoiceResponse()
    g = r.gather(num_digits=5, timeout=10, action=_url("zip", state))
    if error:
        _say(g, error, state["l"])
    _say(g, _("Now enter the five-digit ZIP code of your service address."), state["l"])
    r.redirect(_url("zip", state))
    return r


@twilio_webhook("zip")
def zip_code(request, state):
    lang = state["l"]
    entered = request.POST.get("Digits", "")
    if entered.startswith(AGENT_KEY):
        return _agent_response(_program(state), lang)
    if not (entered.isdigit() and len(entered) == 5):
        return _retry(state, _("Sorry, that was not a five-digit ZIP code."), _zip_prompt)
    caller = request.POST.get("From", "")
    if rate_limits_hit(attempts=[("ivr_caller", caller or "unknown"), ("ivr_account", state["n"])]):
        return _agent_response(
            _program(state), lang, lead=_("We cannot take more attempts on this call.")
        )
    program = _program(state)
    found = account_for_customer(account_number=state["n"], zip_code=entered, program=program)
    if found is None:
        # The same words whether the number is unknown or the ZIP is wrong.
        state = {k: v for k, v in state.items() if k != "n"}
        return _retry(
            state, _("We could not find an account with that number and ZIP code."), _account_prompt
        )
    return _quote_response({**state, "a": found.pk, "z": entered, "t": 0}, found)


def _quote_response(state, acct: ServiceAccount, lead: str = "") -> VoiceResponse:
    lang = state["l"]
    program = acct.program
    r = VoiceResponse()
    existing = OptOutRequest.objects.filter(account=acct, is_current=True).first()
    if existing is not None:
        _say(
            r,
            _("This account has already opted out. Your confirmation code is: %(code)s.")
            % {"code": digits(existing.confirmation_code)},
            lang,
        )
        _say(r, _("Goodbye."), lang)
        r.hangup()
        return r
    d = optout_quote(account=acct)
    if not d.accepted:
        _say(r, _(d.refusal_message), lang)
        return _agent_response(program, lang, into=r)
    text = [lead] if lead else []
    text.append(
        _("You entered account number %(number)s, ZIP code %(zip)s.")
        % {"number": digits(acct.account_number), "zip": digits(state["z"])}
    )
    when = (
        spoken_date(d.effective_date, lang) if d.effective_date else _("your next meter-read date")
    )
    utility = program.utility.name
    if d.outcome == Outcome.BEFORE_ENROLLMENT:
        text.append(
            _(
                "If you opt out, you will not be enrolled and you will stay with %(utility)s. "
                "There is no fee."
            )
            % {"utility": utility}
        )
    elif d.outcome == Outcome.FREE_WINDOW:
        text.append(
            _(
                "If you opt out, your service returns to %(utility)s on your meter-read date, "
                "%(date)s. There is no fee."
            )
            % {"utility": utility, "date": when}
        )
    else:
        text.append(
            _(
                "If you opt out, your service with %(program)s ends on your meter-read date, "
                "%(date)s. A termination fee of %(fee)s will appear on your utility bill."
            )
            % {"program": program.name, "date": when, "fee": spoken_money(d.fee)}
        )
        if "r" not in state:
            g = r.gather(num_digits=1, timeout=8, action=_url("path", state))
            _say(g, " ".join(text), lang)
            advance = d.return_option(ReturnPath.ADVANCE_NOTICE)
            # An accepted quote after the free window always carries both return options.
            assert advance is not None
            _say(
                g,
                _(
                    "To give six months' advance notice and move to %(utility)s standard rates "
                    "on %(date)s, press 1. "
                    "To return to %(utility)s now on transitional bundled service for six months, "
                    "press 2. "
                    "To speak with a representative, press star."
                )
                % {
                    "utility": utility,
                    "date": spoken_date(advance.bundled_from, lang)
                    if advance.bundled_from
                    else when,
                },
                lang,
            )
            r.redirect(_url("path", state))
            return r
        text.append(
            _("You chose six months' advance notice.")
            if state["r"] == ReturnPath.ADVANCE_NOTICE
            else _("You chose transitional bundled service.")
        )
    g = r.gather(num_digits=1, timeout=8, action=_url("confirm", state))
    _say(g, " ".join(text), lang)
    _say(
        g,
        _(
            "To confirm your opt-out, press 1. To cancel, press 2. "
            "To speak with a representative, press star."
        ),
        lang,
    )
    r.redirect(_url("confirm", state))
    return r


@twilio_webhook("path")
def return_path(request, state):
    acct = ServiceAccount.objects.select_related("program", "program__utility").get(pk=state["a"])
    choice = request.POST.get("Digits", "")
    if choice == AGENT_KEY:
        return _agent_response(acct.program, state["l"])
    paths = {"1": ReturnPath.ADVANCE_NOTICE, "2": ReturnPath.TRANSITIONAL}
    if choice not in paths:
        tries = state.get("t", 0) + 1
        if tries >= MAX_TRIES:
            return _agent_response(acct.program, state["l"])
        return _quote_response({**state, "t": tries}, acct, lead=_("Sorry, I did not get that."))
    return _quote_response({**state, "r": str(paths[choice]), "t": 0}, acct)


@twilio_webhook("confirm")
def confirm(request, state):
    lang = state["l"]
    acct = ServiceAccount.objects.select_related("program", "program__utility").get(pk=state["a"])
    choice = request.POST.get("Digits", "")
    r = VoiceResponse()
    if choice == AGENT_KEY:
        return _agent_response(acct.program, lang)
    if choice == "2":
        _say(r, _("Nothing has been changed. Goodbye."), lang)
        r.hangup()
        return r
    if choice != "1":
        tries = state.get("t", 0) + 1
        if tries >= MAX_TRIES:
            _say(r, _("Nothing has been changed. Goodbye."), lang)
            r.hangup()
            return r
        return _quote_response({**state, "t": tries}, acct, lead=_("Sorry, I did not get that."))
    try:
        submission = optout_submit(
            account=acct,
            channel=Channel.IVR,
            actor=IVR_ACTOR,
            return_path=state.get("r") or None,
            language=lang,
        )
    except OptOutRefused as exc:
        _say(r, str(exc), lang)
        return _agent_response(acct.program, lang, into=r)
    code = digits(submission.request.confirmation_code)
    _say(
        r,
        _(
            "Your opt-out is recorded. Your confirmation code is: %(code)s. "
            "Again, your code is: %(code)s."
        )
        % {"code": code},
        lang,
    )
    _say(r, _("Thank you. Goodbye."), lang)
    r.hangup()
    return r


@twilio_webhook("agent")
def agent(request, state):
    return _agent_response(_program(state), state.get("l", "en"))


def _agent_response(
    program: Program | None, lang: str, lead: str = "", into: VoiceResponse | None = None
) -> VoiceResponse:
    r = into or VoiceResponse()
    if lead:
        _say(r, lead, lang)
    number = program.call_centre_phone if program else ""
    if number:
        _say(r, _("Please hold while we connect you to a representative."), lang)
        r.dial(number)
    else:
        phone = program.phone if program else ""
        _say(
            r,
            _("Please call us at %(phone)s during business hours. Goodbye.")
            % {"phone": digits(phone.lstrip("+"))},
            lang,
        )
        r.hangup()
    return r


urlpatterns = [
    path("voice/", voice, name="ivr_voice"),
    path("language/", language, name="ivr_language"),
    path("account/", account, name="ivr_account"),
    path("zip/", zip_code, name="ivr_zip"),
    path("path/", return_path, name="ivr_path"),
    path("confirm/", confirm, name="ivr_confirm"),
    path("agent/", agent, name="ivr_agent"),
]
