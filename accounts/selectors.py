"""Reads of the account registry: the one account search that the admin, the call-centre screens
and the API share.

`account_search` looks at the shape of what was typed and picks the cheapest strategy, each
backed by an index (docs/admin.md):

- all digits (4 or more)    → account number prefix, on the (program, account_number) unique
                              index; when the digits also make a valid US phone number, the phone
                              index is tried too (a 10-digit SA ID and a phone number look alike);
- phone-like ("(415) 555-0100", "+1 415 555 0100") → the E.164 form, exact, on the phone index;
- anything else              → every word must appear in the customer name or the service address
                              (icontains; trigram GIN indexes on PostgreSQL). The mailing address
                              is not searched: it is mostly the service address, and a third trigram
                              index would slow every million-row load (docs/performance.md).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

import phonenumbers
from django.db import connection
from django.db.models import Q, QuerySet
from scourgify.address_constants import (
    DIRECTIONAL_REPLACEMENTS,
    OCCUPANCY_TYPE_ABBREVIATIONS,
    STREET_TYPE_ABBREVIATIONS,
)

from accounts.models import Program, ServiceAccount
from accounts.services import contact
from accounts.services.values import InvalidValue

PHONE_REGION = "US"
# Shorter digit strings are house numbers or ZIP fragments far more often than account numbers.
ACCOUNT_PREFIX_MIN_DIGITS = 4
_account_number_max_length = ServiceAccount._meta.get_field("account_number").max_length
assert _account_number_max_length is not None  # a CharField always has one
ACCOUNT_NUMBER_MAX_LENGTH: int = _account_number_max_length

_DIGITS = re.compile(r"^\d+$")
_PHONE_LIKE = re.compile(r"^\+?[\d\s().\-]+$")
_ACCOUNT_LIKE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z\-]*$")

# Addresses are stored in USPS Publication 28 form ("123 MAIN ST"), so a word typed in longhand
# ("street", "north", "apartment") is also looked for in its abbreviated form.
_ADDRESS_ABBREVIATIONS = {
    **{k: v for k, v in STREET_TYPE_ABBREVIATIONS.items() if k != v},
    **DIRECTIONAL_REPLACEMENTS,
    **{k: v for k, v in OCCUPANCY_TYPE_ABBREVIATIONS.items() if k != v and k.isalpha()},
}


class Strategy(enum.StrEnum):
    NONE = "none"
    ACCOUNT_NUMBER = "account_number"
    ACCOUNT_NUMBER_OR_PHONE = "account_number_or_phone"
    PHONE = "phone"
    NAME_ADDRESS = "name_address"


@dataclass(frozen=True)
class SearchPlan:
    strategy: Strategy
    term: str = ""
    phone: str = ""
    words: tuple[str, ...] = ()


def phone_to_e164(text: str, *, region: str = PHONE_REGION, strict: bool = True) -> str | None:
    """E.164 form of a typed phone number, or None when it is not one.

    `strict` asks for a number that can exist (what may be stored); a search only needs one of
    the right length, since an exact match against stored, validated numbers finds nothing wrong.
    """
    if strict:  # what may be stored: the one rule (accounts.services.contact)
        try:
            return contact.phone_e164(text, region) or None
        except InvalidValue:
            return None
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def search_plan(query: str) -> SearchPlan:
    """How `account_search` will look for `query` (exposed so screens can say what they did)."""
    q = " ".join((query or "").split())
    if not q:
        return SearchPlan(Strategy.NONE)
    if _DIGITS.match(q) and ACCOUNT_PREFIX_MIN_DIGITS <= len(q) <= ACCOUNT_NUMBER_MAX_LENGTH:
        phone = phone_to_e164(q, strict=False) if len(q) in (10, 11) else None
        if phone:
            return SearchPlan(Strategy.ACCOUNT_NUMBER_OR_PHONE, term=q, phone=phone)
        return SearchPlan(Strategy.ACCOUNT_NUMBER, term=q)
    if _PHONE_LIKE.match(q) and sum(c.isdigit() for c in q) >= 10:
        phone = phone_to_e164(q, strict=False)
        if phone:
            return SearchPlan(Strategy.PHONE, phone=phone)
    # Account numbers written with dashes ("3-0012-44") or letters, as printed on some bills.
    if (
        _ACCOUNT_LIKE.match(q)
        and any(c.isdigit() for c in q)
        and "-" in q
        and len(q) <= ACCOUNT_NUMBER_MAX_LENGTH
    ):
        return SearchPlan(Strategy.ACCOUNT_NUMBER, term=q)
    return SearchPlan(Strategy.NAME_ADDRESS, words=tuple(w.upper() for w in q.split()))


def _prefix_upper_bound(prefix: str) -> str:
    """The smallest string greater than every string starting with `prefix`."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def _account_number_q(term: str) -> Q:
    # The explicit range lets a btree index serve the prefix under any database collation
    # (LIKE 'x%' only uses a plain btree under the "C" collation); startswith keeps it exact.
    return (
        Q(account_number__gte=term)
        & Q(account_number__lt=_prefix_upper_bound(term))
        & Q(account_number__startswith=term)
    )


def _word_q(word: str) -> Q:
    variants = {word}
    if word in _ADDRESS_ABBREVIATIONS:
        variants.add(_ADDRESS_ABBREVIATIONS[word])
    q = Q(customer_name__icontains=word)
    for variant in sorted(variants):
        q |= Q(service_address__icontains=variant)
    return q


def account_search(
    *, program: Program | int | None = None, query: str, queryset: QuerySet | None = None
) -> QuerySet:
    """Accounts matching `query` (see the module docstring), optionally within one program.

    `queryset` lets a caller search inside what it already filtered (the admin's list filters).
    An empty query returns the queryset unfiltered.
    """
    qs = ServiceAccount.objects.all() if queryset is None else queryset
    if program is not None:
        qs = qs.filter(program=program)
    plan = search_plan(query)
    if plan.strategy is Strategy.NONE:
        return qs
    if plan.strategy is Strategy.NAME_ADDRESS:
        for word in plan.words:
            qs = qs.filter(_word_q(word))
        return qs

    condition = Q()
    if plan.term:
        account_q = _account_number_q(plan.term)
        if program is None:
            # The account-number index leads with program_id; naming the (few) programs lets
            # PostgreSQL descend it once per program instead of reading all of it.
            account_q &= Q(program_id__in=list(Program.objects.values_list("pk", flat=True)))
        condition |= account_q
    if plan.phone:
        condition |= Q(phone=plan.phone)
    return qs.filter(condition)


def account_count_estimate(*, table: str = ServiceAccount._meta.db_table) -> int | None:
    """PostgreSQL's own estimate of a table's row count (pg_class.reltuples, kept by ANALYZE and
    autovacuum): free, where COUNT(*) on a million rows reads them all. None when unknown."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [table])
        row = cursor.fetchone()
    if not row or row[0] is None or row[0] < 0:
        return None
    return int(row[0])


__all__ = [
    "SearchPlan",
    "Strategy",
    "account_count_estimate",
    "account_search",
    "phone_to_e164",
    "search_plan",
]
