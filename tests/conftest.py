import os

import pytest
from django.db import connection

from tests.tools import chromium_path, require

# Playwright's sync API runs an event loop in the test thread; the ORM calls the tests make around
# it are still synchronous, so Django's async-safety guard is lifted for the test process only.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

SCREENSHOTS = os.path.join(os.path.dirname(os.path.dirname(__file__)), "var", "screenshots")


@pytest.fixture(autouse=True)
def _fast_settings(settings, tmp_path):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.CELERY_TASK_ALWAYS_EAGER = True
    # Celery read its configuration at start-up; tests run tasks in-process even when REDIS_URL
    # is set.
    from cca_notices.celery import app

    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    yield
    # Another Celery app left current would take the project's shared tasks, and its broker, into
    # every later test of this process (sent, not run: eager is the project app's setting).
    from celery import current_app

    assert current_app.main == app.main, f"this test left Celery app {current_app.main!r} current"


def pytest_collection_modifyitems(config, items):
    """`postgres` tests need PostgreSQL (COPY, select_for_update, concurrency); on SQLite they skip
    with the reason shown. CI runs the suite on PostgreSQL, where none skip."""
    from django.conf import settings

    if settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _needed_tools(request):
    """`@pytest.mark.needs("poppler", …)`: the tools a test needs (tests/tools.py)."""
    for marker in request.node.iter_markers("needs"):
        for name in marker.args:
            require(name)


@pytest.fixture
def is_postgres():
    return connection.vendor == "postgresql"


# --- browser tests -------------------------------------------------------------------------
@pytest.fixture(scope="session")
def browser():
    """Debian's headless Chromium. Missing in CI is a failure, not a skip (.ci/run installs it)."""
    exe = chromium_path()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path=exe,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    yield pg
    context.close()


@pytest.fixture
def phone_page(browser):
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    pg = context.new_page()
    yield pg
    context.close()


@pytest.fixture
def screenshot():
    """screenshot(page, "name") saves var/screenshots/name.png for a person to look at."""
    os.makedirs(SCREENSHOTS, exist_ok=True)

    def take(pg, name):
        path = os.path.join(SCREENSHOTS, f"{name}.png")
        pg.screenshot(path=path, full_page=True)
        return path

    return take


@pytest.fixture(autouse=True)
def _fresh_calendars():
    # Program calendars are cached per process by primary key; a rolled-back test's closures
    # must not reach the next test's program with the same key.
    from accounts.services.calendar import calendar_cache_clear

    calendar_cache_clear()
