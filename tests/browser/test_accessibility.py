"""Every main page, checked in a real browser: axe-core finds no serious or critical accessibility violation, for
every persona, on a desktop (1280x900) and on a phone (390x844); on the phone no page is wider than the screen.
The lead's view of each page is saved as var/screenshots/<page>-<size>.png for people to look at.

axe-core comes from npm (tests/browser/package-lock.json, installed by `make .venv/.installed-dev`); without it
the test skips with the reason. The site's CSP allows no inline script, so the contexts bypass it to inject axe.
Cost: the data are seeded once; one context per persona for the whole run and one load per persona and page; the
viewport changes size, the page is not reloaded (docs/testing.md).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from django.utils import timezone

from incidents.markdown import render_markdown
from incidents.models import Incident
from incidents.services import incident_revision_record, near_miss_report
from incidents.services.reports import report_generate
from incidents.weeks import Week
from tests.browser import REQUIRED
from tests.browser.conftest import PASSWORD
from tests.factories import (
    ActionItemFactory,
    DeploymentFactory,
    IncidentFactory,
    NearMissFactory,
    ReleaseFactory,
    TimelineEntryFactory,
    cause,
    environment,
)

AXE = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
SIZES = {"desktop": DESKTOP, "phone": PHONE}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not AXE.exists() and not REQUIRED,  # required: a missing axe-core fails the test instead
        reason=f"{AXE} is missing: make .venv/.installed-dev (npm ci --prefix tests/browser)",
    ),
]

# Started in every persona's page before any result is awaited, so that the pages (each in a renderer process of
# its own) run axe at the same time. Serious and critical violations only, by each node's own impact.
START_AXE = """() => {
  window.hindsightAxe = axe.run(document, {resultTypes: ["violations"]}).then((result) => {
    const found = [];
    for (const rule of result.violations) {
      for (const node of rule.nodes) {
        if (node.impact === "serious" || node.impact === "critical") {
          found.push({rule: rule.id, impact: node.impact, help: rule.help, target: node.target.join(" "),
                      summary: (node.failureSummary || "").replace(/\\s+/g, " ")});
        }
      }
    }
    return {found, width: document.documentElement.scrollWidth};
  });
}"""
AXE_RESULT = "() => window.hindsightAxe"

MARKDOWN_BODY = """## Impact

Declines for **12 minutes** on the card processor.

| Minute | Declined | Approved | Retried | Region | Processor | Card scheme | Error code | Note |
| --- | --- | --- | --- | --- | --- | --- | --- | --- |
| 00:00 | 1,204 | 12,880 | 311 | eu-west-1 | primary-acquirer | international | do_not_honour | first alert |
| 00:05 | 2,951 | 10,002 | 790 | eu-west-1 | primary-acquirer | international | do_not_honour | paged |

## Contributing factors

No contract test against the card processor.
"""


def seed(*, team, other_team, reporter, lead, service, prod) -> dict[str, str]:
    """One of everything the main pages show, owned by the payments team; returns the pages' paths by name."""
    postmortem = IncidentFactory(
        team=team, title="Card payments declined for 12 minutes", services=[service], reporter=reporter,
        causes=["missing-check", "config-drift"], body=MARKDOWN_BODY, body_html=render_markdown(MARKDOWN_BODY),
        detected_at=timezone.now() - dt.timedelta(hours=2, minutes=50),
        mitigated_at=timezone.now() - dt.timedelta(hours=2), resolved_at=timezone.now() - dt.timedelta(hours=1),
    )  # fmt: skip
    incident_revision_record(incident=postmortem, author_id=reporter.pk)
    Incident.objects.filter(pk=postmortem.pk).update(version=2, summary="Card payments were declined.")
    postmortem.refresh_from_db()
    incident_revision_record(incident=postmortem, author_id=lead.pk)
    TimelineEntryFactory(incident=postmortem)
    ActionItemFactory(incident=postmortem, team=team, owner=lead)
    ActionItemFactory(incident=postmortem, team=team, due_date=timezone.localdate() - dt.timedelta(days=3))
    IncidentFactory(team=team, severity=Incident.Severity.SEV1, title="Certificate expired on the payment gateway")
    IncidentFactory(team=other_team, severity=Incident.Severity.SEV3, status=Incident.Status.DRAFT)
    IncidentFactory(
        team=team, status=Incident.Status.TRIAGE, source="alertmanager", title="HighErrorRate on checkout"
    )
    near_miss = NearMissFactory(team=team, title="Certificate nearly expired on the ledger", reporter=reporter,
                                causes=["weak-monitoring"])  # fmt: skip
    filing = near_miss_report(
        reporter=reporter, team=team, title="Token nearly pushed", summary="A hook stopped it.",
        environment=prod, caught_by=Incident.CaughtBy.AUTOMATED_CHECK, confidential=True,
        causes=[cause("secret-handling")],
    )  # fmt: skip
    release = ReleaseFactory(service=service, version="2.4.0")
    DeploymentFactory(release=release, environment=environment("staging"))
    DeploymentFactory(release=release, status="failed", gates={"unit-tests": "passed", "canary": "failed"})
    week = Week.current()
    report_generate(week=week, team=None)
    return {
        "home": "/",
        "incidents": "/incidents/",
        "incidents-search": "/incidents/?q=certificate",
        "postmortem": f"/incidents/{postmortem.reference}/",
        "near-miss": f"/incidents/{near_miss.reference}/",
        "editor": f"/incidents/{postmortem.reference}/edit/",
        "new-postmortem": "/incidents/new/",
        "near-miss-form": "/near-misses/new/",
        "near-miss-filed": f"/near-misses/{near_miss.reference}/filed/",
        "receipt": f"/receipts/{filing.receipt_code}/",
        "triage": "/triage/",
        "action-items": "/action-items/",
        "releases": "/releases/",
        "release": f"/releases/{release.pk}/",
        "environments": "/environments/",
        "environment": "/environments/prod/",
        "history": f"/incidents/{postmortem.reference}/history/",
        "revision": f"/incidents/{postmortem.reference}/history/2/",
        "reports": "/reports/",
        "report": f"/reports/{week.label}/organisation/",
        "not-found": "/no-such-page/",
    }


class Session:
    """One persona's browser context and page, signed in (unless `user` is None)."""

    def __init__(self, browser, live_server, *, persona: str, user, screenshots: bool = False) -> None:
        self.persona, self.screenshots = persona, screenshots
        self.context = browser.new_context(base_url=live_server.url, viewport=DESKTOP, bypass_csp=True)
        self.context.set_default_timeout(10_000)
        self.context.add_init_script(path=AXE)  # cheaper than a script tag per page: it stays compiled
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        if user is not None:
            self.page.goto("/accounts/login/")
            self.page.get_by_label("Username").fill(user.username)
            self.page.get_by_label("Password").fill(PASSWORD)
            self.page.get_by_role("button", name="Log in").click()
            self.page.wait_for_url("**/")


def check(sessions: list[Session], name: str, path: str, problems: list[str]) -> None:
    """Open `path` in every session, axe it at both sizes, measure its width on the phone; note what is wrong."""
    responses = {session: session.page.goto(path, wait_until="commit") for session in sessions}
    for session in sessions:
        session.page.wait_for_load_state("load")
    loaded = []
    for session, response in responses.items():
        if response is None or response.status >= 500:
            problems.append(f"{name} ({path}) as {session.persona}: status {response and response.status}")
        else:
            loaded.append(session)
    sizes = list(SIZES.items())
    if loaded and loaded[0].page.viewport_size == PHONE:  # start at the size the previous page ended at
        sizes.reverse()
    for size, viewport in sizes:
        for session in loaded:
            if session.page.viewport_size != viewport:
                session.page.set_viewport_size(viewport)
            session.page.evaluate(START_AXE)
        for session in loaded:
            where = f"{name} ({path}) as {session.persona} at {size} {viewport['width']}x{viewport['height']}"
            result = session.page.evaluate(AXE_RESULT)
            problems.extend(
                f"{found['rule']} ({found['impact']}) on {where}: {found['target']}: {found['help']}. "
                f"{found['summary']}"
                for found in result["found"]
            )
            if viewport is PHONE and result["width"] > PHONE["width"]:
                problems.append(f"page wider than the phone on {where}: {result['width']} px")
            if session.screenshots:
                session.page.screenshot(path=SCREENSHOTS / f"{name}-{size}.png", full_page=True)


def test_every_main_page_for_every_persona_at_both_sizes(
    browser, live_server, team, other_team, reporter, lead, outsider, admin_user, service, prod
):
    paths = seed(team=team, other_team=other_team, reporter=reporter, lead=lead, service=service, prod=prod)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    signed_in = [
        Session(browser, live_server, persona="lead", user=lead, screenshots=True),
        Session(browser, live_server, persona="reporter", user=reporter),
        Session(browser, live_server, persona="outsider", user=outsider),
        Session(browser, live_server, persona="admin", user=admin_user),
    ]
    anonymous = Session(browser, live_server, persona="anonymous", user=None)
    problems: list[str] = []
    for name, path in paths.items():
        check(signed_in, name, path, problems)
    anonymous.screenshots = True  # the log-in page's; the lead's 404 stays
    check([anonymous], "login", "/accounts/login/", problems)
    anonymous.screenshots = False
    check([anonymous], "not-found", "/no-such-page/", problems)
    for session in [*signed_in, anonymous]:
        session.context.close()
        problems.extend(f"JavaScript error as {session.persona}: {error}" for error in session.errors)
    assert problems == [], f"{len(problems)} problems:\n" + "\n".join(problems)
