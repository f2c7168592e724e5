"""Similar past incidents: shared causes first, then the same service, then title words; visible ones only."""

from __future__ import annotations

import pytest
from django.urls import reverse

from incidents import selectors
from incidents.policies import viewer_for_user
from tests.factories import IncidentFactory, NearMissFactory, ServiceFactory, cause

pytestmark = pytest.mark.django_db


def test_ranked_by_shared_causes_then_service_then_words(reporter, service):
    viewer = viewer_for_user(reporter)
    two_causes = IncidentFactory(title="Unrelated words", causes=["missing-check", "config-drift"])
    one_cause = IncidentFactory(title="Other words", causes=["missing-check"])
    same_service = IncidentFactory(title="Something else", services=[service])
    words = IncidentFactory(title="Timeout storm")  # one word in common
    IncidentFactory(title="Nothing in common", services=[ServiceFactory()])
    IncidentFactory(title="Checkout timeout storm again", status="triage")  # not counted: left out
    found = selectors.similar_incidents(
        viewer=viewer,
        title="Checkout timeout",
        cause_ids=[cause("missing-check").pk, cause("config-drift").pk],
        service_ids=[service.pk],
    )
    assert found == [two_causes, one_cause, same_service, words]


def test_nothing_to_compare_gives_nothing(reporter):
    IncidentFactory()
    assert selectors.similar_incidents(viewer=viewer_for_user(reporter), title="the and of") == []


def test_the_panel_endpoint_excludes_the_item_itself_and_hidden_items(login, outsider, confidential):
    visible = NearMissFactory(title="Secret nearly pushed again", causes=["secret-handling"])
    response = login(outsider).get(
        reverse("incidents:similar"),
        {"title": "Secret nearly pushed", "causes": cause("secret-handling").pk, "exclude": visible.reference},
    )
    assert response.context["similar"] == []
    response = login(outsider).get(reverse("incidents:similar"), {"title": "Secret nearly pushed"})
    assert response.context["similar"] == [visible]


def test_the_detail_page_shows_similar_items(login, reporter, team):
    first = IncidentFactory(team=team, title="Ledger drift", causes=["config-drift"])
    second = IncidentFactory(team=team, title="Ledger drift again", causes=["config-drift"])
    page = login(reporter).get(reverse("incidents:incident_detail", args=[second.reference])).content.decode()
    similar = page.split("Similar past incidents")[1]
    assert first.reference in similar and f">{second.reference}<" not in similar


def test_the_near_miss_form_shows_similar_items_after_a_failed_submit(login, reporter, team):
    earlier = NearMissFactory(title="Migration locked the orders table", causes=["missing-check"])
    response = login(reporter).post(
        reverse("incidents:near_miss_create"),
        {"title": "Migration locked orders", "causes": [cause("missing-check").pk]},
    )
    assert response.status_code == 400 and earlier in response.context["similar"]
