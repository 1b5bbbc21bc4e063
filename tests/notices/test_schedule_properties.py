"""Property test through the database: any phase window and read schedule, scheduled by the
service, gives every account a schedule the validator accepts — or a reported reason."""

import datetime as dt

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from accounts.models import ReadDate
from cca_notices.models import Notice, ScheduleRun
from cca_notices.services.scheduling import notices_schedule
from cca_notices.services.validation import account_schedule_violations
from tests.factories import PhaseFactory, ProgramFactory, ServiceAccountFactory, UtilityFactory

TODAY = dt.date(2026, 11, 23)


class ScheduleProperties(TestCase):
    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        start=st.dates(min_value=dt.date(2027, 1, 1), max_value=dt.date(2032, 12, 31)),
        window=st.integers(27, 31),
        cycles=st.lists(
            st.tuples(st.integers(0, 40), st.lists(st.integers(26, 35), min_size=6, max_size=6)),
            min_size=1,
            max_size=4,
        ),
        rule_set=st.sampled_from(["ca_rule23", "ab9_legacy"]),
    )
    def test_scheduled_accounts_pass_the_validator(self, start, window, cycles, rule_set):
        utility = UtilityFactory(code="PROP")
        program = ProgramFactory(slug="prop", utility=utility, notice_rule_set=rule_set)
        phase = PhaseFactory(
            program=program,
            name="P",
            enrollment_start=start,
            enrollment_end=start + dt.timedelta(days=window),
        )
        accounts = []
        for number, (shift, gaps) in enumerate(cycles, start=1):
            read = start - dt.timedelta(days=40) + dt.timedelta(days=shift)
            rows = [read]
            for gap in gaps:
                rows.append(rows[-1] + dt.timedelta(days=gap))
            ReadDate.objects.bulk_create(
                ReadDate(utility=utility, read_cycle=number, read_date=d) for d in rows
            )
            accounts.append(ServiceAccountFactory(program=program, phase=phase, read_cycle=number))
        result = notices_schedule(program=program, actor_name="prop", today=TODAY)
        unscheduled = {p["read_cycle"] for p in result.problems}
        for account in accounts:
            if account.read_cycle in unscheduled:
                assert not Notice.objects.filter(account=account).exists()
            else:
                assert account_schedule_violations(account=account) == []
                assert Notice.objects.filter(account=account).count() == 4
        assert ScheduleRun.objects.get(pk=result.run.pk).unscheduled_accounts == len(unscheduled)
