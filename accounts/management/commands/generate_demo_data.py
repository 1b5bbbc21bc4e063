"""generate_demo_data --accounts N --out FILE: a realistic eligible-customer CSV for demos and
benchmarks."""

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from accounts.services.demo_data import demo_data_generate


def _share(value: str) -> float:
    import argparse

    try:
        f = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if not 0.0 <= f <= 1.0:
        raise argparse.ArgumentTypeError(f"{value} must be between 0 and 1 (a share, e.g. 0.3)")
    return f


def _positive(value: str) -> int:
    import argparse

    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"{value!r} must be a whole number of at least 1")
    return int(value)


class Command(BaseCommand):
    help = "Write a generated eligible-customer CSV (docs/formats/demo-data.md)."

    def add_arguments(self, parser):
        parser.add_argument("--accounts", type=_positive, required=True)
        parser.add_argument("--out", type=Path, required=True)
        parser.add_argument(
            "--with-errors",
            action="store_true",
            help="Plant bad rows of several kinds and list them.",
        )
        parser.add_argument(
            "--enrolled-share",
            type=_share,
            default=0.0,
            help=(
                "Share (0-1) of accounts already enrolled: fills status, enrollment_date, product."
            ),
        )
        parser.add_argument(
            "--seed", type=int, default=1, help="Same seed, same file (given the same date)."
        )

    def handle(self, *args, accounts, out, with_errors, enrolled_share, seed, **options):
        bar = None
        if self.stdout.isatty() and sys.stdout.isatty():
            from tqdm import tqdm

            bar = tqdm(total=accounts, unit="rows", desc="generating")
        try:
            result = demo_data_generate(
                path=out,
                accounts=accounts,
                seed=seed,
                with_errors=with_errors,
                enrolled_share=enrolled_share,
                progress=bar.update if bar else None,
            )
        except OSError as e:
            raise CommandError(f"--out {out}: {e.strerror}") from None
        finally:
            if bar:
                bar.close()
        c = result.counts
        classes = ", ".join(
            f"{k} {c[k]}"
            for k in (
                "residential",
                "small_commercial",
                "medium_commercial",
                "large_commercial",
                "industrial",
                "street_lighting",
                "agricultural",
            )
            if c.get(k)
        )
        self.stdout.write(f"wrote {result.rows} accounts to {out}")
        self.stdout.write(f"  classes: {classes}")
        self.stdout.write(
            "  flags: "
            + ", ".join(
                f"{k} {c.get(k, 0)}" for k in ("care", "nem", "medical_baseline", "direct_access")
            )
        )
        self.stdout.write(
            "  languages: "
            + ", ".join(
                f"{k.split()[1]} {v}" for k, v in sorted(c.items()) if k.startswith("language ")
            )
        )
        if enrolled_share:
            self.stdout.write(
                f"  already enrolled: enrolled {c.get('enrolled', 0)}, "
                f"participant {c.get('participant', 0)}"
            )
        if result.planted:
            self.stdout.write(f"planted {len(result.planted)} bad rows:")
            for p in result.planted:
                self.stdout.write(f"  {p}")
