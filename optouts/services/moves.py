"""The utility's move file (docs/formats/moves.md): customers moving within, out of and into
the territory. Each applied line is kept as an `optouts.Move`; status changes go through
accounts.services.status with channel `utility`, Connects through the CCASR queue.

- within: the customer keeps status and product — an opted-out customer stays opted out, also
  under a new account number; the old account is closed (moved_out).
- out: the account is closed (moved_out) without a termination fee; a Connect not yet sent is
  withdrawn.
- in: a new customer is created `eligible` with its service start date, so the notice engine's
  new-customer track schedules its two notices (called once the file is applied).

The whole file is checked first; any bad line rejects it (each error names line and field) and
nothing is written but the rejected ImportRun.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts import normalize
from accounts.models import (
    ACTIVE_STATUSES,
    OPTED_OUT_STATUSES,
    Channel,
    CustomerClass,
    ImportRun,
    Product,
    Program,
    ServiceAccount,
    Status,
    StatusChange,
)
from accounts.services import contact
from accounts.services.personal_codes import personal_code_new
from accounts.services.same_customer import opted_out_same_customer
from accounts.services.status import Actor, account_transition, can_transition
from accounts.services.text_files import InputFileError, csv_dict_reader
from cca_notices.services.dashboard_tally import dashboard_tallies_refresh_after_commit
from cca_notices.services.scheduling import RuleSetMissing, notices_schedule_new_customers
from optouts.models import Move, ServiceRequest
from optouts.services.ccasr import ccasr_request_create, ccasr_withdraw_pending_connect

COLUMNS = [
    "old_account_number",
    "new_account_number",
    "move_type",
    "move_date",
    "customer_name",
    "service_address",
    "service_city",
    "service_zip",
    "mailing_address",
    "mailing_city",
    "mailing_state",
    "mailing_zip",
    "customer_class",
    "rate_schedule",
    "read_cycle",
    "language",
    "email",
    "phone",
]
REQUIRED_COLUMNS = ["old_account_number", "new_account_number", "move_type", "move_date"]


@dataclass(frozen=True)
class MoveError:
    line: int
    field: str
    message: str

    def __str__(self):
        return f"line {self.line}, {self.field}: {self.message}"


class MovesRejected(ValueError):
    def __init__(self, errors: list[MoveError]):
        self.errors = errors
        shown = "; ".join(str(e) for e in errors[:20])
        more = f" (and {len(errors) - 20} more)" if len(errors) > 20 else ""
        super().__init__(f"move file rejected, nothing written: {shown}{more}")


@dataclass
class MovesResult:
    run: ImportRun
    counts: Counter = field(default_factory=Counter)
    notices_scheduled: int = 0
    notice_problem: str = ""

    def summary(self) -> str:
        c = self.counts
        text = (
            f"{c['rows']} rows: {c['within']} within ({c['new_accounts']} new account numbers, "
            f"{c['kept_opted_out']} kept opted out), {c['out']} moved out, {c['in']} moved in; "
            f"{self.notices_scheduled} new-customer notices scheduled"
        )
        return text + (f" ({self.notice_problem})" if self.notice_problem else "")


def _parse(program: Program, path: Path) -> tuple[list[dict], list[MoveError]]:
    errors: list[MoveError] = []
    rows: list[dict] = []
    try:
        with csv_dict_reader(path) as reader:
            header = [h.strip() for h in (reader.fieldnames or [])]
            missing = [c for c in REQUIRED_COLUMNS if c not in header]
            if missing:
                raise MovesRejected(
                    [MoveError(1, c, "column is missing from the header") for c in missing]
                )
            for line, rec in enumerate(reader, start=2):
                rec = {k.strip(): (v or "").strip() for k, v in rec.items() if k}
                row, errs = _row(rec, line)
                errors += errs
                if not errs:
                    rows.append(row)
    except InputFileError as exc:
        raise MovesRejected([*errors, MoveError(exc.line or 1, "file", _reason(exc))]) from None
    return rows, errors


def _reason(exc: InputFileError) -> str:
    return str(exc).removeprefix(f"line {exc.line}: ")


def _row(rec: dict, line: int) -> tuple[dict, list[MoveError]]:
    errs: list[MoveError] = []
    row = {
        "line": line,
        "old": rec.get("old_account_number", ""),
        "new": rec.get("new_account_number", ""),
        "type": rec.get("move_type", "").lower(),
    }

    def err(col, msg):
        errs.append(MoveError(line, col, msg))

    if row["type"] not in ("within", "out", "in"):
        err("move_type", f"'{rec.get('move_type', '')}' is not within, out or in")
    try:
        row["date"] = dt.date.fromisoformat(rec.get("move_date", ""))
    except ValueError:
        err("move_date", f"'{rec.get('move_date', '')}' is not a date (YYYY-MM-DD)")
    if row["type"] in ("within", "out") and not row["old"]:
        err("old_account_number", f"is required for a move {row['type']}")
    if row["type"] == "in":
        if row["old"]:
            err("old_account_number", "must be blank for a move in (a new customer)")
        if not row["new"]:
            err("new_account_number", "is required for a move in")
    if row["type"] == "out" and row["new"]:
        err("new_account_number", "must be blank for a move out")
    needs_address = row["type"] in ("within", "in")
    if needs_address:
        for col, fn in (
            ("service_address", normalize.street_line),
            ("service_city", normalize.city),
            ("service_zip", normalize.zip_code),
        ):
            try:
                row[col] = fn(rec.get(col, ""))
            except normalize.InvalidValue as exc:
                err(col, str(exc))
        for col, fn in (
            ("mailing_address", normalize.street_line),
            ("mailing_city", normalize.city),
            ("mailing_state", normalize.state),
            ("mailing_zip", normalize.zip_code),
        ):
            if rec.get(col):
                try:
                    row[col] = fn(rec[col])
                except normalize.InvalidValue as exc:
                    err(col, str(exc))
        try:
            row["phone"] = normalize.phone_e164(rec.get("phone", ""))
        except normalize.InvalidValue as exc:
            err("phone", str(exc))
        try:
            row["email"] = contact.email_address(rec.get("email", ""))
        except normalize.InvalidValue as exc:
            err("email", str(exc))
        row["language"] = (rec.get("language") or "").lower()[:5]
        row["customer_name"] = rec.get("customer_name", "")
    if row["type"] == "in":
        if not row.get("customer_name"):
            err("customer_name", "is required for a move in")
        if rec.get("customer_class") not in CustomerClass.values:
            err(
                "customer_class",
                f"'{rec.get('customer_class', '')}' is not one of "
                f"{', '.join(CustomerClass.values)}",
            )
        row["customer_class"] = rec.get("customer_class", "")
        if not rec.get("rate_schedule"):
            err("rate_schedule", "is required for a move in")
        row["rate_schedule"] = rec.get("rate_schedule", "")
        try:
            row["read_cycle"] = int(rec.get("read_cycle", ""))
            if not 1 <= row["read_cycle"] <= 99:
                raise ValueError
        except ValueError:
            err("read_cycle", f"'{rec.get('read_cycle', '')}' is not a read cycle (1-99)")
    return row, errs


def _check_accounts(program: Program, rows: list[dict]) -> tuple[dict, list[MoveError]]:
    errors = []
    numbers = {r["old"] for r in rows if r["old"]} | {r["new"] for r in rows if r["new"]}
    accounts = {
        a.account_number: a
        for a in ServiceAccount.objects.filter(program=program, account_number__in=numbers)
    }
    seen: dict[str, int] = {}
    for r in rows:
        for col, number in (("old_account_number", r["old"]), ("new_account_number", r["new"])):
            if (
                number
                and number in seen
                and not (col == "new_account_number" and number == r["old"])
            ):
                errors.append(
                    MoveError(r["line"], col, f"account {number} is already on line {seen[number]}")
                )
            if number:
                seen.setdefault(number, r["line"])
        if r["old"]:
            old = accounts.get(r["old"])
            if old is None:
                errors.append(
                    MoveError(
                        r["line"],
                        "old_account_number",
                        f"account {r['old']} is not in program {program.slug}",
                    )
                )
            elif old.status == Status.MOVED_OUT:
                errors.append(
                    MoveError(
                        r["line"], "old_account_number", f"account {r['old']} has already moved out"
                    )
                )
        if r["type"] == "in" and r["new"] in accounts:
            errors.append(
                MoveError(
                    r["line"],
                    "new_account_number",
                    f"account {r['new']} already exists; use move_type within",
                )
            )
        if (
            r["type"] == "within"
            and r["new"]
            and r["new"] != r["old"]
            and r["new"] in accounts
            and r["old"] in accounts
        ):
            new, old = accounts[r["new"]], accounts[r["old"]]
            if new.status != old.status and not can_transition(new.status, old.status):
                errors.append(
                    MoveError(
                        r["line"],
                        "new_account_number",
                        f"account {r['new']} is {new.status} and cannot take "
                        f"{r['old']}'s status {old.status}",
                    )
                )
    return accounts, errors


def moves_import(*, program: Program, path: Path, actor: Actor | None = None) -> MovesResult:
    actor = actor or Actor("import_moves")
    path = Path(path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    run = ImportRun.objects.create(
        program=program,
        kind=ImportRun.Kind.MOVES,
        file_name=str(path),
        sha256=digest,
        actor=actor.name,
    )
    try:
        rows, errors = _parse(program, path)
        accounts, more = _check_accounts(program, rows)
        errors += more
        if errors:
            raise MovesRejected(sorted(errors, key=lambda e: e.line))
        result = MovesResult(run)
        with transaction.atomic():
            default_product = Product.objects.filter(program=program, is_default=True).first()
            for r in rows:
                _apply(program, r, accounts, actor, run, result, default_product)
            result.counts["rows"] = len(rows)
    except MovesRejected as exc:
        _finish(run, ImportRun.Outcome.REJECTED, rows=0, message=str(exc))
        raise
    except Exception as exc:
        _finish(run, ImportRun.Outcome.FAILED, rows=0, message=f"{type(exc).__name__}: {exc}")
        raise
    _finish(
        run,
        ImportRun.Outcome.LOADED,
        rows=len(rows),
        created=result.counts["new_accounts"] + result.counts["in"],
        updated=result.counts["within"] + result.counts["out"],
        status_kept=result.counts["kept_opted_out"],
    )
    if result.counts["in"]:
        result.notices_scheduled, result.notice_problem = _schedule_new_customers(program, actor)
    dashboard_tallies_refresh_after_commit(program_ids=[program.pk])  # the dashboard's figures
    return result


def _finish(
    run: ImportRun,
    outcome: str,
    *,
    rows: int,
    message: str = "",
    created: int = 0,
    updated: int = 0,
    status_kept: int = 0,
) -> None:
    ImportRun.objects.filter(pk=run.pk).update(
        outcome=outcome,
        finished_at=timezone.now(),
        rows=rows,
        created=created,
        updated=updated,
        status_kept=status_kept,
        message=message[:5000],
    )


def _schedule_new_customers(program: Program, actor: Actor) -> tuple[int, str]:
    try:
        return notices_schedule_new_customers(program=program, actor_name=actor.name), ""
    except RuleSetMissing as exc:
        # The accounts are in; the daily notices task schedules them once the rule set exists.
        return 0, f"notices not scheduled: {exc}"


def _record(program, r, run, *, old=None, new=None, kept=""):
    Move.objects.create(
        program=program,
        import_run=run,
        line=r["line"],
        type=r["type"],
        move_date=r["date"],
        old_account=old,
        new_account=new,
        status_kept=kept,
        created_at=timezone.now(),
    )


def _address(r: dict) -> dict:
    out = {k: r[k] for k in ("service_address", "service_city", "service_zip")}
    # No new mailing address in the file: mail goes to the new premises.
    out["mailing_address"] = r.get("mailing_address") or r["service_address"]
    out["mailing_city"] = r.get("mailing_city") or r["service_city"]
    out["mailing_state"] = r.get("mailing_state") or "CA"  # the territory is in California
    out["mailing_zip"] = r.get("mailing_zip") or r["service_zip"]
    for col in ("email", "phone", "language"):
        if r.get(col):
            out[col] = r[col]
    if r.get("customer_name"):
        out["customer_name"] = normalize.person_name(r["customer_name"])
    return out


def _create(
    program: Program, fields: dict, *, status: str, actor: Actor, reason: str
) -> ServiceAccount:
    """A new account row and its creation audit row (from_status blank), as the importer
    writes them."""
    now = timezone.now()
    fields["customer_key"] = normalize.customer_key(
        fields["customer_name"], fields["service_address"], fields["service_zip"]
    )
    for _ in range(5):
        try:
            with transaction.atomic():
                account = ServiceAccount.objects.create(
                    program=program,
                    opt_out_code=personal_code_new(),
                    status=status,
                    status_changed_at=now,
                    **fields,
                )
                break
        except IntegrityError as exc:
            if "opt_out_code" not in str(exc):
                raise
    else:  # pragma: no cover - 5 collisions in 2^50
        raise RuntimeError("could not draw a unique personal code")
    StatusChange.objects.create(
        account=account,
        from_status="",
        to_status=status,
        at=now,
        actor_id=actor.user_id,
        actor_name=actor.name,
        channel=Channel.UTILITY,
        reason=reason,
    )
    return account


def _apply(program, r, accounts, actor, run, result, default_product) -> None:
    kind = r["type"]
    result.counts[kind] += 1
    if kind == "out":
        old = accounts[r["old"]]
        ccasr_withdraw_pending_connect(account=old, why=f"moved out (move file line {r['line']})")
        account_transition(
            account=old,
            to_status=Status.MOVED_OUT,
            channel=Channel.UTILITY,
            actor=actor,
            reason=f"moved out of the territory on {r['date']} (move file, no fee)",
        )
        _record(program, r, run, old=old)
        return
    if kind == "in":
        fields = _address(r) | {
            "account_number": r["new"],
            "customer_class": r["customer_class"],
            "rate_schedule": r["rate_schedule"],
            "read_cycle": r["read_cycle"],
            "service_start_date": r["date"],
            "product": default_product,
            "language": r.get("language") or (program.languages or ["en"])[0],
        }
        # The same customer at the same premises who opted out before stays out (never
        # re-enrolled: docs/formats/moves.md).
        key = normalize.customer_key(
            fields["customer_name"], fields["service_address"], fields["service_zip"]
        )
        prior = opted_out_same_customer(program_id=program.pk, customer_key=key)
        status = prior.status if prior else Status.ELIGIBLE
        if prior:
            fields["service_start_date"] = None
            result.counts["kept_opted_out"] += 1
        new = _create(
            program,
            fields,
            status=status,
            actor=actor,
            reason=f"moved into the territory on {r['date']}"
            + (f"; stays opted out as {prior.account_number}" if prior else ""),
        )
        accounts[new.account_number] = new
        _record(program, r, run, new=new, kept=status if prior else "")
        return
    # within
    old = accounts[r["old"]]
    old_status = old.status
    if not r["new"] or r["new"] == r["old"]:
        ServiceAccount.objects.filter(pk=old.pk).update(updated_at=timezone.now(), **_address(r))
        _record(program, r, run, old=old, new=old, kept=old.status)
        return
    fields = _address(r)
    existing = accounts.get(r["new"])
    if existing is None:
        carried = {
            name: getattr(old, name)
            for name in (
                "customer_name",
                "customer_class",
                "rate_schedule",
                "read_cycle",
                "language",
                "email",
                "phone",
                "care",
                "nem",
                "medical_baseline",
                "direct_access",
                "phase_id",
                "product_id",
                "enrollment_date",
            )
        }
        new = _create(
            program,
            carried | fields | {"account_number": r["new"]},
            status=old_status,
            actor=actor,
            reason=(
                f"moved within the territory from account {old.account_number} on {r['date']}; "
                "status kept"
            ),
        )
        result.counts["new_accounts"] += 1
    else:
        new = existing
        ServiceAccount.objects.filter(pk=new.pk).update(
            product_id=old.product_id, updated_at=timezone.now(), **fields
        )
        if new.status != old_status:
            account_transition(
                account=new,
                to_status=old_status,
                channel=Channel.UTILITY,
                actor=actor,
                reason=f"moved within the territory from account {old.account_number}; status kept",
            )
    if old_status in OPTED_OUT_STATUSES:
        result.counts["kept_opted_out"] += 1
    ccasr_withdraw_pending_connect(account=old, why=f"moved to account {new.account_number}")
    account_transition(
        account=old,
        to_status=Status.MOVED_OUT,
        channel=Channel.UTILITY,
        actor=actor,
        reason=f"moved within the territory to account {new.account_number} on {r['date']}",
    )
    if old_status in ACTIVE_STATUSES:
        ccasr_request_create(
            account=new,
            type=ServiceRequest.Type.CONNECT,
            source=ServiceRequest.Source.MOVE,
            effective_date=r["date"],
            product_code=old.product.code if old.product_id else "",
            note=f"continues account {old.account_number}",
        )
    _record(program, r, run, old=old, new=new, kept=old_status)
