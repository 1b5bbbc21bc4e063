"""The audit log in the admin: read-only for everyone, superusers included, and the History page
of an account (or any tracked record) built from it."""

from __future__ import annotations

from auditlog.admin import LogEntryAdmin
from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import reverse

from accounts.audit_log import AuditEntry
from accounts.models import ServiceAccount, status_label
from accounts.services.audit import audit_entries_visible, audit_history

# auditlog's admin registers its own view of the log-entry model; ours replaces it.
if admin.site.is_registered(AuditEntry):
    admin.site.unregister(AuditEntry)


@admin.register(AuditEntry)
class AuditEntryAdmin(LogEntryAdmin):
    list_display = [
        "created",
        "resource_url",
        "action",
        "channel",
        "actor_name",
        "msg_short",
        "cid_url",
    ]
    list_filter = ["action", "channel", "content_type"]
    search_fields = ["object_pk", "actor_name", "cid"]
    readonly_fields = [
        "created",
        "resource_url",
        "action",
        "channel",
        "actor_name",
        "user_url",
        "remote_addr",
        "cid",
        "account_id",
        "additional_data",
        "msg",
    ]
    fieldsets = [
        (None, {"fields": ["created", "user_url", "actor_name", "channel", "remote_addr", "cid"]}),
        ("What", {"fields": ["resource_url", "account_id", "action", "additional_data", "msg"]}),
    ]
    actions = None

    def get_queryset(self, request):
        # An auditor of one program reads that program's entries, not another CCA's customers.
        return audit_entries_visible(super().get_queryset(request), request.user)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        # Not even through a cascade: the log outlives what it describes.
        return False


# A program's settings: its own row and these rows that belong to it.
PROGRAM_SETTINGS = ("phases", "fee_schedules", "closures", "products", "power_content")


def _program_settings_history(program):
    q = Q(content_type=ContentType.objects.get_for_model(program), object_pk=str(program.pk))
    for name in PROGRAM_SETTINGS:
        rows = getattr(program, name).all()
        pks = [str(pk) for pk in rows.values_list("pk", flat=True)]
        q |= Q(content_type=ContentType.objects.get_for_model(rows.model), object_pk__in=pks)
    return (
        AuditEntry.objects.filter(q).select_related("content_type", "actor").order_by("timestamp")
    )


def _changes(entry: AuditEntry) -> list[tuple[str, str, str]]:
    changes = entry.changes_dict or {}
    if entry.content_type.model == "statuschange" and "to_status" in changes:
        # A status change is a before and after in itself: show it as one.
        after = {field: change[1] for field, change in changes.items()}
        before_status = after.get("from_status") or ""
        return [
            (
                "status",
                status_label(before_status) if before_status else "",
                status_label(after["to_status"] or ""),
            ),
            ("reason", "", after.get("reason") or ""),
        ]
    model = entry.content_type.model_class()
    if model is not None:  # PostgreSQL's jsonb keeps no key order: show the model's
        order = {f.name: i for i, f in enumerate(model._meta.get_fields())}
        changes = dict(sorted(changes.items(), key=lambda kv: order.get(kv[0], len(order))))
    rows = []
    for field, change in changes.items():
        if isinstance(change, list | tuple) and len(change) == 2:
            pair = ("" if v is None else str(v) for v in change)
            if model is ServiceAccount and field == "status":  # labels, as everywhere else
                pair = (status_label(v) if v else "" for v in pair)
            rows.append((field, *pair))
        else:  # m2m changes: {"type": "add", "objects": [...]}
            rows.append((field, "", str(change)))
    return rows


class AuditHistoryMixin:
    """Replaces the admin's History page with the audit log's entries for the record. An account
    shows everything that belongs to it (opt-outs, fees, notices, letters, CCASRs, status)."""

    admin_site: admin.AdminSite

    def audit_entries(self, obj):
        if obj._meta.label_lower == "accounts.serviceaccount":
            return audit_history(account_id=obj.pk)
        if obj._meta.label_lower == "accounts.program":
            return _program_settings_history(obj)
        return AuditEntry.objects.get_for_object(obj).order_by("timestamp", "pk")

    def related_records(self, request, obj) -> list[tuple[str, list[tuple[str, str]]]]:
        """The rows of other tables that point at the record (an account's notices, opt-outs,
        fees, letters, CCASRs…), whatever app they live in: notices scheduled in bulk have no
        entry of their own, so the page lists them as they stand."""
        sections = []
        for rel in obj._meta.related_objects:
            related = rel.related_model
            if not rel.one_to_many or not self.admin_site.is_registered(related):
                continue
            if not self.admin_site.get_model_admin(related).has_view_permission(request):
                continue
            rows = related._default_manager.filter(**{rel.field.name: obj}).order_by("pk")[:50]
            links = [
                (
                    reverse(
                        f"admin:{related._meta.app_label}_{related._meta.model_name}_change",
                        args=[row.pk],
                    ),
                    str(row),
                )
                for row in rows
            ]
            if links:
                sections.append((str(related._meta.verbose_name_plural).capitalize(), links))
        return sections

    def history_view(self, request, object_id, extra_context=None):
        model = self.model
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404(f"no {model._meta.verbose_name} {object_id}")
        if not self.has_view_or_change_permission(request, obj):
            raise PermissionDenied
        entries = list(self.audit_entries(obj)[:2000])
        context = {
            **self.admin_site.each_context(request),
            "title": f"History: {model._meta.verbose_name} #{obj.pk}",
            "subtitle": None,
            "object": obj,
            "opts": model._meta,
            "entries": [(e, _changes(e)) for e in entries],
            "truncated": len(entries) == 2000,
            "related": self.related_records(request, obj),
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/audit_history.html", context)
