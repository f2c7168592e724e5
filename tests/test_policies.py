"""incidents/policies.py as a unit: every row of the table in docs/authorization.md, for every persona."""

from __future__ import annotations

import pytest

from incidents import policies
from incidents.models import ApiToken, Incident
from incidents.policies import ANONYMOUS, Viewer, viewer_for_team, viewer_for_user
from incidents.services import near_miss_report
from tests.factories import ActionItemFactory, IncidentFactory
from tests.policy_table import policy_table

pytestmark = pytest.mark.django_db

TABLE = policy_table()


@pytest.fixture
def actors(reporter, lead, outsider, admin_user, team, other_team) -> dict[str, Viewer]:
    return {
        "anonymous": ANONYMOUS, "outsider": viewer_for_user(outsider), "reporter": viewer_for_user(reporter),
        "lead": viewer_for_user(lead), "admin": viewer_for_user(admin_user), "write_token": viewer_for_team(team),
        "other_token": viewer_for_team(other_team),
        "read_token": viewer_for_team(team, can_write=ApiToken(scope=ApiToken.Scope.READ).can_write),
    }  # fmt: skip


def _confidential(by, team, prod) -> Incident:
    return near_miss_report(
        reporter=by, team=team, title="Token nearly pushed", summary="A hook stopped it.", environment=prod,
        caught_by=Incident.CaughtBy.AUTOMATED_CHECK, confidential=True,
    ).incident  # fmt: skip


@pytest.fixture
def rules(team, lead, reporter, prod, service):
    """action → a call of the policy for one actor, on objects of the team."""
    item = IncidentFactory(team=team, status=Incident.Status.IN_REVIEW)
    by_lead, by_reporter = _confidential(lead, team, prod), _confidential(reporter, team, prod)
    action_item = ActionItemFactory(incident=item)

    def filed_published(actor):
        return policies.may_file_for(actor, team) and policies.may_file_published(
            actor, team, kind=Incident.Kind.INCIDENT, status=Incident.Status.PUBLISHED
        )

    return {
        "view an item": lambda actor: policies.may_view(actor, item),
        "view a confidential near-miss": lambda actor: policies.may_view(actor, by_lead),
        "view the confidential near-miss one filed": lambda actor: policies.may_view(actor, by_reporter),
        "edit an item (fields, status, timeline, action items)": lambda actor: policies.may_edit(actor, item),
        "edit a confidential near-miss": lambda actor: policies.may_edit(actor, by_lead),
        "edit the confidential near-miss one filed": lambda actor: policies.may_edit(actor, by_reporter),
        "publish an item (move it to published)": lambda actor: policies.may_set_status(
            actor, item, Incident.Status.PUBLISHED
        ),
        "triage an item (promote or dismiss)": lambda actor: policies.may_triage(actor, item),
        "complete an action item": lambda actor: policies.may_complete(actor, action_item),
        "file an item for the team": lambda actor: policies.may_file_for(actor, team),
        "file an incident already published": filed_published,
        "write releases and deployments of the team's service": lambda actor: policies.may_write_for_service(
            actor, service
        ),
        "generate the team's report": lambda actor: policies.may_request_report(actor, team),
        "manage the team's API tokens (create, revoke)": lambda actor: policies.may_manage_tokens(actor, team),
        "manage every team's tokens and the hooks (the admin)": policies.may_manage_tokens,
        "manage the team's chat channels (Slack and Teams webhooks)": lambda actor: policies.may_manage_chat(
            actor, team
        ),
        "manage the team's outbound webhooks (subscriptions to its events)": lambda actor: (
            policies.may_manage_webhooks(actor, team)
        ),
        "manage the organisation's outbound webhooks, or let one receive confidential near-misses": lambda actor: (
            policies.may_manage_webhooks(actor, None) and policies.may_let_webhooks_receive_confidential(actor)
        ),
        "see who filed a confidential near-miss": lambda actor: policies.may_see_confidential_reporter(
            actor, by_lead
        ),
        "sign in with a password while password login is off (break-glass)": lambda actor: (
            policies.may_log_in_with_password(actor, password_login=False)
        ),
    }


def test_every_row_of_the_table_has_a_rule_here(rules):
    assert set(rules) == set(TABLE)


@pytest.mark.parametrize("action", sorted(TABLE))
def test_each_rule_answers_each_persona_as_the_table_says(action, rules, actors):
    wrong = []
    for persona, want in TABLE[action].items():
        if want == "—":
            continue
        decision = rules[action](actors[persona])
        got = "yes" if decision else ("hidden" if decision.hidden else "no")
        if got != want:
            wrong.append(f"{persona}: expected {want}, got {got} ({decision.rule})")
    assert wrong == []


def test_a_refusal_names_its_rule_and_require_raises_it(actors, team):
    item = IncidentFactory(team=team, status=Incident.Status.IN_REVIEW)
    decision = policies.may_set_status(actors["write_token"], item, Incident.Status.PUBLISHED)
    assert not decision and "a token cannot publish" in decision.rule
    with pytest.raises(policies.NotAllowed, match="a token cannot publish"):
        policies.require(decision)
    policies.require(policies.may_set_status(actors["write_token"], item, Incident.Status.DRAFT))


def test_hidden_objects_are_refused_as_not_found(actors, team, lead, prod):
    from django.http import Http404

    secret = _confidential(lead, team, prod)
    with pytest.raises(Http404):
        policies.require(policies.may_edit(actors["write_token"], secret))


def test_the_owner_and_the_items_team_complete_an_action_item_on_another_teams_incident(
    actors, other_team, team, reporter
):
    theirs = IncidentFactory(team=other_team)
    assigned = ActionItemFactory(incident=theirs, team=team)
    owned = ActionItemFactory(incident=theirs, owner=reporter)
    assert policies.may_complete(actors["reporter"], assigned) and policies.may_complete(
        actors["write_token"], assigned
    )
    assert policies.may_complete(actors["reporter"], owned)
    assert not policies.may_complete(actors["lead"], owned)  # not the owner, not the item's team
    assert not policies.may_edit_action_item(actors["write_token"], assigned)  # its details are the incident's


def test_the_visibility_filter_and_may_view_agree(actors, team, lead, reporter, prod):
    items = [IncidentFactory(team=team), _confidential(lead, team, prod), _confidential(reporter, team, prod)]
    for persona, actor in actors.items():
        visible = set(Incident.objects.filter(policies.visible_incidents(actor)).values_list("pk", flat=True))
        assert visible == {item.pk for item in items if policies.may_view(actor, item)}, persona
