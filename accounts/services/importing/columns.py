"""The columns of an eligible-customer file (docs/formats/eligible-customers.md) and of the
tuple a validated row becomes (the staging table's columns, in order)."""

from __future__ import annotations

from accounts.models import Status

REQUIRED_COLUMNS = (
    "account_number",
    "customer_name",
    "service_address",
    "service_city",
    "service_zip",
    "mailing_address",
    "mailing_city",
    "mailing_state",
    "mailing_zip",
    "customer_class",
    "rate_schedule",
    "read_cycle",
    "language",
    "email",
    "phone",
    "care",
    "nem",
    "medical_baseline",
    "direct_access",
    "phase",
)
OPTIONAL_COLUMNS = ("status", "enrollment_date", "product")
# Statuses for which the file must say when CCA service started.
NEEDS_ENROLLMENT_DATE = {
    Status.ENROLLED,
    Status.PARTICIPANT,
    Status.OPTED_OUT_FREE,
    Status.TERMINATED,
}

# The longest field the validator reads at all; anything longer is a row error, not parsed.
FIELD_LIMIT = 1000
# The stored columns' widths (the staging and account tables), checked after normalising.
WIDTHS = {
    "customer_name": 200,
    "service_address": 200,
    "service_city": 100,
    "mailing_address": 200,
    "mailing_city": 100,
    "rate_schedule": 32,
    "email": 254,
}

STAGE_COLUMNS = (
    "line_no",
    "account_number",
    "customer_name",
    "service_address",
    "service_city",
    "service_zip",
    "mailing_address",
    "mailing_city",
    "mailing_state",
    "mailing_zip",
    "customer_class",
    "rate_schedule",
    "read_cycle",
    "language",
    "email",
    "phone",
    "care",
    "nem",
    "medical_baseline",
    "direct_access",
    "phase_id",
    "product_id",
    "file_status",
    "enrollment_date",
    "opt_out_code",
    "customer_key",
    "new_status",
)
# Columns a reload overwrites on an existing account (status is handled by the status rule).
DATA_COLUMNS = STAGE_COLUMNS[2:20]
