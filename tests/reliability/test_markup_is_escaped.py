"""R2 XSS: a few hundred script-injection vectors (our own, by category, plus the Script Injection section of the
Big List of Naughty Strings, MIT, data/blns-LICENSE) go through the web forms (with CSRF tokens) and the API into
every field that is shown; every page that shows them, parsed with an HTML parser, contains no executable
content (tests/html_safety.py): no script but the app's own static files, no event handler, no unsafe URL.

Vectors are packed into groups whose joined length fits a title, so that each vector is a title of some item and
also sits in every other text field of that item; each group goes through the API and through the forms.
"""

from __future__ import annotations

import re
from collections import Counter

import pytest
from django.test import Client
from django.utils import timezone
from django.utils.html import escape

from incidents.limits import one_line
from incidents.models import ActionItem, Environment, Incident
from incidents.services.reports import report_generate
from incidents.weeks import Week
from tests.factories import cause
from tests.html_safety import executable_content
from tests.reliability.conftest import blns_section

pytestmark = [pytest.mark.reliability, pytest.mark.django_db]

OWN = [
    # Tags and handlers
    "<script>alert(1)</script>", "<SCRIPT SRC=//evil.example/x.js></SCRIPT>", "<img src=x onerror=alert(1)>",
    "<svg onload=alert(1)>", "<svg><script>alert(1)</script></svg>", "<body onload=alert(1)>",
    "<iframe src=javascript:alert(1)>", "<iframe srcdoc='<script>alert(1)</script>'>", "<object data=javascript:alert(1)>",
    "<embed src=javascript:alert(1)>", "<details open ontoggle=alert(1)>", "<video><source onerror=alert(1)>",
    "<audio src=x onerror=alert(1)>", "<marquee onstart=alert(1)>", "<input autofocus onfocus=alert(1)>",
    "<select autofocus onfocus=alert(1)>", "<textarea autofocus onfocus=alert(1)>", "<keygen autofocus onfocus=alert(1)>",
    "<math><mtext><script>alert(1)</script></mtext></math>", "<style>@import 'javascript:alert(1)'</style>",
    "<link rel=stylesheet href=javascript:alert(1)>", "<meta http-equiv=refresh content='0;url=javascript:alert(1)'>",
    "<base href=javascript:alert(1)//>", "<form action=javascript:alert(1)><button>go</button></form>",
    "<button formaction=javascript:alert(1)>go</button>", "<isindex action=javascript:alert(1) type=image>",
    # Breaking out of attributes, text areas and titles
    "\"><script>alert(1)</script>", "'><img src=x onerror=alert(1)>", "\" onmouseover=\"alert(1)",
    "' onmouseover='alert(1)", "</textarea><script>alert(1)</script>", "</title><script>alert(1)</script>",
    "</pre><script>alert(1)</script>", "--><script>alert(1)</script><!--", "]]><script>alert(1)</script>",
    "</option></select><img src=x onerror=alert(1)>", "</script><script>alert(1)</script>",
    # URLs
    "javascript:alert(1)", "JaVaScRiPt:alert(1)", "java\tscript:alert(1)", "&#106;avascript:alert(1)",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==", "vbscript:msgbox(1)",
    # Markdown
    "[a](javascript:alert(1))", "[a](JAVASCRIPT:alert(1))", "[a](&#x6A;avascript&#x3A;alert(1))",
    "![a](javascript:alert(1))", "![a](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    "[a][r]\n\n[r]: javascript:alert(1)", "<javascript:alert(1)>", '[a](https://ok.example "x\\" onmouseover=\\"alert(1)")',
    "```\n</code><script>alert(1)</script>\n```", "| a |\n|---|\n| <img src=x onerror=alert(1)> |",
    # Encodings and template syntax
    "%3Cscript%3Ealert(1)%3C/script%3E", "\\u003cscript\\u003ealert(1)\\u003c/script\\u003e", "&lt;script&gt;alert(1)&lt;/script&gt;",
    "{{ 7*7 }}<script>alert(1)</script>", "{% debug %}", "${alert(1)}", "\uff1cscript\uff1ealert(1)\uff1c/script\uff1e",
    "<scr<script>ipt>alert(1)</scr</script>ipt>", "<img src=\"x\" onerror=\"&#97;lert(1)\">", "<a href=\"  javascript:alert(1)\">x</a>",
]  # fmt: skip
VECTORS = OWN + blns_section("Script Injection")
PAGE_OWN = {"script", "link", "form", "meta"}  # the page's own static script, stylesheet, forms and meta tags


def groups(vectors: list[str], width: int = 200) -> list[list[str]]:
    """Vectors packed greedily so that each group, joined by spaces, fits a title."""
    packed: list[list[str]] = [[]]
    for vector in vectors:
        if packed[-1] and len(" ".join([*packed[-1], vector])) > width:
            packed.append([])
        packed[-1].append(vector)
    return packed


@pytest.fixture
def person(reporter):
    """A signed-in person whose client checks CSRF, so the forms are posted with their tokens."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(reporter)
    return client


def _post_form(client: Client, url: str, data: dict):
    """Post as a browser does, with the CSRF token a form page of the site gave this client."""
    if not hasattr(client, "csrf_token"):
        html = client.get("/near-misses/new/").content.decode()
        client.csrf_token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
    return client.post(url, {**data, "csrfmiddlewaretoken": client.csrf_token})


def _now() -> str:
    return timezone.localtime().strftime("%Y-%m-%dT%H:%M")


def file_group(person, writer, team, group: list[str]) -> list[Incident]:
    """One group through the API and the forms into every text field that is shown; returns the items."""
    # A title is one line (control characters are refused there, R11), so the vectors reach it as one line.
    title, text = one_line(" ".join(group))[:200], "\n\n".join(group)
    missing, weak = cause("missing-check"), cause("weak-monitoring")
    api = writer.post("/api/v1/incidents/", {
        "kind": "incident", "title": title, "summary": text, "trigger": text, "body": text, "severity": "sev2",
        "environment": "prod", "timeline": [{"at": timezone.now().isoformat(), "text": text}],
        "causes": [{"cause": missing.slug, "note": text}],
    })  # fmt: skip
    assert api.status_code == 201, api.content
    by_api = Incident.objects.get(number=api.json()["number"], kind="incident")
    assert writer.post("/api/v1/action-items/", {"incident": by_api.reference, "title": title}).status_code == 201
    filed = _post_form(person, "/near-misses/new/", {
        "title": title, "summary": text, "potential_impact": text, "caught_by": "code_review", "team": team.pk,
        "environment": Environment.objects.get(slug="staging").pk, "confidential": "on",
    })  # fmt: skip
    assert filed.status_code == 302, filed.content[:500]
    created = _post_form(person, "/incidents/new/", {
        "title": title, "team": team.pk, "severity": "sev3", "environment": Environment.objects.get(slug="prod").pk,
        "caught_by": "luck", "started_at": _now(), "summary": text, "trigger": text, "body": text,
        f"cause_{weak.pk}": "on", f"note_{weak.pk}": text,
    })  # fmt: skip
    assert created.status_code == 302, created.content[:500]
    by_web = Incident.objects.filter(kind="incident").order_by("-pk").first()
    detail = f"/incidents/{by_web.reference}/"
    added = _post_form(person, f"{detail}timeline/", {"timeline-at": _now(), "timeline-text": text})
    assert added.status_code == 302, added.content[:500]
    added = _post_form(person, f"{detail}action-items/", {"action-title": title, "action-team": team.pk})
    assert added.status_code == 302, added.content[:500]
    edited = _post_form(person, f"{detail}edit/", {
        "expected_version": by_web.version, "title": title, "severity": "sev3", "caught_by": "luck",
        "environment": by_web.environment_id, "started_at": _now(), "summary": text + "\n\nEdited.", "trigger": text,
        "body": text + "\n\nEdited.",
    })  # fmt: skip
    assert edited.status_code == 302, edited.content[:500]
    near_miss = Incident.objects.get(kind="near_miss", title=title)
    receipt = re.search(r'href="(/receipts/[^"]+/)"', person.get(filed["Location"]).content.decode()).group(1)
    return [by_api, by_web, near_miss], receipt


def pages_of(item: Incident) -> dict[str, str]:
    """The pages showing one item, by kind (the same kind of page of another item has the same own elements)."""
    ref, role = item.reference, f"{item.kind}-{item.source}"
    latest = item.revisions.order_by("-version").first()
    pages = {
        f"{role} detail": f"/incidents/{ref}/", f"{role} edit": f"/incidents/{ref}/edit/",
        f"{role} history": f"/incidents/{ref}/history/", f"{role} admin change": f"/admin/incidents/incident/{item.pk}/change/",
        f"{role} api": f"/api/v1/incidents/{ref}/",
    }  # fmt: skip
    if latest is not None:
        pages[f"{role} revision"] = f"/incidents/{ref}/history/{latest.version}/"
    return pages


LISTS = [
    "/",
    "/incidents/?counted=false",
    "/incidents/?q=alert",
    "/triage/",
    "/action-items/?show=team",
    "/releases/",
    "/environments/",
    "/environments/prod/",
    "/admin/incidents/incident/",
    "/admin/incidents/actionitem/",
    "/admin/incidents/timelineentry/",
    "/admin/incidents/incidentcause/",
    "/api/v1/incidents/?page_size=200",
    "/api/v1/action-items/?page_size=200",
    "/reports/",
]


def findings(client: Client, url: str) -> Counter:
    response = client.get(url, HTTP_ACCEPT="text/html" if url.startswith("/api/") else "*/*")
    assert response.status_code == 200, (url, response.status_code)
    return Counter(executable_content(response.content.decode(), allowed_tags=PAGE_OWN))


SHARDS = 2  # the groups of vectors in two tests, which the reliability step's two workers run side by side


@pytest.mark.parametrize("shard", range(SHARDS))
def test_no_vector_becomes_executable_on_any_page(person, writer, admin_user, team, settings, shard):
    """Each page is compared with the same kind of page showing plain text: the admin's icons, the report's
    charts and the browsable API's stylesheet are the page's own; anything more came from a vector. Each shard
    takes every SHARDS-th group of vectors; together they send every vector."""
    settings.API_WRITE_THROTTLE_RATE = "1000000/min"
    settings.WEB_PAGE_SIZE = 1000
    settings.REDACTION_DEFAULT_POLICY = "off"
    admin = Client()
    admin.force_login(admin_user)
    plain, plain_receipt = file_group(person, writer, team, ["Plain words"])
    report = report_generate(week=Week.current(), team=None)
    lists = [*LISTS, f"/reports/{report.week_label}/organisation/"]
    own = {url: findings(admin, url) for url in lists}
    own["receipt"] = findings(admin, plain_receipt)
    for item in plain:
        own.update({kind: findings(admin, url) for kind, url in pages_of(item).items()})

    packed = groups(VECTORS)
    assert len(VECTORS) >= 250 and sum(len(group) for group in packed) == len(VECTORS)
    mine = packed[shard::SHARDS]
    failures, checked = [], 0
    for group in mine:
        items, receipt = file_group(person, writer, team, group)
        pages = [("receipt", receipt)] + [(kind, url) for item in items for kind, url in pages_of(item).items()]
        for kind, url in pages:
            extra = findings(admin, url) - own[kind]
            checked += 1
            if extra:
                failures.append(f"{url}: {sorted(extra)} from {group}")
    report = report_generate(week=Week.current(), team=None)
    for url in lists:
        extra = findings(admin, url) - own[url]
        if extra:
            failures.append(f"{url}: {sorted(extra)}")
    assert failures == [], "\n".join(failures)
    assert checked >= 15 * len(mine)
    shown = admin.get("/incidents/?counted=false").content.decode()
    tag = next(v for g in mine for v in g if v.startswith("<") and v.isprintable() and not set("'\"&") & set(v))
    assert escape(tag) in shown and tag not in shown  # the vectors are there, as text
    assert ActionItem.objects.count() == 2 * (len(mine) + 1)
