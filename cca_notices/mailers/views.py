"""Staff preview of any notice for any account, as the customer would receive it.

A preview carries the customer's name, address, account number and the personal code that alone
opts them out, so it needs the `cca_notices.preview_letter` permission and an account of a
program the user may see (accounts.access); the account is named by a signed reference, never by
its sequential id."""

import datetime as dt

from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404
from django.urls import reverse

from accounts.access import account_id_from_ref, account_ref, scope_to_programs
from accounts.admin_downloads import customer_data_download
from accounts.models import ServiceAccount
from accounts.services.calendar import today
from cca_notices.mailers.context import KINDS, LetterRequest
from cca_notices.mailers.glyphs import UnprintableText
from cca_notices.mailers.preview import PreviewUnavailable, pdf_page_png
from cca_notices.mailers.render import letter_pdf

PREVIEW_PERMISSION = "cca_notices.preview_letter"


def notice_preview_url(account_id: int, kind: str, fmt: str = "pdf") -> str:
    return reverse("mailers:notice-preview", args=[account_ref(account_id), kind, fmt])


@staff_member_required
@customer_data_download(
    "letter preview",
    model=ServiceAccount,
    pk_kwarg=lambda kwargs: account_id_from_ref(kwargs["ref"]),
    permission=None,
)
def notice_preview(request, ref: str, kind: str, fmt: str):
    """GET …/<ref>/<kind>.<pdf|png>[?page=N&mail_date=YYYY-MM-DD]"""
    if not request.user.has_perm(PREVIEW_PERMISSION):
        raise PermissionDenied
    if kind not in KINDS:
        raise Http404(f"unknown notice kind {kind}")
    if fmt not in ("pdf", "png"):
        raise Http404("format must be pdf or png")
    account_id = account_id_from_ref(ref)
    if account_id is None:
        raise Http404("no such account")
    account = get_object_or_404(
        scope_to_programs(
            ServiceAccount.objects.select_related("program__utility", "phase", "product"),
            request.user,
        ),
        pk=account_id,
    )
    try:
        mail_date = (
            dt.date.fromisoformat(request.GET["mail_date"])
            if request.GET.get("mail_date")
            else today()
        )
        page = int(request.GET.get("page", "1"))
    except ValueError:
        return HttpResponseBadRequest("mail_date must be YYYY-MM-DD and page a number")
    try:
        pdf = letter_pdf(LetterRequest(account, kind, mail_date, piece_id="PREVIEW"))
    except UnprintableText as exc:
        return HttpResponse(str(exc), status=422, content_type="text/plain")
    name = f"{account.pk}-{kind}"
    if fmt == "pdf":
        response = HttpResponse(pdf, content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="{name}.pdf"'
        response["Cache-Control"] = "private, no-store"
        return response
    try:
        png = pdf_page_png(pdf, page=page)
    except PreviewUnavailable as exc:
        return HttpResponse(str(exc), status=503, content_type="text/plain")
    response = HttpResponse(png, content_type="image/png")
    response["Cache-Control"] = "private, no-store"
    return response
