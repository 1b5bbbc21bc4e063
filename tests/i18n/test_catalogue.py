"""The Spanish catalogue is complete and the compiled file is the one the .po says."""

from pathlib import Path

import polib
import pytest

LOCALE = Path(__file__).resolve().parents[2] / "optouts" / "locale"
LANGS = [p.name for p in LOCALE.iterdir() if (p / "LC_MESSAGES" / "django.po").exists()]


@pytest.mark.parametrize("lang", LANGS)
def test_every_message_is_translated(lang):
    po = polib.pofile(str(LOCALE / lang / "LC_MESSAGES" / "django.po"))
    untranslated = [e.msgid for e in po if not e.translated() and not e.obsolete]
    fuzzy = [e.msgid for e in po.fuzzy_entries()]
    assert not untranslated and not fuzzy, {"untranslated": untranslated, "fuzzy": fuzzy}


@pytest.mark.parametrize("lang", LANGS)
def test_the_compiled_catalogue_matches_the_po(lang):
    folder = LOCALE / lang / "LC_MESSAGES"
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
