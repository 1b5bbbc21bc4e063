"""Staff preview of any notice for any account, as the customer would receive it."""

import datetime as dt

from django.contrib.admin.views.decorators import staff_member_required
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404

from accounts.admin_downloads import customer_data_download
from accounts.models import ServiceAccount
from accounts.services.calendar import today
from cca_notices.mailers.context import KINDS, LetterRequest
from cca_notices.mailers.glyphs import UnprintableText
from cca_notices.mailers.preview import PreviewUnavailable, pdf_page_png
from cca_notices.mailers.render import letter_pdf


@staff_member_required
@customer_data_download(
    "letter preview", model=ServiceAccount, pk_kwarg="account_id", permission=None
)
def notice_preview(request, account_id: int, kind: str, fmt: str):
    """GET …/<account_id>/<kind>.<pdf|png>[?page=N&mail_date=YYYY-MM-DD]"""
    if kind not in KINDS:
        raise Http404(f"unknown notice kind {kind}")
    if fmt not in ("pdf", "png"):
        raise Http404("format must be pdf or png")
    account = get_object_or_404(
        ServiceAccount.objects.select_related("program__utility", "phase", "product"), pk=account_id
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
    name = f"{account.account_number}-{kind}"
    if fmt == "pdf":
        response = HttpResponse(pdf, content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="{name}.pdf"'
        return response
    try:
        png = pdf_page_png(pdf, page=page)
    except PreviewUnavailable as exc:
        return HttpResponse(str(exc), status=503, content_type="text/plain")
    return HttpResponse(png, content_type="image/png")
