"""R11 hostile strings: the whole Big List of Naughty Strings, NUL, CR/LF and 1 MB strings into every text field
of every form and endpoint. Zero 5xx; every accepted value reads back exactly (after the trimming of surrounding
whitespace that every form and endpoint does); NUL is refused with a 400 (API) or a form error (web).

Redaction on ingest rewrites personal data and secrets, so exact read-back is checked with it off, and one pass
with it on checks the stored text against incidents.redaction.redact_text.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest
from django.test import Client

from incidents.limits import is_single_line
from incidents.models import ActionItem, Deployment, Environment, Incident, Release
from incidents.redaction import redact_text
from tests.factories import ActionItemFactory, IncidentFactory
from tests.reliability import doors as d
from tests.reliability.conftest import blns

pytestmark = [pytest.mark.reliability, pytest.mark.django_db]

NUL = ["\x00", "title\x00with a NUL", "\x00\x00\x00"]
LINE_BREAKS = ["first\r\nsecond", "first\rsecond", "first\nsecond\r\n\r\nthird", "\r\n", "trailing\r\n  "]
HUGE = ["x" * 1_048_576, "é" * 600_000]


@pytest.fixture
def hostile_doors(writer, reporter, service, settings) -> d.Doors:
    settings.API_WRITE_THROTTLE_RATE = "1000000/min"
    person = Client()
    person.force_login(reporter)
    person.raise_request_exception = False
    writer.client.raise_request_exception = False
    return d.Doors(tool=writer, person=person, service_slug=service.slug)


def through_every_door(doors: d.Doors, value: str, team, target: Incident, item: ActionItem) -> list[d.Outcome]:
    return [
        *d.api_incident_create(doors, value),
        *d.api_incident_update(doors, value, target),
        *d.api_action_item(doors, value, target, item),
        *d.api_release_and_deployment(doors, value),
        *d.api_alertmanager(doors, value),
        *d.api_search(doors, value),
        *d.web_near_miss(doors, value, team.pk),
        *d.web_incident_create(doors, value, team.pk),
        *d.web_incident_edit(doors, value, target),
        *d.web_timeline_and_action_item(doors, value, target),
        *d.web_reads(doors, value),
    ]


def problems(value: str, outcomes: list[d.Outcome], *, expected: Callable[[str], str]) -> list[str]:
    found = []
    for outcome in outcomes:
        where = f"{outcome.door} {outcome.field} <- {value[:60]!r}"
        if outcome.status >= 500:
            found.append(f"{where}: {outcome.status}")
        elif outcome.stored is not None and outcome.stored != expected(outcome.shaped(value)):
            found.append(f"{where}: stored {outcome.stored[:60]!r}")
        elif "\x00" in value and (outcome.stored is not None or outcome.status not in (400, 200)):
            found.append(f"{where}: NUL answered {outcome.status}, stored {outcome.stored!r}")
    return found


SHARDS = 4  # the strings in four tests
# The shards to run (R11_SHARDS="0,2"; default all): .ci/run takes two of them a run, in turn by the day, so that two
# runs cover the whole list; on demand every shard runs.
CHOSEN_SHARDS = {int(n) for n in os.environ.get("R11_SHARDS", ",".join(map(str, range(SHARDS)))).split(",") if n}


@pytest.mark.parametrize("shard", range(SHARDS))
def test_hostile_strings_through_every_door(hostile_doors, team, settings, shard):
    if shard not in CHOSEN_SHARDS:
        pytest.skip(f"shard {shard} is not in R11_SHARDS={sorted(CHOSEN_SHARDS)} (the next CI run takes it)")
    settings.REDACTION_DEFAULT_POLICY = "off"
    target = IncidentFactory(team=team, status=Incident.Status.DRAFT)
    item = ActionItemFactory(incident=target)
    failures, accepted, refused = [], 0, 0
    # The list is sharded; NUL, line breaks and 1 MB strings go with the first shard that runs.
    values = blns()[shard::SHARDS] + ([*NUL, *LINE_BREAKS, *HUGE] if shard == min(CHOSEN_SHARDS) else [])
    for value in values:
        outcomes = through_every_door(hostile_doors, value, team, target, item)
        failures += problems(value, outcomes, expected=str)
        accepted += sum(outcome.stored is not None for outcome in outcomes)
        refused += sum(outcome.status in (400, 413) for outcome in outcomes)
        if "\x00" in value:  # NUL is refused by every door that stores text
            stored_doors = [o for o in outcomes if o.door.split()[0] in ("api", "web") and o.field != "q"]
            failures += [f"{o.door} {o.field}: NUL got {o.status}" for o in stored_doors
                         if o.status != 400 and o.door not in ("web similar", "api alertmanager")]  # fmt: skip
    assert failures == [], "\n".join(failures)
    assert accepted > 5000 // SHARDS  # the doors really stored most values
    assert refused > 0 or not any("\x00" in value for value in values)  # and refused the NULs


def test_hostile_strings_with_redaction_on_store_the_redacted_text(hostile_doors, team, settings):
    settings.REDACTION_DEFAULT_POLICY = "redact"
    failures = []
    for value in blns():
        outcomes = [*d.api_incident_create(hostile_doors, value), *d.web_near_miss(hostile_doors, value, team.pk)]
        failures += problems(value, outcomes, expected=lambda text: redact_text(text)[0])
    assert failures == [], "\n".join(failures)


# --- Single-line fields and extreme dates ------------------------------------------------------------------

SINGLE_LINE_COLUMNS = [
    (Incident, "title"), (Incident, "external_id"), (ActionItem, "title"), (Release, "version"),
    (Release, "artifact_digest"), (Release, "commit_sha"), (Deployment, "external_id"),
]  # fmt: skip


def test_single_line_fields_never_store_a_control_character(hostile_doors, team, settings):
    """Every door, every string with a control character: titles, versions and ids are refused or kept clean."""
    settings.REDACTION_DEFAULT_POLICY = "off"
    target = IncidentFactory(team=team, status=Incident.Status.DRAFT)
    item = ActionItemFactory(incident=target)
    values = [*LINE_BREAKS, *(value for value in blns() if not is_single_line(value))]
    failures = []
    for value in values:
        failures += problems(value, through_every_door(hostile_doors, value, team, target, item), expected=str)
    for model, column in SINGLE_LINE_COLUMNS:
        dirty = [v for v in model.objects.values_list(column, flat=True) if not is_single_line(v)]
        failures += [f"{model.__name__}.{column} stored {value[:40]!r}" for value in dirty]
    assert failures == [], "\n".join(failures)
    assert len(values) >= 9  # the line breaks above and the strings of the list that hold a control character


EXTREME_TIMES = [
    "0001-01-01T00:00:00Z", "0001-01-01T00:00:00+23:59", "9999-12-31T23:59:59-23:59", "9999-12-31T23:59:59Z",
    "1969-12-31T23:59:59Z", "2101-01-01T00:00:00Z", "275760-09-13T00:00:00Z", "-0001-01-01T00:00:00Z",
    "2026-02-30T00:00:00Z", "2026-13-01T00:00:00Z", "0000-01-01T00:00:00Z",
]  # fmt: skip
EXTREME_DAYS = ["0001-01-01", "9999-12-31", "1969-12-31", "2101-01-01", "2026-02-30", "0000-00-00"]
EXTREME_WEEKS = ["0001-W01", "9999-W52", "1969-W52", "2101-W01", "2026-W54", "0000-W00"]


def _extreme_date_requests(doors: d.Doors, incident: Incident, team) -> list[tuple[str, object]]:
    tool, person, service = doors.tool, doors.person, doors.service_slug
    sent = []
    for value in EXTREME_TIMES:
        sent += [
            (
                f"api incident create started_at={value}",
                tool.post("/api/v1/incidents/", {"kind": "incident", "title": "Old", "started_at": value}),
            ),
            (
                f"api incident create resolved_at={value}",
                tool.post("/api/v1/incidents/", {"kind": "incident", "title": "Old", "resolved_at": value}),
            ),
            (
                f"api incident timeline at={value}",
                tool.post(
                    "/api/v1/incidents/",
                    {"kind": "incident", "title": "Old", "timeline": [{"at": value, "text": "x"}]},
                ),
            ),
            (
                f"api deployment deployed_at={value}",
                tool.post(
                    "/api/v1/deployments/",
                    {
                        "service": service,
                        "version": "9.9",
                        "environment": "prod",
                        "status": "succeeded",
                        "deployed_at": value,
                    },
                ),
            ),
            (
                f"api deployment filter deployed_from={value}",
                tool.get("/api/v1/deployments/", {"deployed_from": value}),
            ),
            (
                f"web near-miss started_at={value}",
                person.post(
                    "/near-misses/new/",
                    {
                        "title": "Old",
                        "summary": "x",
                        "caught_by": "luck",
                        "team": team.pk,
                        "environment": Environment.objects.get(slug="staging").pk,
                        "started_at": value[:16],
                    },
                ),
            ),
        ]
    for value in EXTREME_DAYS:
        sent += [
            (
                f"api action item due_date={value}",
                tool.post(
                    "/api/v1/action-items/", {"incident": incident.reference, "title": "x", "due_date": value}
                ),
            ),
            (f"api list started_from={value}", tool.get("/api/v1/incidents/", {"started_from": value})),
            (f"web list started_to={value}", person.get("/incidents/", {"started_to": value})),
        ]
    for value in EXTREME_WEEKS:
        sent += [
            (f"api report {value}", tool.get(f"/api/v1/reports/{value}/")),
            (f"web report {value}", person.get(f"/reports/{value}/organisation/")),
        ]  # fmt: skip
    return sent


def test_extreme_dates_get_a_clear_answer_and_store_nothing(hostile_doors, team):
    incident = IncidentFactory(team=team, status=Incident.Status.DRAFT)
    before = (Incident.objects.count(), Deployment.objects.count(), ActionItem.objects.count())
    sent = _extreme_date_requests(hostile_doors, incident, team)
    failures = [f"{what}: {response.status_code}" for what, response in sent if response.status_code >= 500]
    assert failures == [], "\n".join(failures)
    assert (Incident.objects.count(), Deployment.objects.count(), ActionItem.objects.count()) == before
    assert sum(response.status_code == 400 for _, response in sent) > len(sent) // 2
