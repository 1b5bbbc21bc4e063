"""The demo program's life so far, lived day by day through the product's own services.

`demo` loads the program and its customers as they were some months ago, then walks the business
days up to today. On each day it does what that day would have brought: the beat's daily jobs
(enrollment, notices due, mail batches, confirmations, Connects), the mail house's reports (pieces
mailed, a few returned a week later), customers opting out in the days after each drop through
every channel, the utility's weekly CCASR round trip, and a handful of one-off events (a retention
switch, a rejoin, a move). The clock is moved to each day (time-machine), so every timestamp and
business date is the one a real program would have recorded.

Deterministic for a seed and a set of phase windows, and idempotent: a day already lived changes
nothing when lived again (opt-outs are recorded once per account, a drop is built once, a report
imported twice changes nothing), so a re-run on a later day lives only the new days.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import logging
import random
import zoneinfo
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import time_machine
from django.db.models import Min
from django.test.utils import override_settings

from accounts.models import Channel, Program, ServiceAccount, Status
from accounts.services.calendar import add_business_days, program_calendar
from accounts.services.status import Actor
from accounts.services.tally import tally_queueing_paused
from accounts.services.trading_partners import trading_partner_for
from cca_notices.mailers.context import LetterRequest
from cca_notices.mailers.stamp import variant_pool, variants_render_ahead
from cca_notices.models import MailBatch, Notice
from cca_notices.services.batches import batch_pieces
from cca_notices.services.dashboard_tally import dashboard_tallies_refresh
from cca_notices.services.mail_house import mail_house_report_import
from cca_notices.tasks import mail_batches_daily, notices_daily
from optouts.models import CcasrExport, OptOutRequest, ReturnPath, ServiceRequest
from optouts.services.edi_export import ccasr_export, preenrollment_optouts_export
from optouts.services.edi_reconciliation import enrollment_reconcile
from optouts.services.edi_responses import edi_responses_import
from optouts.services.edi_utility import utility_answer_write
from optouts.services.intake import OptOutRefused, optout_submit
from optouts.services.moves import moves_import
from optouts.services.rejoin import RejoinRefused, rejoin_submit
from optouts.services.retention import retention_accept, retention_offer
from optouts.tasks import optouts_daily

LA = zoneinfo.ZoneInfo("America/Los_Angeles")
# Share of a drop's recipients who opt out after it, by notice kind (CCAs report 5–15 % over the
# four notices, most after the first).
OPT_OUT_RATE = {
    "pre_enrollment_1": 0.045,
    "pre_enrollment_2": 0.03,
    "post_enrollment_1": 0.015,
    "post_enrollment_2": 0.01,
    "new_customer_1": 0.03,
    "new_customer_2": 0.02,
}
RESPONSE_DAYS = 21  # a drop's opt-outs arrive over three weeks, most in the first few days
# Customer channels in the proportions a CCA sees them, dealt in turn so that even a small demo
# shows every one; reply cards travel by mail, so none in the first days after a drop.
_WEB, _IVR, _AGENT = (
    (Channel.WEB, Actor("web form")),
    (Channel.IVR, Actor("ivr")),
    (
        Channel.PHONE,
        Actor("agent jlopez"),
    ),
)
_CARD, _API = (Channel.REPLY_CARD, Actor("mailroom")), (Channel.API, Actor("api partner-portal"))
CHANNEL_TURNS = [_WEB, _IVR, _AGENT, _WEB, _CARD, _WEB, _API, _IVR, _WEB, _AGENT]
CHANNEL_TURNS += [_WEB, _IVR, _WEB, _CARD, _AGENT, _WEB, _IVR, _WEB, _AGENT, _WEB]
RETURN_SHARE = 0.015
RETURN_REASONS = ("insufficient address", "moved, left no address", "vacant", "no such number")
# Enrolled customers who leave on their own on any day, as a share of them.
ANYTIME_OPT_OUT_DAILY = 0.0004


def morning(day: dt.date, hour: int = 9) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=LA)


@contextlib.contextmanager
def _quiet(*names: str):
    """Months of simulated customers would print a line per task and per confirmation."""
    loggers = [logging.getLogger(n) for n in names]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


class DemoLife:
    def __init__(
        self,
        *,
        program: Program,
        work: Path,
        seed: int,
        out: Callable[[str], None],
        render_processes: int | None = None,
    ):
        self.program, self.work, self.seed, self.out = program, work, seed, out
        self.render_processes = render_processes  # None: one per core (stamp.variant_pool)
        self.counts: Counter = Counter()
        self.turn = 0
        self._by_drop: dict[int, dict[dt.date, list[int]]] = {}

    # --- the walk ------------------------------------------------------------------------------
    def _marker(self) -> Path:
        return self.work / "lived-through"

    def _identity(self) -> str:
        # The program row, not just its slug: a new database holds a new demo to live.
        return f"{self.program.pk} {self.program.created_at.isoformat()}"

    def lived_through(self) -> dt.date | None:
        try:
            identity, day = self._marker().read_text().rsplit(" ", 1)
        except (OSError, ValueError):
            return None
        return dt.date.fromisoformat(day) if identity == self._identity() else None

    def live(self, *, start: dt.date, until: dt.date) -> Counter:
        """Every day from `start` up to and including `until` (today). Days already lived are
        not lived again; living one twice would change nothing but take time."""
        done = self.lived_through()
        if done is not None and done >= start:
            start = done + dt.timedelta(days=1)
        # Nothing happens before the first drop is built: its mail date less the lead and a
        # weekend (the daily jobs pick up everything due or overdue from stored dates).
        first = Notice.objects.filter(program=self.program).order_by("mail_date").first()
        if first is not None:
            start = max(start, first.mail_date - dt.timedelta(days=7))
        mail_dir = self.work / "mail"
        mail_dir.mkdir(parents=True, exist_ok=True)
        # The demo's customers are made up: their e-mails go to files, not to the console.
        with (
            override_settings(
                EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
                EMAIL_FILE_PATH=str(mail_dir),
            ),
            _quiet("celery", "kombu", "optouts", "cca_notices", "accounts"),
            variant_pool(self.render_processes if start <= until else 1),
            # Each day's bulk steps would rebuild the dashboard's tallies; once at the end does.
            tally_queueing_paused(),
        ):
            self._variants_ahead(until)
            day = start
            while day <= until:
                # Today is lived up to now, never ahead of the real clock.
                when = min(morning(day), dt.datetime.now(LA)) if day == until else morning(day)
                with time_machine.travel(when, tick=True):
                    self._day(day, last=day == until)
                if day < until:  # today is lived again on a re-run: its day is not over
                    self._marker().write_text(f"{self._identity()} {day.isoformat()}")
                day += dt.timedelta(days=1)
        dashboard_tallies_refresh(program_id=self.program.pk)
        return self.counts

    def _variants_ahead(self, until: dt.date) -> None:
        """Queue the letter variants of the notices the days ahead will mail in the variant pool's
        workers, so they lay out on every core while the days are lived, rather than one by one
        as each drop needs them. One request per variant, at its first mail date; a drop finds
        them by the hash of their HTML, so anything changed by then (a product switch, a new
        JRC) is rendered when its drop is built, as without this. Only notices the life mails:
        the last day's daily build takes those due by its mail date."""
        last_mail_date = add_business_days(
            until,
            self.program.mail_lead_business_days,
            calendar=program_calendar(program=self.program, kind="mail"),
        )
        groups = (
            Notice.objects.filter(
                program=self.program,
                status=Notice.Status.SCHEDULED,
                batch__isnull=True,
                mail_date__lte=last_mail_date,
            )
            .values(
                "kind",
                "account__language",
                "account__customer_class",
                "account__rate_schedule",
                "account__product_id",
                "account__care",
            )
            .annotate(first=Min("mail_date"), one_account=Min("account_id"))
            .order_by("first", "kind", "one_account")
        )
        rows = [(g["one_account"], g["kind"], g["first"]) for g in groups]
        accounts = ServiceAccount.objects.select_related(
            "program__utility", "phase", "product"
        ).in_bulk([a for a, _, _ in rows])
        variants_render_ahead(LetterRequest(accounts[a], kind, first) for a, kind, first in rows)

    def _day(self, day: dt.date, *, last: bool) -> None:
        pid = [self.program.pk]
        notices_daily(pid)
        mail_batches_daily(pid)
        self._mail_house(day)
        self._opt_outs(day)
        self._one_off_events(day)
        self._mass_enrollment(day)
        if day.weekday() == 0:  # the CCA sends its requests on Mondays
            self._ccasr_export(day)
        if day.weekday() == 2:  # the utility answers by Wednesday
            self._utility_answers(day)
        if not last or morning(day, 17) < dt.datetime.now(LA):
            optouts_daily()

    # --- the mail house ------------------------------------------------------------------------
    def _mail_house(self, day: dt.date) -> None:
        for batch in MailBatch.objects.filter(program=self.program, mail_date=day, mailed_at=None):
            pieces = batch_pieces(batch)
            self._report(day, [(p.piece_id, "mailed", day, "") for p in pieces], f"{batch.pk}-m")
            self.counts["drops mailed"] += 1
            self.counts["pieces mailed"] += len(pieces)
        week_ago = day - dt.timedelta(days=8)
        for batch in MailBatch.objects.filter(program=self.program, mail_date=week_ago):
            if not batch.kind.startswith(("pre_", "post_", "new_")):
                continue
            rng = random.Random(f"{self.seed}-returns-{batch.reference}")
            pieces = batch_pieces(batch)
            back = [p for p in pieces if rng.random() < RETURN_SHARE]
            lines = [(p.piece_id, "returned", day, rng.choice(RETURN_REASONS)) for p in back]
            if lines:
                self._report(day, lines, f"{batch.pk}-r")
                self.counts["pieces returned"] += len(lines)

    def _report(self, day: dt.date, lines, name: str) -> None:
        path = self.work / "mail_house" / f"report-{name}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["piece_id", "event", "date", "reason"])
            for piece_id, event, when, reason in lines:
                w.writerow([piece_id, event, when.isoformat(), reason])
        mail_house_report_import(path=path, actor=Actor("mail house"))

    # --- customers -----------------------------------------------------------------------------
    def _answers(self, batch: MailBatch) -> dict[dt.date, list[int]]:
        """Who, of a drop's recipients, opts out after it, and on which day: each recipient with
        the kind's rate, on a day drawn from a response that fades over three weeks."""
        if batch.pk not in self._by_drop:
            weights = [0.72**k for k in range(1, RESPONSE_DAYS + 1)]
            days: dict[dt.date, list[int]] = {}
            recipients = (
                Notice.objects.filter(batch=batch)
                .order_by("pk")
                .values_list("account_id", "account__account_number")
            )
            for account_id, number in recipients:
                # Seeded by names, not row ids: ids differ between databases (and test runs).
                rng = random.Random(f"{self.seed}-{batch.reference}-{number}")
                if rng.random() < OPT_OUT_RATE[batch.kind]:
                    k = rng.choices(range(1, RESPONSE_DAYS + 1), weights=weights)[0]
                    days.setdefault(batch.mail_date + dt.timedelta(days=k), []).append(account_id)
            self._by_drop[batch.pk] = days
        return self._by_drop[batch.pk]

    def _opt_outs(self, day: dt.date) -> None:
        first = day - dt.timedelta(days=RESPONSE_DAYS)
        drops = MailBatch.objects.filter(
            program=self.program, mail_date__gte=first, mail_date__lt=day, kind__in=OPT_OUT_RATE
        ).order_by("pk")
        for batch in drops:
            for account_id in self._answers(batch).get(day, []):
                self._opt_out(day, account_id, reply_card_ok=(day - batch.mail_date).days >= 4)
        # Customers also leave on their own, any day: in the free window without a fee, after
        # it with one. At least one of each a week, so a small demo shows both.
        rng = random.Random(f"{self.seed}-anytime-{day.isoformat()}")
        for status in (Status.ENROLLED, Status.PARTICIPANT):
            ids = list(
                ServiceAccount.objects.filter(program=self.program, status=status)
                .order_by("pk")
                .values_list("pk", flat=True)
            )
            expected = len(ids) * ANYTIME_OPT_OUT_DAILY
            n = int(expected) + (rng.random() < expected % 1)
            if ids and day.weekday() == 0:
                n = max(n, 1)
            for account_id in rng.sample(ids, min(len(ids), n)):
                self._opt_out(day, account_id, reply_card_ok=True)

    def _opt_out(self, day, account_id: int, *, reply_card_ok: bool) -> None:
        channel, actor = CHANNEL_TURNS[self.turn % len(CHANNEL_TURNS)]
        self.turn += 1
        if channel == Channel.REPLY_CARD and not reply_card_ok:
            channel, actor = CHANNEL_TURNS[0]
        account = ServiceAccount.objects.get(pk=account_id)
        path = [ReturnPath.ADVANCE_NOTICE, ReturnPath.TRANSITIONAL][
            ord(account.account_number[-1]) % 2
        ]
        try:
            submission = optout_submit(
                account=account,
                channel=channel,
                actor=actor,
                request_date=day,
                language=account.language,
                return_path=path if account.status == Status.PARTICIPANT else None,
            )
        except OptOutRefused:
            self.counts["opt-outs refused"] += 1
            return
        if submission.created:
            self.counts[f"opt-outs by {channel}"] += 1

    # --- one-off events ------------------------------------------------------------------------
    def _phase_day(self, number: int, offset: int) -> dt.date | None:
        phase = self.program.phases.filter(number=number).first()
        return phase.enrollment_start + dt.timedelta(days=offset) if phase else None

    def _one_off_events(self, day: dt.date) -> None:
        if day == self._phase_day(1, 12):
            self._retention_switch()
        if day == self._phase_day(1, 20):
            self._rejoin()
        if day == self._phase_day(1, 27):
            self._moves(day)

    def _retention_switch(self) -> None:
        """A customer on the premium product takes the cheaper default instead of leaving."""
        premium = self.program.products.filter(is_default=False).first()
        account = (
            ServiceAccount.objects.filter(program=self.program, status=Status.ENROLLED)
            .order_by("pk")
            .first()
        )
        if premium is None or account is None:
            return
        if account.product_id != premium.pk:
            # The customer chose the premium product on the phone a while ago.
            ServiceAccount.objects.filter(pk=account.pk).update(product=premium)
            account.refresh_from_db()
        if retention_offer(account=account) is not None:
            retention_accept(account=account, channel=Channel.PHONE)
            self.counts["retention switches"] += 1

    def _rejoin(self) -> None:
        """The first customer who opted out before enrollment changes their mind."""
        first = (
            OptOutRequest.objects.filter(program=self.program, is_current=True)
            .order_by("received_at")
            .first()
        )
        if first is None:
            return
        try:
            rejoin_submit(
                account=first.account,
                channel=Channel.PHONE,
                actor=Actor("agent jlopez"),
                note="changed their mind after talking to a neighbour",
            )
            self.counts["rejoins"] += 1
        except RejoinRefused:
            pass

    def _moves(self, day: dt.date) -> None:
        """The utility's move file: one customer moves out of the territory, one moves within it
        to a new account number, and a new customer moves in."""
        rows = list(
            ServiceAccount.objects.filter(
                program=self.program, status__in=[Status.ENROLLED, Status.NOTIFIED]
            ).order_by("-pk")[:2]
        )
        if len(rows) < 2:
            return
        out_of, within = rows
        path = self.work / "moves" / f"moves-{day.isoformat()}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        head = [
            "old_account_number", "new_account_number", "move_type", "move_date",
            "customer_name", "service_address", "service_city", "service_zip", "mailing_address",
            "mailing_city", "mailing_state", "mailing_zip", "customer_class", "rate_schedule",
            "read_cycle", "language", "email", "phone",
        ]  # fmt: skip
        new_number = f"9{within.account_number[1:]}"
        with open(path, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(head)
            w.writerow([out_of.account_number, "", "out", day.isoformat()] + [""] * 14)
            w.writerow(
                [within.account_number, new_number, "within", day.isoformat(),
                 within.customer_name, "1450 N MAIN ST", within.service_city, within.service_zip,
                 "", "", "", "", within.customer_class, within.rate_schedule,
                 str(within.read_cycle), within.language, within.email, within.phone]
            )  # fmt: skip
            w.writerow(
                ["", f"8{within.account_number[1:]}", "in", day.isoformat(),
                 "ROSA DELGADO", "88 E ALESSANDRO BLVD", within.service_city, within.service_zip,
                 "", "", "", "", "residential", within.rate_schedule, str(within.read_cycle),
                 "es", "", ""]
            )  # fmt: skip
        if ServiceAccount.objects.filter(program=self.program, account_number=new_number).exists():
            return  # lived already
        moves_import(program=self.program, path=path, actor=Actor("utility move file"))
        self.counts["moves"] += 3

    # --- the utility ---------------------------------------------------------------------------
    def _ccasr_export(self, day: dt.date) -> None:
        result = ccasr_export(
            program=self.program, out_dir=self.work / "ccasr", actor_name="beat", today=day
        )
        if result.export is not None:
            self.counts["CCASR interchanges"] += 1

    def _utility_answers(self, day: dt.date) -> None:
        """The utility answers every interchange it has not answered with 814 responses: all
        accepted, but once in the demo's life a Disconnect rejected (the work queue shows it)."""
        partner = trading_partner_for(program=self.program)
        waiting = (
            CcasrExport.objects.filter(
                program=self.program,
                kind=CcasrExport.Kind.CCASR,
                service_requests__status=ServiceRequest.Status.EXPORTED,
            )
            .distinct()
            .order_by("pk")
        )
        for export in waiting:
            reject = {}
            if not ServiceRequest.objects.filter(
                program=self.program, status=ServiceRequest.Status.REJECTED
            ).exists():
                first = export.service_requests.filter(type=ServiceRequest.Type.DISCONNECT).first()
                if first is not None:
                    reject[first.reference] = ("A13", "SA not on CCA service")
            answer = utility_answer_write(
                partner=partner,
                export_path=self.work / "ccasr" / export.file_name,
                out=self.work / "ccasr" / f"utility-814-{export.pk}.x12",
                at=morning(day, 14),
                control_number=9000 + export.pk,
                reject=reject,
            )
            result = edi_responses_import(path=answer, actor_name="SCE")
            self.counts["CCASR answers"] += sum(
                result.counts.get(k, 0) for k in ("accepted", "rejected")
            )

    # --- mass enrollment, as the utility runs it ------------------------------------------------
    def _mass_enrollment(self, day: dt.date) -> None:
        """The utility generates the phase's Connects (SCE's practice): a week before the
        window the CCA sends it the pre-enrollment opt-outs; after the window it sends its
        enrollment list, which the CCA reconciles (one opted-out customer enrolled anyway, so the
        reconciliation has a Disconnect to make)."""
        if not trading_partner_for(program=self.program).utility_generates_connects:
            return
        for phase in self.program.phases.all():
            if day == phase.enrollment_start - dt.timedelta(days=7):
                preenrollment_optouts_export(
                    program=self.program,
                    phase=phase,
                    out_dir=self.work / "ccasr",
                    actor_name="beat",
                    today=day,
                )
                self.counts["pre-enrollment opt-out lists"] += 1
            if day == phase.enrollment_end + dt.timedelta(days=5):
                self._enrollment_list(phase, day)

    def _enrollment_list(self, phase, day: dt.date) -> None:
        enrolled = ServiceAccount.objects.filter(
            program=self.program, phase=phase, status__in=[Status.ENROLLED, Status.PARTICIPANT]
        ).exclude(enrollment_date=None)
        late = (
            OptOutRequest.objects.filter(
                program=self.program, account__phase=phase, is_current=True
            )
            .order_by("-received_at")
            .select_related("account")
            .first()
        )
        path = self.work / "ccasr" / f"enrollment-{phase.number}.csv"
        with open(path, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["account_number", "enrollment_date", "utility_reference"])
            for a in enrolled.order_by("pk"):
                w.writerow([a.account_number, f"{a.enrollment_date:%Y-%m-%d}", f"SCE-E{a.pk}"])
            if late is not None and late.account.enrollment_date:
                w.writerow(
                    [
                        late.account.account_number,
                        late.account.enrollment_date.isoformat(),
                        f"SCE-E{late.account.pk}",
                    ]
                )
        enrollment_reconcile(program=self.program, path=path, phase=phase, actor_name="demo")
        self.counts["enrollment reconciliations"] += 1
