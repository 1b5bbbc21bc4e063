"""Finding a customer's account from what they know: account number + service ZIP, or the
personal code printed on a mailer. Callers give the same answer for "no such account" and
"wrong ZIP", so the form cannot be used to learn which account numbers exist."""

from __future__ import annotations

import re

from accounts.models import Program, ServiceAccount

_NOT_DIGITS = re.compile(r"[^0-9A-Za-z]")


def normalise_account_number(value: str) -> str:
    """Customers type spaces and dashes as printed on the bill; the registry has none."""
    return _NOT_DIGITS.sub("", value or "").upper()


def normalise_zip(value: str) -> str:
    return re.sub(r"[^0-9]", "", value or "")[:5]


class AmbiguousAccount(Exception):
    """The number and ZIP match accounts of more than one program (two CCAs served from one
    site, two utilities' numbering): picking one would record the opt-out with the wrong CCA."""


def account_for_customer(
    *, account_number: str, zip_code: str, program: Program | None = None
) -> ServiceAccount | None:
    """The account, or None; raises AmbiguousAccount when no program is given and the number and
    ZIP match accounts of two programs (the customer then uses the mailer's personal code,
    which is unique across programs, or calls)."""
    number, zip5 = normalise_account_number(account_number), normalise_zip(zip_code)
    if not number or len(zip5) != 5:
        return None
    # The program comes joined (the review page shows it and its utility): that join lets
    # PostgreSQL descend the unique index (program, account_number) once per program instead of
    # scanning every account. The account's product is not read: only its id is needed.
    qs = ServiceAccount.objects.select_related("program__utility").filter(
        account_number=number, service_zip__startswith=zip5
    )
    if program is not None:
        return qs.filter(program=program).first()
    found = list(qs.order_by("program_id")[:2])
    if len(found) == 2 and found[0].program_id != found[1].program_id:
        raise AmbiguousAccount(number)
    return found[0] if found else None


def account_for_code(*, code: str) -> ServiceAccount | None:
    code = (code or "").strip().upper()
    if not code or len(code) > 12:
        return None
    return (
        ServiceAccount.objects.select_related("program__utility").filter(opt_out_code=code).first()
    )


def program_for_called_number(*, called: str) -> Program | None:
    """The IVR line a call came in on decides the program; with one program, that one."""
    digits = re.sub(r"[^0-9]", "", called or "")
    if digits:
        for program in Program.objects.select_related("utility").exclude(ivr_phone=""):
            if re.sub(r"[^0-9]", "", program.ivr_phone)[-10:] == digits[-10:]:
                return program
    programs = list(Program.objects.select_related("utility")[:2])
    return programs[0] if len(programs) == 1 else None
