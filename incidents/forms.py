"""Web forms: they validate what people type and hand clean values to one service (report pages included)."""

from __future__ import annotations

import datetime as dt
from typing import Any, TypeVar

from django import forms
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator
from django.db.models import Q, QuerySet
from django.utils import timezone

from incidents import selectors
from incidents.choices import IdsChoiceField, plain_empty_choices
from incidents.limits import (
    BODY_MAX,
    FIRST_YEAR,
    LONG_TEXT_MAX,
    SHORT_TEXT_MAX,
    TITLE_MAX,
    validate_date_in_range,
    validate_single_line,
)
from incidents.models import (
    ActionItem,
    ApiTokenScope,
    Cause,
    ChatWebhookKind,
    Environment,
    Incident,
    IncidentCause,
    Release,
    Service,
    Team,
    TimelineEntry,
    TrendReport,
    WebhookEventType,
)
from incidents.services import CauseInput
from incidents.weeks import Week

DATETIME_FORMAT = "%Y-%m-%dT%H:%M"
MAX_VERSION = 2**31 - 1  # a version beyond any stored one, still a valid database integer
# The limits every door shares (incidents/limits.py): every text is rendered and redacted in time linear in its
# length (docs/hostile-input.md), and its length is bounded at every door.
TEXT_MAX_LENGTHS = {
    "summary": LONG_TEXT_MAX,
    "potential_impact": LONG_TEXT_MAX,
    "trigger": LONG_TEXT_MAX,
    "body": BODY_MAX,
}


def _limit_texts(form: forms.BaseForm) -> None:
    """Give each long text field of `form` its maximum length (a form error past it, and the browser's maxlength)."""
    for name, limit in TEXT_MAX_LENGTHS.items():
        field = form.fields.get(name)
        if isinstance(field, forms.CharField):
            field.max_length = limit
            field.validators.append(MaxLengthValidator(limit))
            field.widget.attrs["maxlength"] = str(limit)


_F = TypeVar("_F", bound=forms.Field)


def declared_field(form: forms.BaseForm, name: str, kind: type[_F]) -> _F:
    """The field `name` of `form` as the kind it is declared as (`form.fields` knows only Field)."""
    field = form.fields[name]
    if not isinstance(field, kind):
        raise TypeError(f"{name} is not a {kind.__name__}")
    return field


def model_choice_field(form: forms.BaseForm, name: str) -> forms.ModelChoiceField[Any]:
    return declared_field(form, name, forms.ModelChoiceField)


def model_choices(form: forms.BaseForm, name: str) -> QuerySet[Any]:
    """The rows the model choice field `name` of `form` offers (each form sets them in its __init__)."""
    queryset = model_choice_field(form, name).queryset
    if queryset is None:
        raise TypeError(f"{name} offers no rows")
    return queryset


class LocalDateTimeInput(forms.DateTimeInput):
    """The browser's date-and-time picker; values are local times in TIME_ZONE."""

    input_type = "datetime-local"

    def __init__(self, attrs: dict | None = None) -> None:
        super().__init__(attrs=attrs, format=DATETIME_FORMAT)


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs: dict | None = None) -> None:
        super().__init__(attrs=attrs, format="%Y-%m-%d")


def _now_local() -> str:
    return timezone.localtime().strftime(DATETIME_FORMAT)


def _zone_help(text: str) -> str:
    return f"{text} Local time ({timezone.get_current_timezone_name()})."


class CauseChoiceField(IdsChoiceField):
    def label_from_instance(self, obj: Cause) -> str:
        return obj.name


class PersonChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: User) -> str:
        return obj.get_full_name() or obj.username


class NearMissForm(forms.Form):
    """One screen, one submit: everything needed to file a near-miss."""

    title = forms.CharField(
        max_length=TITLE_MAX, help_text="One line: what nearly went wrong.", validators=[validate_single_line]
    )
    summary = forms.CharField(
        label="What happened", max_length=LONG_TEXT_MAX, widget=forms.Textarea(attrs={"rows": 4})
    )
    potential_impact = forms.CharField(
        label="What would have happened",
        required=False,
        max_length=LONG_TEXT_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    started_at = forms.DateTimeField(
        label="When", required=False, widget=LocalDateTimeInput(), validators=[validate_date_in_range]
    )
    environment = forms.ModelChoiceField(
        label="Caught in", queryset=Environment.objects.all(), widget=forms.RadioSelect, empty_label=None
    )
    caught_by = forms.ChoiceField(label="Caught by", choices=Incident.CaughtBy.choices, widget=forms.RadioSelect)
    causes = CauseChoiceField(
        queryset=Cause.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="The system causes that let it get this far. Pick any that apply.",
    )
    service = forms.ModelChoiceField(queryset=Service.objects.all(), required=False)
    release_version = forms.CharField(
        label="Release",
        required=False,
        max_length=100,
        help_text="The version that carried it, if known. Type to pick one of the service's releases; a version "
        "not recorded yet is added as entered by hand.",
        validators=[validate_single_line],
    )
    severity = forms.ChoiceField(
        label="Potential severity",
        required=False,
        choices=[("", "Not sure"), *Incident.Severity.choices],
        help_text="How bad it would have been.",
    )
    team = forms.ModelChoiceField(queryset=Team.objects.none(), empty_label=None)
    confidential = forms.BooleanField(
        required=False,
        help_text="Your name is kept apart from the report and only admins can see it; you get a receipt link "
        "to follow the report. Only your team's leads and admins can see a confidential near-miss.",
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _limit_texts(self)
        plain_empty_choices(self)
        model_choice_field(self, "causes").queryset = selectors.causes_active()
        model_choice_field(self, "team").queryset = selectors.teams_for_filing(user)
        self.fields["started_at"].help_text = _zone_help("Leave as is for now.")
        # Type-ahead from the chosen service's releases (the page's datalist; hindsight.js refreshes it).
        self.fields["release_version"].widget.attrs.update({"list": "release-versions", "autocomplete": "off"})
        if not self.is_bound:
            self.initial.setdefault("started_at", _now_local())

    def chosen_service_id(self) -> int | None:
        """The service picked so far (a bound form's, valid or not), for the release type-ahead."""
        raw = str(self.data.get("service", "")) if self.is_bound else ""
        return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 18 else None

    def clean_started_at(self) -> dt.datetime | None:
        value = self.cleaned_data.get("started_at")
        if value and value > timezone.now() + dt.timedelta(minutes=5):
            raise ValidationError("This is in the future.")
        return value

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        version = (data.get("release_version") or "").strip()
        if version:
            service = data.get("service")
            if service is None:
                self.add_error("service", "Choose the service whose release carried it.")
            else:  # an unknown version is recorded by hand (services.near_miss_report)
                data["release"] = Release.objects.filter(service=service, version=version).first()
        return data

    def service_arguments(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "team": data["team"],
            "title": data["title"],
            "summary": data["summary"],
            "potential_impact": data["potential_impact"],
            "environment": data["environment"],
            "caught_by": data["caught_by"],
            "causes": list(data["causes"]),
            "service": data.get("service"),
            "release": data.get("release"),
            "release_version": "" if data.get("release") else (data.get("release_version") or "").strip(),
            "confidential": data["confidential"],
            "severity": data["severity"],
            "started_at": data.get("started_at"),
        }

    def cause_rows(self) -> list[tuple[Any, Cause]]:
        """Each checkbox with its cause, so the template can show the description beside it."""
        by_pk = {str(cause.pk): cause for cause in model_choices(self, "causes")}
        return [(box, by_pk[str(box.data["value"])]) for box in self["causes"]]


def _same(stored: Any, submitted: Any) -> bool:
    if isinstance(stored, dt.datetime) and isinstance(submitted, dt.datetime):
        return stored.replace(second=0, microsecond=0) == submitted.replace(second=0, microsecond=0)
    return stored == submitted


class IncidentForm(forms.ModelForm):
    """Create or edit an incident (or a near-miss) with its causes, each with a note and a gate."""

    services = IdsChoiceField(queryset=Service.objects.all(), required=False, widget=forms.CheckboxSelectMultiple)
    expected_version = forms.IntegerField(
        widget=forms.HiddenInput, required=False, min_value=1, max_value=MAX_VERSION
    )
    release_versions = forms.CharField(
        label="Releases",
        required=False,
        max_length=500,
        help_text="Comma-separated versions of the chosen services, e.g. 2.4.1 or checkout-api 2.4.1.",
    )

    class Meta:
        model = Incident
        fields = [
            "title", "team", "severity", "environment", "caught_by", "started_at", "detected_at",
            "mitigated_at", "resolved_at", "summary", "potential_impact", "trigger", "services", "body",
        ]  # fmt: skip
        widgets = {
            "started_at": LocalDateTimeInput(),
            "detected_at": LocalDateTimeInput(),
            "mitigated_at": LocalDateTimeInput(),
            "resolved_at": LocalDateTimeInput(),
            "summary": forms.Textarea(attrs={"rows": 3}),
            "potential_impact": forms.Textarea(attrs={"rows": 3}),
            "trigger": forms.Textarea(attrs={"rows": 2}),
            "services": forms.CheckboxSelectMultiple,
            "body": forms.Textarea(attrs={"rows": 24, "class": "editor", "data-preview-source": "body"}),
        }
        labels = {"environment": "Caught in", "body": "Postmortem (Markdown)"}

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _limit_texts(self)
        editing = self.instance.pk is not None
        if editing:
            del self.fields["team"]
            self.fields["expected_version"].initial = self.instance.version
            self.fields["expected_version"].required = True
            self.fields["release_versions"].initial = ", ".join(
                f"{release.service.slug} {release.version}" for release in self.instance.releases.all()
            )
        else:
            team = model_choice_field(self, "team")
            team.queryset = selectors.teams_for_filing(user)
            team.empty_label = None
            self.fields["body"].required = False
        if self.instance.kind != Incident.Kind.NEAR_MISS:
            del self.fields["potential_impact"]
        self.fields["started_at"].help_text = _zone_help("When it began.")
        for name in ("detected_at", "mitigated_at", "resolved_at"):
            self.fields[name].help_text = _zone_help("")
        self._add_cause_fields()
        if self.instance.kind != Incident.Kind.NEAR_MISS:
            self.fields["severity"].help_text = "How bad it was for the people it reached."
        plain_empty_choices(self)

    def _add_cause_fields(self) -> None:
        attached = {}
        if self.instance.pk is not None:
            attached = {link.cause_id: link for link in self.instance.incident_causes.all()}
        causes = Cause.objects.filter(Q(active=True) | Q(pk__in=list(attached))).order_by("category", "name")
        self.causes = list(causes)
        gates = [("", "Not sure"), *IncidentCause.Gate.choices]
        for cause in self.causes:
            link = attached.get(cause.pk)
            self.fields[f"cause_{cause.pk}"] = forms.BooleanField(
                label=cause.name,
                required=False,
                initial=link is not None,
                help_text=cause.description,
                widget=forms.CheckboxInput(attrs={"data-cause-id": cause.pk}),
            )
            self.fields[f"note_{cause.pk}"] = forms.CharField(
                label=f"Note on {cause.name}",
                required=False,
                max_length=SHORT_TEXT_MAX,
                initial=link.note if link else "",
            )
            self.fields[f"gate_{cause.pk}"] = forms.ChoiceField(
                label=f"Gate that should have caught it ({cause.name})",
                required=False,
                choices=gates,
                initial=link.gate if link else "",
            )

    def cause_rows(self) -> list[tuple[Cause, Any, Any, Any]]:
        return [(c, self[f"cause_{c.pk}"], self[f"note_{c.pk}"], self[f"gate_{c.pk}"]) for c in self.causes]

    def clean_body(self) -> str:
        return self.cleaned_data.get("body") or ""

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        for cause in self.causes:
            ticked = data.get(f"cause_{cause.pk}")
            if not ticked and (data.get(f"note_{cause.pk}") or data.get(f"gate_{cause.pk}")):
                self.add_error(f"cause_{cause.pk}", "Tick this cause to keep its note and gate.")
        data["releases"] = self._releases(data.get("release_versions") or "", data.get("services"))
        return data

    def _releases(self, text: str, services) -> list[Release]:
        releases = []
        services = list(services or [])
        for item in filter(None, (part.strip() for part in text.split(","))):
            service_slug, _, version = item.rpartition(" ")
            candidates = Release.objects.select_related("service").filter(version=version)
            candidates = candidates.filter(service__slug=service_slug.strip()) if service_slug else candidates
            candidates = candidates.filter(service__in=services) if not service_slug else candidates
            found = list(candidates[:2])
            if len(found) != 1:
                problem = "matches no release of the chosen services" if not found else "is ambiguous"
                self.add_error("release_versions", f"{item} {problem}; write it as service-slug version.")
                continue
            releases.append(found[0])
        return releases

    def cause_inputs(self) -> list[CauseInput]:
        data = self.cleaned_data
        return [
            CauseInput(cause=c, note=data.get(f"note_{c.pk}", ""), gate=data.get(f"gate_{c.pk}", ""))
            for c in self.causes
            if data.get(f"cause_{c.pk}")
        ]

    def changes(self) -> dict[str, Any]:
        """The incident's own columns, for incident_create; for incident_update, only those that changed.

        Times are edited to the minute, so a stored time with seconds counts as unchanged when the minute is.
        """
        skip = {"team", "services"}
        values = {
            name: self.cleaned_data[name]
            for name in self._meta.fields or ()
            if name in self.fields and name not in skip
        }
        if self.instance.pk is None:
            return values
        return {name: value for name, value in values.items() if not _same(getattr(self.instance, name), value)}

    def _post_clean(self) -> None:
        # Model validation without touching the instance shown on a conflict page: check a copy.
        instance = self.instance
        self.instance = Incident(
            **{f.attname: getattr(instance, f.attname) for f in Incident._meta.concrete_fields},
        )
        if instance.pk is None:
            self.instance.kind = Incident.Kind.INCIDENT
        try:
            super()._post_clean()  # type: ignore[misc]  # Django's private hook, absent from the stubs
        finally:
            self.instance = instance


class PreviewForm(forms.Form):
    body = forms.CharField(required=False, max_length=BODY_MAX)
    title = forms.CharField(required=False, max_length=TITLE_MAX)


class TimelineEntryForm(forms.Form):
    at = forms.DateTimeField(label="Time", widget=LocalDateTimeInput(), validators=[validate_date_in_range])
    text = forms.CharField(label="What happened then", max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: Any, incident: Incident, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "timeline")
        super().__init__(*args, **kwargs)
        self.fields["at"].help_text = _zone_help("")
        self.incident = incident


class ActionItemForm(forms.Form):
    title = forms.CharField(max_length=TITLE_MAX, validators=[validate_single_line])
    owner = PersonChoiceField(queryset=None, required=False, empty_label="Nobody yet")
    team = forms.ModelChoiceField(queryset=Team.objects.all(), required=False, empty_label="No team")
    due_date = forms.DateField(
        label="Due", required=False, widget=DateInput(), validators=[validate_date_in_range]
    )
    cause = forms.ModelChoiceField(
        label="Cause it addresses", queryset=Cause.objects.none(), required=False, empty_label="None"
    )
    ticket_url = forms.URLField(label="Ticket link", required=False, assume_scheme="https")

    def __init__(self, *args: Any, incident: Incident, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "action")
        super().__init__(*args, **kwargs)
        model_choice_field(self, "owner").queryset = selectors.team_members(team=incident.team)
        model_choice_field(self, "cause").queryset = Cause.objects.filter(
            Q(active=True) | Q(incident_causes__incident=incident)
        ).distinct()
        self.initial.setdefault("team", incident.team_id)

    def clean_due_date(self) -> dt.date | None:
        value = self.cleaned_data.get("due_date")
        if value and value < timezone.localdate() - dt.timedelta(days=365):
            raise ValidationError("That is more than a year ago.")
        return value


class StatusForm(forms.Form):
    status = forms.ChoiceField(choices=Incident.Status.choices)
    expected_version = forms.IntegerField(widget=forms.HiddenInput, min_value=1, max_value=MAX_VERSION)
    anyway = forms.BooleanField(required=False)  # past the completeness check (incidents/completeness.py)


class TriageForm(forms.Form):
    ACTIONS = [("incident", "Promote to incident"), ("near_miss", "Promote to near-miss"), ("dismiss", "Dismiss")]

    action = forms.ChoiceField(choices=ACTIONS)
    expected_version = forms.IntegerField(widget=forms.HiddenInput, min_value=1, max_value=MAX_VERSION)


class ActionItemCompleteForm(forms.Form):
    status = forms.ChoiceField(
        choices=[(ActionItem.Status.DONE, "Done"), (ActionItem.Status.WONT_DO, "Won't do")],
        initial=ActionItem.Status.DONE,
    )


TRIAGE_BULK_MAX = 100  # items acted on by one bulk triage request


class ReferenceListField(forms.MultipleChoiceField):
    """Items named by reference (INC-n, NM-n, CNM-n), at most `limit`; a reference that names nothing the
    person may see is simply left out by the selector."""

    def __init__(self, *args: Any, limit: int, **kwargs: Any) -> None:
        self.limit = limit
        super().__init__(*args, **kwargs)

    def to_python(self, value: Any) -> list[str]:
        values = super().to_python(value)
        if len(values) > self.limit:
            raise ValidationError(f"Tick at most {self.limit} items at a time.", code="max_items")
        return values

    def valid_value(self, value: str) -> bool:
        return selectors.REFERENCE_PATTERN.match(value) is not None

    def clean(self, value: Any) -> list[str]:
        """Each item once, however it is spelled (inc-01 and INC-1 name one item)."""
        cleaned = super().clean(value)
        canonical: dict[str, None] = {}
        for reference in cleaned:
            match = selectors.REFERENCE_PATTERN.match(reference)
            if match is not None:
                canonical.setdefault(f"{match.group(1).upper()}-{int(match.group(2))}", None)
        return list(canonical)


class TriageBulkForm(forms.Form):
    items = ReferenceListField(
        limit=TRIAGE_BULK_MAX, error_messages={"required": "Tick the items to act on.",
                                               "invalid_choice": "“%(value)s” is not an item."},
    )  # fmt: skip
    action = forms.ChoiceField(choices=TriageForm.ACTIONS, error_messages={"required": "Choose what to do."})


class ActionItemEditForm(forms.Form):
    """An action item's title, owner (a member of its team) and due date."""

    title = forms.CharField(max_length=TITLE_MAX, validators=[validate_single_line])
    owner = PersonChoiceField(queryset=None, required=False, empty_label="Nobody yet",
                              help_text="A member of the item's team.")  # fmt: skip
    due_date = forms.DateField(
        label="Due", required=False, widget=DateInput(), validators=[validate_date_in_range]
    )

    def __init__(self, *args: Any, item: ActionItem, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        team = item.team or item.incident.team
        # The current owner stays a choice even when not (or no longer) a member: a save that changes only the
        # due date must not drop them (the form would otherwise send "Nobody yet").
        members = selectors.team_members(team=team) | User.objects.filter(
            pk__in=[item.owner_id] if item.owner_id else []
        )
        model_choice_field(self, "owner").queryset = members.distinct().order_by("username")
        if not self.is_bound:
            self.initial.update(title=item.title, owner=item.owner_id, due_date=item.due_date)

    def changes(self, item: ActionItem) -> dict[str, Any]:
        """The fields that differ from the stored item."""
        return {name: value for name, value in self.cleaned_data.items() if getattr(item, name) != value}


class TimelineEntryEditForm(TimelineEntryForm):
    expected_version = forms.IntegerField(widget=forms.HiddenInput, min_value=1, max_value=MAX_VERSION)

    def __init__(self, *args: Any, entry: TimelineEntry, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {"at": timezone.localtime(entry.at).strftime(DATETIME_FORMAT),
                                      "text": entry.text, "expected_version": entry.incident.version})  # fmt: skip
        super().__init__(*args, incident=entry.incident, **kwargs)


class TimelineEntryDeleteForm(forms.Form):
    expected_version = forms.IntegerField(widget=forms.HiddenInput, min_value=1, max_value=MAX_VERSION)


def style_filter_form(form: forms.Form) -> None:
    """The list's filters as checkboxes where the choices are few, with labels people read."""
    for name in ("status", "severity", "caught_by", "environment", "team", "cause"):
        if name in form.fields:
            form.fields[name].widget = forms.CheckboxSelectMultiple(choices=form.fields[name].widget.choices)
    if "q" in form.fields:
        form.fields["q"].widget.input_type = "search"
    if "kind" in form.fields:
        form.fields["kind"].widget = forms.RadioSelect(choices=[("", "Both"), *Incident.Kind.choices])
    if "service" in form.fields:
        form.fields["service"].widget.attrs["size"] = 6
    for name in ("started_from", "started_to"):
        if name in form.fields:
            form.fields[name].widget = DateInput()
    labels = {"q": "Search", "cause": "Causes", "service": "Services", "team": "Teams", "caught_by": "Caught by"}
    for name, label in labels.items():
        if name in form.fields:
            form.fields[name].label = label


# --- The weekly trend report: "generate now" and the digest subscription ---------------------------------
class WeekInput(forms.TextInput):
    """The browser's week picker (`2026-W47`). Browsers without one show a text box; the server checks either."""

    input_type = "week"


def _week_field(label: str = "Week") -> forms.CharField:
    return forms.CharField(
        label=label,
        max_length=8,
        help_text="An ISO week such as 2026-W47.",
        widget=WeekInput(attrs={"pattern": r"[0-9]{4}-W[0-9]{2}", "placeholder": "2026-W47"}),
    )


def _week_bounds(field: forms.Field) -> None:
    """The picker's min and max: the first week Hindsight accepts and the week in progress."""
    field.widget.attrs.update(min=f"{FIRST_YEAR}-W01", max=Week.current().label)


def _clean_week(value: str) -> Week:
    """A past or current ISO week; a form error naming the problem otherwise (never an exception)."""
    try:
        week = Week.parse(value)
    except ValidationError as error:
        raise ValidationError(error.message_dict["week"]) from None
    if week > Week.current():
        raise ValidationError(f"{week.label} has not started yet.")
    return week


class _WeekAndScopeForm(forms.Form):
    """A week (ISO, in range) and a scope: the organisation or one of `teams`."""

    week = _week_field()
    scope = forms.ChoiceField(label="For")

    def __init__(self, *args, teams: list[Team], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        declared_field(self, "scope", forms.ChoiceField).choices = [
            (TrendReport.ORGANISATION, "The organisation")
        ] + [(f"team:{team.slug}", team.name) for team in teams]
        self.fields["week"].initial = Week.last().label
        _week_bounds(self.fields["week"])

    def clean_week(self) -> Week:
        return _clean_week(self.cleaned_data["week"])

    def team(self) -> Team | None:
        scope = self.cleaned_data["scope"]
        return None if scope == TrendReport.ORGANISATION else Team.objects.get(slug=scope.removeprefix("team:"))


class GenerateReportForm(_WeekAndScopeForm):
    """Generate a week's report now."""


class WeekPickForm(_WeekAndScopeForm):
    """The report pages' week picker (a GET form): which week's report of which scope to open."""

    week = _week_field("Go to week")


class DigestWeekForm(forms.Form):
    """The digest preview's week picker (a GET form)."""

    week = _week_field("Week")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        _week_bounds(self.fields["week"])

    def clean_week(self) -> Week:
        return _clean_week(self.cleaned_data["week"])


class SubscriptionForm(forms.Form):
    subscribed = forms.BooleanField(required=False, label="E-mail me the weekly trend digest")


class ApiTokenForm(forms.Form):
    """A new API token for one of the teams the person manages (selectors.teams_for_token_management)."""

    name = forms.CharField(
        max_length=100, validators=[validate_single_line], help_text="What uses it, e.g. “deploy pipeline”."
    )
    team = forms.ModelChoiceField(queryset=Team.objects.none())
    scope = forms.ChoiceField(
        choices=ApiTokenScope.choices,
        initial=ApiTokenScope.READ,
        help_text="Read sees what a member of the team sees; write also files and edits the team's items.",
    )

    def __init__(self, *args, teams: QuerySet[Team], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        model_choice_field(self, "team").queryset = teams
        plain_empty_choices(self)


class ChatWebhookForm(forms.Form):
    """One action on a team's chat channel: set (or replace) its webhook URL, clear it, enable it again, test it."""

    ACTIONS = ("set", "clear", "enable", "test")

    kind = forms.ChoiceField(choices=ChatWebhookKind.choices)
    action = forms.ChoiceField(choices=[(action, action) for action in ACTIONS])
    url = forms.CharField(
        required=False, max_length=2000, strip=True,
        help_text="The incoming webhook URL the chat service gave you; it is shown masked once saved.",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
    )  # fmt: skip

    def clean(self) -> dict[str, Any]:
        super().clean()
        if self.cleaned_data.get("action") == "set" and not self.cleaned_data.get("url"):
            self.add_error("url", "Give the channel's incoming webhook URL.")
        return self.cleaned_data


class WebhookSubscriptionForm(forms.Form):
    """A new outbound webhook subscription of a team (docs/outbound-webhooks.md): what receives it, its URL and the
    event types it wants. Only an admin sees (and may tick) "include confidential near-misses"."""

    name = forms.CharField(
        max_length=100, validators=[validate_single_line], help_text="What receives it, e.g. “Jira automation”."
    )
    url = forms.CharField(
        max_length=2000, strip=True, label="URL",
        help_text="Where each event is POSTed (https). It is shown masked once saved: many such URLs are secrets.",
        widget=forms.PasswordInput(render_value=True, attrs={"autocomplete": "off"}),
    )  # fmt: skip
    event_types = forms.MultipleChoiceField(
        choices=[(value, label) for value, label in WebhookEventType.choices if value != WebhookEventType.TEST],
        required=False, widget=forms.CheckboxSelectMultiple, help_text="None ticked: every event.",
    )  # fmt: skip
    include_confidential = forms.BooleanField(
        required=False, label="Include confidential near-misses",
        help_text="Also send events about the team's confidential near-misses (admins only).",
    )  # fmt: skip

    def __init__(self, *args, may_include_confidential: bool, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not may_include_confidential:
            del self.fields["include_confidential"]


class WebhookActionForm(forms.Form):
    """One action on an outbound webhook subscription."""

    ACTIONS = ("test", "disable", "enable", "delete")

    action = forms.ChoiceField(choices=[(action, action) for action in ACTIONS])
