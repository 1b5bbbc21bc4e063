"""The append-only audit log: one row per change (who, when, channel, before and after).

django-auditlog writes the rows for every save and delete of the models listed in
`settings.AUDITLOG_INCLUDE_TRACKING_MODELS`; this model is its log-entry model
(`AUDITLOG_LOGENTRY_MODEL`), with the channel, the actor's name and the account the change
belongs to. Bulk writes that send no model signal (COPY, `queryset.update`) record one entry per
run through `accounts.services.audit.audit_bulk` (docs/operations.md, "Audit log").

Rows are never changed or deleted: `save()` on a stored row, `delete()` and the queryset's
`update()`/`delete()` raise, the admin has no add/change/delete, and on PostgreSQL a trigger
refuses UPDATE and DELETE (migration 0009).
"""

from __future__ import annotations

from typing import Any

from auditlog.models import AbstractLogEntry, LogEntryManager
from django.db import models

from accounts import audit_context


class AuditLogIsAppendOnly(Exception):
    """An attempt to change or delete an audit entry."""


def account_id_of(instance: Any) -> int | None:
    """The service account a change belongs to: the account itself, or the row's `account`."""
    if instance._meta.label_lower == "accounts.serviceaccount":
        return instance.pk
    for name in ("account_id", "old_account_id"):
        value = getattr(instance, name, None)
        if isinstance(value, int):
            return value
    return None


def _own_fields(instance: Any) -> list[str]:
    opts = instance._meta
    return [f.name for f in opts.concrete_fields] + [f.name for f in opts.many_to_many]


class AuditEntryQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AuditLogIsAppendOnly("audit entries are never changed")

    def delete(self):
        raise AuditLogIsAppendOnly("audit entries are never deleted")


class AuditEntryManager(LogEntryManager.from_queryset(AuditEntryQuerySet)):  # type: ignore[misc]
    def log_create(self, instance, force_log: bool = False, **kwargs):
        account_id = account_id_of(instance)
        kwargs.setdefault("account_id", account_id)
        changes = kwargs.get("changes")
        if isinstance(changes, dict) and changes:
            # auditlog's diff of a new row lists reverse relations too ("notices: None"):
            # keep the row's own fields, in the model's order.
            kwargs["changes"] = {
                name: changes[name] for name in _own_fields(instance) if name in changes
            }
        if account_id is not None or instance._meta.app_label == "auth":
            # Our own row id, never the customer's name or account number (the changes keep the
            # before and after, for the auditor; this text shows in lists and logs).
            kwargs.setdefault("object_repr", f"{instance._meta.verbose_name} #{instance.pk}")
        return super().log_create(instance, force_log=force_log, **kwargs)


class AuditEntry(AbstractLogEntry):
    # auditlog is untyped, so the stubs cannot infer these fields on its subclass.
    channel: models.CharField[str, str] = models.CharField(max_length=20, blank=True, db_index=True)
    actor_name: models.CharField[str, str] = models.CharField(
        max_length=150, blank=True, help_text="User name or process, kept if the user is removed."
    )
    account_id: models.BigIntegerField[int | None, int | None] = models.BigIntegerField(
        null=True, blank=True, db_index=True, help_text="The service account the change is about."
    )

    objects = AuditEntryManager()

    class Meta(AbstractLogEntry.Meta):
        verbose_name = "audit entry"
        verbose_name_plural = "audit log"
        # View only: there is no add, change or delete permission to grant anyone.
        default_permissions = ("view",)
        permissions = [
            ("export_customer_data", "Can export or download customer data (files, letters)"),
        ]
        indexes = [models.Index(fields=["account_id", "timestamp"], name="auditentry_account_ts")]

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AuditLogIsAppendOnly(f"audit entry {self.pk} is never changed")
        ctx = audit_context.current()
        if ctx is not None:
            self.channel = self.channel or ctx.channel
            actor = ctx.actor()
            if self.actor_id is None and actor is not None:
                self.actor = actor
                self.actor_email = getattr(actor, "email", None) or None
            self.actor_name = self.actor_name or (
                actor.get_username() if actor is not None else ctx.actor_name
            )
            if self.remote_addr is None:
                self.remote_addr = ctx.remote_addr
            if ctx.extra:
                self.additional_data = {**ctx.extra, **(self.additional_data or {})}
        self.actor_name = self.actor_name[:150]
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AuditLogIsAppendOnly(f"audit entry {self.pk} is never deleted")


def mask_value(value: Any) -> str:
    """AUDITLOG_MASK_CALLABLE: a masked field shows that it changed, never its value."""
    return "[masked]" if value else ""
