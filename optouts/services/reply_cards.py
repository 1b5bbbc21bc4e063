"""Returned reply cards, entered in a batch by account number (or mail-piece ID once the mail
house's piece IDs are recorded by the notice engine)."""

from __future__ import annotations

from accounts.models import Channel, Program, ServiceAccount
from accounts.services.status import Actor
from optouts.services.intake import OptOutRefused, optout_submit
from optouts.services.lookup import normalise_account_number
from optouts.services.notices import account_for_piece_id


def reply_cards_enter(*, lines: str, program: Program, user) -> list[dict]:
    """One row per non-blank line: the account number (or mail-piece ID) on a returned card.
    Each line is its own transaction, so a bad line never loses the good ones around it."""
    rows, seen = [], set()
    for number, raw in enumerate(lines.splitlines(), start=1):
        text = raw.strip()
        if not text:
            continue
        row = {
            "line": number,
            "input": text,
            "result": "not_found",
            "detail": "no such account or piece ID in this program",
        }
        rows.append(row)
        account = ServiceAccount.objects.filter(
            program=program, account_number=normalise_account_number(text)
        ).first()
        if account is None:
            piece_account = account_for_piece_id(piece_id=text)
            account = (
                piece_account
                if piece_account is not None and piece_account.program_id == program.pk
                else None
            )
        if account is None:
            continue
        if account.pk in seen:
            row.update(result="already", detail="repeated in this batch")
            continue
        seen.add(account.pk)
        try:
            sub = optout_submit(
                account=account,
                channel=Channel.REPLY_CARD,
                actor=Actor.of(user),
                note=f"reply card, batch line {number}",
            )
        except (OptOutRefused, ValueError) as exc:
            row.update(result="refused", detail=str(exc), account=account)
            continue
        row.update(
            result="recorded" if sub.created else "already",
            account=account,
            request=sub.request,
            detail=f"{sub.request.confirmation_code} · {sub.request.get_outcome_display()}",
        )
    return rows
