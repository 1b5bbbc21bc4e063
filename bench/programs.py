"""The program and accounts the letter benchmarks (`batch`, `mailers`) print letters for: the
demo program's name, contacts, products, fees, JRC and power content, and accounts spread over
the demo's residential and commercial schedules in English and Spanish."""

from __future__ import annotations

import datetime as dt
import tempfile
import zlib
from pathlib import Path

DEMO = Path(__file__).resolve().parent.parent / "accounts" / "demo"
SCHEDULES = [
    ("D", "residential"),
    ("D-CARE", "residential"),
    ("TOU-D-4-9PM", "residential"),
    ("TOU-D-PRIME", "residential"),
    ("GS-1", "small_commercial"),
    ("TOU-GS-2", "medium_commercial"),
]
PROGRAM = dict(
    name="Inland Valley Clean Energy",
    short_name="IVCE",
    phone="+19515550100",
    ivr_phone="+19515550101",
    tty_phone="+19515550102",
    website="https://ivce.example.org",
    return_address="Inland Valley Clean Energy\nPO Box 1000\nTemecula CA 92593-1000",
)


def bench_utility(**defaults):
    from accounts.models import Utility

    utility, _ = Utility.objects.get_or_create(
        code="SCE", defaults={"name": "Southern California Edison", **defaults}
    )
    return utility


def bench_program(*, slug: str, utility=None, **fields):
    """The benchmark program `slug` (created with the demo's products, fees, JRC and power
    content when missing); returns (program, created)."""
    from accounts.models import DEFAULT_ADMIN_FEES, FeeSchedule, Product, Program
    from accounts.services.jrc import jrc_import

    # Each program its own IVR line (accounts.Program's constraint), the same length as the demo's
    # so the letters lay out alike: one per benchmark slug beside the demo's own.
    line = f"+1951555{zlib.crc32(slug.encode()) % 9000 + 1000:04d}"
    defaults = {**PROGRAM, "ivr_phone": line, "utility": utility or bench_utility(), **fields}
    program, created = Program.objects.get_or_create(slug=slug, defaults=defaults)
    if not created:
        return program, False
    Product.objects.create(program=program, code="light-green", name="Light Green", is_default=True)
    Product.objects.create(program=program, code="deep-green", name="Deep Green")
    for klass, fee in DEFAULT_ADMIN_FEES.items():
        FeeSchedule.objects.create(
            program=program,
            customer_class=klass,
            effective_from=dt.date(2025, 1, 1),
            admin_fee=fee,
        )
    files = ("jrc.csv", "power_content.csv")
    if slug == "demo":
        jrc_import(jrc_file=DEMO / files[0], power_content_file=DEMO / files[1])
        return program, True
    with tempfile.TemporaryDirectory() as tmp:
        # The demo's files name the program "demo": the same rows for this program.
        paths = []
        for name in files:
            text = (DEMO / name).read_text(encoding="utf-8")
            paths.append(Path(tmp) / name)
            paths[-1].write_text(text.replace("\ndemo,", f"\n{slug},"), encoding="utf-8")
        jrc_import(jrc_file=paths[0], power_content_file=paths[1])
    return program, True


def bench_account(
    i: int,
    *,
    program,
    product,
    code: str,
    key: str,
    zip_code: str = "92590",
    apartment: bool = False,
    **fields,
):
    """Account `i` of a benchmark program (not saved): its schedule, class, cycle, language and
    enrollment date spread by `i`; `code` and `key` prefix its personal code and customer key."""
    from accounts.models import ServiceAccount

    schedule, customer_class = SCHEDULES[i % len(SCHEDULES)]
    street = f"{100 + i % 9000} WINCHESTER RD"
    return ServiceAccount(
        program=program,
        account_number=f"{7000000000 + i}",
        customer_name=f"CUSTOMER NUMBER {i}",
        service_address=street,
        service_city="TEMECULA",
        service_zip=zip_code[:5],
        mailing_address=f"{street} APT {i % 97}" if apartment else street,
        mailing_city="TEMECULA",
        mailing_state="CA",
        mailing_zip=zip_code,
        customer_class=customer_class,
        rate_schedule=schedule,
        read_cycle=1 + i % 21,
        language="es" if i % 3 == 0 else "en",
        opt_out_code=f"{code}{i:09d}",
        customer_key=f"{key}{i}",
        enrollment_date=dt.date(2027, 3, 1) + dt.timedelta(days=i % 21),
        product=product,
        **fields,
    )
