"""Incidents and postmortems: list and search, detail, create, edit with preview and conflicts, history."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.forms import BaseForm
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from incidents import policies, selectors, services
from incidents.completeness import CHECKED_MOVES, postmortem_gaps
from incidents.diff import field_changes
from incidents.filters import IncidentFilter
from incidents.forms import (
    ActionItemForm,
    IncidentForm,
    PreviewForm,
    StatusForm,
    TimelineEntryDeleteForm,
    TimelineEntryEditForm,
    TimelineEntryForm,
    model_choices,
    style_filter_form,
)
from incidents.markdown import POSTMORTEM_TEMPLATE, render_markdown
from incidents.models import Incident, TimelineEntry
from incidents.views.common import (
    AuthedRequest,
    announce_redactions,
    hints_for,
    ids_from,
    incident_or_404,
    page_of,
    query_without,
    viewer_of,
)

REVISION_FIELDS = ("title", "summary", "trigger", "body")


def apply_service_errors(form: BaseForm, error: ValidationError) -> None:
    """Show a service's ValidationError beside the form field it names, or above the form."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for field, errors in error.message_dict.items():
        target = field if field in form.fields else None
        for message in errors:
            form.add_error(target, message if target else f"{field.replace('_', ' ').capitalize()}: {message}")


def filtered_incidents(request: HttpRequest) -> IncidentFilter:
    """The list's filter set over what the viewer may see (the list page and its CSV export share it)."""
    return IncidentFilter(request.GET, queryset=selectors.incident_list(viewer=viewer_of(request)))


@login_required
def incident_list(request: HttpRequest) -> HttpResponse:
    filterset = filtered_incidents(request)
    style_filter_form(filterset.form)
    valid = filterset.is_valid()
    release_id = filterset.form.cleaned_data.get("release") if valid else None
    context = {
        "filter": filterset,
        "page": page_of(request, filterset.qs if valid else Incident.objects.none()),
        "query": query_without(request, "page"),
        "without_release": query_without(request, "page", "release"),
        "release_id": release_id,
        "release": selectors.release_find(pk=release_id) if release_id else None,
        "filtered": not valid
        or any(
            value not in ("", "unknown")
            for name, values in request.GET.lists()
            if name not in ("q", "page", "ordering")
            for value in values
        ),
    }
    return render(request, "incidents/incident_list.html", context)


def _detail_context(request: HttpRequest, incident: Incident, **forms: Any) -> dict[str, Any]:
    viewer = viewer_of(request)
    editable = bool(policies.may_edit(viewer, incident))
    allowed = sorted(services.STATUS_TRANSITIONS.get(incident.status, set()))
    transitions = [
        (status, Incident.Status(status).label)
        for status in allowed
        if policies.may_set_status(viewer, incident, status)
    ]
    cause_ids = [link.cause_id for link in incident.incident_causes.all()]
    service_ids = [service.pk for service in incident.services.all()]
    # The completeness check shows to whoever may send it for review or publish it (it advises, never blocks).
    checked = any(status in CHECKED_MOVES for status, _ in transitions)
    hints = []
    if checked or incident.status == Incident.Status.IN_REVIEW:
        hints = hints_for(incident.body, viewer=viewer, team=incident.team)
    held = None
    if policies.may_see_confidential_reporter(viewer, incident):
        held = selectors.confidential_reporter_of(incident=incident)
    return {
        "incident": incident,
        "can_edit": editable,
        "transitions": transitions,
        "timeline_form": forms.get("timeline_form") or TimelineEntryForm(incident=incident),
        "action_form": forms.get("action_form") or ActionItemForm(incident=incident),
        "suspect_releases": selectors.suspect_releases(incident=incident),
        "similar": selectors.similar_incidents(
            viewer=viewer,
            title=incident.title,
            cause_ids=cause_ids,
            service_ids=service_ids,
            exclude_pk=incident.pk,
        ),
        "hints": hints,
        "gaps": postmortem_gaps(incident, hint_count=len(hints)) if checked else [],
        "amendments": selectors.incident_amendments(incident=incident)
        if incident.status == Incident.Status.PUBLISHED
        else 0,
        "confidential_reporter": held,
        "today": timezone.localdate(),
        "open_action_items": [item for item in incident.action_items.all() if item.status == "open"],
        "closed_action_items": [item for item in incident.action_items.all() if item.status != "open"],
    }


@login_required
@require_GET
def incident_detail(request: HttpRequest, reference: str) -> HttpResponse:
    incident = incident_or_404(request, reference)
    return render(request, "incidents/incident_detail.html", _detail_context(request, incident))


def _editable_or_403(request: HttpRequest, incident: Incident) -> None:
    """Refuse the edit page and forms before reading them (the services refuse the write the same way)."""
    policies.require(policies.may_edit(viewer_of(request), incident))


def _editor_context(request: HttpRequest, form: IncidentForm, incident: Incident | None) -> dict[str, Any]:
    viewer = viewer_of(request)
    body = form.data.get("body") if form.is_bound else form.initial.get("body", form["body"].value())
    team = incident.team if incident else None
    return {
        "form": form,
        "incident": incident,
        "preview_html": render_markdown(body or "") if form.is_bound else None,
        "hints": hints_for(body or "", viewer=viewer, team=team),
        "similar": selectors.similar_incidents(
            viewer=viewer,
            title=form["title"].value() or "",
            cause_ids=[c.pk for c, box, _, _ in form.cause_rows() if box.value()],
            service_ids=ids_from([str(pk) for pk in form["services"].value() or []]),
            exclude_pk=incident.pk if incident else None,
        ),
    }


@login_required
def incident_create(request: AuthedRequest) -> HttpResponse:
    initial = {"body": POSTMORTEM_TEMPLATE, "started_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M")}
    form = IncidentForm(
        request.POST or None, initial=initial, instance=Incident(kind="incident"), user=request.user
    )
    if not model_choices(form, "team").exists():
        return render(request, "incidents/no_team.html", status=403)
    if request.method == "POST" and "preview" not in request.POST and form.is_valid():
        data = form.cleaned_data
        try:
            filed = services.postmortem_create(
                actor=viewer_of(request), author=request.user, team=data["team"], services=list(data["services"]), releases=data["releases"],
                causes=form.cause_inputs(), **form.changes(),
            )  # fmt: skip
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            messages.success(request, f"{filed.obj.reference} created as a draft.")
            announce_redactions(request, filed.redactions)
            return redirect("incidents:incident_detail", filed.obj.reference)
    status = 400 if form.is_bound and form.errors and "preview" not in request.POST else 200
    return render(request, "incidents/incident_form.html", _editor_context(request, form, None), status=status)


@login_required
def incident_edit(request: AuthedRequest, reference: str) -> HttpResponse:
    incident = incident_or_404(request, reference)
    _editable_or_403(request, incident)
    form = IncidentForm(request.POST or None, instance=incident, user=request.user)
    if request.method == "POST" and "preview" not in request.POST and form.is_valid():
        data = form.cleaned_data
        try:
            saved = services.postmortem_update(
                actor=viewer_of(request), incident=incident, editor=request.user, expected_version=data["expected_version"],
                changes=form.changes(), services=list(data["services"]), releases=data["releases"],
                causes=form.cause_inputs(),
            )  # fmt: skip
        except services.VersionConflict as conflict:
            return _conflict(request, form, conflict.current)
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            messages.success(request, f"{incident.reference} saved.")
            announce_redactions(request, saved.redactions)
            return redirect("incidents:incident_detail", incident.reference)
    status = 400 if form.is_bound and form.errors and "preview" not in request.POST else 200
    return render(request, "incidents/incident_form.html", _editor_context(request, form, incident), status=status)


def _conflict(request: AuthedRequest, form: IncidentForm, current: Incident) -> HttpResponse:
    """Someone saved first: show their version beside yours, and let yours be saved over theirs knowingly."""
    data = request.POST.copy()
    data["expected_version"] = str(current.version)
    retry = IncidentForm(data, instance=current, user=request.user)
    retry.is_valid()
    theirs = {name: getattr(current, name) or "" for name in REVISION_FIELDS}
    yours = {name: form.cleaned_data.get(name) or "" for name in REVISION_FIELDS}
    context = {
        **_editor_context(request, retry, current),
        "current": current,
        "current_body_html": render_markdown(current.body),
        "latest_revision": selectors.incident_revisions(incident=current).first(),
        "changes": field_changes(theirs, yours),
    }
    return render(request, "incidents/incident_conflict.html", context, status=409)


@login_required
@require_POST
def incident_status(request: AuthedRequest, reference: str) -> HttpResponse:
    incident = incident_or_404(request, reference)
    _editable_or_403(request, incident)
    form = StatusForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a status.")
        return redirect("incidents:incident_detail", incident.reference)
    status = form.cleaned_data["status"]
    viewer = viewer_of(request)
    if _checked_first(viewer, incident, status, form.cleaned_data):
        hints = hints_for(incident.body, viewer=viewer, team=incident.team)
        if gaps := postmortem_gaps(incident, hint_count=len(hints)):
            context = {"incident": incident, "gaps": gaps, "status": status, "version": incident.version}
            return render(request, "incidents/publish_check.html", context)
    try:
        services.postmortem_update(
            actor=viewer_of(request), incident=incident, editor=request.user, expected_version=form.cleaned_data["expected_version"],
            changes={"status": status},
        )  # fmt: skip
    except services.VersionConflict:
        messages.error(request, f"{incident.reference} was changed meanwhile; nothing was changed. Try again.")
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"{incident.reference} is now {Incident.Status(status).label.lower()}.")
    return redirect("incidents:incident_detail", incident.reference)


def _checked_first(viewer: policies.Viewer, incident: Incident, status: str, data: dict[str, Any]) -> bool:
    """Whether the completeness check comes before this move: a move to review or publishing that the viewer may
    make from the item's current version and status, not yet confirmed with "anyway" (a move that will be
    refused is refused at once, without the check)."""
    return (
        status in CHECKED_MOVES
        and not data["anyway"]
        and data["expected_version"] == incident.version
        and status in services.STATUS_TRANSITIONS.get(incident.status, set())
        and bool(policies.may_set_status(viewer, incident, status))
    )


@login_required
@require_POST
def timeline_add(request: HttpRequest, reference: str) -> HttpResponse:
    incident = incident_or_404(request, reference)
    _editable_or_403(request, incident)
    form = TimelineEntryForm(request.POST, incident=incident)
    if form.is_valid():
        try:
            saved = services.timeline_entry_add(actor=viewer_of(request), incident=incident, **form.cleaned_data)
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            messages.success(request, "Timeline entry added.")
            announce_redactions(request, saved.redactions)
            return redirect(reverse("incidents:incident_detail", args=[incident.reference]) + "#timeline")
    context = _detail_context(request, incident, timeline_form=form)
    return render(request, "incidents/incident_detail.html", context, status=400)


def _timeline_entry_or_404(incident: Incident, key: str) -> TimelineEntry:
    try:
        entry = selectors.timeline_entry_get(incident=incident, key=key)
    except TimelineEntry.DoesNotExist:
        raise Http404("No such timeline entry.") from None
    entry.incident = incident
    return entry


@login_required
@require_http_methods(["GET", "POST"])
def timeline_edit(request: AuthedRequest, reference: str, key: str) -> HttpResponse:
    """Change a timeline entry's time and text; the change is a new revision of the item."""
    incident = incident_or_404(request, reference)
    _editable_or_403(request, incident)
    entry = _timeline_entry_or_404(incident, key)
    form = TimelineEntryEditForm(request.POST or None, entry=entry)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            saved = services.timeline_entry_update(
                actor=viewer_of(request), incident=incident, entry=entry, at=data["at"], text=data["text"],
                expected_version=data["expected_version"], author_id=request.user.pk,
            )  # fmt: skip
        except services.VersionConflict:
            form.add_error(None, f"{incident.reference} was changed meanwhile; nothing was changed. Reload and try "
                           "again.")  # fmt: skip
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            messages.success(request, "Timeline entry saved.")
            announce_redactions(request, saved.redactions)
            return redirect(reverse("incidents:incident_detail", args=[incident.reference]) + "#timeline")
    context = {"incident": incident, "entry": entry, "form": form, "delete_form": TimelineEntryDeleteForm(
        initial={"expected_version": incident.version})}  # fmt: skip
    return render(request, "incidents/timeline_entry_form.html", context, status=400 if form.is_bound else 200)


@login_required
@require_POST
def timeline_delete(request: AuthedRequest, reference: str, key: str) -> HttpResponse:
    incident = incident_or_404(request, reference)
    _editable_or_403(request, incident)
    entry = _timeline_entry_or_404(incident, key)
    form = TimelineEntryDeleteForm(request.POST)
    if not form.is_valid():
        context = {"incident": incident, "entry": entry, "form": TimelineEntryEditForm(entry=entry),
                   "delete_form": form}  # fmt: skip
        return render(request, "incidents/timeline_entry_form.html", context, status=400)
    try:
        services.timeline_entry_delete(actor=viewer_of(request), incident=incident, entry=entry,
                                       expected_version=form.cleaned_data["expected_version"],
                                       author_id=request.user.pk)  # fmt: skip
    except services.VersionConflict:
        messages.error(request, f"{incident.reference} was changed meanwhile; nothing was deleted. Try again.")
    else:
        messages.success(request, "Timeline entry deleted; the revision history keeps it.")
    return redirect(reverse("incidents:incident_detail", args=[incident.reference]) + "#timeline")


@login_required
@require_POST
def action_item_add(request: HttpRequest, reference: str) -> HttpResponse:
    incident = incident_or_404(request, reference)
    _editable_or_403(request, incident)
    form = ActionItemForm(request.POST, incident=incident)
    if form.is_valid():
        try:
            saved = services.action_item_create(actor=viewer_of(request), incident=incident, **form.cleaned_data)
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            messages.success(request, "Action item added.")
            announce_redactions(request, saved.redactions)
            return redirect(reverse("incidents:incident_detail", args=[incident.reference]) + "#action-items")
    context = _detail_context(request, incident, action_form=form)
    return render(request, "incidents/incident_detail.html", context, status=400)


@login_required
@require_GET
def incident_history(request: HttpRequest, reference: str) -> HttpResponse:
    incident = incident_or_404(request, reference)
    revisions = selectors.incident_revisions(incident=incident)
    return render(request, "incidents/incident_history.html", {"incident": incident, "revisions": revisions})


@login_required
@require_GET
def revision_diff(request: HttpRequest, reference: str, version: int) -> HttpResponse:
    incident = incident_or_404(request, reference)
    revisions = selectors.incident_revisions(incident=incident)
    revision = revisions.filter(version=version).first()
    if revision is None:
        raise Http404("No such revision.")
    previous = revisions.filter(version__lt=version).first()
    # The timeline is compared when both versions kept it (revisions before it was have none).
    kept = revision.timeline is not None and (previous is None or previous.timeline is not None)
    names = (*REVISION_FIELDS, "status", *(("timeline",) if kept else ()))
    old = {name: getattr(previous, name) for name in names} if previous else {}
    new = {name: getattr(revision, name) for name in names}
    context = {
        "incident": incident,
        "revision": revision,
        "previous": previous,
        "changes": field_changes(old, new),
    }
    return render(request, "incidents/revision_diff.html", context)


@login_required
@require_POST
def preview(request: AuthedRequest) -> HttpResponse:
    """The editor's live preview: the Markdown rendered and sanitized as it will be stored, with hints."""
    form = PreviewForm(request.POST)
    if not form.is_valid():
        return TemplateResponse(request, "incidents/_preview.html", {"error": form.errors}, status=400)
    viewer = viewer_of(request)
    team_ids = ids_from(request.POST.getlist("team"), limit=1)
    team = selectors.teams_for_filing(request.user).filter(pk__in=team_ids).first() if team_ids else None
    body = form.cleaned_data["body"]
    context = {"preview_html": render_markdown(body), "hints": hints_for(body, viewer=viewer, team=team)}
    return TemplateResponse(request, "incidents/_preview.html", context)


@login_required
@require_GET
def similar(request: HttpRequest) -> HttpResponse:
    """The "similar past incidents" panel for what is being typed; only items the viewer can see."""
    viewer = viewer_of(request)

    exclude = None
    if request.GET.get("exclude"):
        try:
            exclude = selectors.incident_get(viewer=viewer, reference=request.GET["exclude"]).pk
        except Incident.DoesNotExist:
            exclude = None
    items = selectors.similar_incidents(
        viewer=viewer,
        title=request.GET.get("title", "")[:200],
        cause_ids=ids_from(request.GET.getlist("causes")),
        service_ids=ids_from(request.GET.getlist("services") + request.GET.getlist("service")),
        exclude_pk=exclude,
    )
    return TemplateResponse(request, "incidents/_similar.html", {"similar": items})
