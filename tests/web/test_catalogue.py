"""Releases with their path through the environments; environments with their mandate and catches."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import DeploymentFactory, IncidentFactory, NearMissFactory, ReleaseFactory, environment

pytestmark = pytest.mark.django_db


def test_a_release_shows_its_path_gates_rollbacks_and_linked_incidents(login, reporter, service, team):
    release = ReleaseFactory(service=service, version="2.5.0")
    DeploymentFactory(release=release, environment=environment("dev"), gates={"unit-tests": "passed"})
    DeploymentFactory(release=release, environment=environment("staging"), gates={"canary": "failed"})
    DeploymentFactory(
        release=release, environment=environment("prod"), status="rolled_back", rollback_rehearsed=False
    )
    incident = IncidentFactory(team=team, title="Refunds doubled")
    incident.releases.add(release)
    page = login(reporter).get(reverse("incidents:release_detail", args=[release.pk])).content.decode()
    assert page.index("Development") < page.index("Staging") < page.index("Production")
    assert "canary: failed" in page and "unit-tests: passed" in page
    assert "had <strong>not</strong> been rehearsed" in page
    assert "Refunds doubled" in page


def test_a_release_hides_confidential_items_from_outsiders(login, outsider, confidential, service):
    release = ReleaseFactory(service=service)
    confidential.releases.add(release)
    page = login(outsider).get(reverse("incidents:release_detail", args=[release.pk])).content.decode()
    assert confidential.title not in page


def test_unknown_release_is_404(login, reporter):
    assert login(reporter).get(reverse("incidents:release_detail", args=[999999])).status_code == 404


def test_release_list_filters_by_service(login, reporter, service):
    ours, other = ReleaseFactory(service=service, version="7.0.0"), ReleaseFactory(version="8.0.0")
    response = login(reporter).get(reverse("incidents:release_list"), {"service": service.slug})
    assert [release.pk for release in response.context["page"]] == [ours.pk]
    assert other.version not in response.content.decode().split("<table")[1]


def test_environments_show_mandates_and_what_was_caught_there(login, reporter, outsider, confidential):
    NearMissFactory(environment=environment("dev"))
    NearMissFactory(environment=environment("dev"))
    IncidentFactory(environment=environment("prod"))
    page = login(reporter).get(reverse("incidents:environment_list")).content.decode()
    assert "Fast feedback." in page and "2 near-misses" in page and "1 incident<" in page
    outsider_env = {
        e.slug: e for e in login(outsider).get(reverse("incidents:environment_list")).context["environments"]
    }
    assert outsider_env["staging"].near_misses_caught == 0  # the confidential one is not counted for them
    detail = login(reporter).get(reverse("incidents:environment_detail", args=["dev"]))
    assert detail.context["caught_by"][0]["n"] == 2 and "Code review" in detail.content.decode()
    assert login(reporter).get(reverse("incidents:environment_detail", args=["nowhere"])).status_code == 404


@pytest.mark.parametrize("rows", [2, 30])
def test_release_and_environment_lists_have_fixed_queries(login, reporter, django_assert_max_num_queries, rows):
    for _ in range(rows):
        DeploymentFactory()
        NearMissFactory()
    client = login(reporter)
    with django_assert_max_num_queries(6):  # (one: the navigation asks the policy, which reads the memberships)
        assert client.get(reverse("incidents:release_list")).status_code == 200
    with django_assert_max_num_queries(5):
        assert client.get(reverse("incidents:environment_list")).status_code == 200
