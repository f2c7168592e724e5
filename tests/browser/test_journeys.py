"""What a new user does on day one, in a real browser: file a near-miss, write a postmortem with preview,
search and filter, promote a triage item."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from incidents.models import Incident
from tests.factories import IncidentFactory, NearMissFactory, ReleaseFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_file_a_near_miss_on_a_phone_fixing_a_mistake_on_the_way(
    browser, live_server, reporter, team, monkeypatch
):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto("/")
    page.get_by_label("Username").fill("rita")
    page.get_by_label("Password").fill("correct horse battery staple")
    page.keyboard.press("Enter")
    page.get_by_role("link", name="Report a near-miss").first.click()

    page.get_by_label("What happened").fill("Review caught an ALTER TABLE without a lock timeout.")
    page.get_by_role("radio", name="Staging").check()
    page.get_by_role("radio", name="Code review").check()
    page.get_by_role("checkbox", name=re.compile("^Missing check")).focus()
    page.keyboard.press("Space")  # keyboard use: tick a cause
    page.get_by_role("button", name="File near-miss").click()

    # Forgot the title: the error sits beside it and nothing typed is lost.
    title = page.get_by_label("Title")
    expect(title).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#id_title_error")).to_have_text("This field is required.")
    expect(page.get_by_label("What happened")).to_have_value(
        "Review caught an ALTER TABLE without a lock timeout."
    )
    expect(page.get_by_role("checkbox", name=re.compile("^Missing check"))).to_be_checked()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling on a phone

    title.fill("Migration would have locked the orders table")
    page.get_by_role("button", name="File near-miss").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you: filed as NM-1")
    assert Incident.objects.get().causes.get().slug == "missing-check"
    context.close()


def test_write_a_postmortem_with_live_preview_and_send_it_for_review(page, log_in, reporter, team):
    log_in(reporter)
    page.get_by_role("link", name="New postmortem").first.click()
    page.get_by_label("Title").fill("Card payments declined for 12 minutes")
    page.get_by_label("Caught in").select_option(label="Production")
    body = page.get_by_label("Postmortem (Markdown)")
    expect(body).to_have_value(re.compile("## Contributing factors"))
    body.fill("## Impact\n\nDeclines for **12 minutes**. It was human error.")
    preview = page.locator("#preview")
    expect(preview.locator("h2", has_text="Impact")).to_be_visible()  # rendered by the server as you type
    expect(preview.locator("strong", has_text="12 minutes")).to_be_visible()
    expect(preview.locator("q", has_text="human error")).to_be_visible()  # blame hint, advisory
    page.get_by_role("checkbox", name=re.compile("^Missing check")).check()
    page.get_by_label("Note on Missing check").fill("No contract test against the card processor.")
    page.get_by_role("button", name="Create draft").click()

    expect(page.get_by_role("heading", level=1)).to_contain_text("INC-1 Card payments declined for 12 minutes")
    expect(page.get_by_text("No contract test against the card processor.")).to_be_visible()
    page.get_by_role("button", name="Send for review").click()
    # The completeness check: what a reviewer would send back, and a way on anyway.
    expect(page.get_by_role("heading", level=1)).to_contain_text("Before sending for review")
    expect(page.locator(".gaps")).to_contain_text("may read as blame")
    expect(page.locator(".gaps")).to_contain_text("No timeline entries.")
    page.get_by_role("button", name="Send for review anyway").click()
    expect(page.locator(".messages")).to_contain_text("INC-1 is now in review.")
    assert Incident.objects.get().status == Incident.Status.IN_REVIEW


def test_search_then_filter_and_the_link_reproduces_the_view(page, log_in, reporter, team):
    IncidentFactory(team=team, title="Certificate expired on the payment gateway")
    NearMissFactory(team=team, title="Certificate nearly expired on the ledger")
    NearMissFactory(team=team, title="Disk nearly full")
    log_in(reporter)
    page.get_by_role("link", name="Incidents", exact=True).click()
    search = page.get_by_role("searchbox", name="Search")
    search.fill("certificate")
    search.press("Enter")
    expect(page.get_by_role("heading", name="2 results")).to_be_visible()

    page.get_by_text("Filters", exact=True).click()
    page.get_by_role("radio", name="Near-miss").check()
    page.get_by_role("button", name="Apply filters").click()
    expect(page.get_by_role("heading", name="1 result")).to_be_visible()
    expect(page.locator(".incident-list")).to_contain_text("Certificate nearly expired on the ledger")
    assert "q=certificate" in page.url and "kind=near_miss" in page.url

    page.goto(page.url)  # the same link gives the same view
    expect(page.get_by_role("heading", name="1 result")).to_be_visible()


def test_promote_a_triage_item_in_one_click(page, log_in, reporter, team):
    posted = IncidentFactory(team=team, status="triage", source="alertmanager", title="HighErrorRate on checkout")
    log_in(reporter)
    page.get_by_role("link", name="Triage").click()
    item = page.locator(".triage-item", has_text="HighErrorRate on checkout")
    item.get_by_role("button", name="Promote to incident").click()
    # The inbox names items by title (a triage number changes on promotion); the message gives the new one.
    expect(page.locator(".messages")).to_contain_text(
        "“HighErrorRate on checkout” (from alertmanager) promoted to"
    )
    expect(page.get_by_text("The inbox is empty.")).to_be_visible()
    posted.refresh_from_db()
    assert posted.status == Incident.Status.DRAFT
    expect(page.locator(".messages")).to_contain_text(f"promoted to {posted.reference}")


def test_on_a_phone_the_navigation_folds_behind_a_menu_button(browser, live_server, reporter, team):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto("/")
    page.get_by_label("Username").fill("rita")
    page.get_by_label("Password").fill("correct horse battery staple")
    page.keyboard.press("Enter")
    header = page.locator(".site-header")
    menu = page.get_by_role("button", name="Menu")
    expect(menu).to_be_visible()
    # Folded: the header is a single row (it took a quarter of the first screen with every link spelled out),
    # and the one thing a phone user most often comes to do stays in it.
    assert header.bounding_box()["height"] <= 0.1 * 844
    expect(header.get_by_role("link", name="Report a near-miss")).to_be_visible()
    expect(page.get_by_role("link", name="Releases")).to_be_hidden()
    expect(menu).to_have_attribute("aria-expanded", "false")
    menu.click()
    expect(menu).to_have_attribute("aria-expanded", "true")
    page.get_by_role("link", name="Releases").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Releases")
    context.close()


def test_on_a_desktop_the_navigation_is_open_without_a_menu_button(page, log_in, reporter, team):
    log_in(reporter)
    expect(page.get_by_role("link", name="Releases")).to_be_visible()
    expect(page.get_by_role("link", name="API docs")).to_be_visible()
    expect(page.get_by_role("button", name="Menu")).to_be_hidden()


def test_the_release_box_offers_the_chosen_services_versions(page, log_in, reporter, team, service):
    ReleaseFactory(service=service, version="4.12.0")
    log_in(reporter)
    page.goto("/near-misses/new/")
    options = page.locator("#release-versions option")
    expect(options).to_have_count(0)
    page.get_by_label("Service:", exact=True).select_option(label=service.name)
    expect(options).to_have_count(1)
    expect(options.first).to_have_attribute("value", "4.12.0")


def test_the_editor_warns_before_losing_text_and_keeps_a_draft_through_a_reload(page, log_in, reporter, team):
    log_in(reporter)
    page.goto("/incidents/new/")
    page.get_by_label("Title").fill("Card payments declined")
    page.get_by_label("Postmortem (Markdown)").fill("## Impact\n\nDeclines for 12 minutes.")
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.type), dialog.accept()))
    page.wait_for_timeout(400)  # the draft is stored 300 ms after the last keystroke
    page.reload()
    assert dialogs == ["beforeunload"]  # leaving with unsaved text asked first
    expect(page.get_by_label("Title")).to_have_value("")
    page.get_by_role("button", name="Restore it").click()
    expect(page.get_by_label("Title")).to_have_value("Card payments declined")
    expect(page.get_by_label("Postmortem (Markdown)")).to_have_value("## Impact\n\nDeclines for 12 minutes.")
    page.get_by_label("Caught in").select_option(label="Production")
    page.get_by_role("button", name="Create draft").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Card payments declined")
    assert dialogs == ["beforeunload"]  # submitting is not leaving
    kept = page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('hindsight-draft:'))")
    assert kept == []
    # A draft left behind is forgotten when its person logs out (a shared machine keeps nobody's text).
    page.goto("/incidents/new/")
    page.get_by_label("Title").fill("Half-written")
    page.wait_for_timeout(400)
    assert page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('hindsight-draft:')).length") == 1
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/login/**")
    assert page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('hindsight-draft:')).length") == 0
