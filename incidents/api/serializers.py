"""Serializers translate JSON to service arguments and models to JSON. Slugs name related objects."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.validators import MaxLengthValidator
from django.db.models import Q
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from incidents import policies, services
from incidents.api.fields import InRangeDateField, InRangeDateTimeField, OneLineField, SlugRefsField
from incidents.api.strict import StrictJsonMixin
from incidents.limits import (
    BODY_MAX,
    LIST_MAX,
    LONG_TEXT_MAX,
    SHORT_TEXT_MAX,
    TIMELINE_MAX,
    TITLE_MAX,
    gate_name_problem,
)
from incidents.models import (
    ActionItem,
    Cause,
    Deployment,
    Environment,
    GateResult,
    Incident,
    IncidentCause,
    Release,
    Service,
    Team,
    TrendReport,
)


def absolute(context: dict, path: str) -> str:
    request = context.get("request")
    return request.build_absolute_uri(path) if request is not None else path


class NoBlankMixin(serializers.Field):
    """DRF reads "" as null for a relation; the schema says a name has at least one character, so "" is refused
    (send null, where the field allows it, to leave it empty). Listed before the relation class it goes with."""

    def run_validation(self, data=serializers.empty):
        if data == "":
            self.fail("invalid")
        return super().run_validation(data)


class SlugField(NoBlankMixin, serializers.SlugRelatedField):
    """A related object named by its slug; a value that cannot be a slug is refused before any query."""

    def __init__(self, **kwargs):
        kwargs.setdefault("slug_field", "slug")
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str) or not data or len(data) > 100 or "\x00" in data:
            self.fail("invalid")
        return super().to_internal_value(data)


# --- Reference data --------------------------------------------------------------------------------------


class TeamSerializer(serializers.ModelSerializer):
    class Meta:
        model = Team
        fields = ["slug", "name"]


class ServiceSerializer(serializers.ModelSerializer):
    owner_team = serializers.SlugRelatedField[Team](slug_field="slug", read_only=True, allow_null=True)

    class Meta:
        model = Service
        fields = ["slug", "name", "owner_team", "description"]


class EnvironmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Environment
        fields = ["slug", "name", "kind", "promotion_order", "mandate"]


class CauseSerializer(serializers.ModelSerializer):
    class Meta:
        model = Cause
        fields = ["slug", "name", "description", "category", "active"]


# --- Releases and deployments ----------------------------------------------------------------------------


class GatesField(serializers.DictField):
    """Gate name → passed / failed / skipped."""

    child = serializers.ChoiceField(choices=GateResult.choices)

    def to_internal_value(self, data):
        gates = super().to_internal_value(data)
        for name in gates:
            if problem := gate_name_problem(name):  # the model's own rule (incidents/limits.py)
                raise serializers.ValidationError(problem)
        return gates


class DeploymentInReleaseSerializer(serializers.ModelSerializer):
    environment = serializers.SlugRelatedField[Environment](slug_field="slug", read_only=True)
    gates = GatesField(read_only=True)

    class Meta:
        model = Deployment
        fields = ["id", "environment", "status", "deployed_at", "gates", "rollback_rehearsed"]


class ReleaseSerializer(serializers.ModelSerializer):
    service = serializers.SlugRelatedField[Service](slug_field="slug", read_only=True)
    url = serializers.CharField(read_only=True, help_text="A link to the release; may be empty.")
    deployments = DeploymentInReleaseSerializer(many=True, read_only=True)

    class Meta:
        model = Release
        fields = ["id", "service", "version", "artifact_digest", "commit_sha", "url", "created_at", "deployments"]
        extra_kwargs = {"url": {"help_text": "A link to the release (may be empty)."}}


def _check_service_owner(service: Service, team: Team) -> None:
    if not policies.service_writable_by(team, service):
        raise serializers.ValidationError(
            {"service": [f"{policies.not_writable_detail(team, service)} This token acts for {team.slug}."]}
        )


class ReleaseCreateSerializer(StrictJsonMixin):
    service = SlugField(queryset=Service.objects.all())
    version = OneLineField(max_length=100)
    artifact_digest = OneLineField(max_length=200, required=False, default="", allow_blank=True)
    commit_sha = OneLineField(max_length=64, required=False, default="", allow_blank=True)
    url = serializers.URLField(max_length=200, required=False, default="", allow_blank=True)

    def validate(self, attrs):
        _check_service_owner(attrs["service"], self.context["team"])
        return attrs


class DeploymentSerializer(serializers.ModelSerializer):
    service = serializers.CharField(source="release.service.slug", read_only=True)
    version = serializers.CharField(source="release.version", read_only=True)
    environment = serializers.SlugRelatedField[Environment](slug_field="slug", read_only=True)
    gates = GatesField(read_only=True)

    class Meta:
        model = Deployment
        fields = [
            "id", "service", "version", "release", "environment", "status", "deployed_at", "gates",
            "rollback_rehearsed", "external_id", "created_at",
        ]  # fmt: skip


class DeploymentCreateSerializer(StrictJsonMixin):
    service = SlugField(queryset=Service.objects.all())
    version = OneLineField(max_length=100)
    environment = SlugField(queryset=Environment.objects.all())
    status = serializers.ChoiceField(choices=Deployment.Status.choices)
    deployed_at = InRangeDateTimeField(required=False)
    gates = GatesField(required=False, default=dict)
    rollback_rehearsed = serializers.BooleanField(required=False, default=False)
    artifact_digest = OneLineField(max_length=200, required=False, default="", allow_blank=True)
    commit = OneLineField(max_length=64, required=False, default="", allow_blank=True)
    url = serializers.URLField(max_length=200, required=False, default="", allow_blank=True)
    external_id = OneLineField(
        max_length=150,
        required=False,
        default="",
        allow_blank=True,
        help_text="Your pipeline's id for this deployment: sending it again updates the same deployment.",
    )

    def validate(self, attrs):
        _check_service_owner(attrs["service"], self.context["team"])
        return attrs


# --- Incidents -------------------------------------------------------------------------------------------


class BoundedListSerializer(serializers.ListSerializer):
    """A list whose length limit (checked before any item) is also published in the schema as maxItems."""

    max_length: int | None  # set by ListSerializer.__init__ (DRF 3.14); the stubs leave it out

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.max_length is not None:
            self.validators.append(MaxLengthValidator(self.max_length))


class ReleaseRefListSerializer(BoundedListSerializer):
    """Releases named by service and version, found in one query; a release named twice counts once."""

    def to_internal_value(self, data):
        named = list(dict.fromkeys((ref["service"], ref["version"]) for ref in super().to_internal_value(data)))
        if not named:
            return []
        wanted = Q()
        for service, version in named:
            wanted |= Q(service__slug=service, version=version)
        found = {
            (release.service.slug, release.version): release
            for release in Release.objects.select_related("service").filter(wanted)
        }
        missing = [
            f"{version} of service {service}" for service, version in named if (service, version) not in found
        ]
        if missing:
            raise serializers.ValidationError(f"No release {'; no release '.join(missing)}.")
        return [found[pair] for pair in named]


class ReleaseRefSerializer(serializers.Serializer):
    """A release named by its service and version."""

    service = OneLineField(max_length=80)
    version = OneLineField(max_length=100)

    class Meta:
        list_serializer_class = ReleaseRefListSerializer

    def to_representation(self, instance: Release):
        return {"service": instance.service.slug, "version": instance.version}

    def validate(self, attrs):
        missing = [name for name in ("service", "version") if name not in attrs]
        if missing:
            raise serializers.ValidationError({name: ["This field is required."] for name in missing})
        return attrs


class IncidentCauseListSerializer(BoundedListSerializer):
    """Causes named by slug, found in one query; each unknown slug is an error at its place in the list."""

    def to_internal_value(self, data):
        tags = super().to_internal_value(data)
        found = Cause.objects.in_bulk({tag["cause"] for tag in tags}, field_name="slug")
        errors = [
            {} if tag["cause"] in found else {"cause": [f"No cause with the slug {tag['cause']}."]} for tag in tags
        ]
        if any(errors):
            raise serializers.ValidationError(errors)
        return [services.CauseInput(cause=found[tag["cause"]], note=tag["note"], gate=tag["gate"]) for tag in tags]


class IncidentCauseSerializer(serializers.Serializer):
    cause = serializers.RegexField(r"^[-a-zA-Z0-9_]{1,50}$", max_length=50, help_text="A cause's slug.")
    note = serializers.CharField(required=False, default="", allow_blank=True, max_length=SHORT_TEXT_MAX)
    gate = serializers.ChoiceField(
        choices=IncidentCause.Gate.choices, required=False, default="", allow_blank=True,
        help_text="The gate that should have caught it.",
    )  # fmt: skip

    def to_representation(self, instance: IncidentCause):
        return {"cause": instance.cause.slug, "note": instance.note, "gate": instance.gate}

    class Meta:
        list_serializer_class = IncidentCauseListSerializer

    def validate(self, attrs):
        if "cause" not in attrs:
            raise serializers.ValidationError({"cause": ["This field is required."]})
        return {"cause": attrs["cause"], "note": attrs.get("note", ""), "gate": attrs.get("gate", "")}


class TimelineEntrySerializer(serializers.Serializer):
    class Meta:
        list_serializer_class = BoundedListSerializer

    at = InRangeDateTimeField()
    text = serializers.CharField(max_length=SHORT_TEXT_MAX)


REDACTED_SCHEMA = {
    "type": "object",
    "description": "What redaction on ingest replaced in this request, per field: placeholder kind → count "
    '(e.g. {"summary": {"email": 1}}). Empty when nothing was replaced or nothing was written.',
    "additionalProperties": {"type": "object", "additionalProperties": {"type": "integer"}},
}


class RedactedMixin(serializers.Serializer):
    redacted = serializers.SerializerMethodField()

    @extend_schema_field(REDACTED_SCHEMA)
    def get_redacted(self, saved) -> dict[str, dict[str, int]]:
        return self.context.get("redactions", {})  # what the write that this answers replaced


class IncidentActionItemSerializer(serializers.ModelSerializer):
    owner = serializers.SlugRelatedField[User](slug_field="username", read_only=True, allow_null=True)
    team = serializers.SlugRelatedField[Team](slug_field="slug", read_only=True, allow_null=True)
    cause = serializers.SlugRelatedField[Cause](slug_field="slug", read_only=True, allow_null=True)
    ticket_url = serializers.CharField(read_only=True, help_text="A link to the ticket; may be empty.")

    class Meta:
        model = ActionItem
        fields = ["id", "title", "owner", "team", "due_date", "status", "cause", "ticket_url", "completed_at"]


class SuspectReleaseSerializer(serializers.ModelSerializer):
    service = serializers.SlugRelatedField[Service](slug_field="slug", read_only=True)
    last_deployed_at = serializers.DateTimeField(read_only=True)

    class Meta:
        model = Release
        fields = ["id", "service", "version", "commit_sha", "artifact_digest", "last_deployed_at"]


class IncidentSerializer(serializers.ModelSerializer):
    """An incident or near-miss as listed."""

    reference = serializers.CharField(
        read_only=True, help_text="INC-n, NM-n, or CNM-n (a confidential near-miss)."
    )
    team = serializers.SlugRelatedField[Team](slug_field="slug", read_only=True)
    environment = serializers.SlugRelatedField[Environment](slug_field="slug", read_only=True, allow_null=True)
    services = serializers.SlugRelatedField[Service](slug_field="slug", many=True, read_only=True)
    releases = ReleaseRefSerializer(many=True, read_only=True)
    causes = IncidentCauseSerializer(source="incident_causes", many=True, read_only=True)
    severity = serializers.ChoiceField(choices=Incident.Severity.choices, allow_blank=True, read_only=True)
    caught_by = serializers.ChoiceField(choices=Incident.CaughtBy.choices, allow_blank=True, read_only=True)
    reporter = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()

    class Meta:
        model = Incident
        fields = [
            "reference", "kind", "number", "title", "summary", "potential_impact", "trigger", "severity", "status",
            "team", "environment", "caught_by", "services", "releases", "causes", "started_at", "detected_at",
            "mitigated_at", "resolved_at", "body", "body_html", "reporter", "confidential", "source",
            "external_id", "version", "created_at", "updated_at", "url",
        ]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(serializers.CharField(allow_null=True, help_text="Username; empty for tools."))
    def get_reporter(self, incident: Incident) -> str | None:
        reporter = incident.reporter if incident.reporter_id else None  # no query when there is none
        return reporter.get_username() if reporter is not None else None

    @extend_schema_field(OpenApiTypes.STR)
    def get_url(self, incident: Incident) -> str:
        return absolute(self.context, reverse("api:incident-detail", kwargs={"reference": incident.reference}))


class IncidentDetailSerializer(RedactedMixin, IncidentSerializer):
    """An incident with its timeline, action items and suspect releases."""

    timeline = TimelineEntrySerializer(many=True, read_only=True)
    action_items = IncidentActionItemSerializer(many=True, read_only=True)
    suspect_releases = SuspectReleaseSerializer(many=True, read_only=True)

    class Meta(IncidentSerializer.Meta):
        fields = [*IncidentSerializer.Meta.fields, "timeline", "action_items", "suspect_releases", "redacted"]
        read_only_fields = fields


class IncidentWriteMixin(StrictJsonMixin):
    title = OneLineField(max_length=TITLE_MAX)
    summary = serializers.CharField(required=False, allow_blank=True, max_length=LONG_TEXT_MAX)
    potential_impact = serializers.CharField(required=False, allow_blank=True, max_length=LONG_TEXT_MAX)
    trigger = serializers.CharField(required=False, allow_blank=True, max_length=LONG_TEXT_MAX)
    body = serializers.CharField(required=False, allow_blank=True, max_length=BODY_MAX, help_text="Markdown.")
    severity = serializers.ChoiceField(choices=Incident.Severity.choices, required=False, allow_blank=True)
    environment = SlugField(queryset=Environment.objects.all(), required=False, allow_null=True)
    caught_by = serializers.ChoiceField(choices=Incident.CaughtBy.choices, required=False, allow_blank=True)
    services = SlugRefsField(model=Service, required=False, help_text=f"Service slugs, at most {LIST_MAX}.")
    # max_length with many=True goes to the list serializer (DRF 3.14); the stubs' __init__ leaves it out.
    releases = ReleaseRefSerializer(many=True, required=False, max_length=LIST_MAX)  # type: ignore[call-arg]
    causes = IncidentCauseSerializer(many=True, required=False, max_length=LIST_MAX)  # type: ignore[call-arg]
    started_at = InRangeDateTimeField(required=False)
    detected_at = InRangeDateTimeField(required=False, allow_null=True)
    mitigated_at = InRangeDateTimeField(required=False, allow_null=True)
    resolved_at = InRangeDateTimeField(required=False, allow_null=True)


class IncidentCreateSerializer(IncidentWriteMixin):
    kind = serializers.ChoiceField(choices=Incident.Kind.choices)
    status = serializers.ChoiceField(
        choices=[(value, label) for value, label in Incident.Status.choices if value in services.TOOL_STATUSES],
        default=Incident.Status.TRIAGE,
        help_text="Items posted by tools wait in triage unless another status is given.",
    )
    # As above: the stubs know no max_length for many=True.
    timeline = TimelineEntrySerializer(many=True, required=False, max_length=TIMELINE_MAX)  # type: ignore[call-arg]
    # A field named like Field.source: the serializer's metaclass takes declared fields off the class.
    source = serializers.RegexField(  # type: ignore[assignment]
        r"^[a-z0-9][a-z0-9_.-]{0,49}$", max_length=50, default="api",
        help_text="What posted it, e.g. 'pagerduty'; with external_id, names the item for safe retries.",
    )  # fmt: skip
    external_id = OneLineField(max_length=200, required=False, default="", allow_blank=True)

    def validate_source(self, value: str) -> str:
        if value in services.RESERVED_SOURCES:
            raise serializers.ValidationError(f"{value!r} is reserved for Hindsight's own receivers.")
        return value


class IncidentUpdateSerializer(IncidentWriteMixin):
    status = serializers.ChoiceField(choices=Incident.Status.choices, required=False)
    version = serializers.IntegerField(
        min_value=1, max_value=2**31 - 1, required=False,
        help_text="The version you last read; required unless sent as an If-Match header.",
    )  # fmt: skip


# --- Action items ----------------------------------------------------------------------------------------


class UsernameField(NoBlankMixin, serializers.SlugRelatedField):
    def __init__(self, **kwargs):
        super().__init__(slug_field="username", queryset=get_user_model().objects.all(), **kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str) or not data or len(data) > 150 or "\x00" in data:
            self.fail("invalid")
        return super().to_internal_value(data)


class ActionItemSerializer(RedactedMixin, IncidentActionItemSerializer):
    incident = serializers.CharField(source="incident.reference", read_only=True)

    class Meta(IncidentActionItemSerializer.Meta):
        fields = ["id", "incident", *IncidentActionItemSerializer.Meta.fields[1:], "created_at", "redacted"]
        read_only_fields = fields


class ActionItemWriteSerializer(StrictJsonMixin):
    title = OneLineField(max_length=TITLE_MAX)
    owner = UsernameField(required=False, allow_null=True, help_text="Username of a member of your team.")
    team = SlugField(queryset=Team.objects.all(), required=False, allow_null=True)
    due_date = InRangeDateField(required=False, allow_null=True)
    cause = SlugField(queryset=Cause.objects.all(), required=False, allow_null=True)
    ticket_url = serializers.URLField(max_length=200, required=False, allow_blank=True)

    def validate_owner(self, user):
        team = self.context["team"]
        if user is not None and not user.memberships.filter(team=team).exists():
            raise serializers.ValidationError(f"{user.get_username()} is not a member of {team.slug}.")
        return user


class ActionItemCreateSerializer(ActionItemWriteSerializer):
    incident = serializers.RegexField(
        r"^(?i:INC|NM|CNM)-\d{1,9}$", max_length=13, help_text="INC-n, NM-n or CNM-n."
    )


class ActionItemUpdateSerializer(ActionItemWriteSerializer):
    status = serializers.ChoiceField(
        choices=[ActionItem.Status.DONE, ActionItem.Status.WONT_DO], required=False,
        help_text="Close the item as done or wont_do.",
    )  # fmt: skip


# --- Reports ---------------------------------------------------------------------------------------------


class TrendReportSerializer(serializers.ModelSerializer):
    week = serializers.CharField(source="week_label", read_only=True, help_text="ISO week, e.g. 2026-W47.")
    url = serializers.SerializerMethodField()

    class Meta:
        model = TrendReport
        fields = ["week", "scope", "audience", "status", "generated_at", "url"]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.STR)
    def get_url(self, report: TrendReport) -> str:
        url = reverse("api:report-detail", kwargs={"week": report.week_label})
        url = url if report.scope == TrendReport.ORGANISATION else f"{url}?scope={report.scope}"
        return absolute(self.context, url)
