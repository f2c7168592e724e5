"""Every page says which instance it is; outside production a banner makes it impossible to miss."""

from __future__ import annotations

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("instance", ["development", "staging"])
def test_pages_outside_production_carry_a_banner(client, reporter, settings, instance):
    settings.HINDSIGHT_ENV = instance
    login_page = client.get(reverse("login")).content.decode()
    client.force_login(reporter)
    home = client.get(reverse("incidents:home")).content.decode()
    for page in (login_page, home):
        assert f"This is a <strong>{instance}</strong> instance of Hindsight" in page
        assert f'class="env-{instance}"' in page


def test_production_shows_its_name_without_a_banner(client, reporter, settings):
    settings.HINDSIGHT_ENV = "production"
    client.force_login(reporter)
    page = client.get(reverse("incidents:home")).content.decode()
    assert 'class="env-badge"' in page and ">production</span>" in page
    assert "env-banner" not in page


def test_the_navigation_reaches_the_reports(client, reporter):
    client.force_login(reporter)
    assert f'href="{reverse("reports:report_list")}"' in client.get(reverse("incidents:home")).content.decode()
