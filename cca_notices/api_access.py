"""Who may read the API schema and its Swagger UI (docs/api.md "Schema and docs")."""

from django.conf import settings
from rest_framework.permissions import BasePermission


class SchemaReader(BasePermission):
    """Signed-in staff and API users with a role (API feed, agents), unless API_DOCS_PUBLIC."""

    def has_permission(self, request, view):
        if getattr(settings, "API_DOCS_PUBLIC", False):
            return True
        user = request.user
        return bool(
            user
            and user.is_authenticated
            and user.is_active
            and (user.is_staff or user.has_perm("optouts.view_optoutrequest"))
        )
