"""Admin building blocks shared by the apps."""

from django.contrib import admin

from accounts.access import program_ids_visible, scope_to_programs


class ReadOnlyMixin:
    """For records written only by services (history, ledgers, imports, rates): staff view them,
    never add, change or delete them by hand. Works on ModelAdmins and inlines alike."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ProgramScopedMixin:
    """Lists and pages show only the rows of the programs the user may see (accounts.access);
    a row of another program answers 404 like a missing one. `program_field` is the path from
    the model to its Program ("pk" for Program itself)."""

    program_field = "program"

    def get_queryset(self, request):
        return scope_to_programs(super().get_queryset(request), request.user, self.program_field)

    def get_list_filter(self, request):
        return [
            (f, ScopedProgramFilter) if f == self.program_field and f != "pk" else f
            for f in super().get_list_filter(request)
        ]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        # A choice of program (a filter or a form field) lists only the user's programs.
        if db_field.name == "program":
            kwargs["queryset"] = scope_to_programs(
                db_field.remote_field.model.objects.all(), request.user, "pk"
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class ScopedProgramFilter(admin.RelatedFieldListFilter):
    """The program filter, offering only the programs the user may see."""

    def field_choices(self, field, request, model_admin):
        ids = program_ids_visible(request.user)
        limit = None if ids is None else {"pk__in": ids}
        return field.get_choices(include_blank=False, limit_choices_to=limit)
