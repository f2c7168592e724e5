"""Reports per audience: adding a confidential near-miss changes nothing in the "everyone" report, and the
"confidential" report (a team's leads and admins; the organisation's for admins only) counts it.

The world: the payments team's week 2026-W20 with a public incident and a public near-miss, a fix done in
April that did not stick, and two published postmortems in the archive. Then two confidential near-misses are
added: one in the report week (a cause with its gate, an environment, a caught_by, the checkout service, an
overdue action item without an owner; it repeats a cause that a public fix addressed) and one in April whose
completed action item is the only fix for the public near-miss's cause (so "fixes that did not stick" would
name a confidential near-miss's action item).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from typing import Any
from unittest import mock

import pytest
import time_machine
from django.core import mail
from django.urls import reverse

from incidents.models import ApiToken, ConfidentialReporter, IncidentCause, Membership, TrendReport
from incidents.policies import viewer_for_team, viewer_for_user
from incidents.selectors import reports as report_selectors
from incidents.selectors.reports import report_audience_for, report_data
from incidents.services import api_token_create
from incidents.services.reports import (
    digest_message,
    digest_reports,
    digest_send,
    digest_subscription_set,
    report_generate,
)
from incidents.views.report_charts import chart_svg
from incidents.weeks import Week
from tests.api.conftest import Tool
from tests.factories import (
    ActionItemFactory,
    DeploymentFactory,
    IncidentFactory,
    MembershipFactory,
    NearMissFactory,
    ReleaseFactory,
    ServiceFactory,
    UserFactory,
    cause,
    environment,
)

pytestmark = pytest.mark.django_db

WEEK = Week.parse("2026-W20")  # Monday 11 May 2026
UTC = dt.UTC
# Sections a confidential near-miss can never move: durations and the change failure rate count incidents only.
INCIDENTS_ONLY = {"deployments", "durations"}
SECTIONS = (
    "counts", "causes", "environments", "deployments", "durations", "action_items", "caught_by",
    "repeat_offenders", "fixes_not_sticking", "gate_gaps", "archive_pick",
)  # fmt: skip


def at(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=UTC)


def tag(item, *causes: tuple[str, str]):
    for slug, gate in causes:
        IncidentCause.objects.create(incident=item, cause=cause(slug), gate=gate)
    return item


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(at("2026-05-20 12:00"), tick=False):
        yield


@pytest.fixture
def world(team, service):
    ledger = ServiceFactory(name="Ledger", slug="ledger", owner_team=team)
    release = ReleaseFactory(service=service, version="4.2")
    earlier = tag(IncidentFactory(team=team, started_at=at("2026-04-01 10:00"), services=[service]),
                  ("missing-check", "ci"))  # fmt: skip
    fix = ActionItemFactory(incident=earlier, cause=cause("missing-check"), status="done",
                            created_at=at("2026-04-02 10:00"), completed_at=at("2026-04-10 10:00"))  # fmt: skip
    incident = tag(
        IncidentFactory(team=team, severity="sev2", started_at=at("2026-05-12 10:00"), services=[service],
                        detected_at=at("2026-05-12 10:20"), mitigated_at=at("2026-05-12 11:00")),
        ("missing-check", "ci"),
    )  # fmt: skip
    incident.releases.set([release])
    DeploymentFactory(release=release, environment=environment("prod"), status="succeeded",
                      deployed_at=at("2026-05-12 09:00"))  # fmt: skip
    tag(NearMissFactory(team=team, started_at=at("2026-05-13 10:00"), services=[ledger]), ("config-drift", ""))
    # The archive: the week's public causes point to "Missed check", the confidential ones to "Leaked key".
    tag(IncidentFactory(team=team, title="Missed check", started_at=at("2025-09-01 10:00")), ("missing-check", ""))
    tag(IncidentFactory(team=team, title="Leaked key", started_at=at("2025-10-01 10:00")),
        ("secret-handling", ""), ("unsafe-data-handling", ""))  # fmt: skip
    return {"fix": fix, "ledger": ledger}


def add_confidential_near_misses(team, service, ledger, reporter):
    """The two confidential near-misses of the module docstring; returns them (this week's first)."""
    secret = tag(
        NearMissFactory(team=team, confidential=True, started_at=at("2026-05-14 10:00"), caught_by="luck",
                        environment=environment("dev"), services=[service]),
        ("missing-check", "review"), ("secret-handling", "canary"), ("unsafe-data-handling", ""),
    )  # fmt: skip
    ConfidentialReporter.objects.create(incident=secret, user=reporter, receipt_hash="c" * 64)
    ActionItemFactory(incident=secret, created_at=at("2026-05-14 11:00"), due_date=dt.date(2026, 5, 15))
    older = tag(NearMissFactory(team=team, confidential=True, started_at=at("2026-04-03 10:00"), services=[ledger]),
                ("config-drift", ""))  # fmt: skip
    hidden_fix = ActionItemFactory(incident=older, cause=cause("config-drift"), status="done",
                                   created_at=at("2026-04-03 11:00"), completed_at=at("2026-04-05 10:00"))  # fmt: skip
    return secret, hidden_fix


def without_generated_at(data: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in data.items() if key != "generated_at"}


def changed_sections(before: dict[str, Any], after: dict[str, Any]) -> set[str]:
    return {section for section in SECTIONS if before[section] != after[section]}


@pytest.mark.parametrize("scope", ["team", "organisation"])
def test_a_confidential_near_miss_changes_only_the_confidential_report(world, team, service, reporter, scope):
    scoped = team if scope == "team" else None
    before = {
        audience: report_data(week=WEEK, team=scoped, audience=audience) for audience in TrendReport.Audience
    }
    add_confidential_near_misses(team, service, world["ledger"], reporter)
    after = {audience: report_data(week=WEEK, team=scoped, audience=audience) for audience in TrendReport.Audience}

    assert without_generated_at(after["everyone"]) == without_generated_at(before["everyone"])
    assert changed_sections(before["confidential"], after["confidential"]) == set(SECTIONS) - INCIDENTS_ONLY
    assert after["confidential"]["confidential_near_misses"] == {"week": 1, "window": 2}
    assert "confidential_near_misses" not in after["everyone"]


def test_fixes_that_did_not_stick_never_name_a_confidential_near_miss_or_its_action_item(
    world, team, service, reporter
):
    secret, hidden_fix = add_confidential_near_misses(team, service, world["ledger"], reporter)
    everyone = report_data(week=WEEK, team=team, audience="everyone")["fixes_not_sticking"]
    confidential = report_data(week=WEEK, team=team, audience="confidential")["fixes_not_sticking"]
    assert [line["action_item"] for line in everyone] == [world["fix"].pk]
    assert {(line["number"], line["action_item"]) for line in confidential} >= {
        (secret.reference, world["fix"].pk),  # the confidential near-miss repeats a fixed cause
    }
    assert hidden_fix.pk in [line["action_item"] for line in confidential]
    assert hidden_fix.pk not in [line["action_item"] for line in everyone]


def test_the_archive_pick_is_not_swayed_by_a_confidential_near_misses_causes(world, team, service, reporter):
    add_confidential_near_misses(team, service, world["ledger"], reporter)
    assert report_data(week=WEEK, team=team, audience="everyone")["archive_pick"]["title"] == "Missed check"
    assert report_data(week=WEEK, team=team, audience="confidential")["archive_pick"]["title"] == "Leaked key"


# --- Who reads which audience -------------------------------------------------------------------------------


@pytest.fixture
def platform_lead(other_team):
    return MembershipFactory(user=UserFactory(username="paula"), team=other_team, role=Membership.Role.LEAD).user


def test_admins_read_every_confidential_report_and_leads_their_teams_only(
    team, other_team, lead, reporter, outsider, platform_lead, admin_user
):
    def audiences(viewer):
        return [report_audience_for(viewer, scope) for scope in (None, team, other_team)]

    assert audiences(viewer_for_user(admin_user)) == ["confidential"] * 3
    assert audiences(viewer_for_user(lead)) == ["everyone", "confidential", "everyone"]
    assert audiences(viewer_for_user(platform_lead)) == ["everyone", "everyone", "confidential"]
    for person in (reporter, outsider):  # plain members, of the team or another
        assert audiences(viewer_for_user(person)) == ["everyone"] * 3
    assert audiences(viewer_for_team(team)) == ["everyone"] * 3  # a tool, even of the team itself


@pytest.fixture
def generated(world, team, other_team, service, reporter):
    """Both teams' and the organisation's reports, generated with the confidential near-misses in them."""
    secret, _ = add_confidential_near_misses(team, service, world["ledger"], reporter)
    for scope in (None, team, other_team):
        report_generate(week=WEEK, team=scope)
    return secret


def stored(scope: str, audience: str) -> dict[str, Any]:
    return TrendReport.objects.get(week_start=WEEK.monday, scope=scope, audience=audience).data


def page(client, user, scope: str) -> str:
    client.force_login(user)
    response = client.get(reverse("reports:report_detail", args=[WEEK.label, scope]))
    assert response.status_code == 200
    return response.content.decode()


def near_misses_shown(html: str) -> str:
    """The "Near-misses" key number as the page shows it."""
    return html.split("Near-misses<strong>", 1)[1].split("</strong>", 1)[0]


def test_lead_reads_their_teams_confidential_report_and_is_told_not_to_forward_it(client, generated, lead):
    html = page(client, lead, "team:payments")
    assert "Confidential: do not forward." in html
    assert "includes 1 confidential near-miss this week" in html and "(2 in the 13 weeks" in html
    assert near_misses_shown(html) == str(stored("team:payments", "confidential")["counts"]["near_misses"][-1])
    assert near_misses_shown(html) == "2"


def test_lead_reads_the_organisation_and_other_teams_reports_without_confidential_items(
    client, generated, lead, platform_lead
):
    for person, scope in ((lead, "organisation"), (lead, "team:platform"), (platform_lead, "team:payments")):
        html = page(client, person, scope)
        assert "onfidential" not in html, (person, scope)
        assert near_misses_shown(html) == str(stored(scope, "everyone")["counts"]["near_misses"][-1])
    assert near_misses_shown(page(client, platform_lead, "team:payments")) == "1"


def test_admin_reads_the_organisations_confidential_report(client, generated, admin_user):
    html = page(client, admin_user, "organisation")
    assert "Confidential: do not forward." in html and "Only admins" in html
    assert near_misses_shown(html) == "2"


def test_plain_members_read_the_everyone_report_which_says_nothing_of_confidential_items(
    client, generated, reporter, outsider
):
    for person in (reporter, outsider):  # the confidential near-miss's own reporter included
        html = page(client, person, "team:payments")
        assert "onfidential" not in html and "too few" not in html
        assert near_misses_shown(html) == "1"


def test_exports_and_charts_are_the_report_the_page_shows(client, generated, lead, reporter):
    for person, audience in ((lead, "confidential"), (reporter, "everyone")):
        client.force_login(person)
        args = [WEEK.label, "team:payments"]
        exported = client.get(reverse("reports:report_json", args=args))
        assert json.loads(exported.content) == stored("team:payments", audience)
        suffix = "-confidential" if audience == "confidential" else ""
        assert (
            exported["Content-Disposition"]
            == f'attachment; filename="hindsight-2026-W20-team-payments{suffix}.json"'
        )
        rows = list(csv.reader(io.StringIO(client.get(reverse("reports:report_csv", args=args)).content.decode())))
        assert ["report", "audience", "", "2026-W20", audience] in rows
        assert ["counts", "near_misses", "", "2026-W20", "2" if audience == "confidential" else "1"] in rows
        chart = client.get(reverse("reports:report_chart", args=[*args, "caught-by"])).content.decode()
        drawn = chart_svg(stored("team:payments", audience), "caught-by", base="http://testserver")
        assert without_chart_id(chart) == without_chart_id(drawn)
    everyone, confidential = (stored("team:payments", a) for a in ("everyone", "confidential"))
    assert without_chart_id(chart_svg(everyone, "caught-by")) != without_chart_id(
        chart_svg(confidential, "caught-by")
    )


def without_chart_id(svg: str) -> str:
    """pygal names each drawing with a fresh uuid."""
    return re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "uuid", svg)


def test_api_reads_each_callers_audience_like_the_page(client, generated, team, lead):
    token = Tool(*api_token_create(name="dashboard", team=team, scope=ApiToken.Scope.READ))
    detail = token.get("/api/v1/reports/2026-W20/", {"scope": "team:payments"}).json()
    assert detail == stored("team:payments", "everyone")
    listed = token.get("/api/v1/reports/").json()["results"]
    assert sorted((row["scope"], row["audience"]) for row in listed) == [
        ("organisation", "everyone"), ("team:payments", "everyone"), ("team:platform", "everyone"),
    ]  # fmt: skip
    client.force_login(lead)  # a session on the API reads what the web page shows
    assert client.get("/api/v1/reports/2026-W20/?scope=team:payments").json() == stored(
        "team:payments", "confidential"
    )
    listed = client.get("/api/v1/reports/").json()["results"]
    assert sorted((row["scope"], row["audience"]) for row in listed) == [
        ("organisation", "everyone"), ("team:payments", "confidential"), ("team:platform", "everyone"),
    ]  # fmt: skip


def test_report_list_shows_each_week_and_scope_once(client, generated, lead, admin_user):
    for person in (lead, admin_user):
        client.force_login(person)
        html = client.get(reverse("reports:report_list")).content.decode()
        for scope in ("organisation", "team:payments", "team:platform"):
            assert html.count(f'href="{reverse("reports:report_detail", args=[WEEK.label, scope])}"') == 1


def test_a_report_stored_before_audiences_is_still_read_by_leads(client, world, team, lead):
    report_generate(week=WEEK, team=team)
    # As migration 0010_report_audience leaves older weeks.
    TrendReport.objects.filter(audience="confidential").delete()
    html = page(client, lead, "team:payments")
    assert "onfidential" not in html and near_misses_shown(html) == "1"


def test_a_failing_confidential_report_leaves_the_everyone_report_ready(client, world, team, lead, reporter):
    def failing(*, week, team, audience):
        if audience == "confidential":
            raise RuntimeError("confidential report failed")
        return report_data(week=week, team=team, audience=audience)

    with mock.patch("incidents.services.reports.report_data", side_effect=failing), pytest.raises(RuntimeError):
        report_generate(week=WEEK, team=team)
    assert "Generated" in page(client, reporter, "team:payments")
    assert "Generation failed: confidential report failed" in page(client, lead, "team:payments")


# --- Digests ------------------------------------------------------------------------------------------------


def digest_of(user) -> tuple[str, str]:
    """A person's digest e-mail of the week, text and HTML, as it would be sent now."""
    message = digest_message(user=user, week=WEEK, reports=digest_reports(user=user, week=WEEK))
    return message.body, message.alternatives[0][0]


def test_an_outsiders_digest_does_not_change_when_a_confidential_near_miss_is_added(
    world, team, other_team, service, reporter, outsider
):
    digest_subscription_set(user=outsider, subscribed=True)
    digest_subscription_set(user=reporter, subscribed=True)
    for scope in (None, team, other_team):
        report_generate(week=WEEK, team=scope)
    before = {person: digest_of(person) for person in (outsider, reporter)}
    add_confidential_near_misses(team, service, world["ledger"], reporter)
    NearMissFactory(team=other_team, confidential=True, started_at=at("2026-05-14 10:00"), caught_by="luck")
    for scope in (None, team, other_team):
        report_generate(week=WEEK, team=scope)
    assert {person: digest_of(person) for person in (outsider, reporter)} == before


def test_a_leads_digest_has_their_teams_confidential_report_and_the_organisations_everyone_report(
    generated, lead, admin_user
):
    admin_user.email = "ada@example.com"
    admin_user.save()
    digest_subscription_set(user=admin_user, subscribed=True)
    assert digest_send(user=lead, week=WEEK) and digest_send(user=admin_user, week=WEEK)
    leads, admins = mail.outbox
    payments, organisation = leads.body.split("== Organisation ==")
    assert "CONFIDENTIAL, DO NOT FORWARD: includes 1 confidential near-miss this week" in payments
    assert "- Near-misses: 2" in payments
    assert "CONFIDENTIAL" not in organisation and "- Near-misses: 1" in organisation
    assert "CONFIDENTIAL, DO NOT FORWARD" in admins.body and "- Near-misses: 2" in admins.body
    assert "Confidential, do not forward" in leads.alternatives[0][0]


def test_digest_and_list_read_through_the_same_selector(generated, team, lead):
    viewer = viewer_for_user(lead)
    readable = {
        (r.scope, r.audience) for r in report_selectors.reports_visible(viewer).filter(week_start=WEEK.monday)
    }
    assert readable == {
        ("organisation", report_audience_for(viewer, None)),
        ("team:payments", report_audience_for(viewer, team)),
        ("team:platform", "everyone"),
    }
    assert {(r.scope, r.audience) for r in digest_reports(user=lead, week=WEEK)} == readable - {
        ("team:platform", "everyone")
    }


def test_a_team_confidential_report_leaves_out_another_teams_confidential_near_miss(team, other_team):
    """Its leads may see their own team's confidential near-misses only: an action item their team owns on
    another team's confidential near-miss is not theirs to count."""
    before = report_data(week=WEEK, team=team, audience=report_selectors.CONFIDENTIAL)
    hidden = NearMissFactory(
        team=other_team, confidential=True, started_at=dt.datetime(2026, 5, 12, 9, tzinfo=UTC)
    )
    ActionItemFactory(incident=hidden, team=team, due_date=dt.date(2026, 5, 13),
                      created_at=dt.datetime(2026, 5, 12, 10, tzinfo=UTC))  # fmt: skip
    after = report_data(week=WEEK, team=team, audience=report_selectors.CONFIDENTIAL)
    assert {k: v for k, v in after.items() if k != "generated_at"} == {
        k: v for k, v in before.items() if k != "generated_at"
    }
    organisation = report_data(week=WEEK, team=None, audience=report_selectors.CONFIDENTIAL)
    assert organisation["action_items"]["opened"] >= 1  # admins' organisation report counts it
