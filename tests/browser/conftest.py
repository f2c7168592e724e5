"""Headless Chromium (Debian's package) driven by Playwright against pytest-django's live server.

Playwright's sync API runs an event loop, so Django's guard against database calls from async code is
lifted for these tests only. Without /usr/bin/chromium the tests are skipped with the reason.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser import REQUIRED

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
PASSWORD = "correct horse battery staple"  # tests/factories.py UserFactory


def pytest_collection_modifyitems(items):
    """Browser tests (marked `browser` in their modules) skip with the reason when Chromium is missing, or fail
    the run where they are required (tests/browser/__init__.py)."""
    if CHROMIUM.exists():
        return
    if REQUIRED and any(item.get_closest_marker("browser") for item in items):
        raise pytest.UsageError(f"HINDSIGHT_BROWSER_TESTS=required but {CHROMIUM} is missing")
    for item in items:
        if item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.skip(reason=f"{CHROMIUM} is missing: apt-get install -y chromium"))


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (dev extra)")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_api.sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            yield chromium
            chromium.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert errors == [], f"JavaScript errors: {errors}"


@pytest.fixture
def log_in(page):
    def as_user(user):
        page.goto("/")
        page.get_by_label("Username").fill(user.username)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url("**/")
        return page

    return as_user
