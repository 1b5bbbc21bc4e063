"""Joint Rate Comparison and power content: import from CSV (docs/formats/jrc.md) and look-ups.

An import is all or nothing: every row is checked first, every bad row is reported with its line
and reason, and nothing is written unless the whole file is good. Re-importing the same rows
updates them (keyed by program, rate schedule, product and effective date), never duplicates.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Generator
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import IO, Literal, overload

from django.db import transaction

from accounts.models import CustomerClass, JrcRow, PowerContentLabel, Product, Program, RateSchedule
from accounts.services.text_files import CsvDictReader, InputFileError, text_lines

JRC_COLUMNS = [
    "program",
    "rate_schedule",
    "customer_class",
    "effective_from",
    "product",
    "avg_monthly_kwh",
    "utility_generation_rate",
    "delivery_rate",
    "pcia",
    "franchise_fee",
    "cca_generation_rate",
    "utility_monthly_bill",
    "cca_monthly_bill",
    "difference",
    "difference_pct",
]
JRC_DERIVED = ["utility_monthly_bill", "cca_monthly_bill", "difference", "difference_pct"]
POWER_CONTENT_COLUMNS = [
    "program",
    "year",
    "source",
    "name",
    "renewable_pct",
    "carbon_free_pct",
    "ghg_lbs_per_mwh",
]

CENT = Decimal("0.01")
TENTH = Decimal("0.1")
# A published JRC rounds each bill to the cent and the percentage to a tenth; a given value may
# differ from ours by one unit of its last place (their rounding of unrounded inputs), no more.
BILL_TOLERANCE = CENT
PCT_TOLERANCE = TENTH


@dataclass(frozen=True)
class RowError:
    line: int
    field: str
    reason: str

    def __str__(self):
        return (
            f"line {self.line}: {self.field}: {self.reason}"
            if self.field
            else f"line {self.line}: {self.reason}"
        )


class JrcImportError(Exception):
    def __init__(self, file_name: str, errors: list[RowError]):
        self.file_name = file_name
        self.errors = errors
        shown = "\n".join(f"  {e}" for e in errors[:50])
        more = f"\n  … and {len(errors) - 50} more" if len(errors) > 50 else ""
        super().__init__(f"{file_name}: {len(errors)} bad row(s), nothing imported:\n{shown}{more}")


@dataclass
class ImportSummary:
    jrc_created: int = 0
    jrc_updated: int = 0
    power_created: int = 0
    power_updated: int = 0
    programs: set[str] = field(default_factory=set)


def jrc_bill(*, kwh: Decimal, rate: Decimal) -> Decimal:
    return (kwh * rate).quantize(CENT, ROUND_HALF_UP)


def jrc_derive(
    *,
    kwh: Decimal,
    utility_generation_rate: Decimal,
    delivery_rate: Decimal,
    pcia: Decimal,
    franchise_fee: Decimal,
    cca_generation_rate: Decimal,
) -> dict[str, Decimal]:
    """The four derived columns of a JRC line: each side's average monthly bill and the
    difference."""
    utility_bill = jrc_bill(kwh=kwh, rate=utility_generation_rate + delivery_rate)
    cca_bill = jrc_bill(kwh=kwh, rate=cca_generation_rate + pcia + franchise_fee + delivery_rate)
    difference = cca_bill - utility_bill
    pct = (
        (difference / utility_bill * 100).quantize(TENTH, ROUND_HALF_UP)
        if utility_bill
        else Decimal("0.0")
    )
    return {
        "utility_monthly_bill": utility_bill,
        "cca_monthly_bill": cca_bill,
        "difference": difference,
        "difference_pct": pct,
    }


# --- parsing --------------------------------------------------------------------------------------


class _Bad(Exception):
    def __init__(self, field_name: str, reason: str):
        self.field = field_name
        self.reason = reason


@overload
def _decimal(
    row: dict,
    name: str,
    *,
    minimum: Decimal | None = ...,
    maximum: Decimal | None = ...,
    blank_ok: Literal[False] = ...,
) -> Decimal: ...


@overload
def _decimal(
    row: dict,
    name: str,
    *,
    minimum: Decimal | None = ...,
    maximum: Decimal | None = ...,
    blank_ok: bool,
) -> Decimal | None: ...


def _decimal(
    row: dict,
    name: str,
    *,
    minimum: Decimal | None = Decimal("0"),
    maximum: Decimal | None = None,
    blank_ok: bool = False,
) -> Decimal | None:
    raw = (row.get(name) or "").strip().replace("$", "").replace(",", "")
    if raw.endswith("%"):
        raw = raw[:-1]
    if not raw:
        if blank_ok:
            return None
        raise _Bad(name, "is required")
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise _Bad(name, f"{row.get(name)!r} is not a number") from None
    if not value.is_finite():
        raise _Bad(name, f"{row.get(name)!r} is not a number")
    if minimum is not None and value < minimum:
        raise _Bad(name, f"{value} is below {minimum}")
    if maximum is not None and value > maximum:
        raise _Bad(name, f"{value} is above {maximum}")
    return value


def _open(source: str | Path | IO[str]) -> tuple[str, Generator[str, None, None] | IO[str]]:
    if hasattr(source, "read"):
        return getattr(source, "name", "<upload>"), source  # type: ignore[return-value]
    return str(source), text_lines(source)


def _reader(
    name: str, fh: Generator[str, None, None] | IO[str], columns: list[str], optional: list[str]
) -> CsvDictReader:
    reader = CsvDictReader(fh)
    header = [h.strip() for h in (reader.fieldnames or [])]
    reader.fieldnames = header
    missing = [c for c in columns if c not in header and c not in optional]
    if missing:
        raise JrcImportError(
            name, [RowError(1, ", ".join(missing), "missing column(s) in the header")]
        )
    return reader


class _Programs:
    """Programs and their products, looked up once per file."""

    def __init__(self, only: str | None):
        self.only = only
        self._cache: dict[str, tuple[Program, dict[str, Product], dict[str, str]] | None] = {}

    def get(self, slug: str):
        if self.only and slug != self.only:
            raise _Bad("program", f"{slug!r} is not the program being imported ({self.only})")
        if slug not in self._cache:
            program = Program.objects.select_related("utility").filter(slug=slug).first()
            if program is None:
                self._cache[slug] = None
            else:
                products = {p.code: p for p in Product.objects.filter(program=program)}
                schedules = dict(
                    RateSchedule.objects.filter(utility=program.utility_id).values_list(
                        "code", "customer_class"
                    )
                )
                self._cache[slug] = (program, products, schedules)
        found = self._cache[slug]
        if found is None:
            raise _Bad("program", f"no program with slug {slug!r}")
        return found


def _parse_jrc(
    name: str, fh: Generator[str, None, None] | IO[str], programs: _Programs
) -> tuple[list[dict], list[RowError]]:
    reader = _reader(name, fh, JRC_COLUMNS, JRC_DERIVED)
    rows: list[dict] = []
    errors: list[RowError] = []
    seen: dict[tuple[int, str, str, dt.date], int] = {}
    classes = set(CustomerClass.values)
    for row in reader:
        line = reader.line_num
        try:
            program, products, schedules = programs.get((row.get("program") or "").strip())
            schedule = (row.get("rate_schedule") or "").strip().upper()
            if not schedule:
                raise _Bad("rate_schedule", "is required")
            klass = (row.get("customer_class") or "").strip().lower()
            if klass not in classes:
                raise _Bad(
                    "customer_class", f"{klass!r} is not one of {', '.join(sorted(classes))}"
                )
            if schedules and schedule not in schedules:
                raise _Bad(
                    "rate_schedule",
                    f"{schedule!r} is not a rate schedule of {program.utility.code}",
                )
            if schedules and schedules[schedule] != klass:
                raise _Bad(
                    "customer_class", f"{schedule} is a {schedules[schedule]} schedule, not {klass}"
                )
            try:
                effective = dt.date.fromisoformat((row.get("effective_from") or "").strip())
            except ValueError:
                raise _Bad(
                    "effective_from", f"{row.get('effective_from')!r} is not a date YYYY-MM-DD"
                ) from None
            product_code = (row.get("product") or "").strip()
            if product_code not in products:
                raise _Bad(
                    "product",
                    f"{product_code!r} is not a product of {program.slug} "
                    f"({', '.join(sorted(products)) or 'none'})",
                )
            values = {
                "avg_monthly_kwh": _decimal(row, "avg_monthly_kwh", minimum=Decimal("1")),
                "utility_generation_rate": _decimal(
                    row, "utility_generation_rate", maximum=Decimal("5")
                ),
                "delivery_rate": _decimal(row, "delivery_rate", maximum=Decimal("5")),
                # The PCIA is negative in some vintages when market prices are high.
                "pcia": _decimal(row, "pcia", minimum=Decimal("-1"), maximum=Decimal("1")),
                "franchise_fee": _decimal(row, "franchise_fee", maximum=Decimal("1")),
                "cca_generation_rate": _decimal(row, "cca_generation_rate", maximum=Decimal("5")),
            }
            if values["avg_monthly_kwh"] != values["avg_monthly_kwh"].to_integral_value():
                raise _Bad("avg_monthly_kwh", "must be a whole number of kWh")
            derived = jrc_derive(
                kwh=values["avg_monthly_kwh"],
                **{k: v for k, v in values.items() if k != "avg_monthly_kwh"},
            )
            for column in JRC_DERIVED:
                given = _decimal(row, column, minimum=None, blank_ok=True)
                if given is None:
                    continue
                tolerance = PCT_TOLERANCE if column == "difference_pct" else BILL_TOLERANCE
                if abs(given - derived[column]) > tolerance:
                    raise _Bad(
                        column,
                        f"{given} does not match the rates and usage (computed {derived[column]})",
                    )
            key = (program.id, schedule, product_code, effective)
            if key in seen:
                raise _Bad(
                    "", f"duplicate of line {seen[key]} ({schedule}, {product_code}, {effective})"
                )
            seen[key] = line
            rows.append(
                {
                    "program": program,
                    "rate_schedule": schedule,
                    "customer_class": klass,
                    "product": products[product_code],
                    "effective_from": effective,
                    **values,
                    **derived,
                }
            )
        except _Bad as bad:
            errors.append(RowError(line, bad.field, bad.reason))
    if not rows and not errors:
        errors.append(RowError(1, "", "the file has no rows"))
    return rows, errors


def _parse_power_content(
    name: str, fh: Generator[str, None, None] | IO[str], programs: _Programs
) -> tuple[list[dict], list[RowError]]:
    reader = _reader(name, fh, POWER_CONTENT_COLUMNS, [])
    rows: list[dict] = []
    errors: list[RowError] = []
    seen: dict[tuple[int, int, str], int] = {}
    for row in reader:
        line = reader.line_num
        try:
            program, products, _ = programs.get((row.get("program") or "").strip())
            try:
                year = int((row.get("year") or "").strip())
            except ValueError:
                raise _Bad("year", f"{row.get('year')!r} is not a year") from None
            if not 2000 <= year <= 2100:
                raise _Bad("year", f"{year} is not a plausible reporting year")
            source = (row.get("source") or "").strip()
            if source != PowerContentLabel.UTILITY and source not in products:
                raise _Bad(
                    "source", f"{source!r} is neither 'utility' nor a product of {program.slug}"
                )
            label = (row.get("name") or "").strip()
            if not label:
                raise _Bad("name", "is required")
            renewable = _decimal(row, "renewable_pct", maximum=Decimal("100"))
            carbon_free = _decimal(row, "carbon_free_pct", maximum=Decimal("100"))
            if carbon_free < renewable:
                raise _Bad(
                    "carbon_free_pct",
                    f"{carbon_free} is below renewable_pct {renewable}; "
                    "renewable power is carbon-free",
                )
            ghg = _decimal(row, "ghg_lbs_per_mwh", maximum=Decimal("3000"))
            key = (program.id, year, source)
            if key in seen:
                raise _Bad("", f"duplicate of line {seen[key]} ({year}, {source})")
            seen[key] = line
            rows.append(
                {
                    "program": program,
                    "year": year,
                    "source": source,
                    "name": label,
                    "renewable_pct": renewable,
                    "carbon_free_pct": carbon_free,
                    "ghg_lbs_per_mwh": ghg,
                }
            )
        except _Bad as bad:
            errors.append(RowError(line, bad.field, bad.reason))
    if not rows and not errors:
        errors.append(RowError(1, "", "the file has no rows"))
    return rows, errors


# --- writing --------------------------------------------------------------------------------------


def jrc_import(
    *,
    jrc_file: str | Path | IO[str] | None = None,
    power_content_file: str | Path | IO[str] | None = None,
    program_slug: str | None = None,
) -> ImportSummary:
    """Check both files completely, then write them in one transaction (or raise JrcImportError)."""
    programs = _Programs(program_slug)
    parsed: list[tuple[str, str, list[dict]]] = []
    for kind, source, parse in (
        ("jrc", jrc_file, _parse_jrc),
        ("power", power_content_file, _parse_power_content),
    ):
        if source is None:
            continue
        name, fh = _open(source)
        try:
            rows, errors = parse(name, fh, programs)
        except InputFileError as exc:
            reason = str(exc).removeprefix(f"line {exc.line}: ")
            raise JrcImportError(name, [RowError(exc.line or 1, "", reason)]) from None
        finally:
            if not hasattr(source, "read"):
                fh.close()
        if errors:
            raise JrcImportError(name, errors)
        parsed.append((kind, name, rows))

    summary = ImportSummary()
    with transaction.atomic():
        for kind, name, rows in parsed:
            for row in rows:
                summary.programs.add(row["program"].slug)
                if kind == "jrc":
                    key = {
                        k: row.pop(k)
                        for k in ("program", "rate_schedule", "product", "effective_from")
                    }
                    _, created = JrcRow.objects.update_or_create(
                        **key, defaults={**row, "source_file": Path(name).name}
                    )
                    summary.jrc_created += created
                    summary.jrc_updated += not created
                else:
                    key = {k: row.pop(k) for k in ("program", "year", "source")}
                    _, created = PowerContentLabel.objects.update_or_create(
                        **key, defaults={**row, "source_file": Path(name).name}
                    )
                    summary.power_created += created
                    summary.power_updated += not created
    return summary


# --- look-ups used by the mailers -----------------------------------------------------------------


def jrc_rows_in_force(
    *, program: Program, on: dt.date, customer_class: str | None = None
) -> list[JrcRow]:
    """For each rate schedule and product, the row with the latest effective date on or before
    `on`."""
    qs = JrcRow.objects.filter(program=program, effective_from__lte=on).select_related("product")
    if customer_class:
        qs = qs.filter(customer_class=customer_class)
    latest: dict[tuple[str, int], JrcRow] = {}
    for row in qs.order_by("rate_schedule", "product_id", "-effective_from"):
        latest.setdefault((row.rate_schedule, row.product_id), row)
    return sorted(
        latest.values(),
        key=lambda r: (r.customer_class, r.rate_schedule, not r.product.is_default, r.product.code),
    )


def power_content_in_force(*, program: Program, on: dt.date) -> list[PowerContentLabel]:
    """The labels of the latest reporting year on or before `on`'s year: products first, the
    utility last."""
    year = (
        PowerContentLabel.objects.filter(program=program, year__lte=on.year)
        .order_by("-year")
        .values_list("year", flat=True)
        .first()
    )
    if year is None:
        return []
    labels = list(PowerContentLabel.objects.filter(program=program, year=year))
    return sorted(
        labels, key=lambda p: (p.source == PowerContentLabel.UTILITY, -p.renewable_pct, p.source)
    )
