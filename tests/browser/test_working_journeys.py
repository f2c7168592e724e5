"""What a member and a lead do after day one, in a real browser: work through triage in bulk, fix an action item
and the timeline, create and revoke a token, move between weekly reports, export the list."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from incidents.models import ActionItem, ApiToken, Incident
from incidents.services.reports import report_generate
from incidents.weeks import Week
from tests.factories import IncidentFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_work_through_triage_in_bulk(page, log_in, reporter, team):
    for title in ("Disk 91% on db-1", "Disk 92% on db-2", "Flapping probe"):
        IncidentFactory(team=team, status="triage", source="alertmanager", title=title)
    log_in(reporter)
    page.get_by_role("link", name="Triage").click()
    expect(page.get_by_text("3 items waiting")).to_be_visible()
    page.get_by_label("Disk 91% on db-1").check()
    page.get_by_label("Disk 92% on db-2").check()
    page.get_by_role("button", name="Promote ticked to incidents").click()
    expect(page.locator(".messages")).to_contain_text("promoted")
    expect(page.get_by_text("1 item waiting")).to_be_visible()
    assert set(Incident.objects.filter(status="draft").values_list("title", flat=True)) == {
        "Disk 91% on db-1", "Disk 92% on db-2"
    }  # fmt: skip


def test_reassign_an_action_item_and_correct_the_timeline(page, log_in, lead, reporter, team):
    incident = IncidentFactory(team=team, status=Incident.Status.DRAFT, title="Ledger lag")
    item = ActionItem.objects.create(incident=incident, team=team, title="Add a lag alert")
    entry = incident.timeline.create(at=incident.started_at, text="Alert fired at 10:02.")
    log_in(lead)
    page.goto(f"/incidents/{incident.reference}/")
    page.locator(".item-edit").first.click()
    page.get_by_label("Owner").select_option(label=reporter.get_full_name() or reporter.username)
    page.get_by_label("Due").fill((timezone.localdate() + dt.timedelta(days=7)).isoformat())
    page.get_by_role("button", name="Save").click()
    item.refresh_from_db()
    assert item.owner == reporter and item.due_date == timezone.localdate() + dt.timedelta(days=7)

    page.goto(f"/incidents/{incident.reference}/")
    page.locator(".entry-edit").first.click()
    page.get_by_label("What happened then").fill("Alert fired at 10:04.")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Alert fired at 10:04.")).to_be_visible()
    page.get_by_role("link", name="Revision history").click()
    expect(page.locator("main")).to_contain_text("Alert fired at 10:02.")  # the history keeps what it was
    entry.refresh_from_db()
    assert entry.text == "Alert fired at 10:04."


def test_a_lead_creates_a_token_sees_it_once_and_revokes_it(page, log_in, lead, team):
    log_in(lead)
    page.get_by_role("link", name="API tokens").click()
    page.get_by_label("Name").fill("deploy pipeline")
    page.get_by_label("Team").select_option(label=team.name)
    page.get_by_role("button", name="Create token").click()
    secret = page.locator("code.secret").inner_text()
    assert secret.startswith("hs_")
    page.reload()  # shown once: a new look at the page does not show it again
    expect(page.locator("code.secret")).to_have_count(0)
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Revoke").click()
    expect(page.locator(".messages")).to_contain_text("it no longer works")
    assert ApiToken.objects.get(name="deploy pipeline").revoked_at is not None


def test_a_lead_moves_between_weekly_reports(page, log_in, lead, team):
    this_week = Week.current().shifted(-1)
    for week in (this_week.shifted(-1), this_week):
        report_generate(week=week, team=None)
    log_in(lead)
    page.get_by_role("link", name="Reports").click()
    page.get_by_label("Go to week").fill(this_week.shifted(-1).label)
    page.get_by_role("button", name="Open").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(this_week.shifted(-1).label)
    page.get_by_role("link", name=f"Next week ({this_week.label})").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(this_week.label)
    expect(page.get_by_role("link", name=f"Previous week ({this_week.shifted(-1).label})")).to_be_visible()


def test_export_the_filtered_list_as_csv(page, log_in, reporter, team):
    IncidentFactory(team=team, title='=HYPERLINK("http://evil.example")')
    IncidentFactory(team=team, title="Card declines", severity="sev1")
    log_in(reporter)
    page.goto("/incidents/?severity=sev1")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    assert [row[1] for row in _rows(download.value)[1:]] == ["Card declines"]  # the list's filters apply
    page.goto("/incidents/")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    titles = [row[1] for row in _rows(download.value)[1:]]
    assert '\'=HYPERLINK("http://evil.example")' in titles  # a formula is defused for spreadsheets


def _rows(download) -> list[list[str]]:
    with open(download.path(), encoding="utf-8") as handle:
        rows = list(csv.reader(io.StringIO(handle.read())))
    assert rows[0][:2] == ["Reference", "Title"]
    return rows
