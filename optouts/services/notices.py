"""Notice data for the agent screen, if the notice engine (cca_notices) provides it.

Intake must not depend on the notice engine: when its model is missing or differs, the agent
screen simply shows no notices."""

from __future__ import annotations

import logging

from django.apps import apps
from django.db import transaction

log = logging.getLogger(__name__)


def _notice_model():
    try:
        return apps.get_model("cca_notices", "Notice")
    except LookupError:
        return None


def account_notices(*, account) -> list | None:
    """The account's notices (kind, mail date, status, piece ID), or None when unavailable."""
    model = _notice_model()
    if model is None:
        return None
    try:
        # A savepoint, so a notice table not migrated yet cannot break the caller's transaction.
        with transaction.atomic():
            return list(model.objects.filter(account=account).order_by("mail_date")[:20])
    except Exception as exc:
        log.info("notices unavailable: %s", exc)
        return None


def account_for_piece_id(*, piece_id: str):
    """The account a returned mail piece belongs to (reply cards scanned by piece ID)."""
    model = _notice_model()
    if model is None or not piece_id:
        return None
    try:
        with transaction.atomic():
            notice = (
                model.objects.select_related("account", "account__program")
                .filter(piece_id=piece_id)
                .first()
            )
    except Exception as exc:
        log.info("piece lookup unavailable: %s", exc)
        return None
    return notice.account if notice else None
