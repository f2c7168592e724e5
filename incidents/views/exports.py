"""The incident list as a CSV file: the same rows the list shows for the same query string, across all pages."""

from __future__ import annotations

import csv
from collections.abc import Iterable

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from incidents.models import Incident
from incidents.views.incidents import filtered_incidents

EXPORT_MAX_ROWS = 10_000
HEADER = (
    "Reference", "Title", "Kind", "Status", "Severity", "Team", "Caught in", "Caught by", "Services", "Causes",
    "Started", "Confidential",
)  # fmt: skip
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> str:
    """A cell as text that a spreadsheet program will not run as a formula (a leading quote defuses it)."""
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def _row(incident: Incident) -> list[str]:
    cells = (
        incident.reference,
        incident.title,
        incident.get_kind_display(),
        incident.get_status_display(),
        incident.get_severity_display() if incident.severity else "",
        incident.team.name,
        incident.environment.name if incident.environment else "",
        incident.get_caught_by_display() if incident.caught_by else "",
        ", ".join(service.name for service in incident.services.all()),
        ", ".join(cause.name for cause in incident.causes.all()),
        timezone.localtime(incident.started_at).strftime("%Y-%m-%d %H:%M %Z"),
        "Yes" if incident.confidential else "No",
    )
    return [safe_cell(cell) for cell in cells]


def _write(response: HttpResponse, items: Iterable[Incident], *, cut: bool) -> None:
    writer = csv.writer(response)
    writer.writerow(HEADER)
    writer.writerows(_row(incident) for incident in items)
    if cut:
        writer.writerow([f"# Cut at {EXPORT_MAX_ROWS:,} rows: narrow the filters to export the rest."])


@login_required
@require_GET
def incident_export(request: HttpRequest) -> HttpResponse:
    """What the list would show for this query string, every page of it, up to EXPORT_MAX_ROWS rows. The rows are
    read in a fixed number of queries (one, and one for each prefetched relation), then written in one pass."""
    filterset = filtered_incidents(request)
    if not filterset.is_valid():
        return JsonResponse({"errors": filterset.form.errors.get_json_data()}, status=400)
    items = list(filterset.qs[: EXPORT_MAX_ROWS + 1])
    cut = len(items) > EXPORT_MAX_ROWS
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="incidents-{timezone.localdate():%Y-%m-%d}.csv"'
    response["Cache-Control"] = "no-store"  # what this person may see, confidential items included
    response["X-Hindsight-Rows"] = str(min(len(items), EXPORT_MAX_ROWS))
    if cut:
        response["X-Hindsight-Truncated"] = f"cut at {EXPORT_MAX_ROWS} rows"
    _write(response, items[:EXPORT_MAX_ROWS], cut=cut)
    return response
