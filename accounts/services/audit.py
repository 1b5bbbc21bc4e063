"""Explicit audit entries: bulk writes that send no model signal, and downloads of customer data.

Saves and deletes of the tracked models are recorded by django-auditlog on its own (the list is
`AUDITLOG_INCLUDE_TRACKING_MODELS` in settings). What it cannot see is recorded here:
- a bulk write (the import's COPY, a `queryset.update` over many rows) as ONE entry per run, on
  the row that describes the run (an ImportRun, a ScheduleRun, a MailBatch, a Program), with its
  counts and, where a run touches few rows, their ids;
- an export or download of customer data (who, when, what), as an `access` entry.
Who and through which channel come from the edge's `accounts.audit_context`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from auditlog.cid import get_cid
from auditlog.registry import auditlog
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import CharField, Q
from django.db.models.functions import Cast

from accounts.access import program_ids_visible
from accounts.audit_log import AuditEntry
from accounts.models import Program, ServiceAccount, Utility

# Ids listed in one bulk entry at most: beyond that the counts say it (a run of a million rows
# is one entry, not a million).
BULK_IDS_LISTED = 1000


def audit_bulk(
    *,
    what: str,
    counts: dict[str, int],
    instance: models.Model | None = None,
    model: type[models.Model] | None = None,
    ids: Iterable[int] | None = None,
    changes: dict[str, Any] | None = None,
) -> AuditEntry:
    """One entry for a bulk write: `what` happened to how many rows (`counts`), recorded on
    `instance` (the run, batch or program), or on `model` when no row describes the run.
    `changes` is the before/after applied to every row, {"field": [old, new]}."""
    data: dict[str, Any] = {"bulk": what, "counts": counts}
    if ids is not None:
        listed = list(ids)
        data["ids"] = listed[:BULK_IDS_LISTED]
        data["ids_truncated"] = len(listed) > BULK_IDS_LISTED
    if instance is not None:
        entry = AuditEntry.objects.log_create(
            instance,
            force_log=True,
            action=AuditEntry.Action.UPDATE,
            changes=changes or {},
            additional_data=data,
        )
        assert entry is not None  # force_log always writes
        return entry
    assert model is not None, "audit_bulk needs an instance or a model"
    return AuditEntry.objects.create(
        content_type=ContentType.objects.get_for_model(model),
        object_pk="",
        object_repr=f"{sum(counts.values())} {model._meta.verbose_name_plural}",
        action=AuditEntry.Action.UPDATE,
        changes=changes or {},
        additional_data=data,
        cid=get_cid(),
    )


def audit_access(
    *, instance: models.Model, what: str, detail: dict[str, Any] | None = None
) -> AuditEntry:
    """Record that customer data left the system: `what` (e.g. "mail batch file"), on which row."""
    entry = AuditEntry.objects.log_create(
        instance,
        force_log=True,
        action=AuditEntry.Action.ACCESS,
        changes={},
        additional_data={"access": what, **(detail or {})},
    )
    assert entry is not None
    return entry


def audit_history(*, account_id: int) -> models.QuerySet[AuditEntry]:
    """Everything recorded about one account, oldest first: its own changes and those of every
    row that belongs to it (opt-outs, fees, notices, letters, CCASRs, status changes)."""
    return (
        AuditEntry.objects.filter(account_id=account_id)
        .select_related("content_type", "actor")
        .order_by("timestamp", "pk")
    )


def audit_entries_visible(queryset, user):
    """`queryset` of audit entries narrowed to what `user` may see (accounts.access): entries of
    an account of a visible program, of a visible program's own rows (its settings, batches,
    exports…), of a visible program's utility, and entries of records that belong to no program
    (rule sets, staff users). The before and after of an account entry are customer data."""
    ids = program_ids_visible(user)
    if ids is None:
        return queryset
    visible = Q(account_id__in=ServiceAccount.objects.filter(program_id__in=ids).values("pk"))
    for model in auditlog.get_models():
        if model is ServiceAccount:
            continue  # its entries carry account_id
        rows: models.QuerySet[Any]
        if model is Program:
            rows = Program.objects.filter(pk__in=ids)
        elif model is Utility:
            rows = Utility.objects.filter(programs__pk__in=ids)
        elif any(f.name == "program" for f in model._meta.concrete_fields):
            rows = model._default_manager.filter(program_id__in=ids)
        elif any(f.name == "utility" for f in model._meta.concrete_fields):
            rows = model._default_manager.filter(utility__programs__pk__in=ids)
        elif any(f.name in ("account", "old_account") for f in model._meta.concrete_fields):
            continue  # an account's rows: their entries carry account_id
        else:
            visible |= Q(content_type=ContentType.objects.get_for_model(model))  # no program's
            continue
        pks = rows.annotate(pk_text=Cast("pk", CharField())).values("pk_text")
        visible |= Q(content_type=ContentType.objects.get_for_model(model), object_pk__in=pks)
    return queryset.filter(visible)
