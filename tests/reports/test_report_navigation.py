"""Reports a lead can use: the demo and a new scheduler have reports, the week picker and its errors, previous,
next and latest links, the "generate now" form only for those allowed, the digest preview, readable charts."""

from __future__ import annotations

import datetime as dt
import re
from io import StringIO
from pathlib import Path
from unittest import mock

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command
from django.urls import reverse

from config import celery as celery_config
from incidents import tasks
from incidents.models import IncidentCause, Team, TrendReport
from incidents.services.reports import digest_message, digest_reports, digest_subscription_set, report_generate
from incidents.views.report_charts import STYLE, TOP_CAUSES
from incidents.weeks import Week
from tests.factories import IncidentFactory, NearMissFactory, UserFactory, cause, environment
from tests.reports.conftest import REPORT_WEEK, at

pytestmark = pytest.mark.django_db
WEEK = Week.parse(REPORT_WEEK)
LIST = reverse("reports:report_list")
PREVIEW = reverse("reports:digest_preview")
CSS = Path(__file__).resolve().parents[2] / "incidents" / "static" / "reports" / "reports.css"


def detail_url(week: Week | str = WEEK, scope: str = "organisation") -> str:
    return reverse("reports:report_detail", args=[str(week), scope])


@pytest.fixture
def three_weeks(golden, team):
    """Organisation and payments reports of 2025-W51, 2025-W52 and 2026-W01."""
    for week in WEEK.window(3):
        report_generate(week=week, team=None)
        report_generate(week=week, team=team)


# --- A new instance has reports ---------------------------------------------------------------------------


def test_a_fresh_seed_demo_generates_the_recent_weeks_reports_of_every_scope_and_audience(client):
    with time_machine.travel(dt.datetime(2026, 11, 26, 9, 30, tzinfo=dt.UTC), tick=False):
        demo = UserFactory(username="viewer")
        client.force_login(demo)
        assert "No report has been generated yet" in client.get(LIST).content.decode()
        out = StringIO()
        call_command("seed_demo", "--incidents=60", "--weeks=4", "--report-weeks=2", "--seed=3", stdout=out)
        assert "trend reports of the last 2 weeks" in out.getvalue()
        scopes = ["organisation", *[f"team:{slug}" for slug in Team.objects.values_list("slug", flat=True)]]
        stored = set(TrendReport.objects.values_list("week_start", "scope", "audience", "status"))
        weeks = [Week.parse("2026-W46").monday, Week.parse("2026-W47").monday]
        assert stored == {
            (monday, scope, audience, "ready") for monday in weeks for scope in scopes
            for audience in ("everyone", "confidential")
        }  # fmt: skip
        page = client.get(LIST).content.decode()
        assert "No report has been generated yet" not in page
        assert page.count(f'href="{detail_url("2026-W47")}"') == 1 and "Payments" in page
        assert client.get(detail_url("2026-W46", "team:payments")).status_code == 200


def test_seed_demo_if_empty_generates_reports_when_there_are_none(golden):
    call_command("seed_demo", "--if-empty", "--report-weeks=1", stdout=StringIO())
    assert TrendReport.objects.filter(week_start=Week.last().monday, status="ready").count() == 2 * (
        1 + Team.objects.count()
    )


def test_the_scheduler_catches_up_on_last_weeks_report_once(golden, settings):
    with mock.patch.object(celery_config.app, "send_task") as send:
        celery_config._reports_catch_up()
    send.assert_called_once_with("incidents.reports_catch_up")
    settings.REPORT_CATCH_UP_ON_START = False
    with mock.patch.object(celery_config.app, "send_task") as send:
        celery_config._reports_catch_up()
    send.assert_not_called()

    last = Week.last()
    with mock.patch.object(tasks, "chord") as chord:
        assert tasks.reports_catch_up_task() == f"{last.label}: queued"
    (signatures,) = chord.call_args.args
    assert [s.args for s in signatures] == [(last.monday.isoformat(), team.pk if team else None)
                                            for team in [None, *Team.objects.order_by("name")]]  # fmt: skip
    report_generate(week=last, team=None)
    with mock.patch.object(tasks, "chord") as chord:
        assert tasks.reports_catch_up_task() == f"{last.label}: reports exist"
    chord.assert_not_called()


# --- The week picker and the links between weeks ----------------------------------------------------------


def test_report_pages_have_a_week_picker_and_previous_next_and_latest_links(client, reporter, three_weeks):
    client.force_login(reporter)
    page = client.get(detail_url("2025-W52", "team:payments")).content.decode()
    assert re.search(r'<input type="week" name="week" value="2025-W52"[^>]*max="2026-W02"', page)
    assert f'href="{detail_url("2025-W51", "team:payments")}" rel="prev"' in page
    assert f'href="{detail_url("2026-W01", "team:payments")}" rel="next"' in page
    assert f'href="{detail_url("2026-W01", "team:payments")}">Latest (2026-W01)' in page
    newest = client.get(detail_url("2026-W01")).content.decode()
    assert 'rel="next"' not in newest and f'href="{detail_url("2026-W01")}" aria-current="page"' in newest
    oldest = client.get(detail_url("2025-W51")).content.decode()
    assert 'rel="prev"' not in oldest


def test_the_week_picker_opens_the_picked_report(client, reporter, three_weeks):
    client.force_login(reporter)
    response = client.get(LIST, {"week": "2025-W52", "scope": "team:payments"})
    assert response.status_code == 302 and response["Location"] == detail_url("2025-W52", "team:payments")


@pytest.mark.parametrize(
    ("week", "scope", "error"),
    [
        ("2026-W99", "organisation", "2026 has no week 99."),
        ("2026-W30", "organisation", "2026-W30 has not started yet."),
        ("soon", "organisation", "is not an ISO week such as 2026-W47."),
        ("1969-W10", "organisation", "Give a week between the years 1970 and 2100"),
        ("2025-W52" * 500, "organisation", "Ensure this value has at most 8 characters"),
        ("2025-W40", "organisation", "No report of 2025-W40 for The organisation has been generated yet."),
        ("2025-W52", "team:nobody", "Select a valid choice."),
    ],
)
def test_the_week_picker_explains_bad_weeks_beside_the_field(client, reporter, three_weeks, week, scope, error):
    client.force_login(reporter)
    response = client.get(LIST, {"week": week, "scope": scope})
    assert response.status_code == 400
    page = response.content.decode()
    assert error.replace("'", "&#x27;") in page and 'class="errorlist' in page
    assert "2026-W01" in page  # still the list of reports, not an error page


def test_a_missing_week_prefills_the_generate_form_for_a_lead(client, lead, three_weeks):
    client.force_login(lead)
    page = client.get(LIST, {"week": "2025-W40", "scope": "team:payments"}).content.decode()
    assert "has been generated yet" in page
    assert re.search(r'<input type="week" name="week" value="2025-W40"[^>]*id="id_week"', page)
    assert '<option value="team:payments" selected>' in page


# --- "Generate now" only for those the policy allows --------------------------------------------------------


def test_generate_form_shows_only_to_leads_and_admins_and_below_the_report(
    client, reporter, lead, admin_user, three_weeks
):
    action = f'action="{reverse("reports:report_generate")}"'
    client.force_login(reporter)
    for url in (LIST, detail_url(), detail_url(scope="team:payments"), detail_url("2025-W40")):
        assert action not in client.get(url).content.decode(), url

    report_generate(week=WEEK, team=Team.objects.get(slug="platform"))
    client.force_login(lead)
    assert action in client.get(LIST).content.decode()
    page = client.get(detail_url(scope="team:payments")).content.decode()
    assert action in page and page.index(action) > page.index("Worth re-reading")  # below, out of the way
    assert action not in client.get(detail_url(scope="team:platform")).content.decode()  # not their team
    client.force_login(admin_user)
    assert action in client.get(detail_url(scope="team:platform")).content.decode()


# --- The digest preview ------------------------------------------------------------------------------------


def _confidential_near_miss(team):
    return NearMissFactory(team=team, confidential=True, started_at=at("2025-12-30 10:00"), environment=None)


def test_a_lead_previews_the_digest_they_would_get(client, lead, golden, team, other_team):
    _confidential_near_miss(team)
    for scope in (None, team, other_team):
        report_generate(week=WEEK, team=scope)
    client.force_login(lead)
    response = client.get(PREVIEW, {"week": REPORT_WEEK})
    assert response.status_code == 200
    page = response.content.decode()
    # The same templates as the mail: the HTML body and the text version, for the same reports.
    message = digest_message(user=lead, week=WEEK, reports=digest_reports(user=lead, week=WEEK))
    html = message.alternatives[0][0]
    body = html[html.index("<h1>") : html.index("</body>")].strip()
    assert body in page
    assert "Confidential, do not forward" in page and "Platform" not in body
    assert "CONFIDENTIAL, DO NOT FORWARD" in page  # the plain-text version
    assert mail.outbox == []  # a preview sends nothing


def test_only_people_who_may_receive_the_digest_preview_it(client, reporter, outsider, admin_user, golden, team):
    _confidential_near_miss(team)
    report_generate(week=WEEK, team=None)
    report_generate(week=WEEK, team=team)
    for person in (reporter, outsider):
        client.force_login(person)
        assert client.get(PREVIEW, {"week": REPORT_WEEK}).status_code == 403
    digest_subscription_set(user=reporter, subscribed=True)
    client.force_login(reporter)
    page = client.get(PREVIEW, {"week": REPORT_WEEK}).content.decode()
    assert "Payments" in page and "Confidential, do not forward" not in page  # a member reads "everyone"
    client.force_login(admin_user)
    page = client.get(PREVIEW, {"week": REPORT_WEEK}).content.decode()
    assert "Confidential, do not forward" in page and "Organisation" in page
    client.logout()
    assert client.get(PREVIEW).status_code == 302


@pytest.mark.parametrize("week", ["2026-W99", "soon", "2026-W40", "x" * 100])
def test_digest_preview_of_a_bad_week_is_a_form_error(client, lead, golden, week):
    client.force_login(lead)
    response = client.get(PREVIEW, {"week": week})
    assert response.status_code == 400 and 'class="errorlist' in response.content.decode()


def test_digest_preview_of_a_week_without_reports_says_nothing_would_be_sent(client, lead, golden):
    client.force_login(lead)
    page = client.get(PREVIEW, {"week": "2025-W30"}).content.decode()
    assert "no digest is sent for that week" in page


def test_leads_find_the_digest_preview_on_the_list_page(client, lead, reporter, golden):
    client.force_login(lead)
    assert f'href="{PREVIEW}"' in client.get(LIST).content.decode()
    client.force_login(reporter)
    assert f'href="{PREVIEW}"' not in client.get(LIST).content.decode()


# --- Charts people can read ----------------------------------------------------------------------------------


@pytest.fixture
def many_causes(golden, team):
    """Eight more causes named in the report week, so that the causes chart must group the rest as "Other"."""
    slugs = [
        "manual-change", "dependency-failure", "capacity-limit", "alert-fatigue", "documentation-gap",
        "secret-handling", "untested-rollback", "unclear-ownership",
    ]  # fmt: skip
    for index, slug in enumerate(slugs):
        item = IncidentFactory(team=team, environment=environment("prod"), started_at=at("2025-12-30 10:00"))
        for _ in range(index % 3 + 1):
            IncidentCause.objects.get_or_create(incident=item, cause=cause(slug), defaults={"gate": "canary"})
    return report_generate(week=WEEK, team=None)


def _series(svg: str) -> set[str]:
    return set(re.findall(r'class="series serie-(\d+) color-\d+"', svg))


def test_the_causes_chart_shows_the_top_causes_and_other_with_names(client, reporter, many_causes):
    client.force_login(reporter)
    svg = client.get(
        reverse("reports:report_chart", args=[REPORT_WEEK, "organisation", "causes"])
    ).content.decode()
    assert len(many_causes.data["causes"]["per_week"]) > TOP_CAUSES + 1
    assert len(_series(svg)) == TOP_CAUSES + 1 and ">Other</text>" in svg
    assert ">Missing check</text>" in svg and ">missing-check<" not in svg
    page = client.get(detail_url()).content.decode()
    assert re.search(r"Top this week:\s+Missing check \(", page) and "missing-check (" not in page


def test_chart_and_table_labels_are_names_not_slugs(client, reporter, many_causes):
    client.force_login(reporter)
    page = client.get(detail_url()).content.decode()
    text = re.sub(r'(href|xlink:href)="[^"]*"', "", page)  # links filter by slug; the text must not
    for slug in ("missing-check", "config-drift", "prod-monitoring", "automated_check", "monitoring_alert"):
        assert slug not in text, slug
    for label in ("Missing check", "Configuration drift", "Production monitoring", "Automated check"):
        assert label in text, label


def test_legends_are_never_cut_off(client, reporter, many_causes):
    client.force_login(reporter)
    for name in ("gate-gaps", "counts", "causes", "time-to-detect"):
        svg = client.get(
            reverse("reports:report_chart", args=[REPORT_WEEK, "organisation", name])
        ).content.decode()
        width = float(re.search(r'<svg[^>]*viewBox="0 0 ([\d.]+)', svg).group(1))
        left, legends = re.search(
            r'<g transform="translate\(([\d.]+), [\d.]+\)" class="legends">(.*?)</g></g>', svg
        ).groups()
        texts = re.findall(r'<text x="([\d.]+)" y="[\d.]+">([^<]+)</text>', legends)
        assert texts, name
        for x, text in texts:
            assert not text.endswith("…"), (name, text)
            # pygal's own estimate of a text's width: 0.6 em a character (14 px legends).
            assert float(left) + float(x) + 0.6 * 14 * len(text) <= width, (name, text)
    gates = client.get(reverse("reports:report_chart", args=[REPORT_WEEK, "organisation", "gate-gaps"]))
    assert ">Production monitoring</text>" in gates.content.decode()


def _luminance(colour: str) -> float:
    channels = [int(colour.lstrip("#")[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(one: str, two: str) -> float:
    lighter, darker = sorted((_luminance(one), _luminance(two)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def _css_rules(css: str) -> dict[str, dict[str, str]]:
    """selector → {property: value}, each selector of a list on its own."""
    rules: dict[str, dict[str, str]] = {}
    for selectors, body in re.findall(r"([^{}]+)\{([^}]*)\}", re.sub(r"/\*.*?\*/", "", css, flags=re.S)):
        declarations = dict(
            (name.strip(), value.strip())
            for name, _, value in (d.partition(":") for d in body.split(";"))
            if value
        )
        for selector in selectors.split(","):
            rules.setdefault(selector.strip(), {}).update(declarations)
    return rules


def test_chart_text_and_heat_map_links_meet_wcag_aa():
    for colour in (STYLE.foreground, STYLE.foreground_strong, STYLE.foreground_subtle):
        assert contrast(colour, "#ffffff") >= 4.5, colour
    rules = _css_rules(CSS.read_text())
    assert rules[".report-chart .max-value"]["fill"] == STYLE.foreground_subtle  # the CSS follows the style
    for level in range(1, 5):  # heat-0 cells count nothing and link nowhere
        background = rules[f".heat-{level}"]["background"]
        for selector, prop in ((f".heat-{level}", "color"), (f".heat-{level} a", "color")):
            assert contrast(rules[selector][prop], background) >= 4.5, (selector, background)
