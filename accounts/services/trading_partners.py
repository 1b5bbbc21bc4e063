"""The EDI trading-partner profile of a program (docs/formats/ccasr-edi.md): its code values with
their defaults, the checks the program file runs on it, and the row-locked control-number counter.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

from django.db import transaction

from accounts.models import Program, TradingPartner

# Code values written and read in 814s. The defaults follow the utility-industry 814 convention
# California's direct-access guides use; the signed trading-partner profile decides, so each can
# be overridden in the program file's [trading_partner.codes].
CODE_DEFAULTS: dict[str, str | list[str]] = {
    # ASI01 action, ASI02 maintenance type, per request type
    "connect": ["7", "021"],
    "disconnect": ["7", "024"],
    "update": ["7", "001"],
    "cancel": ["7", "002"],
    "preenrollment_optout": ["7", "024"],
    # ASI01 of a response
    "accept": "WQ",
    "reject": "U",
    # BGN01 transaction set purpose
    "bgn_request": "13",
    "bgn_response": "11",
    # REF01 qualifiers
    "ref_account": "12",
    "ref_request": "TN",
    "ref_cancels": "6O",
    "ref_product": "RB",
    "ref_reject": "7G",
    # DTM01 qualifier of the effective date
    "dtm_effective": "007",
    # N101 entity codes
    "n1_cca": "SJ",
    "n1_utility": "8S",
    "n1_customer": "8R",
    # LIN02..LIN05: the service the request concerns (electric generation)
    "lin_service": ["SH", "EL", "SH", "CE"],
}
PAIR_CODES = ("connect", "disconnect", "update", "cancel", "preenrollment_optout")
# The X12 basic character set's specials that may serve as separators.
SEPARATOR_CHARS = set("!\"&'()*+,-./:;?=%@[]_{}\\|<>~^`#$")
X12_VERSIONS = ("004010", "005010")


@dataclass(frozen=True)
class Codes:
    values: dict

    def pair(self, key: str) -> tuple[str, str]:
        a, b = self.values[key]
        return a, b

    def __getitem__(self, key: str) -> str:
        return self.values[key]


def trading_partner_codes(partner: TradingPartner) -> Codes:
    return Codes({**CODE_DEFAULTS, **(partner.codes or {})})


def trading_partner_defaults(program: Program) -> dict:
    """A program whose file has no [trading_partner] gets mutually defined (ZZ) IDs from its own
    short name and the utility's code; the EDI coordinator replaces them with the profile's."""
    sender = (program.short_name or program.slug).upper().replace(" ", "")[:15]
    return {"sender_id": sender, "receiver_id": program.utility.code.upper()[:15]}


def trading_partner_for(*, program: Program) -> TradingPartner:
    partner = TradingPartner.objects.filter(program=program).first()
    if partner is None:
        partner, _ = TradingPartner.objects.get_or_create(
            program=program, defaults=trading_partner_defaults(program)
        )
    return partner


def trading_partner_problems(values: dict) -> list[tuple[str, str]]:
    """(key, problem) for a profile's values (merged with the model defaults): separators
    distinct and legal, no separator inside an identifier, codes well formed."""
    problems: list[tuple[str, str]] = []
    seps = {
        k: values.get(k, d)
        for k, d in (
            ("element_separator", "*"),
            ("component_separator", ">"),
            ("segment_terminator", "~"),
        )
    }
    for key, ch in seps.items():
        if len(ch) != 1 or ch not in SEPARATOR_CHARS:
            problems.append((key, f"{ch!r} is not one special character of the X12 character set"))
    if len(set(seps.values())) != 3:
        problems.append(("element_separator", "the three separators must differ"))
    version = values.get("x12_version", "004010")
    if version not in X12_VERSIONS:
        problems.append(("x12_version", f"{version!r} is not one of {', '.join(X12_VERSIONS)}"))
    for key in (
        "sender_id",
        "receiver_id",
        "application_sender_code",
        "application_receiver_code",
        "cca_id",
        "utility_id",
        "sender_id_qualifier",
        "receiver_id_qualifier",
        "cca_id_qualifier",
        "utility_id_qualifier",
    ):
        v = values.get(key, "")
        if any(ch in v for ch in seps.values()):
            problems.append((key, f"{v!r} contains a separator character"))
        if any(ch not in string.printable or ch in "\r\n\t" for ch in v):
            problems.append((key, f"{v!r} must be printable ASCII"))
    codes = values.get("codes", {}) or {}
    for key, v in codes.items():
        if key not in CODE_DEFAULTS:
            problems.append((f"codes.{key}", f"unknown code; known: {', '.join(CODE_DEFAULTS)}"))
            continue
        default = CODE_DEFAULTS[key]
        if isinstance(default, list):
            if not (
                isinstance(v, list)
                and len(v) == len(default)
                and all(isinstance(x, str) and x for x in v)
            ):
                problems.append((f"codes.{key}", f"must be a list of {len(default)} codes"))
        elif not (isinstance(v, str) and v):
            problems.append((f"codes.{key}", "must be a code in quotes"))
    return problems


def trading_partner_next_control_numbers(*, partner_id: int) -> tuple[int, int]:
    """Draw the next interchange (ISA13) and group (GS06) control numbers under a row lock, so
    two exports at once never share one; the caller's transaction keeps the lock until it
    commits (a rolled-back export gives its numbers back). ISA13 has nine digits: it wraps."""
    if not transaction.get_connection().in_atomic_block:
        raise ValueError("control numbers are drawn inside the transaction that uses them")
    partner = TradingPartner.objects.select_for_update().get(pk=partner_id)
    partner.last_interchange_control_number = (
        partner.last_interchange_control_number % 999_999_999 + 1
    )
    partner.last_group_control_number = partner.last_group_control_number % 999_999_999 + 1
    partner.save(update_fields=["last_interchange_control_number", "last_group_control_number"])
    return partner.last_interchange_control_number, partner.last_group_control_number
