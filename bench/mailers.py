"""Mailer rendering: stamped letters/s against one-by-one WeasyPrint, in one run (docs/mailers.md).

Builds a throw-away program with the demo JRC and `scale` accounts (default 20,000) spread over
the demo's residential and commercial schedules in English and Spanish, inside a transaction that
is rolled back. Figures are per core: everything runs in this one process. `mailhouse_csv_s` is
the time to write the mail-house data CSV for 1,000,000 pieces (rows generated in memory; any
--scale).
"""

import datetime as dt
import io
import time

from django.db import transaction

from bench.programs import bench_account, bench_program, bench_utility


class _Rollback(Exception):
    pass


def run(*, scale=None):
    from accounts.models import Product, Program, ServiceAccount
    from cca_notices.mailers.context import LetterRequest
    from cca_notices.mailers.render import letter_pdf
    from cca_notices.mailers.stamp import LetterRenderer

    n = scale or 20000
    figures = []
    try:
        with transaction.atomic():
            utility = bench_utility()
            Program.objects.filter(slug="demo").update(
                slug="demo-bench-moved"
            )  # restored by the rollback
            program, _ = bench_program(slug="demo", utility=utility)
            default = Product.objects.get(program=program, is_default=True)
            accounts = ServiceAccount.objects.bulk_create(
                [
                    bench_account(i, program=program, product=default, code="M", key="BENCH")
                    for i in range(n)
                ]
            )
            for a in accounts:
                a.program = program
                a.product = default
            mail_date = dt.date(2027, 4, 5)
            requests = [
                LetterRequest(a, "post_enrollment_1", mail_date, f"{i:09d}")
                for i, a in enumerate(accounts)
            ]

            sample = requests[:5]
            started = time.perf_counter()
            for req in sample:
                letter_pdf(req)
            naive = len(sample) / (time.perf_counter() - started)

            renderer = LetterRenderer()
            out = io.BytesIO()
            started = time.perf_counter()
            renderer.write(requests, out)
            fast = len(requests) / (time.perf_counter() - started)
            stamp_only = LetterRenderer()
            for req in requests:
                stamp_only.variant(req)  # variants rendered first: the rate of stamping alone
            started = time.perf_counter()
            stamp_only.write(requests, io.BytesIO())
            stamped = len(requests) / (time.perf_counter() - started)
            figures += [
                ("mailer_stamp_only_letters_per_s_per_core", round(stamped), "letters/s"),
                ("mailer_letters_per_s_per_core", round(fast), "letters/s"),
                ("mailer_naive_letters_per_s_per_core", round(naive, 1), "letters/s"),
                ("mailer_variants", renderer.variant_renders, "variants"),
                ("mailer_pdf_mb", round(out.tell() / 1e6, 1), "MB"),
            ]
            raise _Rollback
    except _Rollback:
        pass
    figures.append(("mailhouse_csv_s", round(mailhouse_csv_seconds(), 2), "s"))
    return figures


def mailhouse_csv_seconds(pieces: int = 1_000_000) -> float:
    """Seconds to write the mail-house data CSV (IMb encoded per piece) for `pieces` rows held in
    memory, to a real file — the builder's own writer (cca_notices.mailers.datafile)."""
    import tempfile

    from cca_notices.mailers.datafile import DataFileWriter, DataRow

    zips = [f"925{i:02d}-{1000 + i * 37:04d}" for i in range(90)]
    rows = [
        DataRow(
            i + 1,
            1000 + i,
            zips[i % 90],
            f"CUSTOMER NUMBER {i}",
            f"{100 + i % 9000} WINCHESTER RD APT {i % 40}",
            "TEMECULA",
            "CA",
            "es" if i % 3 == 0 else "en",
            "pre_enrollment_1",
            (f"{7000000000 + i}",),
            3,
            f"BENCH-PRE1-20270105-01-letters-{i // 5000 + 1:03d}.pdf",
            (i % 5000) * 3 + 1,
        )
        for i in range(pieces)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        with open(f"{tmp}/data.csv", "w", encoding="utf-8", newline="") as fh:
            writer = DataFileWriter(fh, mailer_id="901234")
            for row in rows:
                writer.write(row)
        return time.perf_counter() - started
