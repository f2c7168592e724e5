"""Every non-trivial read but the weekly report's (incidents/selectors/reports.py). Visibility rules live here once,
for the web app, the API and the reports."""

from __future__ import annotations

import datetime as dt
import re

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db.models import (
    Case,
    Count,
    Exists,
    F,
    IntegerField,
    Max,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from incidents.limits import date_in_range
from incidents.models import (
    ActionItem,
    ApiToken,
    Cause,
    ConfidentialReporter,
    Deployment,
    Environment,
    Hook,
    Incident,
    IncidentCause,
    IncidentQuerySet,
    IncidentRevision,
    Release,
    Service,
    Team,
    TimelineEntry,
)
from incidents.policies import Viewer, filing_teams, token_managed_teams, visible_incidents
from incidents.search import search_terms
from incidents.tokens import receipt_hash

REFERENCE_PATTERN = re.compile(r"^(INC|NM|CNM)-(\d{1,9})$", re.IGNORECASE)


def reference_lookup(reference: str) -> Q:
    """The row a reference names: INC-n, NM-n (an open near-miss) or CNM-n (a confidential one).

    Incident.DoesNotExist for anything else, which every door answers as it answers an unknown number."""
    match = REFERENCE_PATTERN.match(reference.strip())
    if not match:
        raise Incident.DoesNotExist(reference)
    prefix, number = match.group(1).upper(), int(match.group(2))
    if prefix == "INC":
        return Q(kind=Incident.Kind.INCIDENT, number=number)
    return Q(kind=Incident.Kind.NEAR_MISS, confidential=prefix == Incident.CONFIDENTIAL_PREFIX, number=number)


def incidents_visible(viewer: Viewer) -> IncidentQuerySet:
    """The incidents the viewer may see (the rule: policies.visible_incidents)."""
    return Incident.objects.filter(visible_incidents(viewer))


def incident_list(*, viewer: Viewer) -> IncidentQuerySet:
    """Visible incidents with what a list row shows, in a fixed number of queries."""
    return (
        incidents_visible(viewer)
        .select_related("team", "environment")
        .prefetch_related("services", Prefetch("causes", queryset=Cause.objects.only("slug", "name")))
    )


def incident_get(*, viewer: Viewer, reference: str) -> Incident:
    """The incident named by INC-n, NM-n or CNM-n if the viewer may see it; Incident.DoesNotExist otherwise."""
    named = reference_lookup(reference)
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
        .get(named)
    )


def action_items_open(*, user: User) -> QuerySet[ActionItem]:
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
    if incident.environment_id is None or incident.started_at is None or not date_in_range(incident.started_at):
        return Release.objects.none()  # a time stored before dates were bounded has no window to look in
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


def api_token_authenticate(*, token_hash: str) -> ApiToken | None:
    return ApiToken.objects.select_related("team", "hook").filter(token_hash=token_hash).first()


def hooks_active(*, source: str) -> QuerySet[Hook]:
    """The active hooks of one sender, whose secrets a signed delivery is checked against."""
    return Hook.objects.filter(active=True, source=source).select_related("team", "service")


def hook_of_token(*, token: ApiToken) -> Hook | None:
    """The hook a bearer token belongs to (a hook-scope token), or None for a team's plain write token."""
    return Hook.objects.filter(token=token, active=True).select_related("team", "service").first()


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
    """The item named INC-n, NM-n or CNM-n within `queryset`; Incident.DoesNotExist otherwise."""
    return queryset.get(reference_lookup(reference))


def action_items_visible(*, viewer: Viewer) -> QuerySet[ActionItem]:
    """Action items of the incidents the viewer may see."""
    return ActionItem.objects.filter(incident__in=incidents_visible(viewer).values("pk")).select_related(
        "incident", "owner", "team", "cause"
    )


def releases_with_deployments() -> QuerySet[Release]:
    """Releases with their service and every deployment (the API's release resource)."""
    return Release.objects.select_related("service").prefetch_related(
        Prefetch("deployments", queryset=Deployment.objects.select_related("environment"))
    )


def deployment_list() -> QuerySet[Deployment]:
    return Deployment.objects.select_related("release__service", "environment")


def environments_all() -> QuerySet[Environment]:
    return Environment.objects.order_by("promotion_order")


def services_all() -> QuerySet[Service]:
    return Service.objects.select_related("owner_team").order_by("slug")


# --- Web app for people: permissions, home, similar incidents, triage, releases, environments ------------
# (imports local to this block keep merges of this shared module simple)


SIMILAR_LIMIT = 5
# Words too common to make two titles similar.
SIMILAR_STOPWORDS = frozenset(
    re.findall(
        r"\w+",
        "the and for with from that this was were are after before into when then than have has had not but "
        "our their its all any can could would should will been being over under about",
    )
)


def teams_for_filing(user: User) -> QuerySet[Team]:
    """The teams a person may file for (the rule: policies.teams_for_filing)."""
    return Team.objects.filter(filing_teams(user)).distinct()


def week_at_a_glance(*, viewer: Viewer, start: dt.datetime, end: dt.datetime) -> dict[str, int]:
    """Counted items the viewer can see that started in [start, end), in one aggregate query."""
    items = incidents_visible(viewer).counted().started_between(start, end)
    incident = Q(kind=Incident.Kind.INCIDENT)
    return items.aggregate(
        incidents=Count("id", filter=incident),
        near_misses=Count("id", filter=Q(kind=Incident.Kind.NEAR_MISS)),
        sev1=Count("id", filter=incident & Q(severity=Incident.Severity.SEV1)),
        sev2=Count("id", filter=incident & Q(severity=Incident.Severity.SEV2)),
        caught_in_prod=Count("id", filter=Q(environment__kind=Environment.Kind.PRODUCTION)),
        caught_by_luck=Count("id", filter=Q(caught_by=Incident.CaughtBy.LUCK)),
    )


def action_items_for(
    *, viewer: Viewer, user: User, show: str, today: dt.date | None = None
) -> QuerySet[ActionItem]:
    """Action items on incidents the viewer can see: open ones, `mine`, `team` (my teams') or `overdue` (my
    teams'); or `closed` (done or won't do: mine and my teams'), the latest closed first."""
    today = today or timezone.localdate()
    closed = show == "closed"
    items = ActionItem.objects.filter(
        ~Q(status=ActionItem.Status.OPEN) if closed else Q(status=ActionItem.Status.OPEN),
        incident__in=incidents_visible(viewer).values("pk"),
    )
    if closed:
        if not viewer.is_admin:
            teams = viewer.team_ids
            items = items.filter(Q(team_id__in=teams) | Q(incident__team_id__in=teams) | Q(owner=user))
        return items.select_related("incident", "owner", "team", "cause").order_by("-completed_at", "id")
    if show == "mine":
        items = items.filter(owner=user)
    else:
        if not viewer.is_admin:
            teams = viewer.team_ids
            items = items.filter(Q(team_id__in=teams) | Q(incident__team_id__in=teams) | Q(owner=user))
        if show == "overdue":
            items = items.filter(due_date__lt=today)
    return items.select_related("incident", "owner", "team", "cause").order_by(
        F("due_date").asc(nulls_last=True), "id"
    )


def action_item_get(*, viewer: Viewer, pk: int) -> ActionItem:
    """An action item on an incident the viewer can see; ActionItem.DoesNotExist otherwise."""
    return ActionItem.objects.select_related("incident").get(
        pk=pk, incident__in=incidents_visible(viewer).values("pk")
    )


def similar_incidents(
    *,
    viewer: Viewer,
    title: str = "",
    cause_ids: list[int] | tuple[int, ...] = (),
    service_ids: list[int] | tuple[int, ...] = (),
    exclude_pk: int | None = None,
    limit: int = SIMILAR_LIMIT,
) -> list[Incident]:
    """Past items ranked by shared causes (3 points each), a shared service (2) and title words (1 each).

    One query, scored in the database, over the items the viewer can see that count in reports.
    """
    terms = [t for t in search_terms(title) if len(t) > 2 and t not in SIMILAR_STOPWORDS]
    if not (terms or cause_ids or service_ids):
        return []
    shared_causes = Coalesce(
        Subquery(
            IncidentCause.objects.filter(incident=OuterRef("pk"), cause_id__in=list(cause_ids))
            .values("incident")
            .annotate(n=Count("id"))
            .values("n")[:1],
            output_field=IntegerField(),
        ),
        Value(0),
    )
    same_service = Exists(
        Incident.services.through.objects.filter(incident=OuterRef("pk"), service_id__in=list(service_ids))
    )
    score = shared_causes * 3 + Case(When(same_service, then=Value(2)), default=Value(0))
    for term in terms:
        score = score + Case(When(title__icontains=term, then=Value(1)), default=Value(0))
    items = incidents_visible(viewer).counted()
    if exclude_pk is not None:
        items = items.exclude(pk=exclude_pk)
    return list(
        items.annotate(similarity=score, shared_causes=shared_causes)
        .filter(similarity__gt=0)
        .select_related("team")
        .order_by("-similarity", "-started_at", "-id")[:limit]
    )


def triage_inbox(*, viewer: Viewer) -> QuerySet[Incident]:
    """Items waiting in triage for the viewer's teams (every team for an admin), newest received first."""
    items = incidents_visible(viewer).filter(status=Incident.Status.TRIAGE)
    if not viewer.is_admin:
        items = items.filter(team_id__in=viewer.team_ids)
    return items.select_related("team", "environment").prefetch_related("services").order_by("-created_at", "-id")


def triage_teams(*, viewer: Viewer) -> QuerySet[Team]:
    """The teams whose triage items the viewer's inbox lists (every team for an admin)."""
    return Team.objects.all() if viewer.is_admin else Team.objects.filter(pk__in=viewer.team_ids)


def triage_sources(*, viewer: Viewer) -> list[str]:
    """The sources of the items waiting in the viewer's triage inbox, for its source filter."""
    items = triage_inbox(viewer=viewer).order_by().values_list("source", flat=True).distinct()
    return sorted(items)


def triage_items_named(*, viewer: Viewer, references: list[str]) -> list[Incident]:
    """The triage items, among those the viewer may see, named by these references; others are left out (an
    unknown reference and one the viewer may not see are the same: nothing)."""
    named = Q(pk__in=[])
    for reference in references:
        try:
            named |= reference_lookup(reference)
        except Incident.DoesNotExist:
            continue
    return list(
        incidents_visible(viewer)
        .filter(named, status=Incident.Status.TRIAGE)
        .select_related("team")
        .order_by("pk")
    )


def timeline_entry_get(*, incident: Incident, key: str) -> TimelineEntry:
    """The timeline entry of `incident` with this key (TimelineEntry.key); TimelineEntry.DoesNotExist otherwise."""
    for entry in incident.timeline.all():
        if constant_time_compare(entry.key, key):
            return entry
    raise TimelineEntry.DoesNotExist(key)


def receipt_get(*, code: str) -> Incident:
    """The confidential near-miss a receipt code was issued for; works after the reporter is purged."""
    held = ConfidentialReporter.objects.select_related("incident", "incident__team").get(
        receipt_hash=receipt_hash(code)
    )
    return held.incident


def incident_amendments(*, incident: Incident) -> int:
    """How many times the published postmortem was amended (its revisions noted as amendments)."""
    return IncidentRevision.objects.filter(
        incident=incident, note__startswith=IncidentRevision.AMENDMENT_NOTE
    ).count()


def incident_revisions(*, incident: Incident) -> QuerySet[IncidentRevision]:
    return IncidentRevision.objects.filter(incident=incident).select_related("author").order_by("-version")


def release_list(*, service_slug: str | None = None) -> QuerySet[Release]:
    """Releases newest first, each with its number of deployments and rollbacks."""
    releases = Release.objects.select_related("service").annotate(
        deployments_count=Count("deployments", distinct=True),
        rollbacks=Count("deployments", filter=Q(deployments__status=Deployment.Status.ROLLED_BACK), distinct=True),
    )
    if service_slug:
        releases = releases.filter(service__slug=service_slug)
    return releases.order_by("-created_at", "-id")


RELEASE_SUGGESTIONS = 20


def release_versions(*, service_id: int | None, prefix: str = "") -> list[str]:
    """The newest versions of a service (those starting with `prefix`), for the near-miss form's type-ahead."""
    if service_id is None:
        return []
    releases = Release.objects.filter(service_id=service_id)
    if prefix:
        releases = releases.filter(version__startswith=prefix)
    return list(releases.order_by("-created_at", "-id").values_list("version", flat=True)[:RELEASE_SUGGESTIONS])


def release_get(*, pk: int) -> Release:
    """A release with its path through the environments (deployments in promotion order)."""
    return (
        Release.objects.select_related("service", "service__owner_team")
        .prefetch_related(
            Prefetch(
                "deployments",
                queryset=Deployment.objects.select_related("environment").order_by(
                    "environment__promotion_order", "deployed_at", "id"
                ),
            )
        )
        .get(pk=pk)
    )


def release_find(*, pk: int) -> Release | None:
    """The release a filter names, or None when there is none with this id."""
    return Release.objects.select_related("service").filter(pk=pk).first()


def release_incidents(*, viewer: Viewer, release: Release) -> QuerySet[Incident]:
    return incidents_visible(viewer).filter(releases=release).select_related("team", "environment")


def services_with_releases() -> QuerySet[Service]:
    return Service.objects.filter(releases__isnull=False).distinct().order_by("name")


def environment_summaries(*, viewer: Viewer) -> QuerySet[Environment]:
    """Every environment with the number of incidents and near-misses caught there that the viewer can see."""
    visible = incidents_visible(viewer).counted()
    caught = visible.filter(environment=OuterRef("pk"))

    def count_of(kind: str) -> Coalesce:
        return Coalesce(
            Subquery(
                caught.filter(kind=kind).order_by().values("environment").annotate(n=Count("id")).values("n")[:1],
                output_field=IntegerField(),
            ),
            Value(0),
        )

    return Environment.objects.annotate(
        incidents_caught=count_of(Incident.Kind.INCIDENT), near_misses_caught=count_of(Incident.Kind.NEAR_MISS)
    ).order_by("promotion_order")


def environment_caught_by(*, viewer: Viewer, environment: Environment) -> list[dict]:
    """How the items caught in an environment were caught, counted in the database."""
    return list(
        incidents_visible(viewer)
        .counted()
        .filter(environment=environment)
        .values("caught_by")
        .annotate(n=Count("id"))
        .order_by("-n", "caught_by")
    )


def team_members(*, team: Team) -> QuerySet:
    return get_user_model().objects.filter(memberships__team=team, is_active=True).order_by("username")


def people_in_teams(*, team_ids: set[int] | frozenset[int]) -> QuerySet:
    """Active members of the given teams, with only the fields their names need."""
    return (
        get_user_model()
        .objects.filter(memberships__team_id__in=team_ids, is_active=True)
        .only("username", "first_name", "last_name")
        .distinct()
    )


def confidential_reporter_of(*, incident: Incident) -> ConfidentialReporter | None:
    """Who filed a confidential near-miss (admins only: callers check); None once unknown."""
    return ConfidentialReporter.objects.select_related("user").filter(incident=incident).first()


# --- Pages of the web app added on top of the above ----------------------------------------------------------


def teams_for_token_management(*, viewer: Viewer) -> QuerySet[Team]:
    """The teams whose API tokens the viewer manages (the rule: policies.token_managed_teams)."""
    return Team.objects.filter(token_managed_teams(viewer)).order_by("name")


def api_tokens_managed(*, viewer: Viewer) -> QuerySet[ApiToken]:
    """The API tokens of the teams the viewer manages, active ones first, newest first."""
    return (
        ApiToken.objects.filter(team__in=teams_for_token_management(viewer=viewer).values("pk"))
        .select_related("team")
        .order_by("team__name", F("revoked_at").desc(nulls_first=True), "-created_at", "-id")
    )


def api_token_managed_get(*, viewer: Viewer, pk: int) -> ApiToken:
    """A token of a team the viewer manages; ApiToken.DoesNotExist otherwise (another team's token is unseen)."""
    return api_tokens_managed(viewer=viewer).get(pk=pk)


def environment_slugs_of_kind(*, kind: str) -> list[str]:
    """The slugs of the environments of one kind (the home page's "caught in production" link)."""
    return list(Environment.objects.filter(kind=kind).order_by("slug").values_list("slug", flat=True))


def team_slugs(*, team_ids: set[int] | frozenset[int]) -> list[str]:
    return list(Team.objects.filter(pk__in=sorted(team_ids)).order_by("slug").values_list("slug", flat=True))


def awaiting_review_by(*, viewer: Viewer) -> IncidentQuerySet:
    """Items in review for the teams the viewer leads (a lead's "waiting for my review"), oldest change first."""
    return (
        incidents_visible(viewer)
        .filter(status=Incident.Status.IN_REVIEW, team_id__in=sorted(viewer.lead_team_ids))
        .select_related("team", "environment")
        .order_by("updated_at", "id")
    )
