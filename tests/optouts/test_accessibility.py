"""Every customer-facing opt-out page in headless Chromium, checked by axe-core at WCAG 2.2 AA, in
English and Spanish, on a phone (390×844) and a desktop (1280×800); and the whole journey done
with the keyboard alone. Screenshots land in var/screenshots/a11y_<lang>_<size>_<page>.png."""

from __future__ import annotations

import datetime as dt

import pytest

from accounts.models import Channel, ServiceAccount, Status
from accounts.services.status import Actor
from optouts.models import OptOutRequest
from optouts.services.intake import optout_submit
from tests.browser.axe import WCAG22_AA, axe_summary, axe_violations

pytestmark = [
    pytest.mark.browser,
    pytest.mark.needs("chromium"),
    pytest.mark.django_db(transaction=True),
]

SIZES = {
    "phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True},
    "desktop": {"viewport": {"width": 1280, "height": 800}},
}
# The words the test clicks and waits for, per language (the pages' own text).
WORDS = {
    "en": {
        "continue": "Continue",
        "account": "Account number",
        "zip": "Service ZIP code",
        "review": "Review your opt-out",
        "confirm": "Confirm my opt-out",
        "done": "Your opt-out is confirmed",
    },
    "es": {
        "continue": "Continuar",
        "account": "Número de cuenta",
        "zip": "Código postal del servicio",
        "review": "Revise su solicitud de baja",
        "confirm": "Confirmar mi baja",
        "done": "Su baja está confirmada",
    },
}


@pytest.fixture(params=sorted(SIZES))
def sized(request, browser):
    context = browser.new_context(**SIZES[request.param])
    context.set_default_timeout(10_000)
    yield request.param, context.new_page()
    context.close()


@pytest.fixture
def accounts(make_account, program, today):
    deep = program.products.get(code="deep-green")
    return {
        "before": make_account(
            status=Status.NOTIFIED, enrollment_date=dt.date(2027, 5, 2), account_number="3055500001"
        ),
        "free": make_account(
            status=Status.PARTICIPANT,
            enrollment_date=dt.date(2027, 2, 2),
            account_number="3055500002",
        ),
        # On the premium product: the review page carries the retention offer.
        "after": make_account(
            status=Status.PARTICIPANT,
            enrollment_date=dt.date(2026, 6, 2),
            account_number="3055500003",
            product=deep,
        ),
        "stay": make_account(
            status=Status.PARTICIPANT,
            enrollment_date=dt.date(2026, 6, 2),
            account_number="3055500004",
            product=deep,
        ),
        "opted": make_account(
            status=Status.PARTICIPANT,
            enrollment_date=dt.date(2026, 6, 2),
            account_number="3055500005",
        ),
        "refused": make_account(
            status=Status.PARTICIPANT,
            enrollment_date=dt.date(2027, 2, 2),
            account_number="3055500006",
        ),
    }


def _base(live_server, lang):
    return f"{live_server.url}{'/es' if lang == 'es' else ''}/opt-out/"


def _find(page, w, account, zip_code=None):
    page.get_by_label(w["account"]).fill(account.account_number)
    page.get_by_label(w["zip"]).fill(zip_code or account.service_zip)
    page.get_by_role("button", name=w["continue"]).click()
    page.wait_for_load_state()


@pytest.mark.parametrize("lang", ["en", "es"])
def test_every_customer_page_passes_axe(
    lang, sized, live_server, screenshot, accounts, monkeypatch
):
    size, page = sized
    w = WORDS[lang]
    width = SIZES[size]["viewport"]["width"]
    problems: dict[str, str] = {}
    seen: list[str] = []

    def check(name):
        seen.append(name)
        screenshot(page, f"a11y_{lang}_{size}_{name}")
        assert page.get_attribute("html", "lang") == lang, name
        # The one passage in the other language, the language switch, says which it is.
        other = "es" if lang == "en" else "en"
        assert page.get_attribute(".oo-lang", "lang") == other, name
        # WCAG 2.2 AA, plus axe's best practices (landmarks, one main, heading order), which
        # these pages meet too.
        violations = axe_violations(page, tags=(*WCAG22_AA, "best-practice"))
        if violations:
            problems[name] = axe_summary(violations)
        # Nothing runs off the side of the screen.
        overflow = page.evaluate("document.documentElement.scrollWidth")
        if overflow > width:
            problems[f"{name} (width)"] = f"page is {overflow}px wide at {width}px"

    opted = optout_submit(account=accounts["opted"], channel=Channel.PHONE, actor=Actor("agent"))
    base = _base(live_server, lang)

    page.goto(base)
    check("find")
    page.get_by_role("button", name=w["continue"]).click()
    page.wait_for_selector("[role=alert]")
    check("field_errors")
    _find(page, w, accounts["free"], zip_code="00000")
    page.wait_for_selector("[role=alert]")
    check("not_found")

    for window in ("before", "free"):
        page.goto(base)
        _find(page, w, accounts[window])
        page.wait_for_selector(f"h1:has-text('{w['review']}')")
        check(f"review_{window}")

    page.goto(base)
    _find(page, w, accounts["after"])
    page.wait_for_selector(f"h1:has-text('{w['review']}')")
    assert page.locator("input[name=return_path]").count() == 2
    check("review_after_advance_notice")
    page.check("#rp_transitional")
    check("review_after_transitional")
    page.get_by_role("button", name=w["confirm"]).click()
    page.wait_for_selector(f"h1:has-text('{w['done']}')")
    check("confirmation")
    assert OptOutRequest.objects.get(account=accounts["after"]).return_path == "transitional"

    page.goto(base)
    _find(page, w, accounts["stay"])
    page.locator(".oo-card--offer button").click()
    page.wait_for_selector(".oo-card--ok[role=status]")
    check("stay")

    page.goto(base)
    _find(page, w, accounts["opted"])
    page.wait_for_selector(f"text={opted.request.confirmation_code}")
    check("review_already_opted_out")

    # The signed token expired (here: tampered with) between review and confirm.
    page.goto(base)
    _find(page, w, accounts["refused"])
    page.wait_for_selector(f"h1:has-text('{w['review']}')")
    page.evaluate("document.querySelector('form[action$=\"confirm/\"] input[name=t]').value='x'")
    page.get_by_role("button", name=w["confirm"]).click()
    page.wait_for_selector("[role=alert]")
    check("expired")

    # The account closed (a move-out) while the customer read the review page.
    page.goto(base)
    _find(page, w, accounts["refused"])
    page.wait_for_selector(f"h1:has-text('{w['review']}')")
    ServiceAccount.objects.filter(pk=accounts["refused"].pk).update(status=Status.MOVED_OUT)
    page.get_by_role("button", name=w["confirm"]).click()
    page.wait_for_selector("[role=alert]")
    check("refused")

    monkeypatch.setattr("optouts.views.rate_limits_hit", lambda **kw: True)
    page.goto(base)
    _find(page, w, accounts["free"])
    page.wait_for_selector("[role=alert]")
    check("rate_limited")

    assert len(seen) == 13
    assert not problems, "\n\n".join(f"[{k}]\n{v}" for k, v in problems.items())


def test_axe_reports_what_it_finds(page):
    """The check above can fail: on a page with faults axe names them."""
    page.set_content("<html><body><img src='x.png'><input type='text'></body></html>")
    found = {v["id"] for v in axe_violations(page)}
    assert {"html-has-lang", "image-alt", "label"} <= found
    assert "image-alt" in axe_summary(axe_violations(page))


def _tab_to(page, predicate_js: str, *, back: bool = False, limit: int = 40) -> dict:
    """Press Tab (or Shift+Tab) until the focused element matches; return what was focused on
    the way, each with whether a focus indicator shows."""
    path = []
    for _ in range(limit):
        page.keyboard.press("Shift+Tab" if back else "Tab")
        here = page.evaluate(
            """() => { const e = document.activeElement; const s = getComputedStyle(e);
              return { id: e.id, name: e.name || "", tag: e.tagName.toLowerCase(),
                text: (e.innerText || e.value || "").trim().slice(0, 60),
                outline: (s.outlineStyle !== "none" && parseFloat(s.outlineWidth) >= 2)
                         || s.boxShadow !== "none" }; }"""
        )
        path.append(here)
        if page.evaluate(f"(e => {predicate_js})(document.activeElement)"):
            return {"at": here, "path": path}
    raise AssertionError(f"never reached {predicate_js}: {path}")


@pytest.mark.parametrize("lang", ["en", "es"])
def test_keyboard_only_journey(lang, page, live_server, screenshot, accounts):
    """Find → review → confirm → confirmation with only Tab, Shift+Tab, Enter, Space and typing;
    every stop shows a focus outline and the order follows the page."""
    w = WORDS[lang]
    page.goto(_base(live_server, lang))

    # The first Tab reaches the skip link; Enter moves focus to the main content.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "oo-skip"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"

    stop = _tab_to(page, "e.id === 'id_account_number'")
    assert all(s["outline"] for s in stop["path"]), stop["path"]
    page.keyboard.type(accounts["after"].account_number)
    stop = _tab_to(page, "e.id === 'id_zip_code'")
    assert len(stop["path"]) == 1  # the ZIP field comes straight after the account number
    page.keyboard.type(accounts["after"].service_zip)
    # Shift+Tab goes back to the account number, Tab forward again: the order is the page's.
    assert _tab_to(page, "e.id === 'id_account_number'", back=True)["path"][-1]["outline"]
    _tab_to(page, "e.id === 'id_zip_code'")
    stop = _tab_to(page, "e.type === 'submit'")
    assert stop["at"]["outline"]
    assert stop["at"]["text"] == w["continue"]
    screenshot(page, f"a11y_keyboard_{lang}_1_find")
    page.keyboard.press("Enter")
    page.wait_for_selector(f"h1:has-text('{w['review']}')")

    # Review: the retention offer's button, then the return choices, the e-mail, confirm.
    stop = _tab_to(page, "e.name === 'return_path'")
    visited = [s["tag"] for s in stop["path"]]
    assert "button" in visited  # the offer ("switch instead") comes before the opt-out form
    assert all(s["outline"] for s in stop["path"]), stop["path"]
    assert stop["at"]["id"] == "rp_advance_notice"
    # Arrow keys move within a radio group; Space selects.
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Space")
    assert page.is_checked("#rp_transitional")
    screenshot(page, f"a11y_keyboard_{lang}_2_review")
    stop = _tab_to(page, "e.id === 'id_contact_email'")
    assert len(stop["path"]) == 1
    stop = _tab_to(page, "e.type === 'submit'")
    assert stop["at"]["text"] == w["confirm"] and stop["at"]["outline"]
    page.keyboard.press("Enter")
    page.wait_for_selector(f"h1:has-text('{w['done']}')")
    screenshot(page, f"a11y_keyboard_{lang}_3_done")
    r = OptOutRequest.objects.get(account=accounts["after"])
    assert r.return_path == "transitional" and r.language == lang
