"""Generate a realistic eligible-customer CSV (docs/formats/demo-data.md).

The population imitates western Riverside County on Southern California Edison: about 88 %
residential, SCE rate schedule codes per class (they match accounts/demo/demo_program.toml),
read cycles 1-21, about 10 % Spanish speakers, CARE, NEM, medical baseline and a few
direct-access accounts, mostly but not always mailed at the service address.

One `random.Random(seed)` drives everything, so the same seed, size and `today` give the same
file byte for byte. Lists are drawn with precomputed cumulative weights and rows are written in
chunks: a million rows take seconds, not minutes (bench figures in docs/formats/demo-data.md).
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from bisect import bisect
from dataclasses import dataclass, field
from itertools import accumulate
from pathlib import Path

from accounts.services.calendar import add_business_days, default_calendar, is_business_day
from accounts.services.calendar import today as business_today
from accounts.services.importing import OPTIONAL_COLUMNS, REQUIRED_COLUMNS

DEMO_PHASES = ("Phase 1", "Phase 2")
DEFAULT_PRODUCT, OPT_UP_PRODUCT = "light-green", "deep-green"

# class → share of accounts (SCE territory mix: residential dominates by count).
CLASSES = {
    "residential": 88.0,
    "small_commercial": 8.5,
    "medium_commercial": 1.5,
    "large_commercial": 0.4,
    "industrial": 0.2,
    "street_lighting": 0.6,
    "agricultural": 0.8,
}
# class → rate schedule → weight. Every code is in demo_program.toml's [[rate_schedules]].
RATES = {
    "residential": {
        "D": 34,
        "TOU-D-4-9PM": 36,
        "TOU-D-5-8PM": 14,
        "TOU-D-PRIME": 8,
        "D-FERA": 3,
        "D-CARE": 5,
    },
    "small_commercial": {"TOU-GS-1": 70, "GS-1": 30},
    "medium_commercial": {"TOU-GS-2": 1},
    "large_commercial": {"TOU-GS-3": 1},
    "industrial": {"TOU-8": 1},
    "street_lighting": {"LS-1": 60, "LS-2": 30, "TC-1": 10},
    "agricultural": {"TOU-PA-2": 60, "PA-1": 25, "TOU-PA-3": 15},
}
# city → (ZIP codes, telephone area code, weight ~ households).
# SCE-served cities of Riverside County.
CITIES = {
    "TEMECULA": (("92590", "92591", "92592"), "951", 11),
    "MURRIETA": (("92562", "92563"), "951", 11),
    "MENIFEE": (("92584", "92585", "92586"), "951", 10),
    "HEMET": (("92543", "92544", "92545"), "951", 9),
    "MORENO VALLEY": (("92551", "92553", "92555", "92557"), "951", 9),
    "CORONA": (("92879", "92881", "92882", "92883"), "951", 8),
    "JURUPA VALLEY": (("91752", "92509"), "951", 5),
    "LAKE ELSINORE": (("92530", "92532"), "951", 5),
    "PERRIS": (("92570", "92571"), "951", 5),
    "EASTVALE": (("92880",), "951", 4),
    "SAN JACINTO": (("92582", "92583"), "951", 4),
    "BEAUMONT": (("92223",), "951", 4),
    "WILDOMAR": (("92595",), "951", 3),
    "NORCO": (("92860",), "951", 2),
    "CANYON LAKE": (("92587",), "951", 1),
    "CALIMESA": (("92320",), "909", 1),
    "PALM SPRINGS": (("92262", "92264"), "760", 4),
    "CATHEDRAL CITY": (("92234",), "760", 3),
    "PALM DESERT": (("92260", "92211"), "760", 3),
    "DESERT HOT SPRINGS": (("92240",), "760", 2),
    "RANCHO MIRAGE": (("92270",), "760", 1),
}
# Residential accounts of these cities enroll in Phase 1 with every non-residential account.
PHASE_1_CITIES = frozenset(
    {
        "TEMECULA",
        "MURRIETA",
        "WILDOMAR",
        "LAKE ELSINORE",
        "CANYON LAKE",
        "MENIFEE",
        "PALM SPRINGS",
        "CATHEDRAL CITY",
    }
)
ELSEWHERE_CA = (
    ("LOS ANGELES", "90012"),
    ("IRVINE", "92618"),
    ("SAN DIEGO", "92101"),
    ("RIVERSIDE", "92501"),
    ("SAN BERNARDINO", "92401"),
    ("ONTARIO", "91764"),
    ("FULLERTON", "92832"),
)
OUT_OF_STATE = (
    ("PHOENIX", "AZ", "85016"),
    ("LAS VEGAS", "NV", "89109"),
    ("PORTLAND", "OR", "97205"),
    ("SEATTLE", "WA", "98101"),
    ("AUSTIN", "TX", "78701"),
    ("DENVER", "CO", "80202"),
    ("SALT LAKE CITY", "UT", "84101"),
    ("SCOTTSDALE", "AZ", "85251"),
    ("HENDERSON", "NV", "89052"),
)

STREETS = (
    "MAIN",
    "OAK",
    "PINE",
    "MAPLE",
    "CEDAR",
    "ELM",
    "WALNUT",
    "PALM",
    "SYCAMORE",
    "OLIVE",
    "WILLOW",
    "JEFFERSON",
    "WASHINGTON",
    "LINCOLN",
    "MADISON",
    "FLORIDA",
    "STATE",
    "ALESSANDRO",
    "IRONWOOD",
    "CACTUS",
    "MARGARITA",
    "WINCHESTER",
    "YNEZ",
    "RANCHO CALIFORNIA",
    "CALLE MEDUSA",
    "VIA CORDOBA",
    "PASEO DEL SOL",
    "CAMINO REAL",
    "VISTA DEL MONTE",
    "DEL RIO",
    "MESA VERDE",
    "SUNSET",
    "CANYON CREST",
    "MOUNTAIN VIEW",
    "VALLEY VIEW",
    "DESERT WILLOW",
    "TAHQUITZ CANYON",
    "INDIAN CANYON",
    "PALM CANYON",
    "RAMON",
    "DATE PALM",
    "MONTEREY",
    "HIGHLAND",
    "SANDERSON",
    "STETSON",
    "NEWPORT",
    "MCCALL",
    "SCOTT",
    "CLINTON KEITH",
    "LOS ALAMOS",
    "GRAND",
    "LAKESHORE",
    "RIVERSIDE",
    "MISSION",
    "LIMONITE",
    "HAMNER",
    "SIXTH",
    "FIRST",
    "SECOND",
    "THIRD",
    "ORANGE",
    "LEMON",
    "LIME",
    "AVOCADO",
    "POPPY",
    "SAGEBRUSH",
    "COTTONWOOD",
    "JUNIPER",
    "ASPEN",
    "REDWOOD",
    "BIRCH",
    "HAWTHORN",
    "MAGNOLIA",
    "CHAPARRAL",
    "COYOTE",
    "QUAIL RUN",
    "EAGLE",
    "FALCON",
    "HERITAGE",
    "LIBERTY",
)
SUFFIXES = (
    ("ST", 24),
    ("AVE", 20),
    ("DR", 18),
    ("RD", 10),
    ("WAY", 8),
    ("LN", 6),
    ("CT", 6),
    ("BLVD", 4),
    ("PL", 2),
    ("CIR", 2),
)
# Some utility extracts spell suffixes out; the importer normalises them (USPS Publication 28).
SPELLED = {
    "ST": "STREET",
    "AVE": "AVENUE",
    "DR": "DRIVE",
    "RD": "ROAD",
    "LN": "LANE",
    "CT": "COURT",
    "BLVD": "BOULEVARD",
    "PL": "PLACE",
    "CIR": "CIRCLE",
    "WAY": "WAY",
}
FIRST = (
    "JAMES",
    "MARY",
    "ROBERT",
    "PATRICIA",
    "JOHN",
    "JENNIFER",
    "MICHAEL",
    "LINDA",
    "DAVID",
    "ELIZABETH",
    "WILLIAM",
    "BARBARA",
    "RICHARD",
    "SUSAN",
    "JOSEPH",
    "JESSICA",
    "THOMAS",
    "SARAH",
    "CHRISTOPHER",
    "KAREN",
    "DANIEL",
    "LISA",
    "MATTHEW",
    "NANCY",
    "ANTHONY",
    "BETTY",
    "MARK",
    "SANDRA",
    "STEVEN",
    "ASHLEY",
    "ANDREW",
    "EMILY",
    "KEVIN",
    "MICHELLE",
    "BRIAN",
    "AMANDA",
    "TIMOTHY",
    "MELISSA",
    "JASON",
    "STEPHANIE",
    "RYAN",
    "REBECCA",
    "ERIC",
    "LAURA",
    "NGUYEN",
    "WEI",
    "MIN",
    "JIN",
    "SOO",
    "PRIYA",
    "ARJUN",
    "TYLER",
    "BRANDON",
    "KAYLA",
    "NICOLE",
    "TRAVIS",
)
FIRST_ES = (
    "JOSE",
    "MARIA",
    "JUAN",
    "GUADALUPE",
    "LUIS",
    "ROSA",
    "CARLOS",
    "ANA",
    "JESUS",
    "MARTHA",
    "FRANCISCO",
    "LETICIA",
    "MIGUEL",
    "VERONICA",
    "ANTONIO",
    "GABRIELA",
    "ALEJANDRO",
    "SILVIA",
    "JORGE",
    "PATRICIA",
    "RICARDO",
    "ELENA",
    "FERNANDO",
    "ALEJANDRA",
    "RAUL",
    "YOLANDA",
    "MANUEL",
    "CLAUDIA",
    "JAVIER",
    "ADRIANA",
    "SERGIO",
    "LORENA",
)
LAST = (
    "SMITH",
    "JOHNSON",
    "WILLIAMS",
    "BROWN",
    "JONES",
    "MILLER",
    "DAVIS",
    "WILSON",
    "ANDERSON",
    "TAYLOR",
    "THOMAS",
    "MOORE",
    "JACKSON",
    "MARTIN",
    "LEE",
    "THOMPSON",
    "WHITE",
    "HARRIS",
    "CLARK",
    "LEWIS",
    "ROBINSON",
    "WALKER",
    "YOUNG",
    "ALLEN",
    "KING",
    "WRIGHT",
    "SCOTT",
    "HILL",
    "GREEN",
    "ADAMS",
    "BAKER",
    "NELSON",
    "CARTER",
    "MITCHELL",
    "NGUYEN",
    "TRAN",
    "PHAM",
    "KIM",
    "PARK",
    "CHEN",
    "WANG",
    "LI",
    "PATEL",
    "SINGH",
    "SANTOS",
    "REYES",
    "CRUZ",
    "O'BRIEN",
    "MCDONALD",
    "VAN DYKE",
    "ST. JOHN",
    "HALL-JONES",
    "COOK",
    "MORGAN",
    "BELL",
    "MURPHY",
    "BAILEY",
)
LAST_ES = (
    "GARCIA",
    "RODRIGUEZ",
    "MARTINEZ",
    "HERNANDEZ",
    "LOPEZ",
    "GONZALEZ",
    "PEREZ",
    "SANCHEZ",
    "RAMIREZ",
    "TORRES",
    "FLORES",
    "RIVERA",
    "GOMEZ",
    "DIAZ",
    "MORALES",
    "GUTIERREZ",
    "ORTIZ",
    "CHAVEZ",
    "RUIZ",
    "ALVAREZ",
    "CASTILLO",
    "JIMENEZ",
    "MORENO",
    "ROMERO",
    "HERRERA",
    "MEDINA",
    "AGUILAR",
    "VARGAS",
    "CASTRO",
    "MENDOZA",
    "NUNEZ",
    "DE LA CRUZ",
)
BUSINESS_WORDS = (
    "DESERT",
    "VALLEY",
    "INLAND",
    "PACIFIC",
    "SUNRISE",
    "MOUNTAIN",
    "TEMECULA",
    "CANYON",
    "GOLDEN",
    "EAGLE",
    "VISTA",
    "PREMIER",
    "ELITE",
    "FAMILY",
    "EL",
    "LA",
    "SAN JACINTO",
    "PINNACLE",
    "SUMMIT",
    "CORNERSTONE",
    "WESTERN",
    "HIGHLAND",
)
BUSINESS_KINDS = (
    "AUTO REPAIR",
    "DENTAL GROUP",
    "MARKET",
    "TAQUERIA",
    "NAIL SALON",
    "PLUMBING",
    "CHIROPRACTIC",
    "INSURANCE",
    "REALTY",
    "HARDWARE",
    "BAKERY",
    "PHARMACY",
    "CAR WASH",
    "FITNESS",
    "LAUNDROMAT",
    "LANDSCAPING",
    "VETERINARY",
    "WINERY",
    "MEDICAL CENTER",
    "SELF STORAGE",
    "HOTEL",
    "CHURCH",
    "ACADEMY",
    "COLD STORAGE",
    "PLASTICS",
    "LOGISTICS",
)
ENTITY = (("LLC", 40), ("INC", 35), ("CORP", 10), ("", 15))
EMAIL_DOMAINS = ("example.com", "example.net", "example.org", "mail.example.com")
OTHER_LANGUAGES = (("vi", 3), ("zh", 3), ("tl", 3), ("ko", 2))


def _table(weights: dict | tuple) -> tuple[tuple, list]:
    items = list(weights.items()) if isinstance(weights, dict) else list(weights)
    keys = tuple(k for k, _ in items)
    return keys, list(accumulate(w if not isinstance(w, tuple) else w[-1] for _, w in items))


@dataclass
class PlantedError:
    line: int
    kind: str
    column: str
    value: str

    def __str__(self):
        return f"line {self.line}: {self.kind} ({self.column}={self.value!r})"


@dataclass
class DemoDataResult:
    path: Path
    rows: int
    counts: dict[str, int] = field(default_factory=dict)
    planted: list[PlantedError] = field(default_factory=list)


ERROR_KINDS = (
    "bad_class",
    "bad_zip",
    "bad_boolean",
    "missing_required",
    "duplicate_account",
    "bad_date",
    "unknown_rate_schedule",
    "bad_phone",
    "bad_language",
    "bad_read_cycle",
)


def demo_data_generate(
    *,
    path: Path,
    accounts: int,
    seed: int = 1,
    with_errors: bool = False,
    enrolled_share: float = 0.0,
    today: dt.date | None = None,
    phases: tuple[str, str] = DEMO_PHASES,
    progress=None,
) -> DemoDataResult:
    """Write `accounts` rows to `path`. `progress(n)` is called as rows are written."""
    if accounts < 1:
        raise ValueError("accounts: must be at least 1")
    if not 0.0 <= enrolled_share <= 1.0:
        raise ValueError("enrolled_share: must be between 0 and 1")
    today = today or business_today()
    rng = random.Random(seed)
    rnd, choice = rng.random, rng.choice

    def pick(table):
        keys, cum = table
        return keys[bisect(cum, rnd() * cum[-1])]

    classes = _table(CLASSES)
    rates = {cls: _table(r) for cls, r in RATES.items()}
    res_rates_no_care = _table({k: v for k, v in RATES["residential"].items() if k != "D-CARE"})
    cities = _table({c: w for c, (_, _, w) in CITIES.items()})
    suffixes = _table(SUFFIXES)
    entities = _table(ENTITY)
    other_langs = _table(OTHER_LANGUAGES)
    enroll_dates = _enrollment_dates(today)

    # Numbers come from their own generator, and each row draws only from `rng` in order, so the
    # first k rows are the same whatever the size: `demo --accounts 6000` after 5000 refreshes
    # the 5000 and adds 1000 rather than making 6000 new accounts.
    numbers = random.Random(f"{seed}:account-numbers").sample(
        range(3_000_000_000, 4_000_000_000), accounts
    )
    optional = enrolled_share > 0 or with_errors
    header = REQUIRED_COLUMNS + (OPTIONAL_COLUMNS if optional else ())
    counts: dict[str, int] = {"rows": accounts}

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows: list[list[str]] = []
    with open(path, "w", newline="", encoding="utf-8") as fp:
        writer = csv.writer(fp, lineterminator="\n")
        writer.writerow(header)
        for i in range(accounts):
            cls = pick(classes)
            city = pick(cities)
            zips, area, _ = CITIES[city]
            zip_ = choice(zips)
            residential = cls == "residential"
            # Riverside County is about half Hispanic; a fifth of those households prefer Spanish.
            hispanic = rnd() < 0.45
            r = rnd()
            if residential and hispanic and r < 0.23:
                lang = "es"
            elif residential and r < 0.012:
                lang = pick(other_langs)
            elif not residential and hispanic and r < 0.10:
                lang = "es"
            else:
                lang = "en"
            care = residential and rnd() < (0.30 if hispanic else 0.16)
            if residential:
                rate = "D-CARE" if care and rnd() < 0.6 else pick(res_rates_no_care)
                name, email = _person(rng, hispanic)
            else:
                rate = pick(rates[cls])
                name, email = _business(rng, cls, city, entities)
            nem = rnd() < (
                {
                    "residential": 0.10
                    if rate == "TOU-D-PRIME" or rate.startswith("TOU")
                    else 0.04,
                    "small_commercial": 0.05,
                    "agricultural": 0.12,
                    "medium_commercial": 0.08,
                }.get(cls, 0.0)
            )
            medical = residential and rnd() < 0.025
            direct = rnd() < {
                "medium_commercial": 0.06,
                "large_commercial": 0.15,
                "industrial": 0.2,
                "small_commercial": 0.004,
            }.get(cls, 0.0)

            house = (
                rng.randint(100, 44999) if cls != "street_lighting" else rng.randint(1, 999) * 10
            )
            prefix = choice(("N ", "S ", "E ", "W ")) if rnd() < 0.1 else ""
            suffix = pick(suffixes)
            if rnd() < 0.05:
                suffix = SPELLED[suffix]
            street = f"{house} {prefix}{choice(STREETS)} {suffix}"
            if residential and rnd() < 0.16:
                street += f" {'APT' if rnd() < 0.7 else 'UNIT'} {rng.randint(1, 240)}"
            elif cls in ("small_commercial", "medium_commercial") and rnd() < 0.3:
                street += f" STE {rng.randint(100, 400)}"

            m = rnd()
            if m < 0.84 or (cls == "street_lighting" and m < 0.95):
                mail = (street, city, "CA", zip_)
            elif m < 0.91:
                mail = (f"PO BOX {rng.randint(1, 9999)}", city, "CA", zip_)
            elif m < 0.96:
                c2, z2 = choice(ELSEWHERE_CA)
                mail = (
                    f"{rng.randint(100, 29999)} {choice(STREETS)} {pick(suffixes)}",
                    c2,
                    "CA",
                    z2,
                )
            else:
                c3, st, z3 = choice(OUT_OF_STATE)
                mail = (f"{rng.randint(100, 29999)} {choice(STREETS)} {pick(suffixes)}", c3, st, z3)

            phone = ""
            if rnd() < (0.82 if residential else 0.9):
                line = f"{rng.randint(0, 9999):04d}"
                fmt = rnd()
                phone = (
                    f"({area}) 555-{line}"
                    if fmt < 0.4
                    else f"{area}-555-{line}"
                    if fmt < 0.75
                    else f"{area}555{line}"
                    if fmt < 0.95
                    else f"+1 {area} 555 {line}"
                )
            if rnd() > (0.45 if residential else 0.7):
                email = ""
            cycle = rng.randint(1, 21)
            phase = phases[0] if not residential or city in PHASE_1_CITIES else phases[1]
            row = [
                f"{numbers[i]}",
                name,
                street,
                city,
                zip_,
                *mail,
                cls,
                rate,
                str(cycle),
                lang,
                email,
                phone,
                "Y" if care else "N",
                "Y" if nem else "N",
                "Y" if medical else "N",
                "Y" if direct else "N",
                phase,
            ]
            if optional:
                if enrolled_share and rnd() < enrolled_share and not direct:
                    when = enroll_dates[rng.randrange(len(enroll_dates))][cycle - 1]
                    status = "participant" if (today - when).days > 120 else "enrolled"
                    product = OPT_UP_PRODUCT if not care and rnd() < 0.06 else DEFAULT_PRODUCT
                    row += [status, when.isoformat(), product]
                    counts[status] = counts.get(status, 0) + 1
                else:
                    row += ["", "", ""]
            counts[cls] = counts.get(cls, 0) + 1
            counts[f"language {lang}"] = counts.get(f"language {lang}", 0) + 1
            for flag, on in (
                ("care", care),
                ("nem", nem),
                ("medical_baseline", medical),
                ("direct_access", direct),
            ):
                counts[flag] = counts.get(flag, 0) + on
            rows.append(row)
            if len(rows) == 20000:
                writer.writerows(rows)
                if progress:
                    progress(len(rows))
                rows = []
        writer.writerows(rows)
        if progress and rows:
            progress(len(rows))
    planted = _plant_errors(path, header, accounts, rng) if with_errors else []
    return DemoDataResult(path=path, rows=accounts, counts=counts, planted=planted)


def _person(rng: random.Random, hispanic: bool) -> tuple[str, str]:
    first = rng.choice(FIRST_ES if hispanic else FIRST)
    last = rng.choice(LAST_ES if hispanic and rng.random() < 0.9 else LAST)
    r = rng.random()
    if r < 0.08:
        name = f"{first} & {rng.choice(FIRST_ES if hispanic else FIRST)} {last}"
    elif r < 0.10:
        name = f"{last} FAMILY TRUST"
    elif r < 0.13:
        name = f"{first} {rng.choice('ABCDEFGHJKLMNPRSTW')} {last}"
    else:
        name = f"{first} {last}"
    local = f"{first}.{last}".lower().replace(" ", "").replace("'", "")
    return name, f"{local}{rng.randint(1, 999)}@{rng.choice(EMAIL_DOMAINS)}"


def _business(rng: random.Random, cls: str, city: str, entities) -> tuple[str, str]:
    if cls == "street_lighting":
        name = rng.choice(
            (
                f"CITY OF {city}",
                "COUNTY OF RIVERSIDE",
                f"{city} LIGHTING DISTRICT",
                "CALTRANS DISTRICT 8",
                f"{rng.choice(BUSINESS_WORDS)} HOA",
            )
        )
    elif cls == "agricultural":
        name = rng.choice(
            (
                f"{rng.choice(LAST_ES + LAST)} FARMS",
                f"{rng.choice(BUSINESS_WORDS)} RANCH",
                f"{rng.choice(BUSINESS_WORDS)} VINEYARDS",
                "EASTERN MUNICIPAL WATER DISTRICT",
                f"{rng.choice(BUSINESS_WORDS)} NURSERY",
            )
        )
    else:
        keys, cum = entities
        entity = keys[bisect(cum, rng.random() * cum[-1])]
        name = f"{rng.choice(BUSINESS_WORDS)} {rng.choice(BUSINESS_KINDS)} {entity}".strip()
    local = "".join(ch for ch in name.lower() if ch.isalnum())[:20]
    return name, f"billing@{local}.example.com"


def _enrollment_dates(today: dt.date) -> list[list[dt.date]]:
    """Past read dates (cycle k on business day k of the month) over the last two years, as a
    program migrating onto the app would have enrolled its customers."""
    out = []
    year, month = today.year, today.month
    for _ in range(24):
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
        first = dt.date(year, month, 1)
        utility_days = default_calendar("utility")
        day = (
            first
            if is_business_day(first, calendar=utility_days)
            else add_business_days(first, 1, calendar=utility_days)
        )
        days = []
        while day.month == month:
            days.append(day)
            day = add_business_days(day, 1, calendar=utility_days)
        out.append([days[min(k, len(days)) - 1] for k in range(1, 22)])
    return out


def _plant_errors(
    path: Path, header: tuple, accounts: int, rng: random.Random
) -> list[PlantedError]:
    """Rewrite some rows with one defect each; returns where (1-based file lines, header = 1)."""
    per_kind = max(1, accounts // 1000)
    total = min(per_kind * len(ERROR_KINDS), max(1, accounts // 2))
    # duplicates need an earlier row to copy, so row 0 is never a target
    targets = (
        sorted(rng.sample(range(1, accounts), min(total, accounts - 1))) if accounts > 1 else []
    )
    kinds = [ERROR_KINDS[i % len(ERROR_KINDS)] for i in range(len(targets))]
    rng.shuffle(kinds)
    plan = dict(zip(targets, kinds, strict=True))
    col = {name: i for i, name in enumerate(header)}
    planted: list[PlantedError] = []
    tmp = path.with_suffix(path.suffix + ".tmp")
    with (
        open(path, newline="", encoding="utf-8") as src,
        open(tmp, "w", newline="", encoding="utf-8") as dst,
    ):
        reader, writer = csv.reader(src), csv.writer(dst, lineterminator="\n")
        writer.writerow(next(reader))
        seen_numbers: list[str] = []
        for i, row in enumerate(reader):
            kind = plan.get(i)
            if kind:
                column, value = _defect(kind, row, col, rng, seen_numbers)
                row[col[column]] = value
                planted.append(PlantedError(line=i + 2, kind=kind, column=column, value=value))
            elif len(seen_numbers) < 1000:
                seen_numbers.append(row[0])
            writer.writerow(row)
    tmp.replace(path)
    return planted


def _defect(
    kind: str, row: list[str], col: dict, rng: random.Random, seen: list[str]
) -> tuple[str, str]:
    c = rng.choice
    if kind == "bad_class":
        return "customer_class", c(("residental", "commercial", "RES", "municipal"))
    if kind == "bad_zip":
        return c(("service_zip", "mailing_zip")), c(("9259", "925900", "ABCDE", "92 590"))
    if kind == "bad_boolean":
        return c(("care", "nem", "medical_baseline", "direct_access")), c(
            ("Yes", "1", "X", "true", "n/a")
        )
    if kind == "missing_required":
        return c(
            ("customer_name", "service_address", "service_zip", "rate_schedule", "read_cycle")
        ), ""
    if kind == "duplicate_account":
        return "account_number", c(seen)
    if kind == "bad_date":
        row[col["status"]], row[col["product"]] = "enrolled", DEFAULT_PRODUCT
        return "enrollment_date", c(("2026-02-30", "03/15/2026", "2026-13-01", "yesterday"))
    if kind == "unknown_rate_schedule":
        return "rate_schedule", c(("TOU-Z-9", "E-1", "DOMESTIC", "GS-9"))
    if kind == "bad_phone":
        return "phone", c(("555-01", "12345", "(951) 555-01234", "call after 5"))
    if kind == "bad_language":
        return "language", c(("Spanish", "ENG", "espanol", "e"))
    if kind == "bad_read_cycle":
        return "read_cycle", c(("0", "A", "-3", "1.5"))
    raise AssertionError(kind)
