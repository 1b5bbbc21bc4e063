"""Deployment settings, security headers, CSRF and the API docs (docs/configuration.md
"Security", docs/api.md "Schema and docs")."""

import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import pytest
from django.contrib.auth.models import User
from django.test import Client

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]

PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "a-production-key-" + "x7Kq9" * 12,
    "ALLOWED_HOSTS": "optout.example.org",
    "CSRF_TRUSTED_ORIGINS": "https://optout.example.org",
    "SECURE_SSL_REDIRECT": "true",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
    "SECURE_HSTS_PRELOAD": "true",
    "SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO,https",
    "SESSION_COOKIE_SECURE": "true",
    "CSRF_COOKIE_SECURE": "true",
    "EMAIL_URL": "smtp+tls://notices:secret@smtp.example.org:587",
}


def _check_deploy(env: dict) -> subprocess.CompletedProcess:
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "DATABASE_URL", "LANG")}
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={**keep, "VAR_DIR": os.environ.get("VAR_DIR", str(ROOT / "var")), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_under_production_settings():
    result = _check_deploy(PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_names_what_production_forgot():
    """Without the environment's security settings the same check fails (the test can fail)."""
    result = _check_deploy({"DEBUG": "false", "SECRET_KEY": PRODUCTION["SECRET_KEY"]})
    assert result.returncode != 0
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in result.stderr + result.stdout


@pytest.mark.parametrize(
    "email, warning",
    [
        ({"EMAIL_URL": "consolemail://"}, "optouts.W002"),  # prints customers' e-mails
        ({"DATABASE_URL": "postgres://postgres@127.0.0.1:5432/x"}, "optouts.W001"),  # no EMAIL_URL
    ],
)
def test_check_deploy_refuses_an_email_setup_that_would_not_send(email, warning):
    env = {k: v for k, v in PRODUCTION.items() if k != "EMAIL_URL"}
    result = _check_deploy({**env, **email})
    assert result.returncode != 0
    assert warning in result.stderr + result.stdout


def test_with_a_database_and_no_email_url_confirmations_wait_unsent(settings, make_account):
    from django.core import mail

    from accounts.models import Channel
    from accounts.services.status import Actor
    from optouts.models import Confirmation
    from optouts.services.confirmations import confirmations_send_due
    from optouts.services.intake import optout_submit

    settings.EMAIL_BACKEND = settings.EMAIL_NOT_CONFIGURED
    optout = optout_submit(
        account=make_account(phone=""), channel=Channel.WEB, actor=Actor("web")
    ).request
    row = Confirmation.objects.get(optout=optout, method=Confirmation.Method.EMAIL)
    assert confirmations_send_due()["email_unconfigured"] == 1
    row.refresh_from_db()
    assert row.status == Confirmation.Status.PENDING and row.sent_at is None
    assert "EMAIL_URL is not set" in row.last_error and not mail.outbox


HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "camera=()",
    "Content-Security-Policy": "default-src 'self'",
}


@pytest.mark.parametrize(
    "path, who",
    [
        ("/opt-out/", None),
        ("/es/opt-out/", None),
        ("/admin/login/", None),
        ("/admin/", "admin"),
        ("/api/v1/programs/", "admin"),
        ("/api/docs/", "admin"),
        ("/api/v1/opt-outs/", None),  # 401 answers carry them too
    ],
)
def test_security_headers_on_every_kind_of_page(client, admin_user, program, path, who):
    if who:
        client.force_login(admin_user)
    response = client.get(path)
    assert response.status_code in (200, 401)
    for name, value in HEADERS.items():
        assert value in response.get(name, ""), (path, name, response.get(name))
    csp = response["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
    assert "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]


def test_the_opt_out_form_and_the_admin_refuse_a_post_without_csrf_token(program, admin_user):
    strict = Client(enforce_csrf_checks=True)
    assert (
        strict.post("/opt-out/", {"account_number": "3000000001", "zip_code": "94901"}).status_code
        == 403
    )
    assert strict.post("/opt-out/confirm/", {"t": "x"}).status_code == 403
    assert strict.post("/admin/login/", {"username": "a", "password": "b"}).status_code == 403
    strict.force_login(admin_user)
    url = f"/admin/accounts/program/{program.pk}/change/"
    assert strict.post(url, {"name": "changed"}).status_code == 403
    # With the token the form works (the refusal is the token, not the form).
    page = strict.get("/opt-out/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())[1]
    ok = strict.post(
        "/opt-out/", {"csrfmiddlewaretoken": token, "account_number": "", "zip_code": ""}
    )
    assert ok.status_code == 400  # the form's own error, past CSRF


def test_api_docs_and_schema_need_a_signed_in_user_unless_opened(client, settings, db):
    assert client.get("/api/schema/").status_code in (401, 403)
    assert client.get("/api/docs/").status_code in (401, 403)
    plain = User.objects.create_user("plain")  # signed in, but neither staff nor an API role
    client.force_login(plain)
    assert client.get("/api/schema/").status_code == 403
    settings.API_DOCS_PUBLIC = True
    client.logout()
    assert client.get("/api/schema/").status_code == 200


def test_the_docs_page_loads_nothing_from_another_host(admin_client):
    page = admin_client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    refs = re.findall(r'(?:src|href)\s*=\s*["\']([^"\']+)["\']', html)
    assert any("swagger-ui" in r for r in refs), refs  # the sidecar's own files
    assert all(not urlparse(r).netloc or urlparse(r).netloc == "testserver" for r in refs), refs
    assert "cdn." not in html and "jsdelivr" not in html and "unpkg" not in html
    assert "<script>" not in html.replace(" ", "")  # no inline script for the CSP to allow
    for ref in refs:  # each asset is really served from static/ (WhiteNoise)
        if ref.startswith("/static/"):
            asset = admin_client.get(ref)
            asset.close()
            assert asset.status_code == 200, ref
