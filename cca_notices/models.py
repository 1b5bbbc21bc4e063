"""Notices: rule sets, scheduled notices, mail batches and the audit of schedule changes.

A notice's due date (`mail_date`) is stored when it is scheduled, so the daily work and the mail
batches pick up everything due or overdue; a notice already in a batch or mailed is never moved.
"""

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from accounts.models import Phase, Program, ServiceAccount


class NoticeKind(models.TextChoices):
    """Export names (interfaces.md). Legacy rule sets may add a third post-enrollment notice."""

    PRE_ENROLLMENT_1 = "pre_enrollment_1", "Pre-enrollment notice 1"
    PRE_ENROLLMENT_2 = "pre_enrollment_2", "Pre-enrollment notice 2"
    POST_ENROLLMENT_1 = "post_enrollment_1", "Post-enrollment notice 1"
    POST_ENROLLMENT_2 = "post_enrollment_2", "Post-enrollment notice 2"
    POST_ENROLLMENT_3 = "post_enrollment_3", "Post-enrollment notice 3"
    NEW_CUSTOMER_1 = "new_customer_1", "New-customer notice 1"
    NEW_CUSTOMER_2 = "new_customer_2", "New-customer notice 2"


MAX_PRE, MAX_POST, MAX_NEW = 2, 3, 2


class LetterKind(models.TextChoices):
    """Mail batches of one-off letters issued by the opt-out app (optouts.Confirmation): their
    PDFs are rendered once when issued and only concatenated into the batch."""

    CONFIRMATION = "confirmation", "Confirmation letters (opt-out, termination, rejoin)"
    REENTRY_ADVANCE_NOTICE = (
        "reentry_advance_notice",
        "Six-Month Advance Notice to Return to Bundled Portfolio Service",
    )


BATCH_KIND_CHOICES = NoticeKind.choices + LetterKind.choices


class RuleSet(models.Model):
    """When notices go out, as data: a program names its rule set by `code`.

    Offsets are calendar days. Post-enrollment notice k is mailed in the k-th billing cycle after
    enrollment (the days from the (k-1)-th meter read after enrollment, the enrollment read being
    the 0-th, up to the k-th), `post_lag_days` after the read that opens that cycle.
    """

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=200)
    source = models.CharField(max_length=300, blank=True, help_text="Where the rule comes from.")
    description = models.TextField(blank=True)

    pre_offsets = models.JSONField(
        default=list,
        blank=True,
        help_text=(
            "Days before enrollment for each pre-enrollment notice, earliest first, e.g. [60, 30]."
        ),
    )
    pre_window_days = models.PositiveSmallIntegerField(
        default=60, help_text="Pre-enrollment notices fall within this many days before enrollment."
    )
    pre_min_lead_days = models.PositiveSmallIntegerField(
        default=1,
        help_text="The last pre-enrollment notice is at least this many days before enrollment.",
    )
    post_count = models.PositiveSmallIntegerField(
        default=2, help_text="Post-enrollment notices, one per consecutive billing cycle."
    )
    post_lag_days = models.PositiveSmallIntegerField(
        default=3,
        help_text="Days after the read opening a billing cycle that its notice is mailed.",
    )
    post_window_days = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text=(
            "Post-enrollment notices fall within this many days after enrollment "
            "(blank: only the billing-cycle rule)."
        ),
    )
    new_customer_offsets = models.JSONField(
        default=list,
        blank=True,
        help_text="Days after service starts for each new-customer notice, e.g. [10, 40].",
    )
    new_customer_window_days = models.PositiveSmallIntegerField(default=60)
    min_gap_days = models.PositiveSmallIntegerField(
        default=7, help_text="Two notices of one track are at least this many days apart."
    )
    free_window_days = models.PositiveSmallIntegerField(
        default=60, help_text="Opt-out without fee after enrollment, as the notices state it."
    )

    class Meta:
        ordering = ["code"]

    def __str__(self):
        return self.name

    def clean(self):
        errors = {}
        for field, limit in (("pre_offsets", MAX_PRE), ("new_customer_offsets", MAX_NEW)):
            value = getattr(self, field)
            if not isinstance(value, list) or not all(isinstance(v, int) and v >= 0 for v in value):
                errors[field] = "must be a list of whole days, e.g. [60, 30]"
            elif len(value) > limit:
                errors[field] = f"at most {limit} notices"
        if isinstance(self.pre_offsets, list) and self.pre_offsets != sorted(
            self.pre_offsets, reverse=True
        ):
            errors["pre_offsets"] = "list the earliest notice first (largest number of days first)"
        if isinstance(self.new_customer_offsets, list) and self.new_customer_offsets != sorted(
            self.new_customer_offsets
        ):
            errors["new_customer_offsets"] = (
                "list the earliest notice first (smallest number of days first)"
            )
        if not 1 <= self.post_count <= MAX_POST:
            errors["post_count"] = f"between 1 and {MAX_POST}"
        if errors:
            raise ValidationError(errors)


class MailBatch(models.Model):
    """One mail batch handed to the mail house: a folder of print files, a data CSV and a
    manifest (docs/formats/mail-house.md), built by cca_notices.services.batches."""

    class Via(models.TextChoices):
        COMMAND = "command", "build_mail_batch command"
        BEAT = "beat", "Daily task"
        ADMIN = "admin", "Admin"

    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="mail_batches")
    kind = models.CharField(max_length=30, choices=BATCH_KIND_CHOICES)
    mail_date = models.DateField()
    reference = models.CharField(
        max_length=64, unique=True, help_text="Printed on the file and the mail-house report."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=150, help_text="User or process that built the batch.")
    built_via = models.CharField(max_length=10, choices=Via.choices, default=Via.COMMAND)
    piece_count = models.PositiveIntegerField(default=0, help_text="Letters (mail pieces).")
    notice_count = models.PositiveIntegerField(
        default=0, help_text="Notices in the batch, merged ones included."
    )
    merged_count = models.PositiveIntegerField(
        default=0, help_text="Notices merged into another account's letter (same name and address)."
    )
    excluded_count = models.PositiveIntegerField(
        default=0,
        help_text="Due notices cancelled at the build (direct access, opted out, moved out).",
    )
    page_count = models.PositiveIntegerField(default=0)
    mailer_id = models.CharField(max_length=9, blank=True)
    first_serial = models.BigIntegerField(
        null=True,
        blank=True,
        help_text="IMb serial of the first piece; the pieces follow in print order.",
    )
    folder = models.CharField(
        max_length=500, blank=True, help_text="Where the files were last written (server path)."
    )
    files_written_at = models.DateTimeField(null=True, blank=True)
    # The writer's lease: one process assembles the folder at a time; a writer killed mid-batch
    # leaves it to expire and the next run (cca_notices.services.batch_files) resumes the write.
    write_claimed_at = models.DateTimeField(null=True, blank=True, editable=False)
    mailed_at = models.DateTimeField(
        null=True, blank=True, help_text="When the mail house confirmed mailing."
    )
    meta = models.JSONField(default=dict, blank=True, help_text="File names, checksums, counts.")

    class Meta:
        ordering = ["-mail_date", "reference"]
        verbose_name_plural = "mail batches"
        permissions = [("download_mailbatch", "Can download mail-batch files")]

    def __str__(self):
        return self.reference

    @property
    def is_letter_batch(self) -> bool:
        return self.kind in LetterKind.values


class MailBatchFile(models.Model):
    """One letters PDF of a batch being written: the unit of work the batch's writer and the
    Celery workers claim (with a lease) and render into the batch's staging folder."""

    batch = models.ForeignKey(MailBatch, on_delete=models.CASCADE, related_name="file_parts")
    index = models.PositiveIntegerField(help_text="1, 2, …: the file's number in the batch.")
    first_sequence = models.PositiveIntegerField()
    letters = models.PositiveIntegerField()
    claimed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    done_at = models.DateTimeField(null=True, blank=True)
    result = models.JSONField(default=dict, blank=True, help_text="Pages, counts, checksum.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["batch", "index"], name="mail_batch_file_unique")
        ]

    def __str__(self):
        return f"{self.batch_id} file {self.index}"


class ImbSerialCounter(models.Model):
    """The next IMb serial of one USPS mailer ID, shared by every program mailing under it, so
    two batches never print the same serial (USPS asks for 45 days; this never repeats one until
    the mailer ID's serial range wraps round)."""

    mailer_id = models.CharField(max_length=9, unique=True)
    next_value = models.BigIntegerField(
        default=0, help_text="Serials handed out so far; the serial is this modulo the range."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "IMb serial counter"

    def __str__(self):
        return f"{self.mailer_id}: {self.next_value}"


class Notice(models.Model):
    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        BATCHED = "batched", "In a mail batch"
        MAILED = "mailed", "Mailed"
        RETURNED = "returned", "Returned undeliverable"
        CANCELLED = "cancelled", "Cancelled"

    # Scheduling inserts millions of rows at once: the database checks of these two references
    # (a trigger per row) are left off, as on ServiceAccount; only the scheduler writes them, from
    # the accounts' own rows, and Django still enforces PROTECT. Their indexes are the leading
    # columns of the unique constraint and of `notice_due`.
    account = models.ForeignKey(
        ServiceAccount,
        on_delete=models.PROTECT,
        related_name="notices",
        db_index=False,
        db_constraint=False,
    )
    program = models.ForeignKey(
        Program, on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False
    )
    kind = models.CharField(max_length=20, choices=NoticeKind.choices)
    rule_set = models.CharField(
        max_length=40, help_text="Code of the rule set the schedule was computed with."
    )
    # Enrollment date for the mass track; service start for the new-customer track.
    enrollment_date = models.DateField()
    mail_date = models.DateField(help_text="Due date: the day the notice is to be mailed.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SCHEDULED)
    batch = models.ForeignKey(
        MailBatch,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="notices",
        db_index=False,
    )
    piece_id = models.CharField(
        max_length=31, blank=True, help_text="Mail-piece serial / IMb tracking code."
    )
    # Same name and mailing address as another account in the batch: one letter went to both.
    # The merged notice shares the piece ID and follows its piece (mailed, returned); this names
    # the notice whose letter it went in. No database check, as for `account` (bulk writes).
    merged_into = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="merged_notices",
        db_index=False,
        db_constraint=False,
        help_text="The notice whose letter this one was merged into (same name and address).",
    )
    batched_at = models.DateTimeField(null=True, blank=True)
    mailed_at = models.DateTimeField(
        null=True, blank=True, help_text="When the mail house's confirmation was recorded."
    )
    mailed_on = models.DateField(
        null=True, blank=True, help_text="Business date the piece was mailed."
    )
    returned_at = models.DateTimeField(null=True, blank=True)
    return_date = models.DateField(null=True, blank=True)
    return_reason = models.CharField(max_length=200, blank=True)
    # No auto_now: the scheduler inserts with SQL and sets both itself.
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["account", "mail_date", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["account", "kind"], name="notice_account_kind_unique")
        ]
        # A letter preview shows the customer's name, address and personal opt-out code.
        permissions = [("preview_letter", "Can preview any notice letter of an account")]
        # Kept to two secondary indexes: scheduling a million accounts inserts four million rows.
        indexes = [
            # `kind` rides along (PostgreSQL INCLUDE) so the staff home counts the next mail
            # drops by kind from the index alone, without reading tens of thousands of rows.
            models.Index(
                fields=["program", "status", "mail_date"], name="notice_due", include=["kind"]
            ),
            # Only notices in a batch are indexed: a freshly scheduled notice costs no entry here.
            models.Index(
                fields=["batch"], condition=models.Q(batch__isnull=False), name="notice_batch"
            ),
            models.Index(
                fields=["piece_id"], condition=~models.Q(piece_id=""), name="notice_piece"
            ),
        ]

    def __str__(self):
        return f"{self.kind} {self.mail_date} ({self.status})"

    @property
    def effective_date(self):
        """The date that counts for the rules: when it was mailed, else when it is due."""
        return self.mailed_on or self.mail_date


class NoticeChange(models.Model):
    """Why a notice not yet mailed was moved or cancelled: the audit a regulator asks for."""

    notice = models.ForeignKey(Notice, on_delete=models.CASCADE, related_name="changes")
    at = models.DateTimeField()
    actor_name = models.CharField(max_length=150)
    old_mail_date = models.DateField(null=True, blank=True)
    new_mail_date = models.DateField(null=True, blank=True)
    old_enrollment_date = models.DateField(null=True, blank=True)
    new_enrollment_date = models.DateField(null=True, blank=True)
    old_status = models.CharField(max_length=10, blank=True)
    new_status = models.CharField(max_length=10, blank=True)
    reason = models.TextField()

    class Meta:
        ordering = ["notice", "at", "id"]

    def __str__(self):
        return f"{self.notice_id} {self.at:%Y-%m-%d}: {self.reason[:60]}"


class ScheduleRun(models.Model):
    """One run of the scheduler: who, when, what it did and what it could not schedule."""

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="schedule_runs")
    phase = models.ForeignKey(
        Phase, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_name = models.CharField(max_length=150)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    created = models.PositiveIntegerField(default=0, help_text="Notices created.")
    rescheduled = models.PositiveIntegerField(default=0)
    cancelled = models.PositiveIntegerField(default=0)
    not_moved = models.PositiveIntegerField(
        default=0, help_text="Notices that would move but are already batched or mailed."
    )
    unscheduled_accounts = models.PositiveIntegerField(default=0)
    problems = models.JSONField(
        default=list, blank=True, help_text="Groups of accounts not scheduled, with the reason."
    )

    class Meta:
        ordering = ["-started_at"]

    def __str__(self):
        return f"{self.program.slug} {self.started_at:%Y-%m-%d %H:%M}"


class AccountNotices(ServiceAccount):
    """The account seen as proof of notice (its own admin page; the registry admin is not ours)."""

    class Meta:
        proxy = True
        verbose_name = "proof of notice"
        verbose_name_plural = "proof of notice (by account)"


class PhaseCycleSchedule(models.Model):
    """The enrollment date one read cycle of a phase was scheduled against.

    All accounts of a phase and read cycle share one schedule; keeping its enrollment date here
    lets a re-run find a moved phase by comparing a few dozen rows, not millions of notices.
    """

    phase = models.ForeignKey(Phase, on_delete=models.CASCADE, related_name="+")
    read_cycle = models.PositiveSmallIntegerField()
    enrollment_date = models.DateField()
    rule_set = models.CharField(max_length=40)
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["phase", "read_cycle"]
        constraints = [
            models.UniqueConstraint(
                fields=["phase", "read_cycle"], name="phase_cycle_schedule_unique"
            )
        ]

    def __str__(self):
        return f"{self.phase} cycle {self.read_cycle}: {self.enrollment_date}"


class Heartbeat(models.Model):
    """The last run of a periodic task (the beat's heartbeat): /readyz reads its age, so a
    stopped beat, broker or worker shows as the age growing past its threshold."""

    name = models.CharField(max_length=60, primary_key=True)
    at = models.DateTimeField()

    def __str__(self):
        return f"{self.name} at {self.at:%Y-%m-%d %H:%M:%S}"


class NoticeTally(models.Model):
    """Notices per program, enrollment date, kind, status, mail date and whether mailed after
    the mail date: the groups notice compliance rolls up (the mail date stays, so "past its
    date" is decided on the day the figures are read). Rebuilt set-based from the notices
    (cca_notices.services.dashboard_tally), never edited row by row."""

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="+")
    enrollment_date = models.DateField()
    kind = models.CharField(max_length=20, choices=NoticeKind.choices)
    status = models.CharField(max_length=10, choices=Notice.Status.choices)
    mail_date = models.DateField()
    mailed_late = models.BooleanField(help_text="Mailed on a day after its mail date.")
    notices = models.PositiveIntegerField()

    def __str__(self):
        return f"{self.notices} {self.kind} {self.status} for {self.mail_date}"
