"""Opt-out requests (issue: opt-out intake).

An `OptOutRequest` is written only by `optouts.services.intake.optout_submit`, in the same
transaction as the account's status change, and copies the decision it was made on (outcome,
dates, fee and the fee-schedule row) so the answer given to the customer can be proved later
even after the fee schedule or the read schedule changes.
"""
from decimal import Decimal

from django.conf import settings
from django.db import models

from accounts.models import Channel, FeeSchedule, Program, ServiceAccount, StatusChange


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
    """The two ways back to the utility after the free window (domain.md, "Re-entry")."""

    ADVANCE_NOTICE = "advance_notice", "Six-month advance notice, then standard bundled rates"
    TRANSITIONAL = "transitional", "Immediate return on transitional bundled service"


class ServiceRequestType(models.TextChoices):
    """The CCASR the opt-out sets in motion (the queue itself is issue 6)."""

    CANCEL = "cancel", "Cancel the pending Connect"
    DISCONNECT = "disconnect", "Disconnect"


class OptOutRequest(models.Model):
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="optout_requests")
    account = models.ForeignKey(ServiceAccount, on_delete=models.PROTECT, related_name="optout_requests")
    confirmation_code = models.CharField(max_length=12, unique=True)
    channel = models.CharField(max_length=20, choices=Channel.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    actor_name = models.CharField(max_length=150)
    received_at = models.DateTimeField(db_index=True)
    request_date = models.DateField(help_text="Business date the request counts from.")
    # False once the customer rejoins (issue 6): then a new opt-out may be recorded.
    is_current = models.BooleanField(default=True)

    # The decision, as told to the customer.
    outcome = models.CharField(max_length=24, choices=Outcome.choices)
    from_status = models.CharField(max_length=20)
    to_status = models.CharField(max_length=20)
    status_change = models.OneToOneField(StatusChange, null=True, blank=True, on_delete=models.PROTECT, related_name="optout_request")
    enrollment_date = models.DateField(null=True, blank=True)
    free_window_ends = models.DateField(null=True, blank=True)
    effective_date = models.DateField(null=True, blank=True, help_text="Meter-read date the change takes effect; blank when the read schedule does not reach it yet.")
    earliest_read_date = models.DateField(null=True, blank=True, help_text="The processing cutoff: the first read date the request could catch.")
    service_request = models.CharField(max_length=12, choices=ServiceRequestType.choices)
    fee_amount = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal("0.00"))
    admin_fee = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal("0.00"))
    cost_recovery_charge = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal("0.00"))
    fee_schedule = models.ForeignKey(FeeSchedule, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    return_path = models.CharField(max_length=20, choices=ReturnPath.choices, blank=True)
    bundled_from = models.DateField(null=True, blank=True, help_text="First day on utility (bundled) service.")
    standard_rates_from = models.DateField(null=True, blank=True)
    no_rejoin_until = models.DateField(null=True, blank=True, help_text="End of the minimum bundled stay.")

    language = models.CharField(max_length=5, default="en")
    contact_email = models.EmailField(blank=True)
    contact_phone = models.CharField(max_length=20, blank=True)
    note = models.TextField(blank=True)

    # Stub until the fee ledger (issue 6): a supervisor's waiver, with who and why.
    fee_waived = models.BooleanField(default=False)
    fee_waived_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    fee_waived_at = models.DateTimeField(null=True, blank=True)
    fee_waiver_reason = models.TextField(blank=True)

    confirmation_email_sent_at = models.DateTimeField(null=True, blank=True)
    confirmation_sms_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "opt-out request"
        ordering = ["-received_at", "-id"]
        constraints = [
            # The database's own guard for "exactly once": one current opt-out per account.
            models.UniqueConstraint(fields=["account"], condition=models.Q(is_current=True), name="one_current_optout_per_account"),
        ]
        indexes = [models.Index(fields=["program", "received_at", "id"], name="optout_program_received")]
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
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_unique")]


class RetentionAcceptance(models.Model):
    """A customer who chose the cheaper product instead of opting out (the retention step)."""

    account = models.ForeignKey(ServiceAccount, on_delete=models.CASCADE, related_name="+")
    from_product_code = models.CharField(max_length=40, blank=True)
    to_product_code = models.CharField(max_length=40)
    channel = models.CharField(max_length=20, choices=Channel.choices)
    at = models.DateTimeField(auto_now_add=True)
