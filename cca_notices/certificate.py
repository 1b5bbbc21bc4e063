"""The notice certificate: a PDF proving which notices an account was sent, when and how.

One `notice_certificate_generate()` returns name, type and bytes (like pretix's invoice
renderer). The data is gathered by `notice_certificate_data()`, which the tests read directly;
the PDF is only checked to render.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.template.loader import render_to_string
from django.utils import timezone

from accounts.models import ServiceAccount, StatusChange
from cca_notices.models import Notice, RuleSet
from cca_notices.services.validation import account_schedule_violations


@dataclass(frozen=True)
class Document:
    name: str
    content_type: str
    content: bytes


def notice_certificate_data(*, account: ServiceAccount, issued_by: str) -> dict:
    account = ServiceAccount.objects.select_related("program", "program__utility", "phase").get(
        pk=account.pk
    )
    notices = list(
        Notice.objects.filter(account=account).select_related("batch").order_by("mail_date", "kind")
    )
    codes = {n.rule_set for n in notices}
    rule_set = RuleSet.objects.filter(code__in=codes).first() if codes else None
    post_1 = next((n for n in notices if n.kind in ("post_enrollment_1", "new_customer_1")), None)
    return {
        "account": account,
        "program": account.program,
        "notices": notices,
        "rule_set": rule_set,
        "enrollment_date": post_1.enrollment_date if post_1 else account.enrollment_date,
        "violations": account_schedule_violations(account=account)
        if notices
        else ["no notices scheduled"],
        "mailed": sum(
            1 for n in notices if n.status in (Notice.Status.MAILED, Notice.Status.RETURNED)
        ),
        "returned": sum(1 for n in notices if n.status == Notice.Status.RETURNED),
        "status_changes": list(StatusChange.objects.filter(account=account).order_by("at", "id")),
        "issued_at": timezone.localtime(),
        "issued_by": issued_by,
    }


def notice_certificate_generate(*, account: ServiceAccount, issued_by: str) -> Document:
    from weasyprint import HTML

    data = notice_certificate_data(account=account, issued_by=issued_by)
    html = render_to_string("notices/certificate.html", data)
    pdf = HTML(string=html).write_pdf()
    name = (
        f"notice-certificate-{account.program.slug}-{account.account_number}"
        f"-{data['issued_at']:%Y%m%d}.pdf"
    )
    return Document(name=name, content_type="application/pdf", content=pdf)
