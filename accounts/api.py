from __future__ import annotations

from rest_framework import generics, serializers

from accounts.models import Program, Utility


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
    queryset = Program.objects.select_related("utility").order_by("slug")
    serializer_class = ProgramSerializer
    pagination_class = None
