"""Downloads of customer data from staff pages: limited to a permission and recorded.

`@customer_data_download(...)` on a view (a function or a ModelAdmin method) refuses a user
without the permission and, when the response is a success, writes an `access` entry to the
audit log: who, when, what, and which row (docs/operations.md, "Audit log").
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import HttpRequest

from accounts.services.audit import audit_access

# Bulk files of customer data (mail-house files, reject files, exports); granted to the roles
# that need them (docs/admin.md, roles).
EXPORT_PERMISSION = "accounts.export_customer_data"


def customer_data_download(
    what: str,
    *,
    model: type[models.Model],
    pk_kwarg: str | Callable[[dict], object],
    permission: str | None = EXPORT_PERMISSION,
):
    """`permission=None` when the view checks its own (a single customer's document)."""

    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            request = next(a for a in args if isinstance(a, HttpRequest))
            if permission is not None and not request.user.has_perm(permission):
                raise PermissionDenied(f"needs the {permission} permission")
            response = view(*args, **kwargs)
            if 200 <= response.status_code < 300:
                pk = pk_kwarg(kwargs) if callable(pk_kwarg) else kwargs[pk_kwarg]
                instance = model._default_manager.filter(pk=pk).first()
                if instance is not None:
                    detail = {"path": request.path}
                    if "name" in kwargs:
                        detail["file"] = kwargs["name"]
                    if "kind" in kwargs:
                        detail["kind"] = kwargs["kind"]
                    audit_access(instance=instance, what=what, detail=detail)
            return response

        return wrapper

    return decorate
