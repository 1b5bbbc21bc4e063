"""The Spanish catalogues (the project's, locale/, and the opt-out app's, optouts/locale/) are
complete and each compiled file is the one its .po says."""

from pathlib import Path

import polib
import pytest

ROOT = Path(__file__).resolve().parents[2]
CATALOGUES = [
    p / "LC_MESSAGES"
    for locale in (ROOT / "locale", ROOT / "optouts" / "locale")
    for p in sorted(locale.iterdir())
    if (p / "LC_MESSAGES" / "django.po").exists()
]
IDS = [str(p.relative_to(ROOT).parent) for p in CATALOGUES]


def test_both_catalogues_are_found():
    assert IDS == ["locale/es", "optouts/locale/es"]


@pytest.mark.parametrize("folder", CATALOGUES, ids=IDS)
def test_every_message_is_translated(folder):
    po = polib.pofile(str(folder / "django.po"))
    untranslated = [e.msgid for e in po if not e.translated() and not e.obsolete]
    fuzzy = [e.msgid for e in po.fuzzy_entries()]
    assert not untranslated and not fuzzy, {"untranslated": untranslated, "fuzzy": fuzzy}


@pytest.mark.parametrize("folder", CATALOGUES, ids=IDS)
def test_the_compiled_catalogue_matches_the_po(folder):
    po = {
        (e.msgctxt, e.msgid): e.msgstr or e.msgstr_plural
        for e in polib.pofile(str(folder / "django.po"))
        if e.translated()
    }
    mo = {
        (e.msgctxt, e.msgid): e.msgstr or e.msgstr_plural
        for e in polib.mofile(str(folder / "django.mo"))
        if e.msgid
    }
    assert po == mo, "django.mo is stale: run `manage.py compilemessages` (docs/development.md)"
