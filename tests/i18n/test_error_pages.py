"""The error pages speak the page's language from the catalogue (locale/es/LC_MESSAGES): the
Spanish is in the .po, not in the code, and a Spanish error page carries no English word."""

import json
from pathlib import Path

import polib
import pytest
from django.test import Client
from django.utils import translation

from cca_notices.errors import BACK, TEXTS, error_response
from tests.i18n.english import english_in, visible_text

PO = Path(__file__).resolve().parents[2] / "locale" / "es" / "LC_MESSAGES" / "django.po"


@pytest.mark.parametrize("status", [400, 403, 404, 500])
def test_each_error_page_in_spanish_is_the_catalogues(rf, status):
    spanish = {e.msgid: e.msgstr for e in polib.pofile(str(PO))}
    with translation.override("en"):
        english = [str(t) for t in (*TEXTS[status], BACK)]
    assert all(spanish.get(msgid) for msgid in english), "a message missing from the catalogue"

    es = error_response(rf.get("/es/opt-out/x/"), status)
    page = es.content.decode()
    assert es.status_code == status
    for msgid in english:
        assert spanish[msgid] in page and msgid not in page
    found = english_in(visible_text(page), allowed=("CCA Notices",))  # the site's name
    assert not found, found
    assert 'href="/es/opt-out/"' in page

    en = error_response(rf.get("/opt-out/x/"), status).content.decode()
    assert all(msgid in en for msgid in english) and 'href="/opt-out/"' in en


def test_the_api_answers_in_english_whatever_the_active_language(rf):
    with translation.override("es"):
        response = error_response(rf.get("/api/v1/x/"), 404)
    assert json.loads(response.content) == {"detail": "Page not found"}


def test_a_nul_in_a_spanish_form_is_refused_in_spanish():
    """The NUL check answers before LocaleMiddleware: the language comes from the path."""
    client = Client(raise_request_exception=False)
    form = {"account_number": "30\x0001", "zip_code": "94901"}

    es = client.post("/es/opt-out/", form)
    text = " ".join(visible_text(es.content.decode()).split())
    assert es.status_code == 400
    assert (
        "No se permite el carácter NUL (\\x00) en el campo 'account_number' del formulario." in text
    )
    found = english_in(text, allowed=("CCA Notices", "'account_number'"))
    assert not found, found

    en = client.post("/opt-out/", form)
    text = " ".join(visible_text(en.content.decode()).split())
    assert en.status_code == 400
    assert "A NUL character (\\x00) is not allowed in the form field 'account_number'." in text
