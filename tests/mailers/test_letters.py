"""Letter content by data (pretix style), plus one check that the PDF renders."""

import datetime as dt
import io

import pytest
from pypdf import PdfReader

from accounts.models import FeeSchedule
from cca_notices.mailers.context import LetterRequest, personal_fields, variant_context
from cca_notices.mailers.render import letter_html, letter_pdf
from cca_notices.mailers.views import notice_preview_url
from tests.factories import ProgramFactory, letter_previewer, staff_user

MAIL = dt.date(2027, 1, 4)


def test_english_pre_enrollment_letter_says_what_the_customer_needs(make_account):
    a = make_account(opt_out_code="K7QX2M9PLA", enrollment_date=dt.date(2027, 3, 9))
    html = letter_html(LetterRequest(a, "pre_enrollment_1", MAIL, "P1"))
    assert "Opt-out notice 1 of 4" in html
    assert (
        "$195.80" in html and "$194.03" in html and "−$1.77" in html and "−0.9%" in html
    )  # own JRC row (D, Light Green)
    assert "TOU-D-PRIME" in html and "GS-1" not in html  # class table: residential schedules only
    assert "52%" in html and "318" in html and "SCE Base Plan" in html  # power content
    assert "March 9, 2027" in html  # service start
    assert "K7QX2M9PLA" in html and "ivce.example.org/opt-out" in html
    assert "(951) 555-0101" in html and "(951) 555-0102" in html  # IVR and TTY
    assert "Opt-out request" in html and "Signature" in html  # tear-off reply form
    assert "data:image/svg+xml;base64," in html  # QR
    assert "Leave at no cost until" not in html  # no free-window date before enrollment


def test_post_enrollment_letter_shows_free_window_end_and_fee_in_force(make_account, demo_program):
    FeeSchedule.objects.create(
        program=demo_program,
        customer_class="small_commercial",
        effective_from=dt.date(2026, 12, 1),
        admin_fee="7.50",
        cost_recovery_charge="1.25",
    )
    a = make_account(
        customer_class="small_commercial", rate_schedule="GS-1", enrollment_date=dt.date(2027, 3, 9)
    )
    req = LetterRequest(a, "post_enrollment_1", dt.date(2027, 3, 20), "P2")
    assert personal_fields(req)["free_until"] == "May 8, 2027"  # 9 March + 60 days
    v = variant_context(req)
    assert v["own_fee"] == "$8.75"
    html = letter_html(req)
    assert "May 8, 2027" in html and "$8.75" in html and "Leave at no cost until" in html
    assert "$5.00" in html  # the residential row of the same table
    later = variant_context(LetterRequest(a, "post_enrollment_1", dt.date(2026, 11, 30), "P3"))
    assert later["own_fee"] == "$5.00"  # the table in force on the mail date


def test_spanish_account_gets_spanish_letter(make_account):
    a = make_account(language="es", enrollment_date=dt.date(2027, 3, 9))
    html = letter_html(LetterRequest(a, "post_enrollment_2", MAIL, "P4"))
    assert "Aviso de exclusión 4 de 4" in html
    assert "Puede salir sin costo hasta el" in html and "8 de mayo de 2027" in html
    assert "Solicitud de exclusión" in html and "Firma" in html
    assert "Estimado/a Maria L Gonzalez," in html
    assert "Opt-out request" not in html


def test_new_customer_letters_count_two(make_account):
    a = make_account(enrollment_date=None, service_start_date=dt.date(2027, 2, 1))
    v = variant_context(LetterRequest(a, "new_customer_2", MAIL, ""))
    assert (v["notice_number"], v["notice_total"]) == (2, 2)
    assert (
        personal_fields(LetterRequest(a, "new_customer_2", MAIL, ""))["free_until"]
        == "April 2, 2027"
    )


def test_pre_enrollment_without_date_shows_phase_window(make_account):
    a = make_account(enrollment_date=None)
    assert (
        personal_fields(LetterRequest(a, "pre_enrollment_1", MAIL, ""))["service_start"]
        == "between March 1, 2027 and March 31, 2027"
    )


def test_unknown_kind_is_refused(make_account):
    with pytest.raises(ValueError, match="unknown notice kind"):
        variant_context(LetterRequest(make_account(), "rate_change", MAIL, ""))


def test_pdf_renders(make_account):
    a = make_account(opt_out_code="K7QX2M9PLA")
    reader = PdfReader(io.BytesIO(letter_pdf(LetterRequest(a, "pre_enrollment_2", MAIL, "P5"))))
    assert len(reader.pages) == 3
    assert "K7QX2M9PLA" in reader.pages[0].extract_text()


@pytest.mark.urls("tests.mailers.urls")
def test_preview_requires_the_permission_and_the_program_and_serves_pdf(make_account, client):
    """A staff login with no permission used to download any customer's letter by its
    sequential id: name, address, account number and the personal code."""
    a = make_account()
    url = notice_preview_url(a.pk, "pre_enrollment_1")
    ref = url.split("/")[4]
    assert ref != str(a.pk) and not ref.startswith(f"{a.pk}:")  # a signed reference, not the id
    assert client.get(url).status_code == 302  # to the admin login
    plain_staff = staff_user("plain")
    client.force_login(plain_staff)
    assert client.get(url).status_code == 403  # staff, but not the permission
    assert client.get(f"/admin/notices/preview/{a.pk}/pre_enrollment_1.pdf").status_code == 403
    other = ProgramFactory(slug="elsewhere", utility=a.program.utility)
    client.force_login(letter_previewer("outsider", programs=[other]))
    assert client.get(url).status_code == 404  # the permission, another program's account
    client.force_login(letter_previewer())
    # The sequential id no longer names an account.
    assert client.get(f"/admin/notices/preview/{a.pk}/pre_enrollment_1.pdf").status_code == 404
    response = client.get(url + "?mail_date=2027-01-04")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF") and "no-store" in response["Cache-Control"]
    assert client.get(notice_preview_url(a.pk, "bogus")).status_code == 404
    forged = url.replace(ref, notice_preview_url(a.pk + 1, "x").split("/")[4][:-2] + "xx")
    assert client.get(forged).status_code == 404


@pytest.mark.needs("poppler")
@pytest.mark.urls("tests.mailers.urls")
def test_preview_serves_a_png_page(make_account, client):
    a = make_account()
    client.force_login(letter_previewer())
    png = client.get(notice_preview_url(a.pk, "post_enrollment_1", "png") + "?page=2")
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")


@pytest.mark.parametrize(
    "name, salutation",
    [
        ("JOSÉ GARCÍA-LÓPEZ", "Dear José García-López,"),
        ("SEAN O'BRIEN", "Dear Sean O'Brien,"),
        ("JOHN MCDONALD", "Dear John McDonald,"),
        ("MARIA DE LA CRUZ", "Dear Maria de la Cruz,"),
        ("ACME SOLAR LLC", "Dear Acme Solar LLC,"),
        ("SMITH & SONS, INC.", "Dear Smith & Sons, Inc.,"),
    ],
)
def test_salutation_writes_the_name_as_people_do_and_the_address_stays_usps(
    make_account, name, salutation
):
    a = make_account(customer_name=name, mailing_address="PO BOX 12", mailing_city="SAN RAFAEL")
    fields = personal_fields(LetterRequest(a, "pre_enrollment_1", MAIL, "P1"))
    assert fields["salutation"] == salutation
    assert (fields["name"], fields["addr1"]) == (name, "PO BOX 12")
    assert fields["addr2"].startswith("SAN RAFAEL CA ")
