"""Report pages: the list of weeks, one page per report with charts, exports, "generate now", digests."""

from __future__ import annotations

import csv

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from incidents.forms import DigestWeekForm, GenerateReportForm, SubscriptionForm, WeekPickForm
from incidents.models import Team, TrendReport
from incidents.policies import Viewer, may_preview_digest, may_request_report, viewer_for_user
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


def _pick_form(data=None, *, week: Week | None = None, scope: str = TrendReport.ORGANISATION) -> WeekPickForm:
    form = WeekPickForm(data, teams=list(Team.objects.order_by("name")), auto_id="pick_%s")
    if week is not None:
        form.initial.update({"week": week.label, "scope": scope})
    return form


def _picked_report(viewer: Viewer, form: WeekPickForm) -> tuple[TrendReport | None, tuple[str, str] | None]:
    """The stored report the week picker names, or None with a form error (bad week, future week, unknown team,
    no report yet): the picker never leads to an error page. Also the (week, scope) of a valid pick that has no
    report yet, for the "generate now" form."""
    if not form.is_valid():
        return None, None
    week, scope = form.cleaned_data["week"], form.cleaned_data["scope"]
    try:
        return report_selectors.report_get(viewer=viewer, week=week, scope=scope), None
    except TrendReport.DoesNotExist:
        form.add_error("week", f"No report of {week.label} for {_scope_name(form, scope)} has been generated yet.")
        return None, (week.label, scope)


def _scope_name(form: WeekPickForm, scope: str) -> str:
    return dict(form.fields["scope"].choices).get(scope, scope)  # type: ignore[attr-defined]


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
    """The stored reports, the week picker (`?week=2026-W47&scope=...`: opens that report, or shows a form error
    here) and, for those who may generate reports, the "generate now" form."""
    viewer = viewer_for_user(request.user)
    status = 200
    form = _generate_form(viewer)
    if "week" in request.GET:
        pick = _pick_form(request.GET)
        report, missing = _picked_report(viewer, pick)
        if report is not None:
            return redirect("reports:report_detail", report.week_label, report.scope)
        status = 400
        if form is not None and missing is not None:
            form.initial.update({"week": missing[0], "scope": missing[1]})
    else:
        pick = _pick_form()
    reports = report_selectors.report_list(viewer=viewer)
    page = Paginator(reports, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "form": form,
        "pick": pick,
        "last_week": Week.last(),
        "may_preview_digest": bool(_may_preview_digest(request, viewer)),
    }
    return render(request, "reports/report_list.html", context, status=status)


@login_required
def report_detail(request: HttpRequest, week: str, scope: str) -> HttpResponse:
    parsed, team = _week_and_team(week, scope)
    viewer = viewer_for_user(request.user)
    form = _generate_form(viewer) if may_request_report(viewer, team) else None
    if form is not None:
        form.initial.update({"week": parsed.label, "scope": scope})
    navigation = report_selectors.report_neighbours(viewer=viewer, week=parsed, scope=scope)
    pick = _pick_form(week=parsed, scope=scope)
    try:
        report = report_selectors.report_get(viewer=viewer, week=parsed, scope=scope)
    except TrendReport.DoesNotExist:
        context = {"week": parsed, "scope": scope, "team": team, "form": form, "nav": navigation, "pick": pick}
        return render(request, "reports/report_missing.html", context, status=404)
    context = {
        "report": report,
        "week": parsed,
        "scope": scope,
        "team": team,
        "form": form,
        "nav": navigation,
        "pick": pick,
        "in_progress": report.status in IN_PROGRESS,
    }
    if report.data:
        labels = report_selectors.report_labels()
        context.update(
            summary=summarise(report.data, labels),
            charts=report_charts(report.data, labels),
            tables=report_tables(report.data, labels),
            top_causes=[
                {"name": labels.cause(row["cause"]), "count": row["count"]} for row in report.data["causes"]["top"]
            ],
            rising=[labels.cause(slug) for slug in report.data["causes"]["rising"]],
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
    base = request.build_absolute_uri("/").rstrip("/")
    svg = chart_svg(report.data, name, base=base, labels=report_selectors.report_labels())
    response = HttpResponse(svg, content_type="image/svg+xml")
    response["Content-Disposition"] = f'attachment; filename="{_filename(report)}-{name}.svg"'
    return response


def _filename(report: TrendReport) -> str:
    """The export's file name; a confidential report's says so, wherever the file ends up."""
    suffix = "-confidential" if report.is_confidential else ""
    return f"hindsight-{report.week_label}-{report.scope.replace(':', '-')}{suffix}"


def _may_preview_digest(request: HttpRequest, viewer: Viewer):
    subscribed = request.user.is_authenticated and report_services.digest_is_subscribed(request.user)
    return may_preview_digest(viewer, subscribed=subscribed)


@login_required
def digest_preview(request: AuthedRequest) -> HttpResponse:
    """The signed-in person's own weekly digest of `?week=` (default: last week), rendered with the mail's
    templates and the reports of the audiences the mail would carry; for those who may receive it."""
    viewer = viewer_for_user(request.user)
    decision = _may_preview_digest(request, viewer)
    if not decision:
        raise PermissionDenied(decision.rule)
    pick = DigestWeekForm({"week": request.GET.get("week", Week.last().label)})
    if not pick.is_valid():
        return render(request, "reports/digest_preview.html", {"pick": pick, "week": None}, status=400)
    week = pick.cleaned_data["week"]
    reports = report_services.digest_reports(user=request.user, week=week)
    digest = report_services.digest_context(user=request.user, week=week, reports=reports)
    context = {
        **digest,
        "pick": pick,
        "text": render_to_string("emails/digest.txt", digest),
        "previous_week": week.shifted(-1),
        "next_week": week.shifted(1) if week.shifted(1) <= Week.current() else None,
        "subscribed": report_services.digest_is_subscribed(request.user),
    }
    response = render(request, "reports/digest_preview.html", context)
    response["Cache-Control"] = "no-store"  # the person's own digest, with their unsubscribe link
    return response


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
