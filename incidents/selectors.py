"""Every non-trivial read. Visibility rules live here once, for the web app, the API and the reports."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Max, Prefetch, Q, QuerySet
from django.utils import timezone

from incidents.models import ActionItem, Cause, Deployment, Incident, IncidentCause, Membership, Release, Team

REFERENCE_PATTERN = re.compile(r"^(INC|NM)-(\d{1,9})$", re.IGNORECASE)


@dataclass(frozen=True)
class Viewer:
    """Who is looking: a signed-in person, or a tool acting for a team."""

    user_id: int | None
    team_ids: frozenset[int]
    lead_team_ids: frozenset[int]
    is_admin: bool = False


def viewer_for_user(user: AbstractBaseUser | AnonymousUser) -> Viewer:
    if not user.is_authenticated:
        return Viewer(user_id=None, team_ids=frozenset(), lead_team_ids=frozenset())
    memberships = list(Membership.objects.filter(user=user).values_list("team_id", "role"))
    return Viewer(
        user_id=user.pk,
        team_ids=frozenset(team_id for team_id, _ in memberships),
        lead_team_ids=frozenset(team_id for team_id, role in memberships if role == Membership.Role.LEAD),
        is_admin=user.is_superuser,
    )


def viewer_for_team(team: Team) -> Viewer:
    """A tool acting for a team sees what a member of that team sees."""
    return Viewer(user_id=None, team_ids=frozenset({team.pk}), lead_team_ids=frozenset())


def incidents_visible(viewer: Viewer) -> QuerySet[Incident]:
    """Everyone signed in sees every team's non-confidential items (learning travels); a confidential
    near-miss is seen by its reporter, its team's leads and admins only."""
    incidents = Incident.objects.all()
    if viewer.is_admin:
        return incidents
    if viewer.user_id is None and not viewer.team_ids:
        return incidents.none()
    allowed = Q(confidential=False) | Q(team_id__in=viewer.lead_team_ids)
    if viewer.user_id is not None:
        allowed |= Q(confidential_reporter__user_id=viewer.user_id)
    return incidents.filter(allowed)


def incident_list(*, viewer: Viewer) -> QuerySet[Incident]:
    """Visible incidents with what a list row shows, in a fixed number of queries."""
    return (
        incidents_visible(viewer)
        .select_related("team", "environment")
        .prefetch_related("services", Prefetch("causes", queryset=Cause.objects.only("slug", "name")))
    )


def incident_get(*, viewer: Viewer, reference: str) -> Incident:
    """The incident named by INC-n or NM-n if the viewer may see it; Incident.DoesNotExist otherwise."""
    match = REFERENCE_PATTERN.match(reference.strip())
    if not match:
        raise Incident.DoesNotExist(reference)
    kind = Incident.Kind.INCIDENT if match.group(1).upper() == "INC" else Incident.Kind.NEAR_MISS
    return (
        incidents_visible(viewer)
        .select_related("team", "environment", "reporter")
        .prefetch_related(
            "services",
            "releases__service",
            "timeline",
            Prefetch("incident_causes", queryset=IncidentCause.objects.select_related("cause")),
            Prefetch("action_items", queryset=ActionItem.objects.select_related("owner", "team", "cause")),
        )
        .get(kind=kind, number=int(match.group(2)))
    )


def action_items_open(*, user: AbstractBaseUser) -> QuerySet[ActionItem]:
    """A person's open action items, overdue first, then by due date."""
    return (
        ActionItem.objects.filter(owner=user, status=ActionItem.Status.OPEN)
        .select_related("incident", "cause")
        .order_by("due_date", "id")
    )


def action_items_overdue(
    *, team_ids: frozenset[int] | None = None, today: dt.date | None = None
) -> QuerySet[ActionItem]:
    today = today or timezone.localdate()
    items = ActionItem.objects.filter(status=ActionItem.Status.OPEN, due_date__lt=today)
    if team_ids is not None:
        items = items.filter(Q(team_id__in=team_ids) | Q(incident__team_id__in=team_ids))
    return items.select_related("incident", "owner", "team", "cause")


def causes_active() -> QuerySet[Cause]:
    return Cause.objects.filter(active=True).order_by("category", "name")


def suspect_releases(*, incident: Incident) -> QuerySet[Release]:
    """Releases of the incident's services that went live in its environment shortly before it started.

    The window is SUSPECT_RELEASE_WINDOW_HOURS (24 by default). Failed deployments never went live and do not
    count. Each release carries `last_deployed_at`, its latest deployment in the window; newest first.
    """
    if incident.environment_id is None or incident.started_at is None:
        return Release.objects.none()
    window_start = incident.started_at - dt.timedelta(hours=settings.SUSPECT_RELEASE_WINDOW_HOURS)
    in_window = Q(
        deployments__environment_id=incident.environment_id,
        deployments__deployed_at__gte=window_start,
        deployments__deployed_at__lte=incident.started_at,
        deployments__status__in=[Deployment.Status.SUCCEEDED, Deployment.Status.ROLLED_BACK],
    )
    return (
        Release.objects.filter(service__in=incident.services.all())
        .filter(in_window)
        .annotate(last_deployed_at=Max("deployments__deployed_at", filter=in_window))
        .select_related("service")
        .order_by("-last_deployed_at", "-id")
    )


# --- The API for tools ----------------------------------------------------------------------------------

from incidents.models import ApiToken, Environment, GitHubHook, Service, TrendReport  # noqa: E402


def api_token_authenticate(*, token_hash: str) -> ApiToken | None:
    return ApiToken.objects.select_related("team").filter(token_hash=token_hash).first()


def github_hooks_active() -> QuerySet[GitHubHook]:
    return GitHubHook.objects.filter(active=True).select_related("team", "service")


def api_incident_list(*, viewer: Viewer) -> QuerySet[Incident]:
    """Visible incidents with everything an API list row shows, in a fixed number of queries."""
    return (
        incidents_visible(viewer)
        .select_related("team", "environment", "reporter")
        .prefetch_related(
            Prefetch("services", queryset=Service.objects.only("id", "slug")),
            Prefetch("releases", queryset=Release.objects.select_related("service")),
            Prefetch("incident_causes", queryset=IncidentCause.objects.select_related("cause")),
        )
    )


def api_incident_detail(*, viewer: Viewer) -> QuerySet[Incident]:
    """As api_incident_list, plus the timeline and action items of each item."""
    return api_incident_list(viewer=viewer).prefetch_related(
        "timeline",
        Prefetch("action_items", queryset=ActionItem.objects.select_related("owner", "team", "cause")),
    )


def incident_by_reference(queryset: QuerySet[Incident], reference: str) -> Incident:
    """The item named INC-n or NM-n within `queryset`; Incident.DoesNotExist otherwise."""
    match = REFERENCE_PATTERN.match(reference.strip())
    if not match:
        raise Incident.DoesNotExist(reference)
    kind = Incident.Kind.INCIDENT if match.group(1).upper() == "INC" else Incident.Kind.NEAR_MISS
    return queryset.get(kind=kind, number=int(match.group(2)))


def action_items_visible(*, viewer: Viewer) -> QuerySet[ActionItem]:
    """Action items of the incidents the viewer may see."""
    return ActionItem.objects.filter(incident__in=incidents_visible(viewer).values("pk")).select_related(
        "incident", "owner", "team", "cause"
    )


def release_list() -> QuerySet[Release]:
    return Release.objects.select_related("service").prefetch_related(
        Prefetch("deployments", queryset=Deployment.objects.select_related("environment"))
    )


def deployment_list() -> QuerySet[Deployment]:
    return Deployment.objects.select_related("release__service", "environment")


def environments_all() -> QuerySet[Environment]:
    return Environment.objects.order_by("promotion_order")


def services_all() -> QuerySet[Service]:
    return Service.objects.select_related("owner_team").order_by("slug")


def reports_visible(*, viewer: Viewer) -> QuerySet[TrendReport]:
    """Ready reports the viewer may read: the organisation's, and those of the viewer's teams."""
    reports = TrendReport.objects.filter(status=TrendReport.Status.READY).select_related("team")
    if viewer.is_admin:
        return reports
    return reports.filter(Q(scope=TrendReport.ORGANISATION) | Q(team_id__in=viewer.team_ids))
