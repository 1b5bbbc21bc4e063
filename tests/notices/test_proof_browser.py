"""A compliance officer finds an account's proof of notice in the admin and opens the
certificate."""

import datetime as dt

import pytest
from django.urls import reverse

from accounts.models import ReadDate
from accounts.services.status import Actor
from cca_notices.models import MailBatch, Notice
from cca_notices.services.lifecycle import (
    notice_mark_batched,
    notice_mark_mailed,
    notice_mark_returned,
)
from cca_notices.services.scheduling import notices_schedule
from tests.factories import PhaseFactory, ProgramFactory, ServiceAccountFactory


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_officer_sees_notices_of_an_account(page, screenshot, live_server, django_user_model):
    django_user_model.objects.create_superuser("officer", "o@example.org", "a-long-test-password")
    program = ProgramFactory(slug="marin", name="Marin Clean Energy")
    phase = PhaseFactory(
        program=program,
        name="Phase 1",
        enrollment_start=dt.date(2027, 3, 1),
        enrollment_end=dt.date(2027, 3, 31),
    )
    ReadDate.objects.bulk_create(
        ReadDate(
            utility=program.utility,
            read_cycle=7,
            read_date=dt.date(2026, 12, 2) + dt.timedelta(days=30 * i),
        )
        for i in range(8)
    )
    garcia = ServiceAccountFactory(
        program=program,
        phase=phase,
        account_number="3004417250",
        customer_name="GARCIA, MARIA",
        read_cycle=7,
    )
    notices_schedule(program=program, actor_name="ops", today=dt.date(2026, 11, 23))
    batch = MailBatch.objects.create(
        program=program,
        kind="pre_enrollment_1",
        mail_date=dt.date(2027, 1, 4),
        reference="MCE-PRE1-20270104",
        created_by="ops",
    )
    n1 = Notice.objects.get(account=garcia, kind="pre_enrollment_1")
    notice_mark_batched(batch=batch, notice_ids=[n1.pk], piece_ids={n1.pk: "00700901234567000042"})
    notice_mark_mailed(notice_ids=[n1.pk], mailed_on=dt.date(2027, 1, 4), actor=Actor("mail house"))
    notice_mark_returned(
        notice_ids=[n1.pk],
        return_date=dt.date(2027, 1, 19),
        reason="Attempted - not known",
        actor=Actor("mail house"),
    )

    page.goto(live_server.url + reverse("admin:login"))
    page.fill("#id_username", "officer")
    page.fill("#id_password", "a-long-test-password")
    page.click("input[type=submit]")
    page.goto(live_server.url + reverse("admin:cca_notices_accountnotices_changelist"))
    page.fill("#searchbar", "3004417250")
    page.press("#searchbar", "Enter")
    page.click("text=3004417250")
    page.wait_for_selector("text=MCE-PRE1-20270104")
    assert page.locator("text=Attempted - not known").count() == 1
    screenshot(page, "admin-proof-of-notice")
    page.goto(
        live_server.url + reverse("admin:cca_notices_notice_changelist") + "?status__exact=returned"
    )
    screenshot(page, "admin-notices-returned")
    assert page.locator("#result_list tbody tr").count() == 1
