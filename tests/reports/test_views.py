"""Report pages: list, report page with inline SVG charts whose bars open the matching incident list, exports,
"generate now" with its status page, and the management command."""

from __future__ import annotations

import csv
import io
import json
import re
from html import unescape
from unittest import mock

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from incidents import tasks
from incidents.models import TrendReport
from incidents.services.reports import report_generate
from incidents.weeks import Week
from tests.html_safety import executable_content
from tests.reports.conftest import REPORT_WEEK

pytestmark = pytest.mark.django_db
WEEK = Week.parse(REPORT_WEEK)


@pytest.fixture
def org_report(golden):
    return report_generate(week=WEEK, team=None)


def detail_url(scope: str = "organisation") -> str:
    return reverse("reports:report_detail", args=[REPORT_WEEK, scope])


def test_pages_require_login(client, org_report):
    for url in (
        reverse("reports:report_list"),
        detail_url(),
        reverse("reports:report_csv", args=[REPORT_WEEK, "organisation"]),
    ):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_report_list_has_a_fixed_number_of_queries(
    client, reporter, golden, team, other_team, django_assert_max_num_queries
):
    for week in WEEK.window()[-4:]:
        for scope in (None, team, other_team):
            report_generate(week=week, team=scope)
    client.force_login(reporter)
    with django_assert_max_num_queries(8):
        page = client.get(reverse("reports:report_list")).content.decode()
    assert page.count(f'href="{detail_url()}"') == 1 and "2025-W50" in page and "Platform" in page


def test_report_page_draws_safe_svg_charts_with_a_table_under_each(client, reporter, org_report):
    client.force_login(reporter)
    page = client.get(detail_url()).content.decode()
    assert page.count("<svg") == 7 and page.count('class="report-table"') >= 7
    assert "style=" not in page and "<style" not in page
    # Only the app's own static files: base.html's stylesheet and script, nothing inline.
    assert executable_content(page, allowed_tags={"svg", "link", "meta", "form"}) == []
    assert "2 action items overdue." in page and "Checkout outage without an alert" in page


def _bar_links(page: str) -> list[str]:
    svg_links = re.findall(r'<a [^>]*xlink:href="([^"]+)"', page)
    return [unescape(link) for link in svg_links]


def test_every_bar_opens_the_incident_list_filtered_to_what_it_counts(client, reporter, org_report, golden):
    client.force_login(reporter)
    page = client.get(detail_url()).content.decode()
    links = _bar_links(page)
    assert links and all(link.startswith(reverse("incidents:incident_list") + "?counted=true") for link in links)
    sev2_this_week = next(
        link
        for link in links
        if "severity=sev2" in link and "started_from=2025-12-29" in link and "kind=incident" in link
    )
    listed = client.get(sev2_this_week).content.decode()
    for name in ("I2", "I3", "I4"):
        assert golden[name].title in listed
    for name in ("I1", "I5", "X1", "N1"):
        assert golden[name].title not in listed
    gate_link = next(link for link in links if "cause=missing-check" in link and "gate=ci" in link)
    listed = client.get(gate_link).content.decode()
    assert all(golden[name].title in listed for name in ("I1", "I2", "N1")) and golden["I4"].title not in listed


def test_team_report_links_are_limited_to_the_team(client, reporter, golden, team):
    report_generate(week=WEEK, team=team)
    client.force_login(reporter)
    links = _bar_links(client.get(detail_url("team:payments")).content.decode())
    assert links and all("team=payments" in link for link in links)


def test_json_export_is_the_stored_data(client, reporter, org_report):
    client.force_login(reporter)
    response = client.get(reverse("reports:report_json", args=[REPORT_WEEK, "organisation"]))
    assert response["Content-Disposition"] == 'attachment; filename="hindsight-2026-W01-organisation.json"'
    assert json.loads(response.content) == org_report.data


def test_csv_export_lists_every_number(client, reporter, org_report):
    client.force_login(reporter)
    response = client.get(reverse("reports:report_csv", args=[REPORT_WEEK, "organisation"]))
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["section", "series", "key", "week", "value"]
    assert ["counts", "incidents", "sev2", "2026-W01", "3"] in rows
    assert ["deployments", "change_failure_rate", "", "2026-W01", "0.3333"] in rows
    assert ["durations", "time_to_restore_p90_seconds", "sev2", "2026-W01", "14400"] in rows
    assert ["gate_gaps", "missing-check", "review", "2026-W01", "1"] in rows


def test_chart_export_is_a_standalone_svg(client, reporter, org_report):
    client.force_login(reporter)
    response = client.get(reverse("reports:report_chart", args=[REPORT_WEEK, "organisation", "counts"]))
    assert response["Content-Type"] == "image/svg+xml" and b"<svg" in response.content
    assert (
        client.get(reverse("reports:report_chart", args=[REPORT_WEEK, "organisation", "nope"])).status_code == 404
    )


@pytest.mark.parametrize("week", ["2026-W99", "yesterday", "2021-W53"])
def test_bad_weeks_and_teams_are_not_found(client, reporter, week):
    client.force_login(reporter)
    assert client.get(reverse("reports:report_detail", args=[week, "organisation"])).status_code == 404
    assert client.get(reverse("reports:report_detail", args=[REPORT_WEEK, "team:nobody"])).status_code == 404


def test_lead_generates_now_and_watches_the_status_until_ready(
    client, lead, golden, team, django_capture_on_commit_callbacks
):
    client.force_login(lead)
    missing = client.get(detail_url("team:payments"))
    assert missing.status_code == 404 and "Generate now" in missing.content.decode()
    with (
        mock.patch.object(tasks.outbox_process_task, "apply_async") as publish,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = client.post(reverse("reports:report_generate"), {"week": REPORT_WEEK, "scope": "team:payments"})
    assert response.status_code == 302 and response["Location"] == detail_url("team:payments")
    (message_id,) = publish.call_args.kwargs["args"]
    with mock.patch.object(tasks.report_generate_task, "delay") as delay:
        tasks.outbox_process_task(message_id)  # what the worker runs: it queues the report's own task
    delay.assert_called_once_with("2025-12-29", team.pk)
    pending = client.get(detail_url("team:payments"))
    assert pending["Refresh"] == "3" and "being generated" in pending.content.decode()
    tasks.report_generate_task("2025-12-29", team.pk)
    ready = client.get(detail_url("team:payments"))
    assert not ready.has_header("Refresh") and "<svg" in ready.content.decode()


def test_generate_now_shows_form_errors_beside_the_field(client, lead, golden):
    client.force_login(lead)
    response = client.post(reverse("reports:report_generate"), {"week": "2026-W99", "scope": "team:payments"})
    assert response.status_code == 400 and "2026 has no week 99" in response.content.decode()
    assert not TrendReport.objects.exists()


def test_members_cannot_generate_now(client, reporter, outsider, lead, golden):
    client.force_login(reporter)
    assert (
        client.post(reverse("reports:report_generate"), {"week": REPORT_WEEK, "scope": "organisation"}).status_code
        == 403
    )
    client.force_login(lead)  # a lead of payments cannot generate the platform team's report
    response = client.post(reverse("reports:report_generate"), {"week": REPORT_WEEK, "scope": "team:platform"})
    assert response.status_code == 400
    assert not TrendReport.objects.exists()


def test_generate_report_command_runs_the_service(golden, team):
    out = io.StringIO()
    call_command("generate_report", "--week", REPORT_WEEK, "--team", "payments", stdout=out)
    assert "2026-W01 team:payments: ready" in out.getvalue()
    stored = TrendReport.objects.filter(scope="team:payments")
    assert sorted(report.audience for report in stored) == ["confidential", "everyone"]
    assert all(report.data["counts"]["near_misses"][-1] == 3 for report in stored)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--week", "2026-W99"], "2026 has no week 99"),
        (["--week", "next"], "not an ISO week"),
        (["--week", "2026-W30"], "has not started yet"),
        (["--week", REPORT_WEEK, "--team", "nobody"], "no team with slug 'nobody'"),
    ],
)
def test_generate_report_command_explains_bad_input(golden, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("generate_report", *args)
    assert not TrendReport.objects.exists()
