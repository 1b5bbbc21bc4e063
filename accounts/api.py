from __future__ import annotations

from rest_framework import generics, permissions, serializers

from accounts.access import programs_visible
from accounts.models import Program, Utility


class CanViewPrograms(permissions.BasePermission):
    def has_permission(self, request, view):
        return request.user.has_perm("accounts.view_program")


class ProgramSerializer(serializers.ModelSerializer):
    utility: serializers.SlugRelatedField[Utility] = serializers.SlugRelatedField(
        slug_field="code", read_only=True
    )

    class Meta:
        model = Program
        fields = [
            "slug",
            "name",
            "utility",
            "phone",
            "ivr_phone",
            "website",
            "free_window_days",
            "cutoff_days",
            "cutoff_unit",
            "min_bundled_stay_months",
        ]


class ProgramList(generics.ListAPIView):
    """The programs the user may see (accounts.access), for a user with view_program."""

    permission_classes = [permissions.IsAuthenticated, CanViewPrograms]
    serializer_class = ProgramSerializer
    pagination_class = None

    def get_queryset(self):
        return programs_visible(self.request.user).select_related("utility").order_by("slug")
