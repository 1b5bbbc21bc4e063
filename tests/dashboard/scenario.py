"""A program in mid-life for the staff home and dashboard tests: phase 1 enrolled three weeks
ago with its notices mailed (some late, some returned), opt-outs over the days after each drop
through every channel, fees, CCASRs and confirmations in each state; phase 2 ahead.

Rows are bulk-created with known counts, so a test can say exactly what each figure must be.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import cast

from django.utils import timezone

from accounts.models import Channel, CustomerClass, Phase, Program, ServiceAccount, Status
from accounts.services.calendar import add_business_days, program_calendar
from accounts.services.calendar import today as business_today
from cca_notices.models import MailBatch, Notice
from optouts.models import Confirmation, FeeEntry, OptOutRequest, Outcome, ServiceRequest
from tests.factories import PhaseFactory, ProgramFactory

CITIES = ["SAN RAFAEL", "NOVATO", "MILL VALLEY", "SAUSALITO", "LARKSPUR", "TIBURON", "BOLINAS"]
CHANNELS = [Channel.WEB, Channel.IVR, Channel.PHONE, Channel.REPLY_CARD, Channel.API]


@dataclass
class Scenario:
    program: Program
    today: dt.date
    phase1: Phase
    phase2: Phase
    accounts: list[ServiceAccount]
    expected: dict[str, int] = field(default_factory=dict)


def _aware(day: dt.date, hour: int = 10) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))


def build_scenario(*, slug: str = "marin", accounts: int = 300) -> Scenario:
    today = business_today()
    program = cast(Program, ProgramFactory(slug=slug, name="Marin Clean Energy", short_name="MCE"))
    p1_start = today - dt.timedelta(days=21)
    phase1 = cast(
        Phase,
        PhaseFactory(
            program=program,
            name="Phase 1",
            number=1,
            enrollment_start=p1_start,
            enrollment_end=p1_start + dt.timedelta(days=30),
        ),
    )
    phase2 = cast(
        Phase,
        PhaseFactory(
            program=program,
            name="Phase 2",
            number=2,
            enrollment_start=today + dt.timedelta(days=70),
            enrollment_end=today + dt.timedelta(days=100),
        ),
    )
    classes = [CustomerClass.RESIDENTIAL] * 8 + [
        CustomerClass.SMALL_COMMERCIAL,
        CustomerClass.LARGE_COMMERCIAL,
    ]
    rows = []
    for i in range(accounts):
        in_p1 = i % 3 != 2  # two thirds in phase 1
        rows.append(
            ServiceAccount(
                program=program,
                account_number=f"{slug[:2].upper()}{i:08d}",
                customer_name=f"CUSTOMER {i}",
                service_address=f"{100 + i} MAIN ST",
                service_city=CITIES[i % len(CITIES)] if i % 50 else "MUIR BEACH",
                service_zip="94901",
                mailing_address=f"{100 + i} MAIN ST",
                mailing_city="SAN RAFAEL",
                mailing_state="CA",
                mailing_zip="94901",
                customer_class=classes[i % len(classes)],
                rate_schedule="D",
                read_cycle=i % 5 + 1,
                phase=phase1 if in_p1 else phase2,
                status=Status.ENROLLED if in_p1 else Status.NOTIFIED,
                enrollment_date=p1_start + dt.timedelta(days=i % 5) if in_p1 else None,
                opt_out_code=f"{slug[:2].upper()}C{i:08d}",
                customer_key=f"CUSTOMER {i}|{100 + i} MAIN ST|94901",
            )
        )
    ServiceAccount.objects.bulk_create(rows)
    accts = list(ServiceAccount.objects.filter(program=program).order_by("account_number"))
    p1 = [a for a in accts if a.phase_id == phase1.pk]
    p2 = [a for a in accts if a.phase_id == phase2.pk]
    exp: dict[str, int] = {}

    # Mail batches: phase 1's two pre-enrollment drops (mailed), one post-enrollment drop built
    # two days ago and not confirmed (past its mail date), and one for tomorrow, unconfirmed.
    drop1, drop2 = p1_start - dt.timedelta(days=60), p1_start - dt.timedelta(days=30)
    post_day = today - dt.timedelta(days=2)
    batches = {}
    for ref, kind, day, mailed in (
        ("B-PRE1", "pre_enrollment_1", drop1, True),
        ("B-PRE2", "pre_enrollment_2", drop2, True),
        ("B-POST1", "post_enrollment_1", post_day, False),
        ("B-POST1b", "post_enrollment_1", today + dt.timedelta(days=1), False),
    ):
        batches[ref] = MailBatch.objects.create(
            program=program,
            kind=kind,
            mail_date=day,
            reference=f"{slug}-{ref}",
            created_by="test",
            notice_count=len(p1) // 2 if kind == "post_enrollment_1" else len(p1),
            piece_count=len(p1) // 2 if kind == "post_enrollment_1" else len(p1),
            mailed_at=_aware(day) if mailed else None,
        )
    exp["batches_unconfirmed"] = 2
    exp["batches_overdue"] = 1

    notices = []
    late_mailed = returned = 0
    for n, a in enumerate(p1):
        e = a.enrollment_date
        assert e is not None
        # Every 20th account's first notice went out two days after its mail date.
        mailed_on_1 = drop1 + dt.timedelta(days=2 if n % 20 == 0 else 0)
        is_returned = n % 25 == 0
        returned += is_returned
        late_mailed += n % 20 == 0 and not is_returned  # a returned notice counts as returned
        notices += [
            Notice(
                account=a,
                program=program,
                kind="pre_enrollment_1",
                rule_set="ca_rule23",
                enrollment_date=e,
                mail_date=drop1,
                status=Notice.Status.RETURNED if is_returned else Notice.Status.MAILED,
                batch=batches["B-PRE1"],
                mailed_on=mailed_on_1,
                return_date=drop1 + dt.timedelta(days=9) if is_returned else None,
            ),
            Notice(
                account=a,
                program=program,
                kind="pre_enrollment_2",
                rule_set="ca_rule23",
                enrollment_date=e,
                mail_date=drop2,
                status=Notice.Status.MAILED,
                batch=batches["B-PRE2"],
                mailed_on=drop2,
            ),
        ]
        # Post-enrollment 1: half in the overdue batch, the rest split between the batch for
        # tomorrow and "in no batch" (every 10th of those late: its mail date has passed).
        if n % 2 == 0:
            notices.append(
                Notice(
                    account=a,
                    program=program,
                    kind="post_enrollment_1",
                    rule_set="ca_rule23",
                    enrollment_date=e,
                    mail_date=post_day,
                    status=Notice.Status.BATCHED,
                    batch=batches["B-POST1"],
                )
            )
        elif n % 10 == 1:
            notices.append(
                Notice(
                    account=a,
                    program=program,
                    kind="post_enrollment_1",
                    rule_set="ca_rule23",
                    enrollment_date=e,
                    mail_date=today - dt.timedelta(days=1),
                    status=Notice.Status.SCHEDULED,
                )
            )
            exp["late"] = exp.get("late", 0) + 1
        else:
            notices.append(
                Notice(
                    account=a,
                    program=program,
                    kind="post_enrollment_1",
                    rule_set="ca_rule23",
                    enrollment_date=e,
                    mail_date=today + dt.timedelta(days=1),
                    status=Notice.Status.SCHEDULED,
                )
            )
            exp["due"] = exp.get("due", 0) + 1
        notices.append(
            Notice(
                account=a,
                program=program,
                kind="post_enrollment_2",
                rule_set="ca_rule23",
                enrollment_date=e,
                mail_date=today + dt.timedelta(days=30),
                status=Notice.Status.SCHEDULED,
            )
        )
    p2_start = phase2.enrollment_start
    for a in p2:
        notices.append(
            Notice(
                account=a,
                program=program,
                kind="pre_enrollment_1",
                rule_set="ca_rule23",
                enrollment_date=p2_start,
                mail_date=p2_start - dt.timedelta(days=60),
                status=Notice.Status.SCHEDULED,
            )
        )
    Notice.objects.bulk_create(notices)
    exp["late_mailed"] = late_mailed
    exp["returned"] = returned
    exp["p1_accounts"], exp["p2_accounts"] = len(p1), len(p2)

    # Returned mail: the accounts whose notice came back, address not yet repaired.
    repair_ids = [a.pk for n, a in enumerate(p1) if n % 25 == 0]
    ServiceAccount.objects.filter(pk__in=repair_ids).update(address_needs_repair=True)
    exp["address_repair"] = len(repair_ids)

    # Opt-outs: every 4th phase-1 account, spread over the days after each drop, through every
    # channel; before enrollment (no fee), in the free window, and a few after it with a fee.
    optouts, opted = [], []
    for n, a in enumerate(p1[::4]):
        before = n % 3 == 0
        day = (drop1 if n % 2 else drop2) + dt.timedelta(days=1 + n % 6) if before else today
        outcome = Outcome.BEFORE_ENROLLMENT if before else Outcome.FREE_WINDOW
        to_status = Status.OPTED_OUT_PRE if before else Status.OPTED_OUT_FREE
        if n % 10 == 9:
            outcome, to_status = Outcome.AFTER_FREE_WINDOW, Status.TERMINATED
        optouts.append(
            OptOutRequest(
                program=program,
                account=a,
                confirmation_code=f"{slug[:2].upper()}{n:06d}",
                channel=CHANNELS[n % len(CHANNELS)],
                actor_name="test",
                received_at=_aware(day),
                request_date=day,
                outcome=outcome,
                from_status=a.status,
                to_status=to_status,
                service_request="cancel" if before else "disconnect",
                fee_amount=Decimal("5.00") if outcome == Outcome.AFTER_FREE_WINDOW else 0,
            )
        )
        opted.append((a, to_status))
    OptOutRequest.objects.bulk_create(optouts)
    for a, to_status in opted:
        ServiceAccount.objects.filter(pk=a.pk).update(status=to_status)
    exp["optouts"] = len(optouts)

    # Fees: one per after-window opt-out; one waived, one billed.
    fees = []
    for n, o in enumerate(
        OptOutRequest.objects.filter(program=program, outcome="after_free_window")
    ):
        acct = o.account
        status = [FeeEntry.Status.ASSESSED, FeeEntry.Status.WAIVED, FeeEntry.Status.BILLED][n % 3]
        fees.append(
            FeeEntry(
                program=program,
                account=acct,
                optout=o,
                customer_class=acct.customer_class,
                amount=Decimal("5.00"),
                admin_fee=Decimal("5.00"),
                reason="termination after the free window",
                assessed_on=o.request_date,
                created_at=o.received_at,
                status=status,
                waived_at=o.received_at if status == FeeEntry.Status.WAIVED else None,
                waiver_reason="hardship" if status == FeeEntry.Status.WAIVED else "",
                billed_on=today if status == FeeEntry.Status.BILLED else None,
            )
        )
    FeeEntry.objects.bulk_create(fees)

    # CCASRs: Disconnects queued; Cancels sent — some long ago (past the deadline), some today.
    cal = program_calendar(program=program, kind="utility")
    long_ago = _aware(add_business_days(today, -program.ccasr_response_days - 2, calendar=cal))
    srs = []
    for n, o in enumerate(OptOutRequest.objects.filter(program=program).order_by("pk")):
        if o.service_request == "disconnect":
            srs.append(
                ServiceRequest(
                    program=program,
                    account_id=o.account_id,
                    type="disconnect",
                    source="optout",
                    optout=o,
                    status=ServiceRequest.Status.QUEUED,
                    created_at=o.received_at,
                )
            )
            exp["ccasr_queued"] = exp.get("ccasr_queued", 0) + 1
        else:
            old = n % 2 == 0
            srs.append(
                ServiceRequest(
                    program=program,
                    account_id=o.account_id,
                    type="cancel",
                    source="optout",
                    optout=o,
                    status=ServiceRequest.Status.EXPORTED,
                    created_at=o.received_at,
                    exported_at=long_ago if old else timezone.now(),
                    times_sent=1,
                )
            )
            exp["ccasr_sent"] = exp.get("ccasr_sent", 0) + 1
            exp["ccasr_overdue"] = exp.get("ccasr_overdue", 0) + old
    ServiceRequest.objects.bulk_create(srs)

    # Confirmations: e-mails sent, letters overdue (due yesterday, not yet in a batch).
    confs = []
    for n, o in enumerate(OptOutRequest.objects.filter(program=program).order_by("pk")):
        overdue = n % 4 == 0
        confs.append(
            Confirmation(
                program=program,
                account_id=o.account_id,
                kind="optout",
                method="letter" if overdue else "email",
                optout=o,
                email="" if overdue else "c@example.org",
                created_at=o.received_at,
                due_date=today - dt.timedelta(days=1) if overdue else today + dt.timedelta(days=7),
                status=Confirmation.Status.ISSUED if overdue else Confirmation.Status.SENT,
                sent_at=None if overdue else o.received_at,
            )
        )
        exp["confirmations_overdue"] = exp.get("confirmations_overdue", 0) + overdue
    Confirmation.objects.bulk_create(confs)
    return Scenario(
        program=program, today=today, phase1=phase1, phase2=phase2, accounts=accts, expected=exp
    )
