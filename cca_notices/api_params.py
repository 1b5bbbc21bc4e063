"""Query parameters of the API read strictly: a value that is not what the parameter takes is a
400 naming the parameter (docs/api.md), never a server error further down."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import FieldDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.dateparse import parse_datetime
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination

EXAMPLE = "2027-03-01T00:00:00Z"
# The offsets in use on Earth run from -12:00 to +14:00; Python takes up to ±23:59, PostgreSQL
# refuses past ±15:59, so a date-time is taken only within the real range.
MAX_OFFSET = dt.timedelta(hours=14)


def _aware_in_range(value: dt.datetime) -> dt.datetime:
    """`value` in UTC; ValueError if its offset is not a real one or UTC cannot hold it."""
    offset = value.utcoffset()
    if offset is None or abs(offset) > MAX_OFFSET:
        raise ValueError("offset out of range")
    try:
        return value.astimezone(dt.UTC)
    except OverflowError:
        raise ValueError("out of range") from None


def query_datetime(request, name: str) -> dt.datetime | None:
    """The parameter `name` as an aware date-time, None if absent; a 400 if it is not an ISO 8601
    date-time with a zone (2027-02-30, hour 25 and offset +99:00 included)."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    try:
        parsed = parse_datetime(raw.strip())
        if parsed is not None and parsed.tzinfo is not None:
            return _aware_in_range(parsed)
    except ValueError:
        pass
    raise ValidationError(
        {name: [f"{raw[:40]!r} is not an ISO 8601 date-time with a time zone, e.g. {EXAMPLE}"]}
    )


class StrictCursorPagination(CursorPagination):
    """DRF's cursor pagination, with a cursor it did not make answered 400 naming `cursor`
    (DRF answers 404 for an undecodable one and lets a decodable one with a bad position reach
    the database)."""

    invalid_cursor_message = "not a cursor this API gave; follow the next and previous links"

    def decode_cursor(self, request):
        try:
            return super().decode_cursor(request)
        except NotFound:
            raise ValidationError(
                {self.cursor_query_param: [self.invalid_cursor_message]}
            ) from None

    def paginate_queryset(self, queryset, request, view=None):
        cursor = self.decode_cursor(request)
        if cursor is not None and cursor.position is not None:
            ordering = self.get_ordering(request, queryset, view)
            self._position_check(queryset.model, ordering[0].lstrip("-"), cursor.position)
        return super().paginate_queryset(queryset, request, view)

    def _position_check(self, model, field_name: str, position: str) -> None:
        try:
            value = model._meta.get_field(field_name).to_python(position)
            if isinstance(value, dt.datetime) and value.tzinfo is not None:
                _aware_in_range(value)
        except FieldDoesNotExist:
            return  # an annotation: the database checks it
        except (DjangoValidationError, ValueError):
            raise ValidationError(
                {self.cursor_query_param: [self.invalid_cursor_message]}
            ) from None
