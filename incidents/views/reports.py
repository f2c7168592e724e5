"""Report pages: the list of weeks, one page per report with charts, exports, "generate now", digests."""

from __future__ import annotations

import csv

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from incidents.forms import GenerateReportForm, SubscriptionForm
from incidents.models import Team, TrendReport
from incidents.policies import Viewer, may_request_report, viewer_for_user
from incidents.report_summary import summarise
from incidents.selectors import reports as report_selectors
from incidents.services import reports as report_services
from incidents.views.common import AuthedRequest
from incidents.views.report_charts import CHARTS, chart_svg, report_charts
from incidents.views.report_tables import CSV_HEADER, report_csv_rows, report_tables
from incidents.weeks import Week

PAGE_SIZE = 50
REFRESH_SECONDS = 3
IN_PROGRESS = (TrendReport.Status.PENDING, TrendReport.Status.RUNNING)


def _generate_form(viewer: Viewer, data=None) -> GenerateReportForm | None:
    teams = report_selectors.teams_for_requests(viewer)
    if not teams and not may_request_report(viewer, None):
        return None
    return GenerateReportForm(data, teams=teams)


def _week_and_team(week: str, scope: str) -> tuple[Week, Team | None]:
    try:
        return Week.parse(week), report_selectors.team_for_scope(scope)
    except (ValidationError, Team.DoesNotExist):
        raise Http404("No such week or team.") from None


def _stored_report(request: HttpRequest, week: str, scope: str) -> TrendReport:
    parsed, _ = _week_and_team(week, scope)
    try:
        return report_selectors.report_get(viewer=viewer_for_user(request.user), week=parsed, scope=scope)
    except TrendReport.DoesNotExist:
        raise Http404("This report has not been generated.") from None


@login_required
def report_list(request: HttpRequest) -> HttpResponse:
    viewer = viewer_for_user(request.user)
    reports = report_selectors.report_list(viewer=viewer)
    page = Paginator(reports, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"page": page, "form": _generate_form(viewer), "last_week": Week.last()}
    return render(request, "reports/report_list.html", context)


@login_required
def report_detail(request: HttpRequest, week: str, scope: str) -> HttpResponse:
    parsed, team = _week_and_team(week, scope)
    viewer = viewer_for_user(request.user)
    form = _generate_form(viewer) if may_request_report(viewer, team) else None
    if form is not None:
        form.initial.update({"week": parsed.label, "scope": scope})
    try:
        report = report_selectors.report_get(viewer=viewer, week=parsed, scope=scope)
    except TrendReport.DoesNotExist:
        context = {"week": parsed, "scope": scope, "team": team, "form": form}
        return render(request, "reports/report_missing.html", context, status=404)
    context = {
        "report": report,
        "week": parsed,
        "team": team,
        "form": form,
        "in_progress": report.status in IN_PROGRESS,
    }
    if report.data:
        context.update(
            summary=summarise(report.data), charts=report_charts(report.data), tables=report_tables(report.data)
        )
    response = render(request, "reports/report_detail.html", context)
    if context["in_progress"]:
        response["Refresh"] = str(REFRESH_SECONDS)  # reload until the report is ready; no script needed
    return response


@login_required
@require_POST
def report_generate(request: AuthedRequest) -> HttpResponse:
    form = _generate_form(viewer_for_user(request.user), request.POST)
    if form is None:
        raise PermissionDenied("Only leads and admins can generate reports.")
    if not form.is_valid():
        return render(request, "reports/report_generate.html", {"form": form}, status=400)
    week, team = form.cleaned_data["week"], form.team()
    try:
        report = report_services.report_request(week=week, team=team, user=request.user)
    except ValidationError as error:
        form.add_error(None, error)
        return render(request, "reports/report_generate.html", {"form": form}, status=403)
    return redirect("reports:report_detail", report.week_label, report.scope)


@login_required
def report_json(request: HttpRequest, week: str, scope: str) -> HttpResponse:
    report = _stored_report(request, week, scope)
    if not report.data:
        raise Http404("This report has no data yet.")
    response = JsonResponse(report.data, json_dumps_params={"indent": 2})
    response["Content-Disposition"] = f'attachment; filename="{_filename(report)}.json"'
    return response


def _csv_cell(value: object) -> object:
    """Keep spreadsheet programs from running a cell as a formula."""
    return f"'{value}" if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


@login_required
def report_csv(request: HttpRequest, week: str, scope: str) -> HttpResponse:
    report = _stored_report(request, week, scope)
    if not report.data:
        raise Http404("This report has no data yet.")
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{_filename(report)}.csv"'
    writer = csv.writer(response)
    writer.writerow(CSV_HEADER)
    writer.writerows([_csv_cell(value) for value in row] for row in report_csv_rows(report.data))
    return response


@login_required
def report_chart(request: HttpRequest, week: str, scope: str, name: str) -> HttpResponse:
    report = _stored_report(request, week, scope)
    if name not in CHARTS or not report.data:
        raise Http404("No such chart.")
    svg = chart_svg(report.data, name, base=request.build_absolute_uri("/").rstrip("/"))
    response = HttpResponse(svg, content_type="image/svg+xml")
    response["Content-Disposition"] = f'attachment; filename="{_filename(report)}-{name}.svg"'
    return response


def _filename(report: TrendReport) -> str:
    """The export's file name; a confidential report's says so, wherever the file ends up."""
    suffix = "-confidential" if report.is_confidential else ""
    return f"hindsight-{report.week_label}-{report.scope.replace(':', '-')}{suffix}"


@login_required
@require_http_methods(["GET", "POST"])
def subscription(request: AuthedRequest) -> HttpResponse:
    if request.method == "POST":
        form = SubscriptionForm(request.POST)
        if form.is_valid():
            report_services.digest_subscription_set(user=request.user, subscribed=form.cleaned_data["subscribed"])
            return redirect("reports:subscription")
    subscribed = report_services.digest_is_subscribed(request.user)
    form = SubscriptionForm(initial={"subscribed": subscribed})
    return render(request, "reports/subscription.html", {"form": form, "subscribed": subscribed})


@csrf_exempt  # the signed token is the proof; mail clients post one-click unsubscribes without a session
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    try:
        user = report_services.unsubscribe_user(token)
    except ValidationError:
        return render(request, "reports/unsubscribe.html", {"invalid": True}, status=400)
    if request.method == "POST":
        report_services.digest_subscription_set(user=user, subscribed=False)
        return render(request, "reports/unsubscribe.html", {"done": True, "email": user.email})
    return render(request, "reports/unsubscribe.html", {"email": user.email})
