"""Opt-out requests and what they set in motion.

An `OptOutRequest` is written only by `optouts.services.intake.optout_submit`, in the same
transaction as the account's status change, and copies the decision it was made on (outcome,
dates, fee and the fee-schedule row) so the answer given to the customer can be proved later
even after the fee schedule or the read schedule changes.
"""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts.models import Channel, FeeSchedule, Phase, Program, ServiceAccount, StatusChange


class Outcome(models.TextChoices):
    BEFORE_ENROLLMENT = "before_enrollment", "Before enrollment (never enrolled)"
    FREE_WINDOW = "free_window", "In the free window (no fee)"
    AFTER_FREE_WINDOW = "after_free_window", "After the free window (termination fee)"
    MOVED_OUT = "moved_out", "Moved out of the territory (no fee)"
    # Outcomes that record nothing: the customer is told why.
    REFUSED_BEFORE_NOTICE = "refused_before_notice", "Refused: before the notice period"
    ALREADY_OPTED_OUT = "already_opted_out", "Already opted out"
    CLOSED = "closed", "Account closed"


ACCEPTED_OUTCOMES = frozenset(
    {Outcome.BEFORE_ENROLLMENT, Outcome.FREE_WINDOW, Outcome.AFTER_FREE_WINDOW, Outcome.MOVED_OUT}
)


class ReturnPath(models.TextChoices):
    """The two ways back to the utility after the free window (docs/rules.md R-RETURN-PATHS)."""

    ADVANCE_NOTICE = "advance_notice", "Six-month advance notice, then standard bundled rates"
    TRANSITIONAL = "transitional", "Immediate return on transitional bundled service"


class ServiceRequestType(models.TextChoices):
    """The CCASR the opt-out sets in motion (docs/rules.md R-CCASR-TYPES)."""

    CANCEL = "cancel", "Cancel the pending Connect"
    DISCONNECT = "disconnect", "Disconnect"


class OptOutRequest(models.Model):
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="optout_requests")
    account = models.ForeignKey(
        ServiceAccount, on_delete=models.PROTECT, related_name="optout_requests"
    )
    confirmation_code = models.CharField(max_length=12, unique=True)
    channel = models.CharField(max_length=20, choices=Channel.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_name = models.CharField(max_length=150)
    received_at = models.DateTimeField(db_index=True)
    request_date = models.DateField(help_text="Business date the request counts from.")
    # False once the customer rejoins (docs/rules.md R-REJOIN): then a new opt-out may be recorded.
    is_current = models.BooleanField(default=True)

    # The decision, as told to the customer.
    outcome = models.CharField(max_length=24, choices=Outcome.choices)
    from_status = models.CharField(max_length=20)
    to_status = models.CharField(max_length=20)
    status_change = models.OneToOneField(
        StatusChange, null=True, blank=True, on_delete=models.PROTECT, related_name="optout_request"
    )
    enrollment_date = models.DateField(null=True, blank=True)
    free_window_ends = models.DateField(null=True, blank=True)
    effective_date = models.DateField(
        null=True,
        blank=True,
        help_text=(
            "Meter-read date the change takes effect; blank when the read schedule does not "
            "reach it yet."
        ),
    )
    earliest_read_date = models.DateField(
        null=True,
        blank=True,
        help_text="The processing cutoff: the first read date the request could catch.",
    )
    service_request = models.CharField(max_length=12, choices=ServiceRequestType.choices)
    fee_amount = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal("0.00"))
    admin_fee = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal("0.00"))
    cost_recovery_charge = models.DecimalField(
        max_digits=10, decimal_places=2, default=Decimal("0.00")
    )
    fee_schedule = models.ForeignKey(
        FeeSchedule, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    return_path = models.CharField(max_length=20, choices=ReturnPath.choices, blank=True)
    bundled_from = models.DateField(
        null=True, blank=True, help_text="First day on utility (bundled) service."
    )
    standard_rates_from = models.DateField(null=True, blank=True)
    no_rejoin_until = models.DateField(
        null=True, blank=True, help_text="End of the minimum bundled stay."
    )

    language = models.CharField(max_length=5, default="en")
    contact_email = models.EmailField(blank=True)
    contact_phone = models.CharField(max_length=20, blank=True)
    note = models.TextField(blank=True)

    # Stub until the fee ledger: a supervisor's waiver, with who and why.
    fee_waived = models.BooleanField(default=False)
    fee_waived_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    fee_waived_at = models.DateTimeField(null=True, blank=True)
    fee_waiver_reason = models.TextField(blank=True)

    class Meta:
        verbose_name = "opt-out request"
        ordering = ["-received_at", "-id"]
        constraints = [
            # The database's own guard for "exactly once": one current opt-out per account.
            models.UniqueConstraint(
                fields=["account"],
                condition=models.Q(is_current=True),
                name="one_current_optout_per_account",
            ),
        ]
        indexes = [
            models.Index(fields=["program", "received_at", "id"], name="optout_program_received")
        ]
        permissions = [
            ("record_optout", "Can record an opt-out for a customer"),
            ("waive_fee", "Can waive a termination fee"),
        ]

    def __str__(self):
        return f"{self.confirmation_code} ({self.account.account_number})"

    @property
    def fee_due(self) -> Decimal:
        return Decimal("0.00") if self.fee_waived else self.fee_amount


class ApiIdempotencyKey(models.Model):
    """An API client's Idempotency-Key: the same key and body get the same answer."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=200)
    body_sha256 = models.CharField(max_length=64)
    optout = models.ForeignKey(OptOutRequest, on_delete=models.CASCADE, related_name="+")
    response_status = models.PositiveSmallIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_unique")
        ]

    def __str__(self):
        return f"{self.key} → {self.optout_id}"


class IvrCall(models.Model):
    """What a caller has keyed so far, kept on the server by Twilio's CallSid so that no account
    number or ZIP travels in a URL (the carrier logs URLs). `steps` maps each step the last answer
    offered (its Gather action or Redirect) to the state that step continues with; a request to
    any other step is refused with a spoken error. Deleted when the call ends; a row older than
    optouts.ivr.STATE_MAX_AGE is ignored and purged."""

    call_sid = models.CharField(max_length=64, unique=True)
    steps = models.JSONField(default=dict)
    updated_at = models.DateTimeField(db_index=True)

    def __str__(self):
        return f"{self.call_sid}: {', '.join(self.steps)}"


class RetentionAcceptance(models.Model):
    """A customer who chose the cheaper product instead of opting out (the retention step)."""

    account = models.ForeignKey(ServiceAccount, on_delete=models.CASCADE, related_name="+")
    from_product_code = models.CharField(max_length=40, blank=True)
    to_product_code = models.CharField(max_length=40)
    channel = models.CharField(max_length=20, choices=Channel.choices)
    at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"{self.from_product_code or '—'} → {self.to_product_code}"


# --- what an opt-out sets in motion -------------------------------------------------------------
# Fee ledger, re-entry, rejoin, the CCASR queue to the utility, moves, and confirmations. Rows are
# written only by optouts.services.{fees,reentry,rejoin,ccasr,confirmations,moves}; the admin
# reads them and calls those services.


class FeeExport(models.Model):
    """One run of `export_fees`: the file the utility bills from, its count, total, checksum."""

    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="fee_exports")
    file_name = models.CharField(max_length=500)
    created_at = models.DateTimeField()
    actor_name = models.CharField(max_length=150)
    entries = models.PositiveIntegerField(default=0)
    total = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0.00"))
    sha256 = models.CharField(
        max_length=64, blank=True, help_text="SHA-256 of the data lines (as in the trailer)."
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.file_name} ({self.entries} entries, ${self.total})"


class FeeEntry(models.Model):
    """One fee on the customer's utility bill: assessed → exported → billed, or waived."""

    class Kind(models.TextChoices):
        TERMINATION = "termination", "Termination fee"
        ENTRY = "entry", "Entry fee (large customer rejoining)"

    class Status(models.TextChoices):
        ASSESSED = "assessed", "Assessed"
        EXPORTED = "exported", "Exported for billing"
        BILLED = "billed", "Billed by the utility"
        WAIVED = "waived", "Waived"

    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="fee_entries")
    account = models.ForeignKey(
        ServiceAccount, on_delete=models.PROTECT, related_name="fee_entries"
    )
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.TERMINATION)
    optout = models.OneToOneField(
        OptOutRequest, null=True, blank=True, on_delete=models.PROTECT, related_name="fee_entry"
    )
    rejoin = models.OneToOneField(
        "RejoinRequest", null=True, blank=True, on_delete=models.PROTECT, related_name="fee_entry"
    )
    fee_schedule = models.ForeignKey(
        FeeSchedule,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The schedule row the fee was taken from (termination fees).",
    )
    customer_class = models.CharField(max_length=20)
    admin_fee = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal("0.00"))
    cost_recovery_charge = models.DecimalField(
        max_digits=10, decimal_places=2, default=Decimal("0.00")
    )
    amount = models.DecimalField(max_digits=10, decimal_places=2)
    reason = models.CharField(max_length=200)
    assessed_on = models.DateField(help_text="Business date of the request the fee comes from.")
    created_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ASSESSED)
    export = models.ForeignKey(
        FeeExport, null=True, blank=True, on_delete=models.PROTECT, related_name="fee_entries"
    )
    exported_at = models.DateTimeField(null=True, blank=True)
    billed_on = models.DateField(null=True, blank=True)
    billing_reference = models.CharField(
        max_length=100,
        blank=True,
        help_text="The utility's reference from its billing confirmation.",
    )
    waived_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    waived_at = models.DateTimeField(null=True, blank=True)
    waiver_reason = models.TextField(blank=True)

    class Meta:
        verbose_name = "fee entry"
        verbose_name_plural = "fee ledger"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(amount__gt=0), name="fee_entry_amount_positive"
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(kind="termination", optout__isnull=False, rejoin__isnull=True)
                    | models.Q(kind="entry", rejoin__isnull=False, optout__isnull=True)
                ),
                name="fee_entry_has_one_source",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="waived")
                | (models.Q(waived_at__isnull=False) & ~models.Q(waiver_reason="")),
                name="fee_entry_waiver_has_reason",
            ),
        ]
        indexes = [models.Index(fields=["program", "status"], name="fee_entry_program_status")]

    def __str__(self):
        return f"#{self.pk} {self.account.account_number} ${self.amount} ({self.status})"


class ReentryRequest(models.Model):
    """A customer's return to the utility after the free window, with the way back they chose."""

    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="reentry_requests")
    account = models.ForeignKey(
        ServiceAccount, on_delete=models.PROTECT, related_name="reentry_requests"
    )
    optout = models.OneToOneField(OptOutRequest, on_delete=models.PROTECT, related_name="reentry")
    path = models.CharField(max_length=20, choices=ReturnPath.choices)
    notice_date = models.DateField(help_text="Business date the customer gave notice.")
    cca_service_until = models.DateField(
        null=True, blank=True, help_text="Last day on CCA service."
    )
    tbs_from = models.DateField(
        null=True, blank=True, help_text="Transitional bundled service starts (TBS path)."
    )
    tbs_until = models.DateField(
        null=True, blank=True, help_text="Last day at the TBS rate (TBS path)."
    )
    bundled_from = models.DateField(
        null=True, blank=True, help_text="First day on utility service."
    )
    standard_rates_from = models.DateField(null=True, blank=True)
    min_stay_months = models.PositiveSmallIntegerField()
    min_stay_until = models.DateField(
        null=True, blank=True, help_text="No rejoin before this date."
    )
    reentry_fee = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        default=Decimal("0.00"),
        help_text="The utility's re-entry fee (Program.reentry_fee); the utility bills it.",
    )
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = "re-entry request"
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"re-entry {self.account.account_number} ({self.get_path_display()})"


class RejoinRequest(models.Model):
    """A customer who opted out and opts back in."""

    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="rejoin_requests")
    account = models.ForeignKey(
        ServiceAccount, on_delete=models.PROTECT, related_name="rejoin_requests"
    )
    previous_optout = models.ForeignKey(
        OptOutRequest, null=True, blank=True, on_delete=models.PROTECT, related_name="rejoins"
    )
    confirmation_code = models.CharField(max_length=12, unique=True)
    channel = models.CharField(max_length=20, choices=Channel.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_name = models.CharField(max_length=150)
    received_at = models.DateTimeField()
    request_date = models.DateField()
    from_status = models.CharField(max_length=20)
    status_change = models.OneToOneField(
        StatusChange, on_delete=models.PROTECT, related_name="rejoin_request"
    )
    effective_date = models.DateField(
        null=True, blank=True, help_text="Meter-read date CCA service resumes."
    )
    entry_fee = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal("0.00"))
    product_code = models.CharField(max_length=40, blank=True)
    language = models.CharField(max_length=5, default="en")
    contact_email = models.EmailField(blank=True)
    note = models.TextField(blank=True)

    class Meta:
        verbose_name = "rejoin request"
        ordering = ["-received_at", "-id"]

    def __str__(self):
        return f"rejoin {self.confirmation_code} ({self.account.account_number})"


class CcasrExport(models.Model):
    """One outbound EDI interchange (one run of `export_ccasr`, or one phase's pre-enrollment
    opt-out list): the file sent to the utility, its control numbers and the utility's 997."""

    class Kind(models.TextChoices):
        CCASR = "ccasr", "Service requests (814)"
        PREENROLLMENT_OPTOUTS = "optouts", "Pre-enrollment opt-outs"
        ACK_997 = "997", "Our 997 for the utility's responses"

    class Ack(models.TextChoices):
        NONE = "", "Not acknowledged yet"
        ACCEPTED = "A", "Accepted (997)"
        ACCEPTED_WITH_ERRORS = "E", "Accepted with errors (997)"
        PARTIAL = "P", "Partially accepted (997)"
        REJECTED = "R", "Rejected (997)"

    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="ccasr_exports")
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.CCASR)
    file_name = models.CharField(max_length=500)
    created_at = models.DateTimeField()
    actor_name = models.CharField(max_length=150)
    requests = models.PositiveIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    interchange_control_number = models.PositiveIntegerField(null=True, blank=True)
    group_control_number = models.PositiveIntegerField(null=True, blank=True)
    ack_status = models.CharField(max_length=1, choices=Ack.choices, default=Ack.NONE, blank=True)
    ack_at = models.DateTimeField(null=True, blank=True)
    ack_file = models.CharField(max_length=500, blank=True)
    ack_note = models.TextField(blank=True)

    class Meta:
        verbose_name = "EDI interchange sent"
        verbose_name_plural = "EDI interchanges sent"
        ordering = ["-created_at", "-id"]
        constraints = [
            # Control numbers are drawn from the partner's row-locked counter: never twice.
            models.UniqueConstraint(
                fields=["program", "group_control_number"],
                condition=models.Q(group_control_number__isnull=False),
                name="ccasr_export_group_number_unique",
            ),
        ]

    def __str__(self):
        return f"{self.file_name} ({self.requests} requests)"


class EdiInterchangeIn(models.Model):
    """One file received from the utility and recorded (997s, 814 responses, enrollment
    notifications). The same bytes imported again are recognised here and recorded nothing."""

    class Kind(models.TextChoices):
        ACK_997 = "997", "Functional acknowledgement (997)"
        RESPONSE_814 = "814", "814 responses"
        ENROLLMENT = "enrollment", "Enrollment notifications"

    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="edi_received")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    file_name = models.CharField(max_length=500)
    sha256 = models.CharField(max_length=64)
    sender_id = models.CharField(max_length=15, blank=True)
    interchange_control_number = models.CharField(max_length=9, blank=True)
    imported_at = models.DateTimeField()
    actor_name = models.CharField(max_length=150)
    counts = models.JSONField(default=dict)

    class Meta:
        verbose_name = "EDI file received"
        verbose_name_plural = "EDI files received"
        ordering = ["-imported_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["program", "sha256"], name="edi_in_file_once"),
        ]

    def __str__(self):
        return f"{self.file_name} ({self.get_kind_display()})"


class EdiTransfer(models.Model):
    """One file moved to or from the trading partner (folder or SFTP), with what was moved."""

    class Direction(models.TextChoices):
        OUT = "out", "To the utility"
        IN = "in", "From the utility"

    class Method(models.TextChoices):
        FOLDER = "folder", "Exchange folder"
        SFTP = "sftp", "SFTP"

    class Result(models.TextChoices):
        OK = "ok", "Transferred"
        FAILED = "failed", "Failed"

    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="edi_transfers")
    file_name = models.CharField(max_length=500)
    direction = models.CharField(max_length=3, choices=Direction.choices)
    method = models.CharField(max_length=6, choices=Method.choices)
    remote = models.CharField(max_length=600, blank=True, help_text="host:path or the folder.")
    at = models.DateTimeField()
    bytes = models.PositiveBigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    result = models.CharField(max_length=6, choices=Result.choices)
    error = models.TextField(blank=True)

    class Meta:
        verbose_name = "EDI transfer"
        ordering = ["-at", "-id"]

    def __str__(self):
        return f"{self.direction} {self.file_name} ({self.result})"


# An account's live Connect: not withdrawn or rejected, and not followed by a Disconnect or
# Cancel. The one definition: the partial unique constraint one_live_connect_per_account below
# and every query for "the account's Connect" use it.
LIVE_CONNECT = models.Q(
    type="connect", superseded=False, status__in=["queued", "exported", "accepted"]
)


class ServiceRequest(models.Model):
    """A CCA service request (CCASR) to the utility: queued → exported → accepted / rejected."""

    class Type(models.TextChoices):
        CONNECT = "connect", "Connect"
        DISCONNECT = "disconnect", "Disconnect"
        UPDATE = "update", "Update"
        CANCEL = "cancel", "Cancel"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        WITHDRAWN = "withdrawn", "Withdrawn before sending"
        EXPORTED = "exported", "Sent to the utility"
        ACCEPTED = "accepted", "Accepted"
        REJECTED = "rejected", "Rejected"

    class Source(models.TextChoices):
        ENROLLMENT = "enrollment", "Mass enrollment"
        OPTOUT = "optout", "Opt-out"
        PRODUCT_CHANGE = "product_change", "Product change"
        REJOIN = "rejoin", "Rejoin"
        MOVE = "move", "Move within the territory"
        UTILITY = "utility", "Generated by the utility (mass enrollment)"
        RECONCILIATION = "reconciliation", "Enrollment reconciliation"

    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="service_requests")
    account = models.ForeignKey(
        ServiceAccount, on_delete=models.PROTECT, related_name="service_requests"
    )
    type = models.CharField(max_length=10, choices=Type.choices)
    source = models.CharField(max_length=16, choices=Source.choices)
    effective_date = models.DateField(
        null=True,
        blank=True,
        help_text="Blank until the read schedule reaches it; not exported before.",
    )
    product_code = models.CharField(max_length=40, blank=True)
    optout = models.ForeignKey(
        OptOutRequest,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="service_requests",
    )
    rejoin = models.ForeignKey(
        RejoinRequest,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="service_requests",
    )
    # A ForeignKey, not one-to-one: a rejected Cancel sent again is a second Cancel of the
    # same Connect.
    cancels = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="cancelled_by"
    )
    resends = models.OneToOneField(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="resent_as",
        help_text="The rejected request this one corrects and sends again.",
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    created_at = models.DateTimeField()
    export = models.ForeignKey(
        CcasrExport,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="service_requests",
    )
    exported_at = models.DateTimeField(null=True, blank=True)
    responded_at = models.DateTimeField(null=True, blank=True)
    response_file = models.CharField(max_length=500, blank=True)
    utility_reference = models.CharField(max_length=40, blank=True)
    rejection_code = models.CharField(max_length=20, blank=True)
    rejection_reason = models.TextField(blank=True)
    times_sent = models.PositiveSmallIntegerField(default=0)
    # An accepted Disconnect returns the account to bundled service on its effective date (a
    # meter read), not when the utility answers: the daily job applies it and stamps this once.
    took_effect_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the daily job applied the accepted Disconnect to the account.",
    )
    # A Connect stops being the account's live one when a Disconnect or Cancel follows it, so a
    # later rejoin may queue a new Connect (the constraint below allows one live Connect).
    superseded = models.BooleanField(default=False)
    note = models.TextField(blank=True)

    class Meta:
        verbose_name = "service request (CCASR)"
        verbose_name_plural = "service requests (CCASR)"
        ordering = ["-created_at", "-id"]
        constraints = [
            # One live Connect per account: mass enrollment run twice never sends two.
            models.UniqueConstraint(
                fields=["account"],
                condition=LIVE_CONNECT,
                name="one_live_connect_per_account",
            ),
        ]
        indexes = [models.Index(fields=["program", "status", "type"], name="ccasr_program_status")]

    def __str__(self):
        return f"#{self.pk} {self.get_type_display()} {self.account.account_number} ({self.status})"

    @property
    def reference(self) -> str:
        """The CCA's own reference (REF*TN) the utility's response quotes."""
        return str(self.pk)


class PreEnrollmentOptOut(models.Model):
    """A pre-enrollment opt-out told to a utility that generates the mass-enrollment Connects,
    once per account and phase (the list sent before the phase's enrollment)."""

    account = models.ForeignKey(
        ServiceAccount, on_delete=models.PROTECT, related_name="preenrollment_optouts_sent"
    )
    phase = models.ForeignKey(Phase, null=True, blank=True, on_delete=models.PROTECT)
    optout = models.ForeignKey(OptOutRequest, null=True, blank=True, on_delete=models.PROTECT)
    export = models.ForeignKey(CcasrExport, on_delete=models.PROTECT, related_name="optouts_sent")
    sent_at = models.DateTimeField()
    # The utility's 814 answer, when it sends one (its 997 is recorded on the export).
    answered_at = models.DateTimeField(null=True, blank=True)
    accepted = models.BooleanField(null=True, blank=True)
    rejection_code = models.CharField(max_length=20, blank=True)
    rejection_reason = models.TextField(blank=True)
    response_file = models.CharField(max_length=500, blank=True)

    class Meta:
        verbose_name = "pre-enrollment opt-out sent"
        constraints = [
            models.UniqueConstraint(fields=["account", "phase"], name="preenrollment_optout_once"),
        ]

    def __str__(self):
        return f"{self.account.account_number} opted out before {self.phase or 'enrollment'}"

    @property
    def reference(self) -> str:
        """REF*TN of the opt-out in the list: the utility's answer quotes it."""
        return f"OPT{self.optout_id}"


class EnrollmentReconciliation(models.Model):
    """The utility's enrollment of a phase checked against the registry (optouts.services.
    edi_reconciliation): what matched and what staff must look at."""

    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="reconciliations")
    phase = models.ForeignKey(Phase, null=True, blank=True, on_delete=models.PROTECT)
    file_name = models.CharField(max_length=500)
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    actor_name = models.CharField(max_length=150)
    counts = models.JSONField(default=dict)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.program.slug} {self.phase or 'all phases'} {self.created_at:%Y-%m-%d}"


class ReconciliationItem(models.Model):
    class Kind(models.TextChoices):
        OPTED_OUT_ENROLLED = "opted_out_enrolled", "Opted out, enrolled anyway: disconnected"
        UNKNOWN_ACCOUNT = "unknown_account", "Enrolled by the utility, unknown here"
        NOT_ENROLLED = "not_enrolled", "Eligible, not enrolled by the utility"

    reconciliation = models.ForeignKey(
        EnrollmentReconciliation, on_delete=models.CASCADE, related_name="items"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    account = models.ForeignKey(
        ServiceAccount, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    account_number = models.CharField(max_length=32)
    utility_date = models.DateField(null=True, blank=True)
    service_request = models.ForeignKey(
        "ServiceRequest", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["reconciliation", "kind", "account_number"]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.account_number}"


class Move(models.Model):
    """One line of a utility move file, as applied (optouts.services.moves)."""

    class Type(models.TextChoices):
        WITHIN = "within", "Within the territory"
        OUT = "out", "Out of the territory"
        IN = "in", "Into the territory (new customer)"

    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="moves")
    import_run = models.ForeignKey("accounts.ImportRun", on_delete=models.PROTECT, related_name="+")
    line = models.PositiveIntegerField()
    type = models.CharField(max_length=8, choices=Type.choices)
    move_date = models.DateField()
    old_account = models.ForeignKey(
        ServiceAccount, null=True, blank=True, on_delete=models.PROTECT, related_name="moves_from"
    )
    new_account = models.ForeignKey(
        ServiceAccount, null=True, blank=True, on_delete=models.PROTECT, related_name="moves_to"
    )
    status_kept = models.CharField(
        max_length=20, blank=True, help_text="Status carried to the new account (within)."
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "line"]

    def __str__(self):
        return f"{self.get_type_display()} line {self.line}"


class Confirmation(models.Model):
    """The confirmation a customer is owed for an opt-out, termination, re-entry or rejoin:
    due within Program.confirmation_days; sent by e-mail when there is an address, else a letter,
    and by SMS too when an opt-out gave a phone number. The outbox: nothing else sends them.
    A letter's PDF and the address it went to are kept as issued (never re-rendered)."""

    class Kind(models.TextChoices):
        OPTOUT = "optout", "Opt-out"
        TERMINATION = "termination", "Termination"
        REENTRY = "reentry", "Re-entry (six-month advance notice / TBS)"
        REJOIN = "rejoin", "Rejoin"

    class Method(models.TextChoices):
        EMAIL = "email", "E-mail"
        LETTER = "letter", "Letter"
        SMS = "sms", "SMS"  # beside an opt-out's e-mail or letter when it gave a phone number

    class Status(models.TextChoices):
        # e-mail, SMS: pending → sent. letter: pending → issued (PDF stored) → batched (in a
        # mail-house batch, with a piece ID) → mailed | returned (the mail house's report).
        PENDING = "pending", "Pending"
        SENT = "sent", "E-mail sent"
        ISSUED = "issued", "Letter issued (waiting for a mail batch)"
        BATCHED = "batched", "Letter in a mail batch"
        MAILED = "mailed", "Letter mailed"
        RETURNED = "returned", "Letter returned undeliverable"
        FAILED = "failed", "Failed: stopped retrying, needs staff"

    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="confirmations")
    account = models.ForeignKey(
        ServiceAccount, on_delete=models.PROTECT, related_name="confirmations"
    )
    kind = models.CharField(max_length=12, choices=Kind.choices)
    method = models.CharField(max_length=8, choices=Method.choices)
    optout = models.ForeignKey(
        OptOutRequest, null=True, blank=True, on_delete=models.PROTECT, related_name="confirmations"
    )
    reentry = models.ForeignKey(
        ReentryRequest,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="confirmations",
    )
    rejoin = models.ForeignKey(
        RejoinRequest, null=True, blank=True, on_delete=models.PROTECT, related_name="confirmations"
    )
    language = models.CharField(max_length=5, default="en")
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=20, blank=True)
    created_at = models.DateTimeField()
    due_date = models.DateField(help_text="Sent by this business date (Program.confirmation_days).")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    mailing_address = models.TextField(
        blank=True, help_text="The address the letter was printed with."
    )
    letter_pdf = models.BinaryField(null=True, blank=True, editable=False)
    letter_sha256 = models.CharField(max_length=64, blank=True)
    letter_pages = models.PositiveSmallIntegerField(null=True, blank=True)
    issued_at = models.DateTimeField(
        null=True, blank=True, help_text="When the letter PDF was rendered and stored."
    )
    batch = models.ForeignKey(
        "cca_notices.MailBatch",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="confirmations",
    )
    piece_id = models.CharField(
        max_length=31, blank=True, help_text="Mail-piece serial / IMb tracking code."
    )
    batched_at = models.DateTimeField(null=True, blank=True)
    mailed_on = models.DateField(
        null=True, blank=True, help_text="Business date the mail house mailed it."
    )
    returned_on = models.DateField(null=True, blank=True)
    return_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["optout", "kind", "method"],
                condition=models.Q(optout__isnull=False),
                name="one_confirmation_per_optout",
            ),
            models.UniqueConstraint(
                fields=["reentry"],
                condition=models.Q(reentry__isnull=False),
                name="one_confirmation_per_reentry",
            ),
            models.UniqueConstraint(
                fields=["rejoin"],
                condition=models.Q(rejoin__isnull=False),
                name="one_confirmation_per_rejoin",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "due_date"], name="confirmation_status_due"),
            models.Index(
                fields=["piece_id"], condition=~models.Q(piece_id=""), name="confirmation_piece"
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} confirmation by {self.method} ({self.status})"

    @property
    def batch_kind(self) -> str:
        """The mail-batch kind a letter goes in (cca_notices.models.LetterKind)."""
        return "reentry_advance_notice" if self.kind == self.Kind.REENTRY else "confirmation"

    @property
    def sent_on(self):
        """The date that counts for "sent within confirmation_days": the e-mail's (or SMS's)
        day, or the mail date of the letter's batch (None while not yet sent or batched)."""
        if self.method != self.Method.LETTER:
            return timezone.localdate(self.sent_at) if self.sent_at else None
        return self.batch.mail_date if self.batch_id else None

    @property
    def on_time(self):
        day = self.sent_on
        return None if day is None else day <= self.due_date
