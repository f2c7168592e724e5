"""The Hindsight domain: teams, services, environments, releases, incidents and what they teach.

Invariants live in the database (check and unique constraints) so that no door, admin and shell
included, can store an impossible row. Writes go through services.py; reads through selectors.py.
"""

from __future__ import annotations

import base64
import datetime as dt
import secrets
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.crypto import salted_hmac

from incidents.limits import (
    BODY_MAX,
    LONG_TEXT_MAX,
    SHORT_TEXT_MAX,
    TextLimit,
    gate_name_problem,
    validate_date_in_range,
    validate_single_line,
)
from incidents.weeks import Week

if TYPE_CHECKING:
    from django.contrib.auth.models import User

ONE_LINE = [validate_single_line]
IN_RANGE = [validate_date_in_range]


def _in_choices(field: str, choices: type[models.TextChoices], *, blank: bool = False) -> Q:
    allowed = Q(**{f"{field}__in": choices.values})
    return allowed | Q(**{field: ""}) if blank else allowed


class Team(models.Model):
    name = models.CharField(max_length=100, unique=True, validators=ONE_LINE)
    slug = models.SlugField(max_length=50, unique=True)
    members: models.ManyToManyField[User, Membership] = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="Membership", related_name="teams"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class MembershipRole(models.TextChoices):
    MEMBER = "member", "Member"
    LEAD = "lead", "Lead"


class Membership(models.Model):
    Role = MembershipRole

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "team"], name="membership_unique_user_team"),
            models.CheckConstraint(condition=_in_choices("role", MembershipRole), name="membership_role_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.team} ({self.role})"


class Service(models.Model):
    name = models.CharField(max_length=100, validators=ONE_LINE)
    slug = models.SlugField(max_length=80, unique=True)
    owner_team = models.ForeignKey(
        Team,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="services",
        help_text="A service without an owner team is itself an unclear-ownership signal.",
    )
    description = models.TextField(blank=True, validators=[TextLimit(LONG_TEXT_MAX)])

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class EnvironmentKind(models.TextChoices):
    DEVELOPMENT = "development", "Development"
    STAGING = "staging", "Staging"
    PRODUCTION = "production", "Production"
    OTHER = "other", "Other"


class Environment(models.Model):
    Kind = EnvironmentKind

    name = models.CharField(max_length=50, validators=ONE_LINE)
    slug = models.SlugField(max_length=50, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    promotion_order = models.PositiveSmallIntegerField(
        unique=True, help_text="Position on the path to production: dev 10, staging 20, prod 30."
    )
    mandate = models.TextField(
        help_text="What this environment is for and what may break here.", validators=[TextLimit(LONG_TEXT_MAX)]
    )

    class Meta:
        ordering = ["promotion_order"]
        constraints = [
            models.CheckConstraint(condition=_in_choices("kind", EnvironmentKind), name="environment_kind_valid")
        ]

    def __str__(self) -> str:
        return self.name


class CauseCategory(models.TextChoices):
    CHECKS = "checks", "Checks and testing"
    DETECTION = "detection", "Detection and alerting"
    CHANGE = "change", "Change and configuration"
    ORGANISATION = "organisation", "Ownership and knowledge"
    DATA = "data", "Data and secrets"
    ARCHITECTURE = "architecture", "Capacity and dependencies"


class Cause(models.Model):
    """A system cause. Never deleted once used (IncidentCause protects it); deactivate instead."""

    Category = CauseCategory

    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=100, validators=ONE_LINE)
    description = models.CharField(
        max_length=300, help_text="One line that helps a reporter choose.", validators=ONE_LINE
    )
    category = models.CharField(max_length=20, choices=Category.choices)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=_in_choices("category", CauseCategory), name="cause_category_valid")
        ]

    def __str__(self) -> str:
        return self.name


class Release(models.Model):
    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="releases")
    version = models.CharField(max_length=100, validators=ONE_LINE)
    artifact_digest = models.CharField(max_length=200, blank=True, validators=ONE_LINE)
    commit_sha = models.CharField(max_length=64, blank=True, validators=ONE_LINE)
    url = models.URLField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False, validators=IN_RANGE)
    # Typed on the near-miss form for a version no tool had recorded (tools record releases with their digests).
    entered_by_hand = models.BooleanField(default=False, db_default=False)  # db_default: bulk loads omit it

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["service", "version"], name="release_unique_service_version")
        ]
        indexes = [
            # selectors.release_list: a service's releases, newest first.
            models.Index(fields=["service", "-created_at"], name="release_service_created_idx"),
            # GitHub deployment events name a release by commit sha.
            models.Index(fields=["commit_sha"], name="release_commit_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.service.slug} {self.version}"


class GateResult(models.TextChoices):
    PASSED = "passed", "Passed"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"


def validate_gates(value: object) -> None:
    """Gates are a mapping of gate name to passed / failed / skipped."""
    if not isinstance(value, dict):
        raise ValidationError("Gates must be an object mapping gate names to passed, failed or skipped.")
    for name, result in value.items():
        if problem := gate_name_problem(name):
            raise ValidationError(problem)
        if result not in GateResult.values:
            raise ValidationError(f"Gate {name!r} has result {result!r}; expected passed, failed or skipped.")


class DeploymentStatus(models.TextChoices):
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    ROLLED_BACK = "rolled_back", "Rolled back"


class Deployment(models.Model):
    """One promotion of a release into an environment."""

    Status = DeploymentStatus

    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="deployments")
    environment = models.ForeignKey(Environment, on_delete=models.PROTECT, related_name="deployments")
    status = models.CharField(max_length=20, choices=Status.choices)
    deployed_at = models.DateTimeField(default=timezone.now, validators=IN_RANGE)
    gates = models.JSONField(default=dict, blank=True, validators=[validate_gates])
    rollback_rehearsed = models.BooleanField(default=False)
    source = models.CharField(max_length=50, blank=True, validators=ONE_LINE)
    external_id = models.CharField(max_length=200, blank=True, validators=ONE_LINE)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    # Not a column: set by services.deployment_record on the deployment it returns (an older event is stale).
    stale: bool

    class Meta:
        ordering = ["-deployed_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=_in_choices("status", DeploymentStatus), name="deployment_status_valid"
            ),
            models.UniqueConstraint(
                fields=["source", "external_id"],
                condition=~Q(external_id=""),
                name="deployment_unique_source_external_id",
            ),
        ]
        indexes = [
            # Weekly report: deployments per environment and change failure rate over a week of deployed_at.
            models.Index(fields=["deployed_at", "environment"], name="deployment_week_env_idx"),
            # Suspect releases: deployments into one environment in the hours before an incident started.
            models.Index(fields=["environment", "-deployed_at"], name="deployment_env_recent_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.release} → {self.environment.slug} ({self.status})"


class IncidentCounter(models.Model):
    """The last human number handed out per sequence (INC-n, NM-n, CNM-n); one row per sequence, seeded by
    migration (see Incident.number_sequence)."""

    kind = models.CharField(max_length=30, primary_key=True)  # "near_miss_confidential" is 22
    last_number = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.kind}: {self.last_number}"


class IncidentQuerySet(models.QuerySet["Incident"]):
    def counted(self) -> IncidentQuerySet:
        """Items that count in reports: neither waiting in triage nor dismissed."""
        return self.exclude(status__in=Incident.UNCOUNTED_STATUSES)

    def near_misses(self) -> IncidentQuerySet:
        return self.filter(kind=Incident.Kind.NEAR_MISS)

    def incidents(self) -> IncidentQuerySet:
        return self.filter(kind=Incident.Kind.INCIDENT)

    def started_between(self, start: dt.datetime, end: dt.datetime) -> IncidentQuerySet:
        return self.filter(started_at__gte=start, started_at__lt=end)


class IncidentKind(models.TextChoices):
    INCIDENT = "incident", "Incident"
    NEAR_MISS = "near_miss", "Near-miss"


class IncidentSeverity(models.TextChoices):
    SEV1 = "sev1", "SEV1 (critical)"
    SEV2 = "sev2", "SEV2 (major)"
    SEV3 = "sev3", "SEV3 (minor)"
    SEV4 = "sev4", "SEV4 (low)"


class IncidentStatus(models.TextChoices):
    TRIAGE = "triage", "Triage"
    DRAFT = "draft", "Draft"
    IN_REVIEW = "in_review", "In review"
    PUBLISHED = "published", "Published"
    DISMISSED = "dismissed", "Dismissed"


class IncidentCaughtBy(models.TextChoices):
    AUTOMATED_CHECK = "automated_check", "Automated check"
    MONITORING_ALERT = "monitoring_alert", "Monitoring alert"
    CODE_REVIEW = "code_review", "Code review"
    MANUAL_TESTING = "manual_testing", "Manual testing"
    CUSTOMER_REPORT = "customer_report", "Customer report"
    LUCK = "luck", "Luck"


class Incident(models.Model):
    Kind = IncidentKind
    Severity = IncidentSeverity
    Status = IncidentStatus
    CaughtBy = IncidentCaughtBy

    UNCOUNTED_STATUSES = (Status.TRIAGE, Status.DISMISSED)
    NUMBER_PREFIX: dict[str, str] = {Kind.INCIDENT: "INC", Kind.NEAR_MISS: "NM"}
    # Confidential near-misses are numbered apart (CNM-n), so that NM-n has no gaps where they sit.
    CONFIDENTIAL_SEQUENCE = "near_miss_confidential"
    CONFIDENTIAL_PREFIX = "CNM"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    number = models.PositiveIntegerField(editable=False)
    title = models.CharField(max_length=200, validators=ONE_LINE)
    summary = models.TextField(blank=True, help_text="What happened.", validators=[TextLimit(LONG_TEXT_MAX)])
    potential_impact = models.TextField(
        blank=True, help_text="What would have happened (near-misses).", validators=[TextLimit(LONG_TEXT_MAX)]
    )
    trigger = models.TextField(
        blank=True, help_text="The change or event that set it off.", validators=[TextLimit(LONG_TEXT_MAX)]
    )
    severity = models.CharField(
        max_length=4,
        choices=Severity.choices,
        blank=True,
        help_text="For a near-miss, the severity it would have had.",
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT)
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="incidents")
    services = models.ManyToManyField(Service, blank=True, related_name="incidents")
    environment = models.ForeignKey(
        Environment,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="incidents",
        help_text="Where it was caught.",
    )
    caught_by = models.CharField(max_length=20, choices=CaughtBy.choices, blank=True)
    releases = models.ManyToManyField(Release, blank=True, related_name="incidents")
    # A confidential near-miss naming a version no tool recorded keeps it here, on the item only: a new release in
    # the catalogue would tell everyone that something was filed, and when.
    release_entered = models.CharField(max_length=100, blank=True, default="", db_default="", validators=ONE_LINE)
    causes: models.ManyToManyField[Cause, IncidentCause] = models.ManyToManyField(
        Cause, through="IncidentCause", blank=True, related_name="incidents"
    )
    started_at = models.DateTimeField(default=timezone.now, validators=IN_RANGE)
    detected_at = models.DateTimeField(null=True, blank=True, validators=IN_RANGE)
    mitigated_at = models.DateTimeField(null=True, blank=True, validators=IN_RANGE)
    resolved_at = models.DateTimeField(null=True, blank=True, validators=IN_RANGE)
    body = models.TextField(blank=True, help_text="The postmortem, in Markdown.", validators=[TextLimit(BODY_MAX)])
    body_html = models.TextField(blank=True, editable=False)
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="reported_incidents",
        help_text="Empty for confidential near-misses, whose reporter is kept apart.",
    )
    confidential = models.BooleanField(default=False)
    source = models.CharField(max_length=50, default="web", validators=ONE_LINE)
    external_id = models.CharField(max_length=200, blank=True, validators=ONE_LINE)
    version = models.PositiveIntegerField(default=1, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)
    # Not a column: set by the API's detail responses for IncidentDetailSerializer.
    suspect_releases: list[Release]

    objects = IncidentQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            # One number per sequence: INC-n, NM-n (open near-misses) and CNM-n (confidential ones).
            models.UniqueConstraint(
                fields=["kind", "confidential", "number"], name="incident_unique_sequence_number"
            ),
            models.UniqueConstraint(
                fields=["source", "external_id"],
                condition=~Q(external_id=""),
                name="incident_unique_source_external_id",
            ),
            models.CheckConstraint(condition=_in_choices("kind", IncidentKind), name="incident_kind_valid"),
            models.CheckConstraint(condition=_in_choices("status", IncidentStatus), name="incident_status_valid"),
            models.CheckConstraint(
                condition=_in_choices("severity", IncidentSeverity, blank=True),
                name="incident_severity_valid",
            ),
            models.CheckConstraint(
                condition=_in_choices("caught_by", IncidentCaughtBy, blank=True),
                name="incident_caught_by_valid",
            ),
            models.CheckConstraint(
                condition=Q(detected_at__isnull=True) | Q(detected_at__gte=models.F("started_at")),
                name="incident_detected_after_start",
            ),
            models.CheckConstraint(
                condition=Q(mitigated_at__isnull=True) | Q(mitigated_at__gte=models.F("started_at")),
                name="incident_mitigated_after_start",
            ),
            models.CheckConstraint(
                condition=Q(resolved_at__isnull=True) | Q(resolved_at__gte=models.F("started_at")),
                name="incident_resolved_after_start",
            ),
            models.CheckConstraint(
                condition=Q(resolved_at__isnull=True)
                | Q(mitigated_at__isnull=True)
                | Q(resolved_at__gte=models.F("mitigated_at")),
                name="incident_resolved_after_mitigated",
            ),
            models.CheckConstraint(
                condition=Q(confidential=False) | Q(kind="near_miss"),
                name="incident_confidential_near_miss_only",
            ),
        ]
        indexes = [
            # Weekly report: counted items (not triage, not dismissed) started within the 13 weeks covered.
            models.Index(
                fields=["started_at"],
                condition=~Q(status__in=["triage", "dismissed"]),
                name="incident_counted_started_idx",
            ),
            # Team report and the web list filtered by team, newest first.
            models.Index(fields=["team", "-started_at"], name="incident_team_started_idx"),
            # Web list and triage inbox filtered by status (and kind), newest first.
            models.Index(fields=["status", "-started_at"], name="incident_status_started_idx"),
            models.Index(fields=["kind", "-started_at"], name="incident_kind_started_idx"),
            # Web list filtered by severity.
            models.Index(fields=["severity", "-started_at"], name="incident_severity_started_idx"),
            # Unfiltered web list: newest first.
            models.Index(fields=["-started_at", "-id"], name="incident_started_desc_idx"),
            # Weekly report, action items: the few uncounted and confidential items, joined to open action items.
            models.Index(
                fields=["id"], condition=Q(status__in=["triage", "dismissed"]), name="incident_uncounted_idx"
            ),
            models.Index(fields=["id"], condition=Q(confidential=True), name="incident_confidential_idx"),
        ]
        # PostgreSQL only (migration 0007): the report's archive pick reads its candidates, published
        # non-confidential incidents of a year, from a covering index (started_at, id).

    def __str__(self) -> str:
        return f"{self.reference} {self.title}"

    @property
    def reference(self) -> str:
        return self.reference_of(kind=self.kind, number=self.number, confidential=self.confidential)

    @classmethod
    def reference_of(cls, *, kind: str, number: int, confidential: bool = False) -> str:
        """INC-n, NM-n, or CNM-n for a confidential near-miss."""
        if confidential and kind == cls.Kind.NEAR_MISS:
            return f"{cls.CONFIDENTIAL_PREFIX}-{number}"
        return f"{cls.NUMBER_PREFIX[kind]}-{number}"

    @classmethod
    def number_sequence(cls, *, kind: str, confidential: bool = False) -> str:
        """The IncidentCounter row that numbers items of this kind and confidentiality."""
        return cls.CONFIDENTIAL_SEQUENCE if confidential and kind == cls.Kind.NEAR_MISS else kind

    @property
    def is_near_miss(self) -> bool:
        return self.kind == self.Kind.NEAR_MISS

    def clean(self) -> None:
        errors = {}
        for field in ("detected_at", "mitigated_at", "resolved_at"):
            value = getattr(self, field)
            if value and self.started_at and value < self.started_at:
                errors[field] = "Cannot be before the start time."
        if self.resolved_at and self.mitigated_at and self.resolved_at < self.mitigated_at:
            errors["resolved_at"] = "Cannot be before the mitigation time."
        if self.confidential and self.kind != self.Kind.NEAR_MISS:
            errors["confidential"] = "Only near-misses can be confidential."
        if errors:
            raise ValidationError(errors)


class ConfidentialReporter(models.Model):
    """Who filed a confidential near-miss, kept apart from the report and purged after a while.

    The receipt code lets the reporter follow the report without being named on it; only its hash is kept.
    """

    incident = models.OneToOneField(Incident, on_delete=models.CASCADE, related_name="confidential_reporter")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    receipt_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    purged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # Purge task: identities still held, oldest first.
            models.Index(
                fields=["created_at"], condition=Q(purged_at__isnull=True), name="confreporter_unpurged_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"Reporter of {self.incident.reference}"


class IncidentCauseGate(models.TextChoices):
    CI = "ci", "CI"
    REVIEW = "review", "Code review"
    STAGING = "staging", "Staging"
    CANARY = "canary", "Canary"
    PROD_MONITORING = "prod-monitoring", "Production monitoring"


class IncidentCause(models.Model):
    Gate = IncidentCauseGate

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="incident_causes")
    cause = models.ForeignKey(Cause, on_delete=models.PROTECT, related_name="incident_causes")
    note = models.TextField(blank=True, validators=[TextLimit(SHORT_TEXT_MAX)])
    gate = models.CharField(
        max_length=20, choices=Gate.choices, blank=True, help_text="The gate that should have caught it."
    )

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["incident", "cause"], name="incidentcause_unique"),
            models.CheckConstraint(
                condition=_in_choices("gate", IncidentCauseGate, blank=True), name="incidentcause_gate_valid"
            ),
        ]
        indexes = [
            # Weekly report: causes per week and the cause-by-gate heat map join from cause to incident.
            models.Index(fields=["cause", "incident"], name="incidentcause_cause_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.incident.reference}: {self.cause.slug}"


class TimelineEntry(models.Model):
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="timeline")
    at = models.DateTimeField(validators=IN_RANGE)
    text = models.TextField(validators=[TextLimit(SHORT_TEXT_MAX)])

    class Meta:
        ordering = ["at", "id"]
        verbose_name_plural = "timeline entries"
        indexes = [
            # Incident page: the timeline of one incident in time order.
            models.Index(fields=["incident", "at"], name="timeline_incident_at_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.text[:40]}"

    @property
    def key(self) -> str:
        """How pages name the entry: a keyed hash of its id, since sequential ids would show, by their gaps, the
        entries of confidential near-misses (selectors.timeline_entry_get finds the entry again)."""
        return salted_hmac("timeline-entry", str(self.pk)).hexdigest()[:20]

    @property
    def line(self) -> str:
        """The entry as one line of a revision's timeline: its time in UTC and its text."""
        return f"{self.at.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC {self.text}"


class ActionItemStatus(models.TextChoices):
    OPEN = "open", "Open"
    DONE = "done", "Done"
    WONT_DO = "wont_do", "Won't do"


ACTION_ITEM_ID_LIMIT = 2**53 - 1  # ids stay exact in JavaScript numbers


def random_action_item_id() -> int:
    """A random id for a new action item: sequential ids would show, by their gaps, items a viewer may not see
    (those of confidential near-misses). 1 to 2**53 - 1, so a browser's JSON parser keeps it exact."""
    return secrets.randbelow(ACTION_ITEM_ID_LIMIT) + 1


class ActionItem(models.Model):
    Status = ActionItemStatus

    id = models.BigIntegerField(primary_key=True, default=random_action_item_id, editable=False)
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="action_items")
    title = models.CharField(max_length=200, validators=ONE_LINE)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="action_items",
    )
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="action_items")
    due_date = models.DateField(null=True, blank=True, validators=IN_RANGE)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    cause = models.ForeignKey(
        Cause,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="action_items",
        help_text="The cause this item addresses.",
    )
    ticket_url = models.URLField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    completed_at = models.DateTimeField(null=True, blank=True, validators=IN_RANGE)
    overdue_announced_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="When the team's chat channels were told it is overdue."
    )

    class Meta:
        ordering = ["due_date", "id"]
        constraints = [
            models.CheckConstraint(
                condition=_in_choices("status", ActionItemStatus), name="actionitem_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(status="open", completed_at__isnull=True)
                | (~Q(status="open") & Q(completed_at__isnull=False)),
                name="actionitem_completed_iff_closed",
            ),
        ]
        indexes = [
            # Overdue lists and the report's overdue count: open items by due date.
            models.Index(fields=["due_date"], condition=Q(status="open"), name="actionitem_open_due_idx"),
            # "My action items": one owner's items by status.
            models.Index(fields=["owner", "status"], name="actionitem_owner_status_idx"),
            # Weekly report: items opened and closed in a week.
            models.Index(fields=["created_at"], name="actionitem_created_idx"),
            models.Index(fields=["completed_at"], name="actionitem_completed_idx"),
            # Weekly report, fixes that did not stick: the latest done item for a cause completed before a time.
            models.Index(
                fields=["cause", "-completed_at"], condition=Q(status="done"), name="actionitem_done_cause_idx"
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def is_overdue(self, today: dt.date | None = None) -> bool:
        today = today or timezone.localdate()
        return self.status == self.Status.OPEN and self.due_date is not None and self.due_date < today


class TrendReportStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"


class TrendReportAudience(models.TextChoices):
    EVERYONE = "everyone", "Everyone"
    CONFIDENTIAL = "confidential", "Including confidential near-misses"


class TrendReport(models.Model):
    """One week's trend report for the organisation or one team, for one audience; regenerating replaces it.

    Each (week, scope) is stored twice: "everyone" is computed as if confidential near-misses did not exist,
    "confidential" includes them (for the team's leads and admins; the organisation's for admins only).
    """

    ORGANISATION = "organisation"
    Status = TrendReportStatus
    Audience = TrendReportAudience

    week_start = models.DateField(help_text="The Monday that starts the ISO week.")
    scope = models.CharField(max_length=80, help_text='"organisation" or "team:<slug>".')
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.CASCADE, related_name="reports")
    audience = models.CharField(max_length=12, choices=Audience.choices, default=Audience.EVERYONE)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    data = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    requested_at = models.DateTimeField(default=timezone.now)
    generated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-week_start", "scope"]
        constraints = [
            models.UniqueConstraint(
                fields=["week_start", "scope", "audience"], name="trendreport_unique_week_scope_audience"
            ),
            models.CheckConstraint(
                condition=_in_choices("status", TrendReportStatus), name="trendreport_status_valid"
            ),
            models.CheckConstraint(
                condition=_in_choices("audience", TrendReportAudience), name="trendreport_audience_valid"
            ),
            models.CheckConstraint(
                condition=Q(scope="organisation", team__isnull=True)
                | (Q(scope__startswith="team:") & Q(team__isnull=False)),
                name="trendreport_scope_matches_team",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.week_label} {self.scope} ({self.audience})"

    @property
    def is_confidential(self) -> bool:
        return self.audience == self.Audience.CONFIDENTIAL

    @property
    def week_label(self) -> str:
        return Week.containing(self.week_start).label

    def clean(self) -> None:
        if self.week_start and self.week_start.isoweekday() != 1:
            raise ValidationError({"week_start": "A report week starts on a Monday."})


# ---------------------------------------------------------------------------------------------------------
# Weekly trend report digests: who wants the e-mail, and what was sent.


class DigestSubscription(models.Model):
    """A person's own choice about the weekly digest. Without a row, team leads get it and others do not."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="digest_subscription"
    )
    subscribed = models.BooleanField()
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.user}: {'subscribed' if self.subscribed else 'unsubscribed'}"


class DigestDeliveryStatus(models.TextChoices):
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class DigestDelivery(models.Model):
    """One person's digest for one week. The row is claimed before the mail is sent, so a second run of the
    sending task finds it and sends nothing: each person gets each week's digest once."""

    Status = DigestDeliveryStatus

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="digest_deliveries")
    week_start = models.DateField(help_text="The Monday that starts the ISO week of the digest.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SENDING)
    claimed_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-week_start", "user_id"]
        verbose_name_plural = "digest deliveries"
        constraints = [
            models.UniqueConstraint(fields=["user", "week_start"], name="digestdelivery_unique_user_week"),
            models.CheckConstraint(
                condition=_in_choices("status", DigestDeliveryStatus), name="digestdelivery_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.week_start} ({self.status})"


# --- The API for tools: tokens, idempotency records and GitHub webhook secrets --------------------------


class ApiTokenScope(models.TextChoices):
    READ = "read", "Read"
    WRITE = "write", "Read and write"
    HOOK = "hook", "One hook's receiver only"


class ApiToken(models.Model):
    """A tool's credential, acting for one team. Only a hash of the secret is kept, plus a display prefix."""

    Scope = ApiTokenScope
    PREFIX_LENGTH = 10

    name = models.CharField(max_length=100, help_text="What uses it, e.g. 'deploy pipeline'.", validators=ONE_LINE)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="api_tokens")
    scope = models.CharField(max_length=10, choices=Scope.choices, default=Scope.READ)
    prefix = models.CharField(max_length=PREFIX_LENGTH, editable=False, help_text="The token's first characters.")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, help_text="Set to revoke the token.")

    class Meta:
        ordering = ["team", "name"]
        verbose_name = "API token"
        constraints = [
            models.CheckConstraint(condition=_in_choices("scope", ApiTokenScope), name="apitoken_scope_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…, {self.team}, {self.scope})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @property
    def can_write(self) -> bool:
        return self.scope == ApiTokenScope.WRITE


class IdempotencyRecordState(models.TextChoices):
    PROCESSING = "processing", "Processing"
    DONE = "done", "Done"


class IdempotencyRecord(models.Model):
    """The first response to a request sent with an Idempotency-Key, replayed to retries of that request.

    Unique per token and key, so of two concurrent first requests exactly one claims the key.
    """

    State = IdempotencyRecordState

    token = models.ForeignKey(ApiToken, on_delete=models.CASCADE, related_name="idempotency_records")
    key = models.CharField(max_length=255)
    request_fingerprint = models.CharField(max_length=64, help_text="SHA-256 of method, path and body.")
    state = models.CharField(max_length=12, choices=State.choices, default=State.PROCESSING)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["token", "key"], name="idempotency_unique_token_key"),
            models.CheckConstraint(
                condition=_in_choices("state", IdempotencyRecordState), name="idempotency_state_valid"
            ),
        ]
        indexes = [
            # Purge of expired records, oldest first.
            models.Index(fields=["created_at"], name="idempotency_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.state})"


class HookSource(models.TextChoices):
    """The senders Hindsight has a receiver for (incidents/api/receivers/), each at /api/v1/hooks/<source>/."""

    ALERTMANAGER = "alertmanager", "Prometheus Alertmanager"
    GITHUB = "github", "GitHub"
    PAGERDUTY = "pagerduty", "PagerDuty"
    OPSGENIE = "opsgenie", "Opsgenie"
    GRAFANA = "grafana", "Grafana"
    SENTRY = "sentry", "Sentry"
    DATADOG = "datadog", "Datadog"


# Senders that sign each delivery with a shared secret (HMAC of the body); the others send a bearer token.
SIGNED_HOOK_SOURCES = (HookSource.GITHUB, HookSource.PAGERDUTY, HookSource.SENTRY)


class Hook(models.Model):
    """One sender's webhook: the team it acts for, its credential, and how its services and environments map.

    A signed sender (GitHub, PagerDuty, Sentry) signs each delivery with `secret`; the hook whose secret matches is
    the sender, so the secret must be stored as given (it cannot be hashed). A sender with a bearer token
    (Alertmanager, Opsgenie, Grafana, Datadog) sends the hook's `token`, an API token of the `hook` scope that is
    accepted by this hook's receiver only and stored hashed like any other.
    """

    Source = HookSource

    name = models.CharField(max_length=100, help_text="E.g. the repository, 'acme/checkout'.", validators=ONE_LINE)
    source = models.CharField(max_length=20, choices=Source.choices, default=Source.GITHUB)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="hooks")
    service = models.ForeignKey(
        Service,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="hooks",
        help_text="The service the sender speaks for; empty: the service named in each event (docs/receivers.md).",
    )
    secret = models.CharField(
        max_length=200, blank=True, help_text="The signing secret entered in the sender (signed senders only)."
    )
    token = models.OneToOneField(
        "ApiToken",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="hook",
        help_text="The bearer token the sender sends (senders with a token only).",
    )
    environment_map = models.JSONField(
        default=dict,
        blank=True,
        help_text='The sender\'s environment name → Hindsight environment slug, e.g. {"production": "prod"}. '
        "Names not listed are looked up as slugs.",
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_delivery_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["source", "name"]
        verbose_name = "hook"
        constraints = [
            models.CheckConstraint(condition=_in_choices("source", HookSource), name="hook_source_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_source_display()})"

    @property
    def signed(self) -> bool:
        return self.source in SIGNED_HOOK_SOURCES

    def clean(self) -> None:
        mapping = self.environment_map
        if (
            not isinstance(mapping, dict)
            or not all(
                isinstance(key, str) and isinstance(value, str) and len(key) <= 255
                for key, value in mapping.items()
            )
            or len(mapping) > 100
        ):
            raise ValidationError(
                {"environment_map": "Give an object of at most 100 sender names → environment slug."}
            )
        unknown = sorted(set(mapping.values()) - set(Environment.objects.values_list("slug", flat=True)))
        if unknown:
            raise ValidationError({"environment_map": f"Unknown environment slugs: {', '.join(unknown)}."})
        if self.signed and len(self.secret or "") < 16:
            raise ValidationError({"secret": "Use a secret of at least 16 characters."})
        if not self.signed and self.secret:
            raise ValidationError(
                {"secret": f"{self.get_source_display()} sends a token, not a signature: leave it empty."}
            )


class ChatWebhookKind(models.TextChoices):
    SLACK = "slack", "Slack"
    TEAMS = "teams", "Microsoft Teams"


class ChatWebhook(models.Model):
    """A team's channel in Slack or Microsoft Teams: the incoming webhook URL that posts to it, and its health.

    The URL is a credential (whoever holds it posts to the channel): it is stored as given, since it must be
    sent, and shown only masked (`masked_url`). A webhook is disabled (`disabled_at`) when the chat service says it
    is gone, or after CHAT_WEBHOOK_MAX_FAILURES failed posts in a row; a lead enables it again.
    """

    Kind = ChatWebhookKind

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="chat_webhooks")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    url = models.CharField(max_length=2000, help_text="The incoming webhook URL (a secret).")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    disabled_at = models.DateTimeField(null=True, blank=True, editable=False)
    disabled_reason = models.CharField(max_length=300, blank=True, editable=False)
    consecutive_failures = models.PositiveIntegerField(default=0, editable=False)
    last_success_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_failure_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_error = models.CharField(max_length=300, blank=True, editable=False)
    last_digest_week = models.DateField(
        null=True, blank=True, editable=False, help_text="The Monday of the last weekly digest queued for it."
    )

    class Meta:
        ordering = ["team__name", "kind"]
        verbose_name = "chat webhook"
        constraints = [
            models.UniqueConstraint(fields=["team", "kind"], name="chatwebhook_unique_team_kind"),
            models.CheckConstraint(condition=_in_choices("kind", ChatWebhookKind), name="chatwebhook_kind_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.team} ({self.get_kind_display()})"

    @property
    def active(self) -> bool:
        return self.disabled_at is None

    @property
    def masked_url(self) -> str:
        return mask_webhook_url(self.url)


def mask_webhook_url(url: str) -> str:
    """A webhook URL as pages, answers and logs may show it: its host and its last four characters."""
    rest = url.split("://", 1)[-1]
    host = rest.split("/", 1)[0].rsplit("@", 1)[-1]
    return f"{host}/…{url[-4:]}" if len(url) > len(host) + 12 else f"{host}/…"


class HookDeliveryOutcome(models.TextChoices):
    RECORDED = "recorded", "Recorded"  # something was created or changed
    UNCHANGED = "unchanged", "Unchanged"  # already known, or older than what is stored
    IGNORED = "ignored", "Ignored"  # nothing to record (an event not read, a state not final, not the team's)
    PARTIAL = "partial", "Partly recorded"  # some alerts of a notification could not be recorded


class HookDelivery(models.Model):
    """One delivery a webhook receiver accepted, with what came of it (docs/receivers.md).

    A delivery id (GitHub's X-GitHub-Delivery) is unique per source and team, so a replayed or concurrent
    duplicate delivery is answered "already received" without changing anything, while the same event sent to
    two teams' hooks (one PagerDuty account, two subscriptions) is each team's. Alertmanager sends no delivery id
    (its alerts are deduplicated by fingerprint and start time); its notifications are kept with an empty id.
    """

    Outcome = HookDeliveryOutcome

    source = models.CharField(max_length=20, help_text="The receiver: a hook source, or slack.")
    hook = models.ForeignKey(Hook, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries")
    token = models.ForeignKey(ApiToken, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries")
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.CASCADE, related_name="+",
        help_text="The team the delivery was for (its hook's or token's); none for Slack.",
    )  # fmt: skip
    delivery_id = models.CharField(max_length=100, blank=True, help_text="The sender's id of this delivery.")
    event = models.CharField(max_length=50, blank=True)
    received_at = models.DateTimeField(default=timezone.now, editable=False)
    outcome = models.CharField(max_length=12, choices=Outcome.choices)
    detail = models.CharField(max_length=300, blank=True, help_text="Why, when nothing or not all was recorded.")
    repeats = models.PositiveIntegerField(default=0, help_text="Times the same delivery id was received again.")

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name_plural = "hook deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["source", "delivery_id"],
                condition=~Q(delivery_id="") & Q(team__isnull=True),
                name="hookdelivery_unique_source_delivery",
            ),
            models.UniqueConstraint(
                fields=["source", "team", "delivery_id"],
                condition=~Q(delivery_id="") & Q(team__isnull=False),
                name="hookdelivery_unique_team_delivery",
            ),
            models.CheckConstraint(
                condition=_in_choices("outcome", HookDeliveryOutcome), name="hookdelivery_outcome_valid"
            ),
        ]
        indexes = [
            # The daily purge of deliveries past HOOK_DELIVERY_RETENTION_DAYS, oldest first.
            models.Index(fields=["received_at"], name="hookdelivery_received_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.source} {self.delivery_id or self.pk} ({self.outcome})"


# --- Outbound webhooks: subscribers that follow Hindsight's events (docs/outbound-webhooks.md) ------------


class WebhookEventType(models.TextChoices):
    INCIDENT_CREATED = "incident.created", "Incident or near-miss filed"
    POSTMORTEM_PUBLISHED = "postmortem.published", "Postmortem published"
    ACTION_ITEM_CREATED = "action_item.created", "Action item created"
    ACTION_ITEM_CLOSED = "action_item.closed", "Action item closed"
    ACTION_ITEM_OVERDUE = "action_item.overdue", "Action item overdue"
    REPORT_READY = "report.ready", "Weekly report ready"
    TEST = "webhook.test", "Test event"  # sent when a lead or admin asks, whatever the subscription chose


# The events a subscription chooses from (the test event is sent on request only).
SUBSCRIBABLE_EVENT_TYPES = tuple(value for value in WebhookEventType.values if value != WebhookEventType.TEST)
WEBHOOK_SECRET_PREFIX = "whsec_"  # noqa: S105 - the Standard Webhooks marker, not a secret


def webhook_secret_new() -> str:
    """A Standard Webhooks signing secret: `whsec_` and 32 random bytes in base64."""
    return WEBHOOK_SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def webhook_message_id_new() -> str:
    """A delivery's `webhook-id`: random, so that it tells a subscriber nothing of the deliveries of others."""
    return "msg_" + secrets.token_urlsafe(18)


class WebhookSubscription(models.Model):
    """A subscriber to Hindsight's events: a URL that receives each event about its team's items (every team's,
    for an organisation subscription, whose `team` is empty) as a signed POST (Standard Webhooks).

    The signing secret is stored as it is, since every delivery is signed with it, and shown once, when the
    subscription is made. The URL may be a credential too (Jira's and many pipelines' are): it is shown masked.
    `include_confidential`, set by admins only, lets it receive confidential near-misses. It is disabled
    (`disabled_at`) when its URL answers 410 Gone, or after WEBHOOK_MAX_FAILURES deliveries in a row failed
    every attempt; a lead or an admin enables it again.
    """

    EventType = WebhookEventType

    name = models.CharField(
        max_length=100, help_text="What receives it, e.g. 'Jira automation'.", validators=ONE_LINE
    )
    team = models.ForeignKey(
        Team,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="webhook_subscriptions",
        help_text="Empty: the organisation, every team's events (admins only).",
    )
    url = models.CharField(max_length=2000, help_text="Where each event is POSTed (https).")
    secret = models.CharField(max_length=100, default=webhook_secret_new, editable=False)
    event_types = models.JSONField(default=list, blank=True, help_text="The event types sent; empty: all of them.")
    include_confidential = models.BooleanField(
        default=False, help_text="Also send events about confidential near-misses (admins only)."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    disabled_at = models.DateTimeField(null=True, blank=True, editable=False)
    disabled_reason = models.CharField(max_length=300, blank=True, editable=False)
    consecutive_failures = models.PositiveIntegerField(
        default=0, editable=False, help_text="Deliveries in a row that failed every attempt."
    )
    last_success_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_failure_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_error = models.CharField(max_length=300, blank=True, editable=False)
    overdue_checked_on = models.DateField(
        null=True,
        blank=True,
        editable=False,
        help_text="The day of the last run that sent it overdue action items.",
    )

    class Meta:
        ordering = ["team__name", "name", "id"]
        verbose_name = "webhook subscription"

    def __str__(self) -> str:
        return f"{self.name} ({self.team or 'organisation'})"

    @property
    def active(self) -> bool:
        return self.disabled_at is None

    @property
    def masked_url(self) -> str:
        return mask_webhook_url(self.url)

    def wants(self, event_type: str) -> bool:
        """Whether the subscriber chose this event type (none chosen: every type; the test event: always)."""
        return event_type == WebhookEventType.TEST or not self.event_types or event_type in self.event_types

    def clean(self) -> None:
        chosen = self.event_types
        if (
            not isinstance(chosen, list)
            or len(chosen) > len(SUBSCRIBABLE_EVENT_TYPES)
            or len(set(map(str, chosen))) != len(chosen)
            or not set(chosen) <= set(SUBSCRIBABLE_EVENT_TYPES)
        ):
            raise ValidationError(
                {
                    "event_types": f"Give a list of distinct event types among {', '.join(SUBSCRIBABLE_EVENT_TYPES)}."
                }
            )


class WebhookDeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"  # queued, or waiting for its next attempt (next_attempt_at)
    SENDING = "sending", "Sending"  # an attempt is under way
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"  # every attempt failed, the URL is gone, or the subscription was disabled
    SKIPPED = "skipped", "Skipped"  # nothing to send any more, or nothing the subscription may still see


class WebhookDelivery(models.Model):
    """One event for one subscription, and its attempts. The payload is built when each attempt is sent, from
    what the item is then (an item made confidential meanwhile is skipped); `webhook_id` stays the same across
    the attempts, so that a receiver can tell a retry from a new event."""

    Status = WebhookDeliveryStatus

    subscription = models.ForeignKey(WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries")
    webhook_id = models.CharField(max_length=40, unique=True, default=webhook_message_id_new, editable=False)
    event_type = models.CharField(max_length=40, choices=WebhookEventType.choices)
    reference = models.JSONField(default=dict, blank=True, help_text="What the event is about (ids).")
    occurred_at = models.DateTimeField(
        default=timezone.now, help_text="When it happened: the payload's timestamp."
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True, help_text="Empty: queued now.")
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    last_duration_ms = models.PositiveIntegerField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "webhook deliveries"
        constraints = [
            models.CheckConstraint(
                condition=_in_choices("status", WebhookDeliveryStatus), name="webhookdelivery_status_valid"
            ),
            models.CheckConstraint(
                condition=_in_choices("event_type", WebhookEventType), name="webhookdelivery_event_type_valid"
            ),
        ]
        indexes = [
            # The retry poll: pending deliveries whose next attempt is due, soonest first.
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="pending", next_attempt_at__isnull=False),
                name="webhookdelivery_due_idx",
            ),
            # The retry poll: attempts whose worker died (sending since long ago).
            models.Index(
                fields=["last_attempt_at"], condition=Q(status="sending"), name="webhookdelivery_sending_idx"
            ),
            # The daily purge of deliveries past WEBHOOK_DELIVERY_RETENTION_DAYS, oldest first.
            models.Index(fields=["created_at"], name="webhookdelivery_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.webhook_id} ({self.status})"


# --- Web app: postmortem revisions ----------------------------------------------------------------------


class IncidentRevision(models.Model):
    """What an incident's text looked like at one version, saved by the web editor for its history and diffs.

    The author is left empty on confidential near-misses so that the history cannot name their reporter.
    """

    AMENDMENT_NOTE = "Amendment to the published postmortem."  # the note of an edit after publishing

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="revisions")
    version = models.PositiveIntegerField()
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    title = models.CharField(max_length=200)
    summary = models.TextField(blank=True)
    trigger = models.TextField(blank=True)
    body = models.TextField(blank=True)
    status = models.CharField(max_length=20, choices=IncidentStatus.choices)
    # The timeline at this version, one entry a line (TimelineEntry.line); null in revisions kept before it was.
    timeline = models.TextField(null=True, blank=True)  # noqa: DJ001 - null: not kept, "" : an empty timeline
    # What this version changed when it is not the text, e.g. "Timeline entry at 2026-01-05 10:00 UTC deleted."
    note = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(fields=["incident", "version"], name="incidentrevision_unique_version"),
        ]

    def __str__(self) -> str:
        return f"{self.incident.reference} v{self.version}"


# ---------------------------------------------------------------------------------------------------------
# Audit trail: who changed what and when, for incidents, action items, the cause taxonomy, environments and
# the API's credentials. Written by the services (and the admin) in the same transaction as the change.


class AuditEntry(models.Model):
    at = models.DateTimeField(default=timezone.now, editable=False)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(
        max_length=150, help_text='Who, as text: a username, "token:<name>", "hook:<name>" or "system".'
    )
    action = models.CharField(max_length=40)
    content_type = models.ForeignKey("contenttypes.ContentType", on_delete=models.PROTECT, related_name="+")
    object_id = models.CharField(max_length=64)
    object_repr = models.CharField(max_length=200)
    changes = models.JSONField(default=dict, blank=True, help_text="Field → [before, after].")

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name_plural = "audit entries"
        indexes = [
            # The admin's audit trail of one object, newest first.
            models.Index(fields=["content_type", "object_id", "-at"], name="auditentry_object_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_label} {self.action} {self.object_repr}"


# ---------------------------------------------------------------------------------------------------------
# Transactional outbox: follow-up work written in the same transaction as the change that calls for it, and
# handed to Celery after commit (or later, by the relay, if the broker was down). incidents/outbox.py runs it.


class OutboxMessage(models.Model):
    handler = models.CharField(max_length=60, help_text="The name of the follow-up work (incidents/outbox.py).")
    payload = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    dispatched_at = models.DateTimeField(null=True, blank=True, help_text="Last handed to the broker.")
    claimed_at = models.DateTimeField(null=True, blank=True, help_text="A worker started it.")
    processed_at = models.DateTimeField(null=True, blank=True, help_text="Done; never run again.")
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            # The relay: messages not yet processed, oldest first.
            models.Index(fields=["created_at"], condition=Q(processed_at__isnull=True), name="outbox_pending_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.handler} #{self.pk} ({'done' if self.processed_at else 'pending'})"
