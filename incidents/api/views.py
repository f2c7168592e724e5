"""API views: each translates a request into one selector or service call and serializes the result."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.http import Http404
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, routers, status, viewsets
from rest_framework.decorators import api_view, authentication_classes, permission_classes, renderer_classes
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

from incidents import policies, selectors, services
from incidents.api import examples as ex
from incidents.api import serializers as s
from incidents.api.exceptions import Conflict, PreconditionFailed, PreconditionRequired, validation_error
from incidents.api.filters import ActionItemFilter, DeploymentFilter, ReleaseFilter, StrictOrderingFilter
from incidents.api.idempotency import idempotent
from incidents.api.parsers import check_content_length
from incidents.api.permissions import acting_team, request_viewer
from incidents.api.renderers import HindsightBrowsableAPIRenderer
from incidents.filters import IncidentFilter
from incidents.limits import DATE_RANGE_TEXT
from incidents.models import ActionItem, Cause, Incident, Release, Team, TrendReport
from incidents.selectors import reports as report_selectors
from incidents.weeks import WEEK_SCHEMA_PATTERN, NoSuchWeek, Week

# Lookups take any path segment, so a malformed one is a JSON 404 rather than an unmatched URL.
SLUG_REGEX = r"[^/]+"


class ApiViewMixin(APIView):
    """Checks every request makes before anything else: its body size and its query string.

    Listed before the view class it goes with: the class order of each view is as if it were a plain mixin.
    (The schema never shows this docstring: HindsightAutoSchema reads only a view's own.)"""

    renderer_classes = [JSONRenderer, HindsightBrowsableAPIRenderer]

    def initial(self, request: Request, *args, **kwargs) -> None:
        check_content_length(request)
        if any("\x00" in str(value) for value in kwargs.values()):
            raise Http404("No such object.")
        for name, values in request.query_params.lists():
            if any("\x00" in value for value in values):
                raise ValidationError({name: ["Null characters are not allowed."]})
        super().initial(request, *args, **kwargs)

    @property
    def viewer(self) -> policies.Viewer:
        return request_viewer(self.request)


@extend_schema(exclude=True)
@api_view(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
@renderer_classes([JSONRenderer, HindsightBrowsableAPIRenderer])
@permission_classes([AllowAny])
@authentication_classes([])
def not_found(request: Request, *args, **kwargs) -> Response:
    """Anything under /api/ that matches no route: a JSON 404, like every other API error."""
    raise Http404("No such API endpoint.")


class ApiRootView(ApiViewMixin, routers.APIRootView):
    """The resources of the Hindsight API, version 1, and where its OpenAPI schema and interactive docs are.

    Read with any API token or as a signed-in person; writes need a token of the write scope."""

    def get_view_name(self) -> str:
        return "Hindsight API v1"

    def get(self, request: Request, *args, **kwargs) -> Response:
        links = dict(super().get(request, *args, **kwargs).data)
        links["schema"] = reverse("api:schema", request=request)
        links["docs"] = reverse("api:docs", request=request)
        return Response(links)


def _service_call(function, **kwargs):
    try:
        return function(**kwargs)
    except DjangoValidationError as error:
        raise validation_error(error) from None


# --- Reference data --------------------------------------------------------------------------------------

# Who may call what, said once per kind of operation (every operation's own description ends with one of them).
READS = (
    "\n\nWho may call it: any API token (read or write scope) or a signed-in person (the browsable API); a token "
    "sees what a member of its team sees. Without a token or session: 401."
)
WRITES = (
    "\n\nWho may call it: an API token of the write scope; the write acts for the token's team. A read token or a "
    "session gets 403, no token 401; more than API_WRITE_THROTTLE_RATE writes a minute get 429 with Retry-After."
)
LIST_ERRORS = " An unknown filter value or a bad `page`/`page_size` is a 400 naming it; a page past the last, 404."


def _reference_docs(noun: str, plural: str, what: str, order: str, example: dict) -> dict:
    """The list and retrieve documentation of a read-only reference resource (teams, services, ...)."""
    return {
        "list": extend_schema(
            summary=f"List {plural}",
            description=f"Every {noun}, {what}; {order}." + LIST_ERRORS + READS,
            examples=[ex.response(f"A page of {plural}", example)],
        ),
        "retrieve": extend_schema(
            summary=f"Get one {noun}",
            description=f"One {noun}, by its slug; an unknown slug is a 404." + READS,
            examples=[ex.response(f"One {noun}", example)],
        ),
    }


@extend_schema_view(
    **_reference_docs(
        "team", "teams", "as tokens and incidents name them", "by slug, or `?ordering=name`", ex.TEAM
    )
)
class TeamViewSet(ApiViewMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = s.TeamSerializer
    queryset = Team.objects.order_by("slug")
    lookup_field, lookup_value_regex = "slug", SLUG_REGEX
    filter_backends = [StrictOrderingFilter]
    ordering_fields = ["slug", "name"]


@extend_schema_view(
    **_reference_docs(
        "service",
        "services",
        "with its owning team (null when no team owns it)",
        "by slug (`?ordering=` slug or name)",
        ex.SERVICE,
    )
)
class ServiceViewSet(ApiViewMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = s.ServiceSerializer
    queryset = selectors.services_all()
    lookup_field, lookup_value_regex = "slug", SLUG_REGEX
    filter_backends = [StrictOrderingFilter]
    ordering_fields = ["slug", "name"]


@extend_schema_view(
    **_reference_docs(
        "environment",
        "environments",
        "with its kind, its place in the promotion order and its mandate",
        "dev first, prod last (`?ordering=` slug or promotion_order)",
        ex.ENVIRONMENT,
    )
)
class EnvironmentViewSet(ApiViewMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = s.EnvironmentSerializer
    queryset = selectors.environments_all()
    lookup_field, lookup_value_regex = "slug", SLUG_REGEX
    filter_backends = [StrictOrderingFilter]
    ordering_fields = ["slug", "promotion_order"]


@extend_schema_view(
    **_reference_docs(
        "cause",
        "causes",
        "of the shared taxonomy that incidents and action items are tagged with (retired ones have active false)",
        "by slug (`?ordering=` slug, name or category)",
        ex.CAUSE,
    )
)
class CauseViewSet(ApiViewMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = s.CauseSerializer
    queryset = Cause.objects.order_by("slug")
    lookup_field, lookup_value_regex = "slug", SLUG_REGEX
    filter_backends = [StrictOrderingFilter]
    ordering_fields = ["slug", "name", "category"]


# --- Incidents -------------------------------------------------------------------------------------------


def _expected_version(request: Request, body_version: int | None) -> tuple[int, bool]:
    """The version the client based its change on, and whether it came from If-Match."""
    header = request.headers.get("If-Match")
    if header is None:
        if body_version is None:
            raise PreconditionRequired()
        return body_version, False
    match = re.fullmatch(r'\s*(?:W/)?"?(\d{1,9})"?\s*', header)
    if not match:
        raise ValidationError({"If-Match": ['Send the version you last read, e.g. If-Match: "3".']})
    version = int(match.group(1))
    if body_version is not None and body_version != version:
        raise ValidationError({"version": ["Differs from the If-Match header."]})
    return version, True


def _etag(incident: Incident) -> dict[str, str]:
    return {"ETag": f'"{incident.version}"'}


@extend_schema_view(
    list=extend_schema(
        summary="List incidents and near-misses",
        description=(
            "The incidents and near-misses the caller may see, latest started first, filtered like the web list "
            "(`q`, `kind`, `status`, `severity`, `team`, `service`, `environment`, `cause`, dates). Confidential "
            "near-misses (CNM-n) are listed only to those who may read them." + LIST_ERRORS + READS
        ),
        examples=[ex.response("A page with one incident", ex.INCIDENT_LISTED)],
    ),
    retrieve=extend_schema(
        summary="Get an incident or near-miss",
        description=(
            "One incident or near-miss by its reference (INC-n, NM-n or CNM-n), with its timeline, action items "
            "and the releases deployed before it started (suspect releases). The ETag header carries its version, "
            "for a later If-Match. One the caller may not see is a 404, like one that does not exist." + READS
        ),
        examples=[ex.response("An incident with its action item", ex.INCIDENT_DETAIL)],
    ),
    create=extend_schema(
        summary="Record an incident or near-miss",
        description=(
            "Records an incident or near-miss for the token's team; it waits in triage unless `status` says "
            "otherwise. Services, releases and causes are named by slug (a name that matches nothing is a 400 "
            "naming the field). With `source` + `external_id` a retry is safe: the item already recorded under "
            "them is answered with 200 instead of a new one (201). An Idempotency-Key header replays the first "
            "answer (409 while it runs, 422 if reused with another body). Text that looks like secrets or personal "
            "data is redacted on ingest; `redacted` says what was replaced." + WRITES
        ),
        examples=[
            ex.request("Incident from a pager", ex.INCIDENT_CREATE, "Safe to retry: source + external_id."),
            ex.request("Near-miss caught in review", ex.NEAR_MISS_CREATE),
            ex.response("Recorded", ex.INCIDENT_DETAIL, status_codes=("201", "200")),
        ],
    ),
    partial_update=extend_schema(
        summary="Change an incident or near-miss",
        description=(
            "Changes the fields sent, nothing else, of an incident the token's team may edit (another team's is a "
            "403, one it cannot see a 404). Send the version you last read, as an If-Match header or a `version` "
            "field (neither: 428); a stale one is a 412 (If-Match) or 409 (field), with `current_version`: read "
            "it again and re-apply. `services`, `releases` and `causes` replace the whole list." + WRITES
        ),
        examples=[
            ex.request("Resolved: write it up as a draft", ex.INCIDENT_UPDATE),
            ex.response("Changed", ex.INCIDENT_UPDATED),
        ],
    ),
)
class IncidentViewSet(
    ApiViewMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    lookup_field, lookup_value_regex = "reference", r"[^/]+"
    filter_backends = [DjangoFilterBackend]
    filterset_class = IncidentFilter
    versioned = True  # updates carry the version read (If-Match or a version field)

    def get_serializer_class(self):
        return {
            "list": s.IncidentSerializer,
            "create": s.IncidentCreateSerializer,
            "partial_update": s.IncidentUpdateSerializer,
        }.get(self.action, s.IncidentDetailSerializer)

    def get_queryset(self) -> QuerySet[Incident]:
        if self.action == "list":
            return selectors.api_incident_list(viewer=self.viewer)
        return selectors.api_incident_detail(viewer=self.viewer)

    def get_object(self) -> Incident:
        try:
            return selectors.incident_by_reference(self.get_queryset(), self.kwargs["reference"])
        except Incident.DoesNotExist:
            raise Http404("No such incident.") from None

    def _detail(
        self,
        incident: Incident,
        status_code: int = status.HTTP_200_OK,
        *,
        redactions: services.Redactions | None = None,
    ) -> Response:
        incident = selectors.incident_by_reference(self.get_queryset(), incident.reference)
        incident.suspect_releases = list(selectors.suspect_releases(incident=incident))
        context = {**self.get_serializer_context(), "redactions": redactions or {}}
        data = s.IncidentDetailSerializer(incident, context=context).data
        return Response(data, status=status_code, headers=_etag(incident))

    @extend_schema(responses={200: s.IncidentDetailSerializer})
    def retrieve(self, request: Request, *args, **kwargs) -> Response:
        return self._detail(self.get_object())

    @extend_schema(
        request=s.IncidentCreateSerializer,
        responses={
            201: s.IncidentDetailSerializer,
            200: OpenApiResponse(s.IncidentDetailSerializer, "Already recorded under this source + external_id."),
        },
    )
    def create(self, request: Request, *args, **kwargs) -> Response:
        return idempotent(request, self._create)

    def _create(self) -> Response:
        serializer = s.IncidentCreateSerializer(data=self.request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        fields = dict(serializer.validated_data)
        fields["timeline"] = [services.TimelineInput(**entry) for entry in fields.get("timeline", [])]
        saved, created = _service_call(
            services.incident_record_for_tool, actor=self.viewer, team=acting_team(self.request), **fields
        )
        code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return self._detail(saved.obj, code, redactions=saved.redactions)

    @extend_schema(request=s.IncidentUpdateSerializer, responses={200: s.IncidentDetailSerializer})
    def partial_update(self, request: Request, *args, **kwargs) -> Response:
        incident = self.get_object()
        policies.require(policies.may_edit(self.viewer, incident))  # before the body; the service checks again
        serializer = s.IncidentUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        changes = dict(serializer.validated_data)
        expected, from_header = _expected_version(request, changes.pop("version", None))
        related = {name: changes.pop(name) for name in ("services", "releases", "causes") if name in changes}
        try:
            saved = _service_call(
                services.incident_update, actor=self.viewer, incident=incident, expected_version=expected,
                changes=changes, **related,
            )  # fmt: skip
        except services.VersionConflict as conflict:
            error = PreconditionFailed if from_header else Conflict
            detail = f"{conflict.current.reference} changed since version {expected}; read it again and re-apply."
            body = {"detail": detail, "current_version": conflict.current.version}
            return Response(body, status=error.status_code, headers=_etag(conflict.current))
        return self._detail(saved.obj, redactions=saved.redactions)


# --- Action items ----------------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="List action items",
        description=(
            "The action items of the incidents the caller may see, soonest due first; filter by `status`, `team`, "
            "`incident_team` or `due_before`." + LIST_ERRORS + READS
        ),
        examples=[ex.response("A page with one action item", ex.ACTION_ITEM)],
    ),
    retrieve=extend_schema(
        summary="Get an action item",
        description="One action item by its id; one of an incident the caller may not see is a 404." + READS,
        examples=[ex.response("An open action item", ex.ACTION_ITEM)],
    ),
    create=extend_schema(
        summary="Add an action item to an incident",
        description=(
            "Adds a follow-up to an incident (named by reference in `incident`) that the token's team may edit; an "
            "incident it may not see or change is a 400 naming `incident`. `owner` is the username of a member of "
            "the token's team; `team` and `cause` are slugs. An Idempotency-Key header replays the first answer."
            + WRITES
        ),
        examples=[
            ex.request("Follow-up of an incident", ex.ACTION_ITEM_CREATE),
            ex.response("Added", ex.ACTION_ITEM, status_codes=("201",)),
        ],
    ),
    partial_update=extend_schema(
        summary="Change or close an action item",
        description=(
            "Changes the fields sent. Its details are changed by those who may edit its incident; `status` (done "
            "or wont_do) closes it and is for its owner and the teams involved. Anyone else gets a 403; an item "
            "the token cannot see is a 404." + WRITES
        ),
        examples=[
            ex.request("Move the due date", ex.ACTION_ITEM_UPDATE),
            ex.request("Close it as done", ex.ACTION_ITEM_CLOSE),
            ex.response("Closed", {**ex.ACTION_ITEM, "status": "done", "completed_at": "2026-12-10T16:02:00Z"}),
        ],
    ),
)
class ActionItemViewSet(
    ApiViewMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    filter_backends = [DjangoFilterBackend]
    filterset_class = ActionItemFilter
    lookup_value_regex = r"[^/]+"

    def get_serializer_class(self):
        return {"create": s.ActionItemCreateSerializer, "partial_update": s.ActionItemUpdateSerializer}.get(
            self.action, s.ActionItemSerializer
        )

    def get_queryset(self) -> QuerySet[ActionItem]:
        return selectors.action_items_visible(viewer=self.viewer).order_by("due_date", "id")

    def _context(self) -> dict:
        return {**self.get_serializer_context(), "team": acting_team(self.request)}

    @extend_schema(request=s.ActionItemCreateSerializer, responses={201: s.ActionItemSerializer})
    def create(self, request: Request, *args, **kwargs) -> Response:
        return idempotent(request, self._create)

    def _create(self) -> Response:
        serializer = s.ActionItemCreateSerializer(data=self.request.data, context=self._context())
        serializer.is_valid(raise_exception=True)
        fields = dict(serializer.validated_data)
        team = acting_team(self.request)
        try:
            incident = selectors.incident_by_reference(
                selectors.incidents_visible(self.viewer), fields.pop("incident")
            )
        except Incident.DoesNotExist:
            raise ValidationError(
                {"incident": [f"No incident of team {team.slug} with that reference."]}
            ) from None
        # The incident is named in the body: one the token may not change is refused as that field's error.
        if not (decision := policies.may_edit(self.viewer, incident)):
            raise ValidationError({"incident": [decision.rule]})
        saved = _service_call(services.action_item_create, actor=self.viewer, incident=incident, **fields)
        data = s.ActionItemSerializer(saved.obj, context={"redactions": saved.redactions}).data
        return Response(data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.ActionItemUpdateSerializer, responses={200: s.ActionItemSerializer})
    def partial_update(self, request: Request, *args, **kwargs) -> Response:
        item = self.get_object()
        serializer = s.ActionItemUpdateSerializer(data=request.data, partial=True, context=self._context())
        # Its details are the incident's to change; closing it, its owner's and teams' (the services check again).
        fields = set(request.data) if isinstance(request.data, dict) else set()
        if fields - {"status"} or not fields:
            policies.require(policies.may_edit_action_item(self.viewer, item))
        if "status" in fields:
            policies.require(policies.may_complete(self.viewer, item))
        serializer.is_valid(raise_exception=True)
        changes = dict(serializer.validated_data)
        new_status = changes.pop("status", None)
        redactions: services.Redactions = {}
        if changes:
            saved = _service_call(
                services.action_item_update, actor=self.viewer, action_item=item, changes=changes
            )
            item, redactions = saved.obj, saved.redactions
        if new_status:
            item = _service_call(
                services.action_item_complete, actor=self.viewer, action_item=item, status=new_status
            )
        return Response(s.ActionItemSerializer(item, context={"redactions": redactions}).data)


# --- Releases and deployments ----------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="List releases",
        description=(
            "Releases of every service, newest first, each with its deployments; filter by `service`, `version`, "
            "`commit_sha` or `created_from`." + LIST_ERRORS + READS
        ),
        examples=[ex.response("A page with one release", ex.RELEASE)],
    ),
    retrieve=extend_schema(
        summary="Get a release",
        description="One release by its id, with its deployments to each environment." + READS,
        examples=[ex.response("A release deployed to staging and prod", ex.RELEASE)],
    ),
    create=extend_schema(
        summary="Record a release",
        description=(
            "Records a version of a service the token's team owns (another team's service is a 400 naming "
            "`service`). Recording a known version again answers 200 with it; the same version with another "
            "digest or commit is a 400. An Idempotency-Key header replays the first answer." + WRITES
        ),
        examples=[
            ex.request("A tagged release", ex.RELEASE_CREATE),
            ex.response("Recorded", {**ex.RELEASE, "deployments": []}, status_codes=("201", "200")),
        ],
    ),
)
class ReleaseViewSet(
    ApiViewMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    filter_backends = [DjangoFilterBackend]
    filterset_class = ReleaseFilter
    lookup_value_regex = r"[^/]+"

    def get_serializer_class(self):
        return s.ReleaseCreateSerializer if self.action == "create" else s.ReleaseSerializer

    def get_queryset(self) -> QuerySet[Release]:
        return selectors.releases_with_deployments()

    @extend_schema(
        request=s.ReleaseCreateSerializer,
        responses={201: s.ReleaseSerializer, 200: OpenApiResponse(s.ReleaseSerializer, "Already recorded.")},
    )
    def create(self, request: Request, *args, **kwargs) -> Response:
        return idempotent(request, self._create)

    def _create(self) -> Response:
        context = {**self.get_serializer_context(), "team": acting_team(self.request)}
        serializer = s.ReleaseCreateSerializer(data=self.request.data, context=context)
        serializer.is_valid(raise_exception=True)
        fields = serializer.validated_data
        known = Release.objects.filter(service=fields["service"], version=fields["version"]).exists()
        release = _service_call(services.release_record, **fields)
        release = selectors.releases_with_deployments().get(pk=release.pk)
        return Response(s.ReleaseSerializer(release).data, status=200 if known else 201)


@extend_schema_view(
    list=extend_schema(
        summary="List deployments",
        description=(
            "Deployments of every service, latest deployed first; filter by `service`, `version`, `environment`, "
            "`status` or deploy time (`deployed_from`, `deployed_to`)." + LIST_ERRORS + READS
        ),
        examples=[ex.response("A page with one deployment", ex.DEPLOYMENT)],
    ),
    retrieve=extend_schema(
        summary="Get a deployment",
        description="One deployment by its id, with its gate results." + READS,
        examples=[ex.response("A deployment to staging", ex.DEPLOYMENT)],
    ),
    create=extend_schema(
        summary="Record a deployment",
        description=(
            "Records a deployment of a version of a service the token's team owns to an environment (the release "
            "is recorded too when new). Sending the same `external_id` again updates that deployment (200) "
            "rather than adding one (201). A service of another team, an unknown environment or a time out of "
            "range is a 400 naming the field." + WRITES
        ),
        examples=[
            ex.request("A pipeline's staging deployment", ex.DEPLOYMENT_CREATE),
            ex.response("Recorded", ex.DEPLOYMENT, status_codes=("201", "200")),
        ],
    ),
)
class DeploymentViewSet(
    ApiViewMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    filter_backends = [DjangoFilterBackend]
    filterset_class = DeploymentFilter
    lookup_value_regex = r"[^/]+"

    def get_serializer_class(self):
        return s.DeploymentCreateSerializer if self.action == "create" else s.DeploymentSerializer

    def get_queryset(self):
        return selectors.deployment_list()

    @extend_schema(
        request=s.DeploymentCreateSerializer,
        responses={
            201: s.DeploymentSerializer,
            200: OpenApiResponse(s.DeploymentSerializer, "Updated: this external_id was recorded before."),
        },
    )
    def create(self, request: Request, *args, **kwargs) -> Response:
        return idempotent(request, self._create)

    def _create(self) -> Response:
        team = acting_team(self.request)
        context = {**self.get_serializer_context(), "team": team}
        serializer = s.DeploymentCreateSerializer(data=self.request.data, context=context)
        serializer.is_valid(raise_exception=True)
        fields = dict(serializer.validated_data)
        fields["commit_sha"] = fields.pop("commit")
        source = f"api-team{team.pk}"  # a team's pipeline ids never collide with another team's
        known = (
            bool(fields["external_id"])
            and selectors.deployment_list().filter(source=source, external_id=fields["external_id"]).exists()
        )
        deployment = _service_call(services.deployment_record, source=source, **fields)
        deployment = selectors.deployment_list().get(pk=deployment.pk)
        return Response(s.DeploymentSerializer(deployment).data, status=200 if known else 201)


# --- Reports ---------------------------------------------------------------------------------------------

SCOPE_PATTERN = r"^(organisation|team:[-a-zA-Z0-9_]{1,50})$"


def report_week(label: str) -> Week | None:
    """The week of a label; None for a well-formed label that names no week (2026-W60), which is a 404 like a
    week without a report. A malformed label or a year out of range is a 400 naming `week` (Week.parse)."""
    try:
        return Week.parse(label)
    except NoSuchWeek:
        return None
    except DjangoValidationError as error:
        raise validation_error(error) from None


@extend_schema_view(
    list=extend_schema(
        summary="List weekly trend reports",
        description=(
            "The ready weekly trend reports, of the organisation and of each team, that tokens may read."
            + LIST_ERRORS
            + READS
        ),
        examples=[ex.response("A page with one report", ex.REPORT)],
    ),
    retrieve=extend_schema(
        summary="Get a weekly trend report",
        description=(
            "The data of one ready report: by ISO week, for the organisation or, with `?scope=team:<slug>`, one "
            "team. A malformed week or scope is a 400; a week without a ready report is a 404." + READS
        ),
    ),
)
class ReportViewSet(ApiViewMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = s.TrendReportSerializer
    lookup_field, lookup_value_regex = "week", r"[^/]+"

    def get_queryset(self) -> QuerySet[TrendReport]:
        # The same reports as on the web: every team's, one per week and scope, each of the audience the caller
        # reads (tokens always read "everyone"; see report_audience_for in incidents/selectors/reports.py).
        return report_selectors.reports_visible(self.viewer).filter(status=TrendReport.Status.READY)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "week",
                str,
                OpenApiParameter.PATH,
                pattern=WEEK_SCHEMA_PATTERN,
                description=(
                    f"ISO week, e.g. 2026-W47, {DATE_RANGE_TEXT} (400 otherwise); a week that does not exist "
                    "answers 404."
                ),
            ),
            OpenApiParameter(
                "scope", str, pattern=SCOPE_PATTERN, description='"organisation" (default) or "team:<slug>".'
            ),
        ],
        responses={
            200: OpenApiResponse(
                OpenApiTypes.OBJECT, "The report's data (each number is defined in docs/design.md)."
            )
        },
    )
    def retrieve(self, request: Request, week: str) -> Response:
        parsed = report_week(week)
        scope = request.query_params.get("scope") or TrendReport.ORGANISATION  # `?scope=` too
        if not re.fullmatch(SCOPE_PATTERN, scope):
            raise ValidationError({"scope": ['Use "organisation" or "team:<slug>".']})
        report = self.get_queryset().filter(week_start=parsed.monday, scope=scope).first() if parsed else None
        if report is None:
            raise Http404("No ready report for that week and scope.")
        return Response(report.data)
