"""The near-miss form: one screen, inline errors, nothing typed lost, a number and a receipt when confidential."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from incidents.models import ConfidentialReporter, Incident, IncidentRevision, Release
from tests.factories import ReleaseFactory, ServiceFactory, cause
from tests.web.test_postmortems import edit_data

pytestmark = pytest.mark.django_db
URL = reverse("incidents:near_miss_create")


def form_data(team_, staging, **overrides):
    data = {
        "title": "Migration would have locked the orders table",
        "summary": "Review caught an ALTER TABLE without a lock timeout.",
        "potential_impact": "Checkout down for ten minutes.",
        "environment": staging.pk,
        "caught_by": "code_review",
        "causes": [cause("missing-check").pk, cause("environment-parity-gap").pk],
        "team": team_.pk,
        "severity": "sev2",
    }
    data.update(overrides)
    return data


def test_the_form_shows_every_cause_with_its_description(login, reporter):
    page = login(reporter).get(URL).content.decode()
    assert "No automated test, lint or gate would have caught this change." in page
    assert 'type="checkbox" name="causes"' in page
    for label in (
        "What happened",
        "What would have happened",
        "Caught in",
        "Caught by",
        "Release",
        "Confidential",
    ):
        assert label in page


def test_filing_gives_the_nm_number_and_stores_the_near_miss(login, reporter, team, staging, service):
    release = ReleaseFactory(service=service, version="2.4.1")
    client = login(reporter)
    response = client.post(URL, form_data(team, staging, service=service.pk, release_version="2.4.1"))
    near_miss = Incident.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("incidents:near_miss_filed", args=[near_miss.reference])
    assert near_miss.reference == "NM-1" and near_miss.reporter == reporter
    assert list(near_miss.releases.all()) == [release]
    assert {c.slug for c in near_miss.causes.all()} == {"missing-check", "environment-parity-gap"}
    page = client.get(response["Location"]).content.decode()
    assert "filed as NM-1" in page and "receipt" not in page.lower()


def test_a_confidential_filing_shows_its_receipt_once_and_the_receipt_outlives_the_purge(
    login, reporter, team, staging, outsider
):
    client = login(reporter)
    response = client.post(URL, form_data(team, staging, confidential="on"))
    near_miss = Incident.objects.get()
    assert near_miss.reporter is None and near_miss.confidential
    page = client.get(response["Location"]).content.decode()
    receipt_url = re.search(r'href="(/receipts/[^"]+/)"', page).group(1)
    assert "shown only now" in page
    assert "/receipts/" not in client.get(response["Location"]).content.decode()  # shown once

    ConfidentialReporter.objects.filter(incident=near_miss).update(user=None, purged_at=timezone.now())
    receipt = client.get(receipt_url)
    assert receipt.status_code == 200 and near_miss.reference in receipt.content.decode()
    assert login(outsider).get("/receipts/not-a-real-code/").status_code == 404


@pytest.mark.parametrize(
    ("field", "overrides", "message"),
    [
        ("title", {"title": ""}, "This field is required."),
        ("summary", {"summary": "   "}, "This field is required."),
        ("environment", {"environment": ""}, "This field is required."),
        ("environment", {"environment": "99999"}, "Select a valid choice."),
        ("caught_by", {"caught_by": "psychic"}, "Select a valid choice."),
        ("causes", {"causes": ["not-a-number"]}, "is not a valid value"),
        ("started_at", {"started_at": "yesterday-ish"}, "Enter a valid date/time."),
        ("release_version", {"release_version": "9.9.9", "service": ""}, "Choose the service"),
        ("severity", {"severity": "sev9"}, "Select a valid choice."),
        ("team", {"team": "12345"}, "Select a valid choice."),
    ],
)
def test_bad_input_is_shown_beside_its_field_and_keeps_what_was_typed(
    login, reporter, team, staging, field, overrides, message
):
    response = login(reporter).post(URL, form_data(team, staging, **overrides))
    assert response.status_code == 400
    assert not Incident.objects.exists()
    form = response.context["form"]
    assert message in " ".join(form.errors[field if field != "release_version" else "service"])
    page = response.content.decode()
    error_id = form[field if field != "release_version" else "service"].auto_id + "_error"
    assert f'id="{error_id}"' in page
    assert error_id in re.search(r'aria-describedby="([^"]*' + error_id + ')"', page).group(1)
    if field != "summary":
        assert "Review caught an ALTER TABLE without a lock timeout." in page
    if field != "title":
        assert 'value="Migration would have locked the orders table"' in page


def test_an_unknown_version_is_recorded_as_a_release_entered_by_hand(login, reporter, team, staging, service):
    """An optional field must not block the one-minute form: a version no tool recorded becomes a release."""
    client = login(reporter)
    response = client.post(URL, form_data(team, staging, service=service.pk, release_version=" 9.9.9 "))
    assert response.status_code == 302
    release = Incident.objects.get().releases.get()
    assert (release.service, release.version, release.entered_by_hand) == (service, "9.9.9", True)
    assert "(entered by hand)" in client.get(reverse("incidents:release_list")).content.decode()
    # Filing again with the same version links the same release: one row per service and version.
    assert (
        client.post(URL, form_data(team, staging, service=service.pk, release_version="9.9.9")).status_code == 302
    )
    assert service.releases.count() == 1 and release.incidents.count() == 2


def test_a_known_version_is_linked_and_not_marked_as_entered_by_hand(login, reporter, team, staging, service):
    known = ReleaseFactory(service=service, version="4.12.0")
    login(reporter).post(URL, form_data(team, staging, service=service.pk, release_version="4.12.0"))
    assert list(Incident.objects.get().releases.all()) == [known] and not known.entered_by_hand


def test_another_teams_service_gets_no_release_by_hand(login, reporter, team, staging, other_team):
    """The ownership rule of tools holds for people too: another team's service keeps its own release list."""
    theirs = ServiceFactory(name="Ledger", slug="ledger", owner_team=other_team)
    response = login(reporter).post(URL, form_data(team, staging, service=theirs.pk, release_version="9.9.9"))
    assert response.status_code == 400
    assert "Ledger has no release 9.9.9." in response.context["form"].errors["release_version"][0]
    assert not Release.objects.exists() and not Incident.objects.exists()
    assert 'value="Migration would have locked the orders table"' in response.content.decode()  # nothing lost


def test_a_confidential_near_miss_keeps_an_unknown_version_on_itself(
    login, reporter, lead, team, staging, service
):
    """A new release in the catalogue would tell everyone that something was filed, and when."""
    login(reporter).post(
        URL, form_data(team, staging, service=service.pk, release_version="9.9.9", confidential="on")
    )
    near_miss = Incident.objects.get()
    assert near_miss.confidential and near_miss.release_entered == "9.9.9"
    assert not Release.objects.exists()
    page = login(lead).get(reverse("incidents:incident_detail", args=[near_miss.reference])).content.decode()
    assert "9.9.9" in page and "kept on this near-miss only" in page


def test_the_release_box_suggests_the_chosen_services_versions(
    login, reporter, team, staging, service, other_team
):
    for version in ("4.11.0", "4.12.0", "5.0.0"):
        ReleaseFactory(service=service, version=version)
    ReleaseFactory(service=ServiceFactory(slug="ledger", owner_team=other_team), version="7.7.7")
    client = login(reporter)
    url = reverse("incidents:release_versions")
    answer = client.get(url, {"service": service.pk, "q": "4."}).content.decode()
    assert re.findall(r'value="([^"]+)"', answer) == ["4.12.0", "4.11.0"]  # newest first, by prefix
    assert "7.7.7" not in client.get(url, {"service": service.pk}).content.decode()
    for junk in ({"service": "x"}, {"service": "9" * 40}, {}, {"service": service.pk, "q": "\x00" + "[" * 5000}):
        response = client.get(url, junk)
        assert (response.status_code, "<option" in response.content.decode()) == (200, False), junk
    # The form names the datalist, and after an error it offers the versions of the service chosen.
    page = client.post(URL, form_data(team, staging, service=service.pk, title="")).content.decode()
    assert 'list="release-versions"' in page and '<option value="5.0.0">' in page


def test_a_future_time_is_refused(login, reporter, team, staging):
    later = (timezone.localtime() + dt.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    response = login(reporter).post(URL, form_data(team, staging, started_at=later))
    assert response.context["form"].errors["started_at"] == ["This is in the future."]


def test_someone_on_no_team_is_told_to_ask_for_one(login, django_user_model):
    loner = django_user_model.objects.create_user("lonely", password="x")
    response = login(loner).get(URL)
    assert response.status_code == 403 and b"not on a team yet" in response.content


def test_a_member_cannot_file_for_another_team(login, reporter, other_team, staging):
    response = login(reporter).post(URL, form_data(other_team, staging))
    assert response.status_code == 400 and "team" in response.context["form"].errors


def test_a_near_miss_filed_on_the_web_keeps_its_first_version_through_an_edit(login, reporter, team, staging):
    client = login(reporter)
    client.post(URL, form_data(team, staging))
    near_miss = Incident.objects.get()
    first = IncidentRevision.objects.get(incident=near_miss)
    assert (first.version, first.author, first.summary) == (1, reporter, near_miss.summary)
    edit = reverse("incidents:incident_edit", args=[near_miss.reference])
    response = client.post(edit, edit_data(near_miss, summary="Rewritten later."))
    assert response.status_code == 302, response.content.decode()[:2000]
    history = client.get(reverse("incidents:incident_history", args=[near_miss.reference])).content.decode()
    assert "Version 1" in history and "Version 2" in history
    original = client.get(reverse("incidents:revision_diff", args=[near_miss.reference, 1])).content.decode()
    assert "Review caught an ALTER TABLE without a lock timeout." in original


def test_a_confidential_filing_keeps_its_first_version_without_an_author(login, reporter, team, staging):
    login(reporter).post(URL, form_data(team, staging, confidential="on"))
    revision = IncidentRevision.objects.get(incident=Incident.objects.get())
    assert revision.version == 1 and revision.author is None


def test_a_release_entered_by_hand_loses_the_mark_once_a_tool_records_it(login, reporter, team, staging, service):
    from incidents.services.releases import release_record

    login(reporter).post(URL, form_data(team, staging, service=service.pk, release_version="9.9.9"))
    recorded = release_record(service=service, version="9.9.9", commit_sha="a" * 40)
    assert recorded.commit_sha == "a" * 40 and not Release.objects.get(pk=recorded.pk).entered_by_hand
