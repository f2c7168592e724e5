"""Pages that work everywhere: local static files only, no inline scripts, styles or event handlers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.urls import reverse

TEMPLATES = sorted(
    path for path in (Path(settings.BASE_DIR) / "templates").rglob("*.html") if "reports" not in path.parts
    and "emails" not in path.parts
)  # fmt: skip


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda path: str(path.relative_to(settings.BASE_DIR)))
def test_templates_have_no_inline_script_style_or_handlers(path):
    source = path.read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)", source), "inline <script>"
    assert not re.search(r"<style", source), "inline <style>"
    assert not re.search(r"\sstyle=", source), "style attribute"
    assert not re.search(r"\son[a-z]+=", source), "event handler attribute"
    assert not re.search(r"(src|href)=\"(https?:)?//", source), "asset or link to another site"


def test_css_and_script_are_local_static_files():
    for name in ("incidents/hindsight.css", "incidents/hindsight.js", "incidents/favicon.svg"):
        assert finders.find(name), name


@pytest.mark.django_db
def test_pages_link_the_local_stylesheet_and_script_and_fit_a_phone(client, reporter):
    client.force_login(reporter)
    page = client.get(reverse("incidents:home")).content.decode()
    assert '<link rel="stylesheet" href="/static/incidents/hindsight.css">' in page
    assert '<script src="/static/incidents/hindsight.js" defer></script>' in page
    assert 'name="viewport" content="width=device-width, initial-scale=1"' in page


@pytest.mark.django_db
def test_login_form_has_labels_and_reports_errors(client, reporter):
    page = client.post(reverse("login"), {"username": "rita", "password": "wrong"}).content.decode()
    assert '<label for="id_username">' in page and '<label for="id_password">' in page
    assert 'role="alert"' in page and "correct username and password" in page


@pytest.mark.django_db
def test_the_navigation_links_to_the_api_docs_and_only_admins_to_the_admin(client, reporter, admin_user):
    client.force_login(reporter)
    page = client.get("/").content.decode()
    assert 'href="/api/docs/"' in page and 'href="/admin/"' not in page
    client.force_login(admin_user)
    assert 'href="/admin/"' in client.get("/").content.decode()
