"""The site shell: home page, health check, static files served by the app itself."""

import pytest


@pytest.mark.django_db
def test_home_links_the_opt_out_form_and_admin(client):
    page = client.get("/").content.decode()
    assert 'href="/opt-out/"' in page and 'href="/admin/"' in page


@pytest.mark.django_db
def test_healthz(client):
    assert client.get("/healthz").json() == {"ok": True}


@pytest.mark.django_db
def test_static_files_are_served_without_debug(client, settings):
    settings.DEBUG = False
    response = client.get("/static/css/site.css")
    assert response.status_code == 200
    assert b"--accent" in b"".join(response.streaming_content)
    response.close()
    admin_css = client.get("/static/admin/css/base.css")
    assert admin_css.status_code == 200
    admin_css.close()
