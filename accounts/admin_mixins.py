"""Admin building blocks shared by the apps."""


class ReadOnlyMixin:
    """For records written only by services (history, ledgers, imports, rates): staff view them,
    never add, change or delete them by hand. Works on ModelAdmins and inlines alike."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
