"""Markdown through the editor and the preview never carries executable content into a page."""

from __future__ import annotations

import pytest
from django.urls import reverse

from incidents.models import Incident
from tests.factories import IncidentFactory
from tests.html_safety import executable_content

pytestmark = pytest.mark.django_db

VECTORS = [
    "[a](javascript:alert(1))",
    "[a](JaVaScRiPt:alert(1))",
    "[a](  javascript:alert(1))",
    "[a](java\tscript:alert(1))",
    "[a](&#106;avascript:alert(1))",
    "[a](&#x6A;avascript&#x3A;alert(1))",
    "[a](javascript&colon;alert(1))",
    "[a](jav&#x0A;ascript:alert(1))",
    "[a](vbscript:msgbox(1))",
    "[a][ref]\n\n[ref]: javascript:alert(1)",
    "<javascript:alert(1)>",
    '<a href="javascript:alert(1)">a</a>',
    "[a](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "![a](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    "![a](javascript:alert(1))",
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<img src=x onerror=alert(1)>",
    '<img src="x" onerror="alert(1)">',
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    "<iframe src=https://evil.example></iframe>",
    "<style>body{display:none}</style>",
    '<form action="https://evil.example"><button>go</button></form>',
    "<math><mtext><script>alert(1)</script></mtext></math>",
    '<div onmouseover="alert(1)">hover</div>',
    '[a](https://ok.example "x\\" onmouseover=\\"alert(1)")',
    "```\n</code><script>alert(1)</script>\n```",
    "| a |\n|---|\n| <img src=x onerror=alert(1)> |",
]


@pytest.mark.parametrize("vector", VECTORS)
def test_preview_renders_no_executable_content(login, reporter, vector):
    response = login(reporter).post(reverse("incidents:preview"), {"body": f"Before\n\n{vector}\n\nAfter"})
    assert response.status_code == 200
    assert executable_content(response.content.decode()) == []


@pytest.mark.parametrize("vector", VECTORS)
def test_saved_postmortem_is_stored_and_served_sanitized(login, reporter, team, vector):
    incident = IncidentFactory(team=team, status="draft", body="")
    client = login(reporter)
    data = {
        "expected_version": 1, "title": incident.title, "severity": incident.severity,
        "environment": incident.environment_id, "caught_by": incident.caught_by,
        "started_at": incident.started_at.strftime("%Y-%m-%dT%H:%M"), "summary": vector, "body": vector,
    }  # fmt: skip
    assert client.post(reverse("incidents:incident_edit", args=[incident.reference]), data).status_code == 302
    incident.refresh_from_db()
    assert executable_content(incident.body_html) == []
    page = client.get(reverse("incidents:incident_detail", args=[incident.reference])).content.decode()
    assert incident.body_html in page  # the stored, sanitized HTML is what is served
    # The page's own script and stylesheet come from static files; nothing else executable is present.
    assert executable_content(page, allowed_tags={"script", "link", "form", "meta"}) == []
    assert page.count("<script") == 1


def test_a_safe_link_keeps_working(login, reporter):
    page = login(reporter).post(reverse("incidents:preview"), {"body": "[runbook](https://runbooks.example/x)"})
    assert 'href="https://runbooks.example/x"' in page.content.decode()


def test_titles_are_escaped_everywhere_they_are_listed(login, reporter, team):
    IncidentFactory(team=team, title="<img src=x onerror=alert(1)>", status=Incident.Status.TRIAGE)
    client = login(reporter)
    for url in (reverse("incidents:incident_list"), reverse("incidents:triage_inbox"), reverse("incidents:home")):
        page = client.get(url, {"counted": "false"} if "incidents" in url else {}).content.decode()
        assert "&lt;img src=x onerror=alert(1)&gt;" in page, url
        assert executable_content(page, allowed_tags={"script", "link", "form", "meta"}) == [], url
