"""The service-account registry: utilities, programs (CCAs), phases, tariffs, products, accounts.

Enrollment status is written only by `accounts.services.status`; every change leaves a
`StatusChange` row (who, when, channel, why) in the same transaction.
"""

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from accounts.validators import mailer_id_validate


class CustomerClass(models.TextChoices):
    """The seven classes of the implementation plan (docs/rules.md R-ACCOUNT)."""

    RESIDENTIAL = "residential", "Residential"
    SMALL_COMMERCIAL = "small_commercial", "Small commercial"
    MEDIUM_COMMERCIAL = "medium_commercial", "Medium commercial"
    LARGE_COMMERCIAL = "large_commercial", "Large commercial"
    INDUSTRIAL = "industrial", "Industrial"
    STREET_LIGHTING = "street_lighting", "Street lighting"
    AGRICULTURAL = "agricultural", "Agricultural & pumping"


class Status(models.TextChoices):
    ELIGIBLE = "eligible", "Eligible"
    NOTIFIED = "notified", "Notified"
    ENROLLED = "enrolled", "Enrolled"
    PARTICIPANT = "participant", "Participant"
    OPTED_OUT_PRE = "opted_out_pre", "Opted out before enrollment"
    OPTED_OUT_FREE = "opted_out_free", "Opted out in the free window"
    TERMINATED = "terminated", "Terminated after the free window"
    MOVED_OUT = "moved_out", "Moved out of the territory"
    RETURNED_BUNDLED = "returned_bundled", "Returned to bundled service"
    REJOINED = "rejoined", "Rejoined"


def status_label(value: str) -> str:
    """A status as staff read it ("opted_out_free" → "Opted out in the free window"); a code no
    longer defined is shown as stored, a blank (an account's first status) as "—"."""
    return Status(value).label if value in Status.values else (value or "—")


# Opted out: left CCA service by choice (a move out is not a choice, and not in this set).
OPTED_OUT_STATUSES = frozenset(
    {Status.OPTED_OUT_PRE, Status.OPTED_OUT_FREE, Status.TERMINATED, Status.RETURNED_BUNDLED}
)
# On CCA service.
ACTIVE_STATUSES = frozenset({Status.ENROLLED, Status.PARTICIPANT, Status.REJOINED})
# Not yet enrolled: a Connect may still be queued, and an opt-out costs nothing.
PRE_ENROLLMENT_STATUSES = frozenset({Status.ELIGIBLE, Status.NOTIFIED})


class Channel(models.TextChoices):
    """How a change reached us. Customer channels first, then staff and machine ones."""

    WEB = "web", "Web form"
    IVR = "ivr", "Telephone (IVR)"
    PHONE = "phone", "Call-centre agent"
    REPLY_CARD = "reply_card", "Reply card"
    UTILITY_TRANSFER = "utility_transfer", "Utility call-centre transfer"
    EMAIL = "email", "E-mail"
    API = "api", "API"
    ADMIN = "admin", "Staff (admin)"
    IMPORT = "import", "Data import"
    MAIL_HOUSE = "mail_house", "Mail-house report"
    UTILITY = "utility", "Utility file"
    SYSTEM = "system", "Scheduled task"


class Utility(models.Model):
    code = models.SlugField(
        max_length=16, unique=True, help_text="Short code, e.g. SCE, PGE, SDGE."
    )
    name = models.CharField(max_length=200)
    phone = models.CharField(max_length=32, blank=True)
    website = models.URLField(blank=True)

    class Meta:
        verbose_name_plural = "utilities"
        ordering = ["code"]

    def __str__(self):
        return self.name


class BusinessCalendar(models.TextChoices):
    """Named holiday calendars (accounts.services.calendar; docs/rules.md R-BUSINESS-DAYS)."""

    USPS = "usps", "USPS mailing days (federal holidays; a Saturday holiday is not moved)"
    FEDERAL = "federal", "Federal holidays as observed (5 U.S.C. 6103)"
    US_CA = "us_ca", "Federal and California holidays (a California utility)"
    CALIFORNIA = "california", "California state offices (Gov. Code 6700, 6701, 19853)"


class CalendarKind(models.TextChoices):
    """Which institution's days a date counts in: each program names a calendar for each."""

    MAIL = "mail", "Mail days (mail dates)"
    UTILITY = "utility", "Utility business days (cutoff, read dates)"
    OFFICE = "office", "CCA office days (the CCA's own deadlines)"


# The CPUC's 15/15 rule for releasing aggregated customer data (docs/admin.md, "The board
# report"): the floor of every program's threshold, which may only be stricter.
CPUC_MIN_CUSTOMERS = 15
CPUC_MAX_SHARE_PCT = Decimal("15")


class Program(models.Model):
    """A CCA's program and the settings that vary between programs (docs/rules.md)."""

    class CutoffUnit(models.TextChoices):
        CALENDAR = "calendar", "Calendar days"
        BUSINESS = "business", "Business days"

    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=200)
    short_name = models.CharField(max_length=60, blank=True)
    utility = models.ForeignKey(Utility, on_delete=models.PROTECT, related_name="programs")
    phone = models.CharField(
        max_length=32, blank=True, help_text="Customer service number (E.164)."
    )
    ivr_phone = models.CharField(max_length=32, blank=True, help_text="Opt-out line (E.164).")
    tty_phone = models.CharField(max_length=32, blank=True)
    call_centre_phone = models.CharField(
        max_length=32,
        blank=True,
        help_text="Where the IVR transfers a caller who asks for an agent.",
    )
    website = models.URLField(blank=True)
    email = models.EmailField(blank=True)
    return_address = models.TextField(
        blank=True, help_text="Printed on mailers; returns come back here."
    )
    languages = models.JSONField(
        default=list,
        blank=True,
        help_text="ISO 639-1 codes of the languages notices are published in.",
    )

    # Settings (docs/rules.md): the defaults are those of the CCA's implementation plan and its
    # notes.
    free_window_days = models.PositiveSmallIntegerField(default=60)
    cutoff_days = models.PositiveSmallIntegerField(
        default=15, help_text="Days before a meter read an opt-out must arrive to count for it."
    )
    cutoff_unit = models.CharField(
        max_length=10, choices=CutoffUnit.choices, default=CutoffUnit.CALENDAR
    )
    min_bundled_stay_months = models.PositiveSmallIntegerField(default=12)
    participant_after_days = models.PositiveSmallIntegerField(
        default=30,
        help_text="Days after the last notice when a customer becomes a full participant.",
    )
    accept_optouts_before_notice = models.BooleanField(default=True)
    optout_refusal_message = models.TextField(
        blank=True,
        help_text="Said to a customer whose opt-out arrives before the notice period opens.",
    )
    reentry_fee = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal("0.00"))
    large_customer_entry_fee = models.DecimalField(
        max_digits=10, decimal_places=2, default=Decimal("0.00")
    )
    confirmation_days = models.PositiveSmallIntegerField(default=7)
    mail_lead_business_days = models.PositiveSmallIntegerField(
        default=3, help_text="Business days before the mail date that a batch is built."
    )
    ccasr_response_days = models.PositiveSmallIntegerField(
        default=5,
        help_text="Utility business days after a CCASR is sent by which the utility answers; "
        "later, the staff home lists it as unanswered past the deadline.",
    )
    mail_calendar = models.CharField(
        max_length=16,
        choices=BusinessCalendar.choices,
        default=BusinessCalendar.USPS,
        help_text="The days the mail house can drop mail: mail dates fall on these.",
    )
    utility_calendar = models.CharField(
        max_length=16,
        choices=BusinessCalendar.choices,
        default=BusinessCalendar.US_CA,
        help_text="The utility's business days: a cutoff in business days counts these.",
    )
    office_calendar = models.CharField(
        max_length=16,
        choices=BusinessCalendar.choices,
        default=BusinessCalendar.CALIFORNIA,
        help_text="The CCA's office days, for the CCA's own deadlines.",
    )
    notice_rule_set = models.CharField(
        max_length=40,
        default="ca_rule23",
        help_text="Code of the notice rule set this program follows.",
    )
    mailer_id = models.CharField(
        max_length=9,
        blank=True,
        validators=[mailer_id_validate],
        help_text="USPS Mailer ID for Intelligent Mail barcodes: 6 digits not starting with 9, "
        "or 9 digits starting with 9.",
    )

    # The board report's threshold: the CPUC's 15/15 rule, or stricter where the CCA's
    # implementation plan or data-release policy says so (optouts.services.suppression).
    suppression_min_customers = models.PositiveSmallIntegerField(
        default=CPUC_MIN_CUSTOMERS,
        validators=[MinValueValidator(CPUC_MIN_CUSTOMERS)],
        help_text="The board report releases a figure only if it covers at least this many "
        "customers (15 or more: the CPUC's 15/15 rule).",
    )
    suppression_max_share_pct = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        default=CPUC_MAX_SHARE_PCT,
        validators=[MinValueValidator(Decimal("0.01")), MaxValueValidator(CPUC_MAX_SHARE_PCT)],
        help_text="… and only if no single customer is more than this percent of an amount "
        "(at most 15: the CPUC's 15/15 rule).",
    )

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            # Whatever writes a program (file, admin, shell): never looser than the CPUC's rule.
            models.CheckConstraint(
                condition=models.Q(suppression_min_customers__gte=CPUC_MIN_CUSTOMERS)
                & models.Q(suppression_max_share_pct__gt=0)
                & models.Q(suppression_max_share_pct__lte=CPUC_MAX_SHARE_PCT),
                name="program_suppression_cpuc_floor",
            ),
            # The called number decides a call's program (optouts.services.lookup): one line
            # shared by two programs would put a caller's opt-out in either.
            models.UniqueConstraint(
                fields=["ivr_phone"],
                condition=~models.Q(ivr_phone=""),
                name="program_ivr_phone_unique",
            ),
        ]

    def __str__(self):
        return self.name


class Closure(models.Model):
    """A day the program file closes on one of the program's calendars (an office closure, a
    mail-house shutdown): not a business day there, whatever its holiday calendar says."""

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="closures")
    date = models.DateField()
    calendar = models.CharField(max_length=10, choices=CalendarKind.choices)
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["program", "date", "calendar"]
        constraints = [
            models.UniqueConstraint(fields=["program", "date", "calendar"], name="closure_unique")
        ]

    def __str__(self):
        return f"{self.date} closed ({self.get_calendar_display()})"


class Phase(models.Model):
    class Rule(models.TextChoices):
        FILE = "file", "As given in the eligible-customer file"
        CUSTOMER_CLASS = "customer_class", "By customer class"
        RATE_SCHEDULE = "rate_schedule", "By rate schedule"
        CITY = "city", "By service city"

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="phases")
    name = models.CharField(max_length=60)
    number = models.PositiveSmallIntegerField(default=1)
    enrollment_start = models.DateField(
        help_text=(
            "First day of the enrollment window; each account enrolls on its first meter read "
            "inside the window."
        )
    )
    enrollment_end = models.DateField()
    rule = models.CharField(max_length=20, choices=Rule.choices, default=Rule.FILE)
    rule_values = models.JSONField(
        default=list,
        blank=True,
        help_text="Classes, rate schedules or cities assigned to this phase.",
    )
    notices_scheduled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["program", "number"]
        constraints = [
            models.UniqueConstraint(fields=["program", "name"], name="phase_name_unique"),
            models.CheckConstraint(
                condition=models.Q(enrollment_end__gte=models.F("enrollment_start")),
                name="phase_window_ordered",
            ),
        ]

    def __str__(self):
        return f"{self.program.slug} / {self.name}"


class RateSchedule(models.Model):
    """A utility tariff; the code decides the customer class."""

    utility = models.ForeignKey(Utility, on_delete=models.CASCADE, related_name="rate_schedules")
    code = models.CharField(max_length=32)
    customer_class = models.CharField(max_length=20, choices=CustomerClass.choices)
    description = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["utility", "code"]
        constraints = [
            models.UniqueConstraint(fields=["utility", "code"], name="rate_schedule_unique")
        ]

    def __str__(self):
        return self.code


class Product(models.Model):
    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="products")
    code = models.SlugField(max_length=40)
    name = models.CharField(max_length=100)
    renewable_pct = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal("0"))
    carbon_free_pct = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal("0"))
    is_default = models.BooleanField(default=False)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["program", "-is_default", "code"]
        constraints = [
            models.UniqueConstraint(fields=["program", "code"], name="product_code_unique"),
            models.UniqueConstraint(
                fields=["program"], condition=models.Q(is_default=True), name="one_default_product"
            ),
        ]

    def __str__(self):
        return self.name


class ReadDate(models.Model):
    """One scheduled meter read of one read cycle (the utility's meter-read schedule)."""

    utility = models.ForeignKey(Utility, on_delete=models.CASCADE, related_name="read_dates")
    read_cycle = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(99)]
    )
    read_date = models.DateField()

    class Meta:
        ordering = ["utility", "read_cycle", "read_date"]
        constraints = [
            models.UniqueConstraint(
                fields=["utility", "read_cycle", "read_date"], name="read_date_unique"
            )
        ]

    def __str__(self):
        return f"cycle {self.read_cycle} {self.read_date}"


class ImportRun(models.Model):
    """One load of a utility file: who, when, what file, what came of it."""

    class Kind(models.TextChoices):
        ACCOUNTS = "accounts", "Eligible customers"
        READ_SCHEDULE = "read_schedule", "Meter-read schedule"
        MOVES = "moves", "Moves"

    class Outcome(models.TextChoices):
        RUNNING = "running", "Running"
        LOADED = "loaded", "Loaded"
        REJECTED = "rejected", "Rejected (nothing written)"
        PARTIAL = "partial", "Loaded, bad rows skipped"
        FAILED = "failed", "Failed"

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="import_runs")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    file_name = models.CharField(max_length=500)
    sha256 = models.CharField(max_length=64, blank=True)
    actor = models.CharField(max_length=150, help_text="User or process that ran the import.")
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.RUNNING)
    rows = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    status_kept = models.PositiveIntegerField(
        default=0,
        help_text=(
            "Rows whose status would have moved the account backwards or re-enrolled it; "
            "the status was kept."
        ),
    )
    reject_file = models.CharField(max_length=500, blank=True)
    message = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self):
        return f"{self.get_kind_display()} {self.file_name} ({self.started_at:%Y-%m-%d %H:%M})"


class ServiceAccount(models.Model):
    """A service agreement: the unit of enrollment."""

    # A million-row load pays a foreign-key trigger per row and key; these references are written
    # only by code that takes them from the program's own rows, so the database checks are left
    # off (Django still enforces on_delete) and the load stays set-based (docs/performance.md).
    program = models.ForeignKey(
        Program,
        on_delete=models.PROTECT,
        related_name="accounts",
        db_index=False,
        db_constraint=False,
    )
    account_number = models.CharField(max_length=32)
    customer_name = models.CharField(max_length=200)
    service_address = models.CharField(max_length=200)
    service_city = models.CharField(max_length=100)
    service_zip = models.CharField(max_length=10)
    mailing_address = models.CharField(max_length=200)
    mailing_city = models.CharField(max_length=100)
    mailing_state = models.CharField(max_length=2)
    mailing_zip = models.CharField(max_length=10)
    customer_class = models.CharField(max_length=20, choices=CustomerClass.choices)
    rate_schedule = models.CharField(max_length=32)
    read_cycle = models.PositiveSmallIntegerField()
    language = models.CharField(max_length=5, default="en")
    email = models.CharField(max_length=254, blank=True)
    phone = models.CharField(max_length=20, blank=True, help_text="E.164")
    care = models.BooleanField(default=False)
    nem = models.BooleanField(default=False)
    medical_baseline = models.BooleanField(default=False)
    direct_access = models.BooleanField(default=False)
    phase = models.ForeignKey(
        Phase,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="accounts",
        db_index=False,
        db_constraint=False,
    )
    product = models.ForeignKey(
        Product,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="accounts",
        db_index=False,
        db_constraint=False,
    )

    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ELIGIBLE)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    enrollment_date = models.DateField(
        null=True, blank=True, help_text="Date CCA service starts (a meter-read date)."
    )
    service_start_date = models.DateField(
        null=True, blank=True, help_text="For new customers: when utility service started."
    )
    opt_out_code = models.CharField(
        max_length=12, help_text="Personal code printed on mailers (unique)."
    )
    # Upper-cased name + service address + ZIP, so an opted-out customer who reappears under a
    # new account number at the same premises is recognised (docs/rules.md R-NO-REENROLL).
    customer_key = models.CharField(max_length=64)
    address_needs_repair = models.BooleanField(default=False)
    # The account's first history entry: who loaded it, when, from which file (its status history
    # starts with its first change; an account a file creates as plain `eligible` has none yet).
    import_run = models.ForeignKey(
        ImportRun,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        db_constraint=False,
        verbose_name="created by import run",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["program", "account_number"]
        constraints = [
            models.UniqueConstraint(
                fields=["program", "account_number"], name="account_number_unique"
            ),
            models.UniqueConstraint(fields=["opt_out_code"], name="account_opt_out_code_unique"),
        ]
        # Name and address search use trigram indexes on PostgreSQL (migration 0002; docs/admin.md).
        indexes = [
            models.Index(fields=["program", "status"], name="account_program_status"),
            models.Index(fields=["program", "phase", "read_cycle"], name="account_phase_cycle"),
            models.Index(fields=["phone"], name="account_phone"),
            # Looked up only among accounts that opted out (never re-enroll them under a new
            # number).
            models.Index(
                fields=["program", "customer_key"],
                name="account_optedout_customer",
                # In declaration order, as migration 0005 states the list.
                condition=models.Q(status__in=[s.value for s in Status if s in OPTED_OUT_STATUSES]),
            ),
            # The staff home's "returned mail waiting for address repair": few rows, so partial.
            models.Index(
                fields=["program"],
                name="account_address_repair",
                condition=models.Q(address_needs_repair=True),
            ),
        ]

    def __str__(self):
        return f"{self.account_number} {self.customer_name}"

    @property
    def is_opted_out(self) -> bool:
        return self.status in OPTED_OUT_STATUSES

    @property
    def cca_service_start(self) -> dt.date | None:
        """When CCA service starts: the enrollment read, or for a new customer (who is on CCA
        service from the day utility service starts) its service start date."""
        return self.enrollment_date or self.service_start_date

    def free_window_ends(self) -> dt.date | None:
        """The last day the customer may leave without a fee; None while the start is unknown."""
        start = self.cca_service_start
        return start + dt.timedelta(days=self.program.free_window_days) if start else None


class StatusChange(models.Model):
    """Audit row for one enrollment-status change. Written only by accounts.services.status."""

    # Accounts are never deleted (the admin refuses it); the audit trail of a million-row load is
    # written set-based, without a per-row foreign-key trigger (docs/performance.md).
    account = models.ForeignKey(
        ServiceAccount,
        on_delete=models.PROTECT,
        related_name="status_changes",
        db_index=False,
        db_constraint=False,
    )
    from_status = models.CharField(
        max_length=20, blank=True, help_text="Blank when the account was created."
    )
    to_status = models.CharField(max_length=20, choices=Status.choices)
    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_name = models.CharField(
        max_length=150, help_text="User name or process, kept even if the user is removed."
    )
    channel = models.CharField(max_length=20, choices=Channel.choices)
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["account", "at", "id"]
        indexes = [models.Index(fields=["account", "at"], name="statuschange_account_at")]

    def __str__(self):
        return f"{self.account_id}: {self.from_status_label} → {self.to_status_label}"

    @property
    def from_status_label(self) -> str:
        return status_label(self.from_status)

    @property
    def to_status_label(self) -> str:
        return status_label(self.to_status)


class FeeSchedule(models.Model):
    """Termination fee for one class from a date on: administrative fee + cost recovery charge.

    Rows are never edited once in force; a change is a new row with a later effective date, so
    a fee assessed (and the notices that disclosed it) can always be traced to the row used.
    """

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="fee_schedules")
    customer_class = models.CharField(max_length=20, choices=CustomerClass.choices)
    effective_from = models.DateField()
    admin_fee = models.DecimalField(max_digits=10, decimal_places=2)
    cost_recovery_charge = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        default=Decimal("0.00"),
        help_text="Set yearly by the board (docs/rules.md R-FEE).",
    )
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["program", "customer_class", "-effective_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["program", "customer_class", "effective_from"], name="fee_schedule_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(admin_fee__gte=0) & models.Q(cost_recovery_charge__gte=0),
                name="fee_not_negative",
            ),
        ]

    def __str__(self):
        return f"{self.get_customer_class_display()} from {self.effective_from}: {self.total}"

    @property
    def total(self) -> Decimal:
        return self.admin_fee + self.cost_recovery_charge


# docs/rules.md R-FEE: administrative fee by class (the default schedule).
DEFAULT_ADMIN_FEES = {
    CustomerClass.RESIDENTIAL: Decimal("5.00"),
    CustomerClass.SMALL_COMMERCIAL: Decimal("5.00"),
    CustomerClass.MEDIUM_COMMERCIAL: Decimal("10.00"),
    CustomerClass.LARGE_COMMERCIAL: Decimal("25.00"),
    CustomerClass.INDUSTRIAL: Decimal("25.00"),
    CustomerClass.STREET_LIGHTING: Decimal("10.00"),
    CustomerClass.AGRICULTURAL: Decimal("10.00"),
}


# --- Joint Rate Comparison and power content --------------------------------------------------
# Loaded by accounts.services.jrc from the CSVs of docs/formats/jrc.md; printed in every mailer.
# Rows are replaced, never edited by hand: a new rate is a new row with a later effective date, so
# a letter mailed on a day can always be traced to the rows in force that day.


class JrcRow(models.Model):
    """One line of a Joint Rate Comparison: a rate schedule, a CCA product, from a date on.

    Rates are $/kWh. The utility's side is generation + delivery; the CCA customer's side is the
    CCA's generation + the utility's PCIA and franchise fee surcharge + the same delivery charge.
    """

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="jrc_rows")
    rate_schedule = models.CharField(max_length=32)
    customer_class = models.CharField(max_length=20, choices=CustomerClass.choices)
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="jrc_rows")
    effective_from = models.DateField()
    avg_monthly_kwh = models.DecimalField(max_digits=10, decimal_places=0)
    utility_generation_rate = models.DecimalField(max_digits=8, decimal_places=5)
    delivery_rate = models.DecimalField(max_digits=8, decimal_places=5)
    pcia = models.DecimalField(
        max_digits=8,
        decimal_places=5,
        help_text="Power Charge Indifference Adjustment, $/kWh (may be negative).",
    )
    franchise_fee = models.DecimalField(
        max_digits=8, decimal_places=5, help_text="Franchise fee surcharge, $/kWh."
    )
    cca_generation_rate = models.DecimalField(max_digits=8, decimal_places=5)
    utility_monthly_bill = models.DecimalField(max_digits=12, decimal_places=2)
    cca_monthly_bill = models.DecimalField(max_digits=12, decimal_places=2)
    difference = models.DecimalField(
        max_digits=12, decimal_places=2, help_text="CCA bill minus utility bill, $."
    )
    difference_pct = models.DecimalField(
        max_digits=6, decimal_places=1, help_text="Difference as % of the utility bill."
    )
    source_file = models.CharField(max_length=500, blank=True)
    imported_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["program", "customer_class", "rate_schedule", "product", "-effective_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["program", "rate_schedule", "product", "effective_from"],
                name="jrc_row_unique",
            ),
            models.CheckConstraint(
                condition=models.Q(avg_monthly_kwh__gt=0), name="jrc_usage_positive"
            ),
        ]
        indexes = [
            models.Index(
                fields=["program", "customer_class", "effective_from"], name="jrc_program_class"
            )
        ]

    def __str__(self):
        return f"{self.rate_schedule} / {self.product_id} from {self.effective_from}"


class PowerContentLabel(models.Model):
    """A power content label for one year: a CCA product's or the utility's (source='utility')."""

    UTILITY = "utility"

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="power_content")
    year = models.PositiveSmallIntegerField(help_text="Reporting year of the label.")
    source = models.CharField(
        max_length=40, help_text="A product code of the program, or 'utility'."
    )
    name = models.CharField(max_length=100)
    renewable_pct = models.DecimalField(max_digits=5, decimal_places=1)
    carbon_free_pct = models.DecimalField(max_digits=5, decimal_places=1)
    ghg_lbs_per_mwh = models.DecimalField(
        max_digits=7, decimal_places=0, help_text="GHG emissions intensity, lbs CO2e/MWh."
    )
    source_file = models.CharField(max_length=500, blank=True)
    imported_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["program", "-year", "source"]
        constraints = [
            models.UniqueConstraint(
                fields=["program", "year", "source"], name="power_content_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(
                    renewable_pct__gte=0,
                    renewable_pct__lte=100,
                    carbon_free_pct__gte=0,
                    carbon_free_pct__lte=100,
                    ghg_lbs_per_mwh__gte=0,
                ),
                name="power_content_range",
            ),
        ]

    def __str__(self):
        return f"{self.name} {self.year}"


class ProgramAccess(models.Model):
    """The programs a staff user may see: the admin's lists, the agent screens, the letter
    previews and the API are scoped to them (accounts.access). A superuser sees every program;
    any other user with no row sees none."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="program_access"
    )
    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="staff_access")
    granted_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "program access"
        verbose_name_plural = "program access"
        constraints = [
            models.UniqueConstraint(fields=["user", "program"], name="program_access_unique")
        ]

    def __str__(self):
        return f"{self.user} → {self.program}"


from accounts.audit_log import AuditEntry  # noqa: E402, F401  (the audit log's model)


class TradingPartner(models.Model):
    """The EDI trading-partner profile between a program (the CCA) and its utility: identifiers,
    code values, separators, who sends mass-enrollment Connects, and how files travel
    (docs/formats/ccasr-edi.md). One per program; loaded from the program file's
    [trading_partner] table. The control-number counters are row-locked when drawn
    (accounts.services.trading_partners)."""

    class Usage(models.TextChoices):
        TEST = "T", "Test"
        PRODUCTION = "P", "Production"

    class ConnectsBy(models.TextChoices):
        UTILITY = "utility", "The utility generates them (SCE's practice)"
        CCA = "cca", "The CCA sends them"

    class OptOutForm(models.TextChoices):
        CSV = "csv", "Opt-out list (CSV)"
        EDI = "edi", "EDI 814"

    program = models.OneToOneField(
        Program, on_delete=models.CASCADE, related_name="trading_partner"
    )
    x12_version = models.CharField(
        max_length=6, default="004010", help_text="GS08; ISA12 is its first five digits."
    )
    usage = models.CharField(max_length=1, choices=Usage.choices, default=Usage.TEST)
    sender_id_qualifier = models.CharField(max_length=2, default="ZZ")
    sender_id = models.CharField(max_length=15, help_text="The CCA's interchange ID (ISA06).")
    receiver_id_qualifier = models.CharField(max_length=2, default="ZZ")
    receiver_id = models.CharField(max_length=15, help_text="The utility's interchange ID (ISA08).")
    application_sender_code = models.CharField(
        max_length=15, blank=True, help_text="GS02; blank: the sender ID."
    )
    application_receiver_code = models.CharField(
        max_length=15, blank=True, help_text="GS03; blank: the receiver ID."
    )
    cca_id_qualifier = models.CharField(max_length=2, default="1", help_text="N103 (1 = DUNS).")
    cca_id = models.CharField(max_length=80, blank=True, help_text="N104 for the CCA.")
    utility_id_qualifier = models.CharField(max_length=2, default="1")
    utility_id = models.CharField(max_length=80, blank=True, help_text="N104 for the utility.")
    element_separator = models.CharField(max_length=1, default="*")
    component_separator = models.CharField(max_length=1, default=">")
    segment_terminator = models.CharField(max_length=1, default="~")
    codes = models.JSONField(
        default=dict, blank=True, help_text="Code values that differ from the defaults."
    )
    mass_enrollment_connects = models.CharField(
        max_length=8, choices=ConnectsBy.choices, default=ConnectsBy.UTILITY
    )
    preenrollment_optouts = models.CharField(
        max_length=4,
        choices=OptOutForm.choices,
        default=OptOutForm.CSV,
        help_text="How pre-enrollment opt-outs reach a utility that generates the Connects.",
    )
    acknowledge_responses = models.BooleanField(
        default=True, help_text="Answer each group of 814 responses received with a 997."
    )
    folder = models.CharField(
        max_length=500, blank=True, help_text="Local exchange folder; blank: var/edi/<program>."
    )
    sftp_host = models.CharField(max_length=255, blank=True)
    sftp_port = models.PositiveIntegerField(default=22)
    sftp_username = models.CharField(max_length=100, blank=True)
    sftp_key_file = models.CharField(
        max_length=500, blank=True, help_text="Path of the private key file (never the key)."
    )
    sftp_known_hosts = models.CharField(
        max_length=500, blank=True, help_text="Path of the known_hosts file that names the host."
    )
    sftp_put_dir = models.CharField(max_length=255, default="inbound")
    sftp_get_dir = models.CharField(max_length=255, default="outbound")
    last_interchange_control_number = models.PositiveIntegerField(default=0)
    last_group_control_number = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = "EDI trading partner"

    def __str__(self):
        return f"{self.program.slug} ↔ {self.receiver_id}"

    @property
    def utility_generates_connects(self) -> bool:
        return self.mass_enrollment_connects == self.ConnectsBy.UTILITY


class TallyRefresh(models.Model):
    """When a program's pre-aggregated dashboard tally (`AccountTally`, cca_notices'
    `NoticeTally`) was last rebuilt: the dashboard reads a tally only while this is recent
    (accounts.services.tally; docs/admin.md, "How fresh the figures are")."""

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=20, help_text="Which tally: accounts or notices.")
    as_of = models.DateTimeField(
        help_text="Every change committed before this moment is counted in the tally."
    )
    seconds = models.FloatField(default=0, help_text="How long the last rebuild took.")
    groups = models.PositiveIntegerField(default=0, help_text="Rows the last rebuild wrote.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["program", "name"], name="tally_refresh_unique")
        ]

    def __str__(self):
        return f"{self.name} tally of program {self.program_id} as of {self.as_of}"


class AccountTally(models.Model):
    """Accounts per program, phase, customer class, service city and status: the groups the
    dashboard's and the board report's opt-out rates roll up, rebuilt set-based from the
    accounts (accounts.services.account_tally), never edited row by row."""

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="+")
    # A plain id: a deleted phase's groups stay until the next rebuild, named "No phase" then.
    phase = models.ForeignKey(
        Phase,
        null=True,
        on_delete=models.DO_NOTHING,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    customer_class = models.CharField(max_length=20, choices=CustomerClass.choices)
    service_city = models.CharField(max_length=100)
    status = models.CharField(max_length=20, choices=Status.choices)
    accounts = models.PositiveIntegerField()

    def __str__(self):
        return f"{self.accounts} {self.status} in {self.service_city}"
