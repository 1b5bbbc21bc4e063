"""REST API for opt-outs (docs/api.md): record one with an Idempotency-Key, read an account's
opt-out status, list opt-outs since a time (for the utility and the data manager)."""

from __future__ import annotations

import hashlib
import json
from collections import Counter

from django.db import IntegrityError, transaction
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import permissions, serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.access import programs_visible, scope_to_programs
from accounts.models import Channel, Program, ServiceAccount, Status
from accounts.services import contact
from accounts.services.audit import audit_access
from accounts.services.status import Actor
from accounts.services.values import InvalidValue
from cca_notices.api_params import StrictCursorPagination, query_datetime
from optouts.models import ApiIdempotencyKey, OptOutRequest, ReturnPath
from optouts.services.intake import OptOutRefused, optout_quote, optout_submit

API_CHANNELS = [
    Channel.API,
    Channel.PHONE,
    Channel.UTILITY_TRANSFER,
    Channel.EMAIL,
    Channel.REPLY_CARD,
]


class CanRecordOptOut(permissions.BasePermission):
    """Reading needs view_optoutrequest, recording record_optout; what either sees is further
    limited to the user's programs (accounts.access)."""

    def has_permission(self, request, view):
        if request.method in permissions.SAFE_METHODS:
            return request.user.has_perm("optouts.view_optoutrequest")
        return request.user.has_perm("optouts.record_optout")


class OptOutSerializer(serializers.ModelSerializer):
    program: serializers.SlugRelatedField[Program] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )
    account_number = serializers.CharField(source="account.account_number", read_only=True)
    fee_schedule_id = serializers.IntegerField(read_only=True, allow_null=True)

    class Meta:
        model = OptOutRequest
        fields = [
            "confirmation_code",
            "program",
            "account_number",
            "channel",
            "received_at",
            "request_date",
            "outcome",
            "from_status",
            "to_status",
            "effective_date",
            "earliest_read_date",
            "service_request",
            "fee_amount",
            "admin_fee",
            "cost_recovery_charge",
            "fee_schedule_id",
            "fee_waived",
            "return_path",
            "bundled_from",
            "standard_rates_from",
            "no_rejoin_until",
            "language",
        ]
        read_only_fields = fields


class OptOutCreateSerializer(serializers.Serializer):
    program = serializers.SlugField()
    account_number = serializers.CharField(max_length=32)
    channel = serializers.ChoiceField(
        choices=[(c.value, c.label) for c in API_CHANNELS], default=Channel.API
    )
    return_path = serializers.ChoiceField(
        choices=ReturnPath.choices,
        required=False,
        allow_blank=True,
        help_text="After the free window only; default advance_notice.",
    )
    moving_out = serializers.BooleanField(default=False)
    language = serializers.CharField(max_length=5, required=False, allow_blank=True)
    contact_email = serializers.EmailField(required=False, allow_blank=True)
    contact_phone = serializers.CharField(max_length=32, required=False, allow_blank=True)
    note = serializers.CharField(required=False, allow_blank=True)

    # The one rule per field, as the import, the admin, the agent screen and moves apply it.
    def validate_contact_email(self, value: str) -> str:
        return _contact_value(contact.email_address, value)

    def validate_contact_phone(self, value: str) -> str:
        return _contact_value(contact.phone_e164, value)


def _contact_value(rule, value: str) -> str:
    try:
        return rule(value)
    except InvalidValue as exc:
        raise serializers.ValidationError(str(exc)) from None


ERROR = inline_serializer(
    "OptOutError",
    {"detail": serializers.CharField(), "outcome": serializers.CharField(required=False)},
)


class OptOutListCreate(ListAPIView):
    permission_classes = [permissions.IsAuthenticated, CanRecordOptOut]
    serializer_class = OptOutSerializer

    class Pagination(StrictCursorPagination):
        ordering = ("received_at", "id")
        page_size = 500

    pagination_class = Pagination

    def get_queryset(self):
        qs = scope_to_programs(
            OptOutRequest.objects.select_related("program", "account"), self.request.user
        )
        since = query_datetime(self.request, "since")
        if since is not None:
            qs = qs.filter(received_at__gte=since)
        if self.request.query_params.get("program"):
            qs = qs.filter(program__slug=self.request.query_params["program"])
        return qs

    @extend_schema(
        summary="List opt-outs received since a time",
        parameters=[
            OpenApiParameter(
                "since",
                OpenApiTypes.DATETIME,
                description="Received at or after (ISO 8601 with zone).",
            ),
            OpenApiParameter("program", OpenApiTypes.STR, description="Program slug."),
        ],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        rows = list(page or [])
        # Account numbers leave the system here: one access entry per program and page (who,
        # when, how many), as for the admin's downloads (docs/operations.md, "Audit log").
        programs = {r.program_id: r.program for r in rows}
        for program_id, n in Counter(r.program_id for r in rows).items():
            audit_access(
                instance=programs[program_id],
                what="API opt-out list",
                detail={"path": request.path, "rows": n, "since": request.GET.get("since", "")},
            )
        return self.get_paginated_response(self.get_serializer(rows, many=True).data)

    @extend_schema(
        summary="Record an opt-out",
        request=OptOutCreateSerializer,
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                description="Same key and body: the same answer. Same key, other body: 422.",
            )
        ],
        responses={
            201: OptOutSerializer,
            200: OptOutSerializer,
            404: ERROR,
            409: ERROR,
            422: ERROR,
        },
    )
    def post(self, request, *args, **kwargs):
        body = OptOutCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        key = request.headers.get("Idempotency-Key", "").strip()[:200]
        digest = hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()
        if key:
            seen = (
                ApiIdempotencyKey.objects.filter(user=request.user, key=key)
                .select_related("optout")
                .first()
            )
            if seen is not None:
                return self._replay(seen, digest)
        # An account of a program the user may not see is as missing as an unknown one.
        account = get_object_or_404(
            scope_to_programs(ServiceAccount.objects.select_related("program"), request.user),
            program__slug=data["program"],
            account_number=data["account_number"],
        )
        try:
            with transaction.atomic():
                submission = optout_submit(
                    account=account,
                    channel=data["channel"],
                    actor=Actor.of(request.user),
                    return_path=data.get("return_path") or None,
                    moving_out=data["moving_out"],
                    language=data.get("language", ""),
                    contact_email=data.get("contact_email", ""),
                    contact_phone=data.get("contact_phone", ""),
                    note=data.get("note", ""),
                )
                code = status.HTTP_201_CREATED if submission.created else status.HTTP_200_OK
                if key:
                    ApiIdempotencyKey.objects.create(
                        user=request.user,
                        key=key,
                        body_sha256=digest,
                        optout=submission.request,
                        response_status=code,
                    )
        except OptOutRefused as exc:
            return Response(
                {"detail": str(exc), "outcome": exc.decision.outcome},
                status=status.HTTP_409_CONFLICT,
            )
        except ValueError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_422_UNPROCESSABLE_ENTITY)
        except IntegrityError:
            # The same key raced in from another request: answer as the winner did.
            return self._replay(ApiIdempotencyKey.objects.get(user=request.user, key=key), digest)
        return Response(OptOutSerializer(submission.request).data, status=code)

    def _replay(self, seen: ApiIdempotencyKey, digest: str) -> Response:
        if seen.body_sha256 != digest:
            return Response(
                {"detail": "Idempotency-Key was already used with a different request body."},
                status=status.HTTP_422_UNPROCESSABLE_ENTITY,
            )
        return Response(OptOutSerializer(seen.optout).data, status=seen.response_status)


class OptOutStatusSerializer(serializers.Serializer):
    program = serializers.CharField()
    account_number = serializers.CharField()
    status = serializers.ChoiceField(choices=Status.choices)
    opted_out = serializers.BooleanField()
    opt_out = OptOutSerializer(allow_null=True)
    quote_outcome = serializers.CharField(
        help_text="What an opt-out today would be (or why it is refused)."
    )
    quote_effective_date = serializers.DateField(allow_null=True)
    quote_fee = serializers.DecimalField(max_digits=10, decimal_places=2)


class AccountOptOutStatus(APIView):
    permission_classes = [permissions.IsAuthenticated, CanRecordOptOut]

    @extend_schema(
        summary="An account's opt-out status",
        parameters=[
            OpenApiParameter(
                "program",
                OpenApiTypes.STR,
                description="Program slug (required when there is more than one program).",
            )
        ],
        responses={
            200: OptOutStatusSerializer,
            400: ERROR,
            404: OpenApiResponse(description="No such account in the program."),
        },
    )
    def get(self, request, account_number: str):
        slug = request.query_params.get("program")
        visible = programs_visible(request.user)
        if slug:
            program = get_object_or_404(visible, slug=slug)
        else:
            programs = list(visible[:2])
            if len(programs) != 1:
                return Response(
                    {"detail": "give ?program=SLUG"}, status=status.HTTP_400_BAD_REQUEST
                )
            program = programs[0]
        account = get_object_or_404(
            ServiceAccount.objects.select_related("program"),
            program=program,
            account_number=account_number,
        )
        current = (
            OptOutRequest.objects.filter(account=account, is_current=True)
            .select_related("program", "account")
            .first()
        )
        decision = optout_quote(account=account)
        return Response(
            OptOutStatusSerializer(
                {
                    "program": program.slug,
                    "account_number": account.account_number,
                    "status": account.status,
                    "opted_out": account.is_opted_out,
                    "opt_out": current,
                    "quote_outcome": decision.outcome,
                    "quote_effective_date": decision.effective_date,
                    "quote_fee": decision.fee,
                }
            ).data
        )
