"""A customer's name as a letter or an e-mail addresses them (R-NAMES in docs/rules.md).

Utilities send names in capitals (`JOSE GARCIA-LOPEZ`, `ACME SOLAR LLC`); a salutation reads them
in the case people write them. A name that already has lower-case letters is the customer's own
spelling and is kept as written. Otherwise each word is capitalised with the rules of the names
a California utility carries: each part of a hyphenated name (`García-López`), `Mc` and the
common `Mac` surnames (`McDonald`, `MacArthur`, but `Machado`, `Macias`), `O'`/`D'` (`O'Brien`),
Spanish, Dutch and German particles after the first word (`de la Cruz`, `del Río`, `van der
Berg`), generational suffixes (`Jr.`, `III`), and business designators (`LLC`, `Inc.`, `LP`,
`DBA`). nameparser was tried and not used: it reorders a name with a comma (`SMITH & SONS,
INC.` → `Inc. Smith & Sons`), writes `Llc` and `MacHado`, and knows no business names.
The address block is not touched: it stays as stored, in USPS upper case.
"""

from __future__ import annotations

import re
from functools import lru_cache

_INITIALS = re.compile(r"^(?:[A-Z]\.)+$")

# Business designators and suffixes, as written in a name (the key is the upper-case word).
DESIGNATORS = {
    "LLC": "LLC",
    "L.L.C.": "L.L.C.",
    "LLP": "LLP",
    "LP": "LP",
    "L.P.": "L.P.",
    "LTD": "Ltd",
    "LTD.": "Ltd.",
    "INC": "Inc",
    "INC.": "Inc.",
    "CORP": "Corp",
    "CORP.": "Corp.",
    "CO": "Co",
    "CO.": "Co.",
    "PC": "PC",
    "P.C.": "P.C.",
    "PLLC": "PLLC",
    "DBA": "DBA",
    "D/B/A": "d/b/a",
    "NA": "NA",
    "N.A.": "N.A.",
    "USA": "USA",
    "HOA": "HOA",
    "JR": "Jr",
    "JR.": "Jr.",
    "SR": "Sr",
    "SR.": "Sr.",
    "II": "II",
    "III": "III",
    "IV": "IV",
    "MD": "MD",
    "DDS": "DDS",
    "CPA": "CPA",
}
# Lower case after the first word: name particles and the small words of a business name.
PARTICLES = frozenset(
    [
        *("DE", "DEL", "DELA", "LA", "LAS", "LOS", "DA", "DAS", "DO", "DOS", "DI", "DU"),
        *("VAN", "VON", "DER", "DEN", "TER", "Y", "E", "OF", "AND", "THE", "FOR", "AT"),
    ]
)
# Particles that begin a run of particles (de la, van der); LA, LAS, LOS alone start a surname.
_RUN_START = frozenset(["DE", "DEL", "DA", "DAS", "DO", "DOS", "DI", "DU", "VAN", "VON"])
# Mac surnames written with a capital after Mac; any other MAC… word is an ordinary one.
MAC_NAMES = frozenset(
    [
        *("MACARTHUR", "MACAULAY", "MACDONALD", "MACDOUGALL", "MACFARLANE", "MACGREGOR"),
        *("MACINTOSH", "MACINTYRE", "MACKENZIE", "MACLEAN", "MACLEOD", "MACMILLAN"),
        *("MACNEIL", "MACPHERSON", "MACQUEEN"),
    ]
)


@lru_cache(maxsize=65536)
def name_display(name: str) -> str:
    """'JOSÉ GARCÍA-LÓPEZ' → 'José García-López'; 'ACME SOLAR, INC.' → 'Acme Solar, Inc.';
    'Maria deLuca' (already in mixed case) stays as it is."""
    words = (name or "").split()
    if any(ch.islower() for ch in name) and any(ch.isupper() for ch in name):
        return " ".join(words)
    out = []
    in_particles = False
    for i, word in enumerate(words):
        upper = word.upper()
        bare = upper.rstrip(",")
        tail = upper[len(bare) :]
        if bare in DESIGNATORS:
            out.append(DESIGNATORS[bare] + tail)
            in_particles = False
            continue
        starts_run = bare in _RUN_START
        lone_article = bare in ("LA", "LAS", "LOS") and not in_particles  # LA ROSA is a surname
        if i > 0 and bare in PARTICLES and not lone_article:
            out.append(word.lower())
            in_particles = starts_run or in_particles
            continue
        in_particles = i == 0 and starts_run  # DE LA CRUZ → De la Cruz
        out.append("-".join(_word(part) for part in word.split("-")))
    return " ".join(out)


def _word(word: str) -> str:
    """One word (no hyphen) in the case people write it."""
    if not word:
        return word
    upper = word.upper()
    if "'" in upper or "’" in upper:
        mark = "'" if "'" in upper else "’"
        head, _, rest = upper.partition(mark)
        if len(head) == 1 and rest:  # O'BRIEN, D'ARCY
            return head + mark + _word(rest)
        return _cap(head) + mark + rest.lower()  # JOHN'S
    if upper.startswith("MC") and len(upper) > 3 and upper[2].isalpha():
        return "Mc" + _cap(upper[2:])
    if upper in MAC_NAMES:
        return "Mac" + _cap(upper[3:])
    if _INITIALS.match(upper):  # J. or J.R. (but ST. is Saint, DR. is Doctor: capitalised)
        return upper
    if "&" in upper:  # A&B, AT&T: letters joined by & are an initialism
        return upper
    return _cap(upper)


def _cap(word: str) -> str:
    return word[:1].upper() + word[1:].lower()
