"""Which programs a staff or API user may see (docs/admin.md "Roles and program scope").

One rule for every edge: the admin's lists and pages, the agent screens, the letter previews and
the API all scope what they show with these functions. A superuser sees every program; anyone
else sees the programs granted by `ProgramAccess` rows, and none without one.
"""

from __future__ import annotations

from typing import Any

from django.core import signing
from django.db.models import QuerySet

from accounts.models import Program, ProgramAccess


def program_ids_visible(user: Any) -> set[int] | None:
    """The ids of the programs `user` may see; None means all of them (a superuser)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return set()
    if user.is_superuser:
        return None
    cached = getattr(user, "_program_ids_visible", None)
    if cached is None:
        cached = set(ProgramAccess.objects.filter(user=user).values_list("program_id", flat=True))
        # One query per request: the user object lives as long as the request.
        user._program_ids_visible = cached
    return cached


def programs_visible(user: Any) -> QuerySet[Program]:
    ids = program_ids_visible(user)
    programs = Program.objects.all()
    return programs if ids is None else programs.filter(pk__in=ids)


def scope_to_programs(queryset: QuerySet, user: Any, field: str = "program") -> QuerySet:
    """`queryset` narrowed to the rows whose `field` (a path to a Program) the user may see."""
    ids = program_ids_visible(user)
    if ids is None:
        return queryset
    return queryset.filter(**{f"{field}__in": ids})


def program_visible(user: Any, program_id: int | None) -> bool:
    ids = program_ids_visible(user)
    return ids is None or program_id in ids


_REF_SALT = "accounts.access.account_ref"


def account_ref(account_id: int) -> str:
    """An opaque reference to an account for staff URLs (letter previews): signed with the
    SECRET_KEY (no timestamp, so a page's links stay the same), so ids cannot be counted."""
    return signing.Signer(salt=_REF_SALT).sign_object(account_id)


def account_id_from_ref(ref: str) -> int | None:
    try:
        value = signing.Signer(salt=_REF_SALT).unsign_object(ref)
    except (signing.BadSignature, ValueError):
        return None
    return value if isinstance(value, int) else None
