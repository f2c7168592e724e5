"""A button shown is an action allowed: every guarded form a page shows posts without a 403, and every guarded
action a page leaves out is refused (403, or 404 where the item stays invisible)."""

from __future__ import annotations

import html
import re

import pytest

from incidents.models import Incident
from incidents.services import STATUS_TRANSITIONS, near_miss_report
from tests.factories import ActionItemFactory, IncidentFactory

pytestmark = pytest.mark.django_db

FORM = re.compile(r'<form method="post" action="([^"]+)"[^>]*>(.*?)</form>', re.DOTALL)
HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')
BUTTON = re.compile(r'<button type="submit" name="([^"]+)" value="([^"]*)"')
GUARDED = re.compile(r"/(status|timeline|action-items|triage|complete)/$")


def shown(content: str) -> set[tuple[str, tuple[str, str] | None]]:
    """Every guarded action the page offers: (form action, the button's name and value, or None)."""
    offered = set()
    for action, body in FORM.findall(content):
        action = html.unescape(action)
        if not GUARDED.search(action):
            continue
        buttons = BUTTON.findall(body)
        offered |= {(action, button) for button in buttons} or {(action, None)}
    return offered


def hidden_fields(content: str, action: str) -> dict[str, str]:
    for form_action, body in FORM.findall(content):
        if html.unescape(form_action) == action:
            return {
                name: html.unescape(value) for name, value in HIDDEN.findall(body) if name != "csrfmiddlewaretoken"
            }
    return {}


def possible(incident: Incident) -> set[tuple[str, tuple[str, str] | None]]:
    """Every guarded action of an item's detail page (and of its open action items)."""
    ref = incident.reference
    actions = {(f"/incidents/{ref}/status/", ("status", status)) for status in STATUS_TRANSITIONS[incident.status]}
    actions |= {(f"/incidents/{ref}/timeline/", None), (f"/incidents/{ref}/action-items/", None)}
    for item in incident.action_items.filter(status="open"):
        actions |= {(f"/action-items/{item.pk}/complete/", ("status", "done")),
                    (f"/action-items/{item.pk}/complete/", ("status", "wont_do"))}  # fmt: skip
    return actions


@pytest.fixture
def items(team, reporter, prod):
    draft = IncidentFactory(team=team, status=Incident.Status.DRAFT)
    review = IncidentFactory(team=team, status=Incident.Status.IN_REVIEW)
    ActionItemFactory(incident=review)
    secret = near_miss_report(
        reporter=reporter, team=team, title="Key nearly leaked", summary="Scanner caught it.", environment=prod,
        caught_by=Incident.CaughtBy.AUTOMATED_CHECK, confidential=True,
    ).incident  # fmt: skip
    ActionItemFactory(incident=secret)
    return [draft, review, secret]


@pytest.mark.parametrize("persona", ["reporter", "lead", "outsider", "admin_user"])
def test_detail_pages_show_exactly_the_allowed_actions(client, request, persona, items):
    client.force_login(request.getfixturevalue(persona))
    for incident in items:
        page = client.get(f"/incidents/{incident.reference}/")
        if page.status_code == 404:
            offered = set()
        else:
            assert page.status_code == 200
            offered = shown(page.content.decode())
        everything = possible(incident)
        assert offered <= everything, f"unexpected forms on {incident.reference}: {offered - everything}"
        content = page.content.decode()
        for action, button in sorted(everything, key=str):
            data = {**hidden_fields(content, action), **(dict([button]) if button else {})}
            data.setdefault("expected_version", str(Incident.objects.get(pk=incident.pk).version))
            status = client.post(action, data).status_code
            if (action, button) in offered:
                assert status not in (403, 404), f"{persona} was shown {action} {button} and got {status}"
            else:
                assert status in (403, 404), f"{persona} was not shown {action} {button} but got {status}"


@pytest.mark.parametrize("persona", ["reporter", "lead", "outsider", "admin_user"])
def test_the_triage_inbox_shows_buttons_only_for_items_the_viewer_may_triage(
    client, request, persona, team, reporter, prod
):
    IncidentFactory(team=team, status=Incident.Status.TRIAGE)
    filed = near_miss_report(
        reporter=reporter, team=team, title="Key nearly leaked", summary="Scanner caught it.", environment=prod,
        caught_by=Incident.CaughtBy.AUTOMATED_CHECK, confidential=True,
    ).incident  # fmt: skip
    Incident.objects.filter(pk=filed.pk).update(status=Incident.Status.TRIAGE)
    client.force_login(request.getfixturevalue(persona))
    content = client.get("/triage/").content.decode()
    for incident in Incident.objects.filter(status=Incident.Status.TRIAGE):
        action = f"/incidents/{incident.reference}/triage/"
        data = {"action": "dismiss", "expected_version": str(incident.version)}
        status = client.post(action, data).status_code
        if action in {form_action for form_action, _ in shown(content)}:
            assert status not in (403, 404), f"{persona} was shown {action} and got {status}"
        else:
            assert status in (403, 404), f"{persona} was not shown {action} but got {status}"
