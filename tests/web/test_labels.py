"""Pages speak in labels: no Django placeholders, no doubled words, no slugs where a name belongs."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from incidents.demo import service_name
from incidents.models import Environment

pytestmark = pytest.mark.django_db


def _text(response) -> str:
    page = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", response.content.decode(), flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))


@pytest.mark.parametrize(
    "url",
    [
        reverse("incidents:incident_list"),
        reverse("incidents:incident_create"),
        reverse("incidents:near_miss_create"),
    ],
)
def test_no_select_offers_djangos_placeholder(login, reporter, url):
    page = login(reporter).get(url).content.decode()
    assert "---------" not in page
    assert "<option" in page


def test_the_list_filters_say_any_for_no_filter(login, reporter):
    page = login(reporter).get(reverse("incidents:incident_list")).content.decode()
    counted = re.search(r'<select name="counted".*?</select>', page, re.S).group(0)
    assert '<option value="unknown" selected>Any</option>' in counted and "Unknown" not in counted
    assert '<option value="" selected>Latest started first</option>' in page
    assert '<option value="" selected>Any</option>' in page  # kind and gate


def test_the_environments_page_names_each_environment_once(login, reporter):
    text = _text(login(reporter).get(reverse("incidents:environment_list")))
    for environment in Environment.objects.all():
        assert f"{environment.name} {environment.name}" not in text
        assert environment.name in text


def test_the_postmortem_form_speaks_of_incidents(login, reporter):
    text = _text(login(reporter).get(reverse("incidents:incident_create")))
    assert "For a near-miss" not in text
    assert "How bad it was" in text


def test_the_near_miss_form_asks_for_the_severity_it_would_have_had(login, reporter):
    assert "Potential severity" in _text(login(reporter).get(reverse("incidents:near_miss_create")))


@pytest.mark.parametrize(
    ("slug", "name"), [("checkout-api", "Checkout API"), ("ledger", "Ledger"), ("web-frontend", "Web Frontend")]
)
def test_demo_services_have_readable_names(slug, name):
    assert service_name(slug) == name
