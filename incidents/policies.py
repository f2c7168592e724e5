"""Who may do what: every "may this actor do this to this object" question of Hindsight, answered here once.

The actor is a Viewer: a signed-in person, or a tool acting for a team through an API token. Each rule returns a
Decision, true when allowed; a refusal carries the rule in words (the 403 shows it) and says whether the object
must stay invisible to the actor (then every door answers 404, as for an object that does not exist).

Services call `require(...)` and so refuse the same way whichever door they are called from; views, API
permission classes, templates and the admin ask the same functions and keep no rules of their own. The table of
docs/authorization.md lists every rule for every kind of actor; tests/reliability/test_every_door_answers_as_the_policy_says.py reads
it and checks every door against it. This module imports models only.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from typing import cast

from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404, HttpRequest

from incidents.models import (
    ActionItem,
    ApiToken,
    ConfidentialReporter,
    Incident,
    Membership,
    Service,
    Team,
    WebhookSubscription,
)

# --- The actor --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Viewer:
    """Who is looking or acting: a signed-in person, or a tool acting for a team (`tool_team_id`)."""

    user_id: int | None
    team_ids: frozenset[int]
    lead_team_ids: frozenset[int]
    is_admin: bool = False
    tool_team_id: int | None = None  # the team an API token acts for
    can_write: bool = True  # False for a token of the read scope
    # A hook's token (scope "hook"): the source of its active hook, "" when the hook is gone or switched off.
    # Such a token is accepted by that one receiver only (may_present_token).
    hook_source: str | None = None

    @property
    def is_tool(self) -> bool:
        return self.tool_team_id is not None

    @property
    def is_signed_in(self) -> bool:
        return self.user_id is not None or self.is_tool or self.is_admin


ANONYMOUS = Viewer(user_id=None, team_ids=frozenset(), lead_team_ids=frozenset(), can_write=False)


def viewer_for_user(user: User | AnonymousUser) -> Viewer:
    if not user.is_authenticated:
        return ANONYMOUS
    memberships = list(Membership.objects.filter(user=user).values_list("team_id", "role"))
    return Viewer(
        user_id=user.pk,
        team_ids=frozenset(team_id for team_id, _ in memberships),
        lead_team_ids=frozenset(team_id for team_id, role in memberships if role == Membership.Role.LEAD),
        is_admin=user.is_superuser,
    )


class ViewerCachingRequest(HttpRequest):
    """A request that keeps its viewer once computed (viewer_of_request)."""

    _hindsight_viewer: Viewer


def viewer_of_request(request: HttpRequest) -> Viewer:
    """The signed-in person of a web or admin request as a Viewer (the actor of its writes), computed once per
    request."""
    caching = cast(ViewerCachingRequest, request)
    if not hasattr(caching, "_hindsight_viewer"):
        caching._hindsight_viewer = viewer_for_user(request.user)
    return caching._hindsight_viewer


def viewer_for_team(team: Team, *, can_write: bool = True) -> Viewer:
    """A tool acting for a team sees what a member of that team sees, and writes only for that team."""
    return Viewer(
        user_id=None, team_ids=frozenset({team.pk}), lead_team_ids=frozenset(), tool_team_id=team.pk,
        can_write=can_write,
    )  # fmt: skip


def viewer_for_token(token: ApiToken) -> Viewer:
    if token.scope == ApiToken.Scope.HOOK:
        hook = getattr(token, "hook", None)
        return replace(
            viewer_for_team(token.team, can_write=False),
            hook_source=hook.source if hook is not None and hook.active else "",
        )
    return viewer_for_team(token.team, can_write=token.can_write)


# --- Decisions ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    allowed: bool
    rule: str = ""  # why not, as the refusal says it
    hidden: bool = False  # the object stays invisible to the actor: refused as not found

    def __bool__(self) -> bool:
        return self.allowed


ALLOWED = Decision(True)


def _no(rule: str) -> Decision:
    return Decision(False, rule)


def _hidden(rule: str = "No such item.") -> Decision:
    return Decision(False, rule, hidden=True)


class NotAllowed(PermissionDenied):
    """A policy refused the action: every door answers 403 with the rule."""

    def __init__(self, decision: Decision) -> None:
        super().__init__(decision.rule)
        self.decision = decision


def require(decision: Decision) -> None:
    """Raise when `decision` refuses: Http404 when the object must stay invisible, NotAllowed (403) otherwise."""
    if decision.hidden:
        raise Http404(decision.rule)
    if not decision:
        raise NotAllowed(decision)


READ_ONLY_TOKEN = "This API token can only read; writing needs a token with the write scope."  # noqa: S105 - a message, not a secret
SIGNED_OUT = "Sign in first."


def _writer(actor: Viewer) -> Decision:
    if not actor.is_signed_in:
        return _no(SIGNED_OUT)
    if not actor.can_write:
        return _no(READ_ONLY_TOKEN)
    return ALLOWED


# --- Seeing items ------------------------------------------------------------------------------------------


def visible_incidents(actor: Viewer) -> Q:
    """The one visibility rule, as a filter on incidents. Everyone signed in sees every team's non-confidential
    items (learning travels); a confidential near-miss is seen by its reporter, its team's leads and admins."""
    if actor.is_admin:
        return Q()
    if not actor.is_signed_in:
        return Q(pk__in=[])
    allowed = Q(confidential=False) | Q(team_id__in=actor.lead_team_ids)
    if actor.user_id is not None:
        allowed |= Q(confidential_reporter__user_id=actor.user_id)
    return allowed


def _filed_by(actor: Viewer, incident: Incident) -> bool:
    if actor.user_id is None:
        return False
    return ConfidentialReporter.objects.filter(incident_id=incident.pk, user_id=actor.user_id).exists()


def may_view(actor: Viewer, incident: Incident) -> Decision:
    if not actor.is_signed_in:
        return _no(SIGNED_OUT)
    if actor.is_admin or not incident.confidential or incident.team_id in actor.lead_team_ids:
        return ALLOWED
    return ALLOWED if _filed_by(actor, incident) else _hidden()


def may_see_confidential_reporter(actor: Viewer, incident: Incident) -> Decision:
    """Who filed a confidential near-miss is known to admins only (until it is purged)."""
    return ALLOWED if actor.is_admin and incident.confidential else _no("Admins only.")


def may_see_all_confidential(actor: Viewer) -> Decision:
    """Confidential items, the trail and reports that count them, without restriction: admins only."""
    return ALLOWED if actor.is_admin else _no("Admins only.")


# --- Writing items -----------------------------------------------------------------------------------------


def may_edit(actor: Viewer, incident: Incident) -> Decision:
    """Members of the incident's team (and its tokens) and admins edit it: its fields and status, its timeline
    and action items; a confidential near-miss only its team's leads and admins."""
    if not (writer := _writer(actor)):  # a read token writes nothing, whatever it can see
        return writer
    if not (seen := may_view(actor, incident)):
        return seen
    if actor.is_admin:
        return ALLOWED
    if incident.confidential:
        if incident.team_id in actor.lead_team_ids:
            return ALLOWED
        return _no("Only the team's leads and admins change a confidential near-miss.")
    if incident.team_id in actor.team_ids:
        return ALLOWED
    if actor.is_tool:
        return _no("This item belongs to another team; a token writes only its own team's items.")
    return _no("Only the incident's team can change it.")


def may_publish(actor: Viewer, incident: Incident) -> Decision:
    """Publishing is the review, a person's sign-off: the team's leads and admins publish; a token never does."""
    if not (editable := may_edit(actor, incident)):
        return editable
    if actor.is_tool:
        return _no("Publishing is a sign-off by the team's leads; a token cannot publish.")
    if actor.is_admin or incident.team_id in actor.lead_team_ids:
        return ALLOWED
    return _no("Only the team's leads and admins publish.")


def may_set_status(actor: Viewer, incident: Incident, status: str) -> Decision:
    """Moving an item to `status`: publishing as may_publish, any other move as may_edit."""
    if status == Incident.Status.PUBLISHED and status != incident.status:
        return may_publish(actor, incident)
    return may_edit(actor, incident)


def may_triage(actor: Viewer, incident: Incident) -> Decision:
    """Promoting or dismissing a triage item: whoever may edit it (its team; leads for a confidential one)."""
    decision = may_edit(actor, incident)
    if decision or decision.hidden or decision.rule in (SIGNED_OUT, READ_ONLY_TOKEN):
        return decision
    return _no("Only the item's team triages it.")


def may_complete(actor: Viewer, item: ActionItem) -> Decision:
    """The owner, the members (and tokens) of the item's or the incident's team, and admins close an action
    item; the confidential near-miss's own rule applies to the incident's team."""
    if not (writer := _writer(actor)):
        return writer
    if not (seen := may_view(actor, item.incident)):
        return seen
    if (
        actor.is_admin
        or (actor.user_id is not None and item.owner_id == actor.user_id)
        or (item.team_id is not None and item.team_id in actor.team_ids)
        or may_edit(actor, item.incident)
    ):
        return ALLOWED
    return _no("Only the owner or the team closes this item.")


def may_edit_action_item(actor: Viewer, item: ActionItem) -> Decision:
    """An action item's details (title, owner, due date...) are the incident's: as may_edit on it."""
    decision = may_edit(actor, item.incident)
    if decision or decision.hidden or decision.rule in (SIGNED_OUT, READ_ONLY_TOKEN):
        return decision
    return _no("This action item belongs to another team's incident.")


def filing_teams(user: User) -> Q:
    """The teams a person may file for, as a filter on teams: their own; every team for an admin (may_file_for
    is the same rule for one team)."""
    return Q() if user.is_superuser else Q(memberships__user=user)


def may_file_for(actor: Viewer, team: Team) -> Decision:
    """Filing an incident or a near-miss for `team`: its members and tokens, and admins."""
    if not (writer := _writer(actor)):
        return writer
    if actor.is_admin or team.pk in actor.team_ids:
        return ALLOWED
    return _no(f"You are not a member of {team.name}.")


def may_file_published(actor: Viewer, team: Team, *, kind: str, status: str) -> Decision:
    """Filing an item already published. A near-miss is filed published by whoever files it (that is how
    near-misses are shared); an incident filed published skips the review, so only as may_publish would allow:
    the team's leads and admins, never a token."""
    if status != Incident.Status.PUBLISHED or kind != Incident.Kind.INCIDENT:
        return ALLOWED
    if actor.is_tool:
        return _no("Publishing is a sign-off by the team's leads; a token cannot publish.")
    if actor.is_admin or team.pk in actor.lead_team_ids:
        return ALLOWED
    return _no("Only the team's leads and admins publish.")


def service_writable_by(team: Team, service: Service) -> bool:
    """The one ownership rule of tools: a token or webhook acting for `team` writes releases, deployments and
    alert items only for the team's own services and for services that no team owns. A member filing a near-miss
    records a release by hand under the same rule."""
    return service.owner_team_id is None or service.owner_team_id == team.pk


def not_writable_detail(team: Team, service: Service) -> str:
    return f"{service.slug} is not one of {team.slug}'s services (it is owned by another team)."


def may_write_for_service(actor: Viewer, service: Service) -> Decision:
    """Releases and deployments of a service (through the API): a write token of its owning team, or any write
    token when no team owns it. People record them in the admin."""
    if not (writer := _writer(actor)):
        return writer
    if actor.tool_team_id is None:
        return _no("Releases and deployments are recorded by tools, with a write token.")
    if service.owner_team_id is None or service.owner_team_id == actor.tool_team_id:
        return ALLOWED
    return _no(f"{service.slug} is owned by another team; a token writes only for its own team's services.")


# --- The API's doors ------------------------------------------------------------------------------------------


def may_present_token(actor: Viewer, receiver: str | None) -> Decision:
    """A token at a door of the API. A hook's token is the credential of one sender, kept in that sender's
    configuration: it is accepted by its own hook's receiver (`receiver`, the source) only, never to read or write
    anything else. Other tokens are accepted everywhere, and their scope decides the rest."""
    if actor.hook_source is None:
        return ALLOWED
    if actor.hook_source and actor.hook_source == receiver:
        return ALLOWED
    if not actor.hook_source:
        return _no("This token's hook is switched off or gone.")
    return _no(
        f"This token belongs to a {actor.hook_source} hook and is accepted only at /api/v1/hooks/{actor.hook_source}/."
    )


def may_deliver_to_receiver(actor: Viewer, receiver: str) -> Decision:
    """A sender with a bearer token (Alertmanager, Opsgenie, Grafana) delivering to its receiver: the
    token of one of this source's active hooks, or a write token of the team (its events are mapped by the
    documented defaults, without a hook's service or environment map)."""
    if not actor.is_tool:
        return _no("Send a hook's token, or a write token, as `Authorization: Bearer <token>`.")
    if actor.hook_source is not None:
        return may_present_token(actor, receiver)
    return _writer(actor)


def may_read_api(actor: Viewer) -> Decision:
    """Reading the API: any token, or a signed-in person."""
    return ALLOWED if actor.is_signed_in else _no(SIGNED_OUT)


def may_write_api(actor: Viewer) -> Decision:
    """Writing through the API takes a token of the write scope; people write through the web app."""
    if not actor.is_tool:
        return _no("Writing needs an API token with the write scope; a session can only read.")
    return _writer(actor)


# --- Reports, tokens, the admin ---------------------------------------------------------------------------------


def may_request_report(actor: Viewer, team: Team | None) -> Decision:
    """Generating a report now: a lead of the team (any lead for the organisation's), and admins."""
    if actor.is_admin:
        return ALLOWED
    if actor.user_id is not None and (team.pk in actor.lead_team_ids if team is not None else actor.lead_team_ids):
        return ALLOWED
    return _no("Only a lead of this team (or an admin) can generate this report.")


def may_preview_digest(actor: Viewer, *, subscribed: bool) -> Decision:
    """Previewing one's own weekly digest (as it would be mailed): those who may receive it, that is leads and
    admins (who get it unless they unsubscribe) and anyone who has subscribed. Never someone else's digest."""
    if actor.user_id is None:
        return _no("Sign in to preview your digest.")
    if actor.is_admin or actor.lead_team_ids or subscribed:
        return ALLOWED
    return _no("Subscribe to the weekly digest to preview it.")


def may_manage_tokens(actor: Viewer, team: Team | None = None) -> Decision:
    """Creating and revoking API tokens (credentials that act for a team): a lead of `team` (a person, in the app's
    token page) and admins. Without a team, every team's tokens and the GitHub hooks (the admin): admins only."""
    if actor.is_admin:
        return ALLOWED
    if team is not None and actor.user_id is not None and team.pk in actor.lead_team_ids:
        return ALLOWED
    if team is None:
        return _no("Admins only: tokens and hooks write for a team.")
    return _no(f"Only a lead of {team.name} (or an admin) manages its API tokens.")


def may_manage_some_tokens(actor: Viewer) -> Decision:
    """Whether the token page has anything for `actor`: a lead of some team (a person), or an admin."""
    if actor.is_admin or (actor.user_id is not None and actor.lead_team_ids):
        return ALLOWED
    return _no("Only team leads and admins manage API tokens.")


def token_managed_teams(actor: Viewer) -> Q:
    """The teams whose tokens `actor` manages, as a filter on teams (may_manage_tokens for one team)."""
    if actor.is_admin:
        return Q()
    if actor.user_id is None:
        return Q(pk__in=[])
    return Q(pk__in=sorted(actor.lead_team_ids))


def may_manage_chat(actor: Viewer, team: Team) -> Decision:
    """Setting, replacing, clearing, re-enabling and testing a team's chat channel webhooks (Slack, Teams): a lead
    of the team and admins in the app, and the team's write token through the API."""
    if actor.is_tool:
        if not actor.can_write:
            return _no(READ_ONLY_TOKEN)
        if actor.tool_team_id == team.pk:
            return ALLOWED
        return _no("This token acts for another team; a token manages only its own team's chat channels.")
    if actor.is_admin or (actor.user_id is not None and team.pk in actor.lead_team_ids):
        return ALLOWED
    if not actor.is_signed_in:
        return _no(SIGNED_OUT)
    return _no(f"Only a lead of {team.name} (or an admin) manages its chat channels.")


def chat_managed_teams(actor: Viewer) -> Q:
    """The teams whose chat channels `actor` manages, as a filter on teams (may_manage_chat for one team)."""
    if actor.is_admin:
        return Q()
    if actor.is_tool:
        return Q(pk=actor.tool_team_id) if actor.can_write else Q(pk__in=[])
    return Q(pk__in=sorted(actor.lead_team_ids))


def may_manage_webhooks(actor: Viewer, team: Team | None) -> Decision:
    """Adding, disabling, enabling, deleting and testing a team's outbound webhook subscriptions: a lead of the team
    (a person, on /teams/<slug>/webhooks/) and admins. Without a team, the organisation's subscriptions (every
    team's events): admins only, in the admin. A token manages none."""
    if actor.is_tool:
        return _no("Outbound webhooks are managed by people, on the team's page; a token manages none.")
    if actor.is_admin:
        return ALLOWED
    if not actor.is_signed_in:
        return _no(SIGNED_OUT)
    if team is None:
        return _no("Admins only: an organisation subscription receives every team's events.")
    if actor.user_id is not None and team.pk in actor.lead_team_ids:
        return ALLOWED
    return _no(f"Only a lead of {team.name} (or an admin) manages its outbound webhooks.")


def may_let_webhooks_receive_confidential(actor: Viewer) -> Decision:
    """Letting a webhook subscription receive events about confidential near-misses (include_confidential): admins
    only, since whoever holds the URL then learns of them."""
    return ALLOWED if actor.is_admin else _no("Only an admin lets a webhook receive confidential near-misses.")


def may_receive_event(
    subscription: WebhookSubscription, *, team_ids: Collection[int], confidential: bool
) -> Decision:
    """What a webhook subscription is sent: events about its team's items (every team's, for the organisation's),
    and about a confidential near-miss (or its action items) only when it includes confidential ones, which only
    an admin allows (may_let_webhooks_receive_confidential). Asked when an event happens and again when it is
    sent, on the item as it is then."""
    if subscription.team_id is not None and subscription.team_id not in team_ids:
        return _no("This event is about another team's item.")
    if confidential and not subscription.include_confidential:
        return _hidden()
    return ALLOWED


def may_delete_referenced_rows(actor: Viewer) -> Decision:
    """Deleting teams, services, environments, causes or releases in the admin: admins only, as the delete page
    would list the items (confidential ones too) that use the row."""
    return ALLOWED if actor.is_admin else _no("Admins only.")


def may_see_operations(actor: Viewer) -> Decision:
    """The outbox's messages name the items they follow up, confidential filings included: admins only."""
    return ALLOWED if actor.is_admin else _no("Admins only.")


def may_log_in_with_password(actor: Viewer, *, password_login: bool) -> Decision:
    """Signing in with a password (the actor: the person whose password it is). With PASSWORD_LOGIN=false people
    sign in through single sign-on, and only an active superuser may still use a password, on the break-glass page
    (docs/sso.md)."""
    if actor.is_tool:
        return _no("A token does not sign in.")
    if password_login or actor.is_admin:
        return ALLOWED
    return _no("Password login is turned off.")
