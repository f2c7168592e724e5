"""CSV and JSON: a Jira export, a Confluence table, a JSON list, and Hindsight's own exports imported back."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from incidents.models import Incident, IncidentCause
from tests.factories import IncidentFactory, NearMissFactory, TimelineEntryFactory, cause, environment
from tests.imports.conftest import imported, write

pytestmark = pytest.mark.django_db

UTC = dt.UTC

# Jira Cloud's "Export Excel CSV (all fields)", trimmed: a byte order mark, one column per label and component,
# descriptions in Jira's wiki markup spanning lines, dates as dd/MMM/yy h:mm a.
JIRA_EXPORT = (
    "\ufeffSummary,Issue key,Issue id,Issue Type,Status,Priority,Assignee,Reporter,Created,Resolved,"
    "Component/s,Component/s,Labels,Labels,Labels,Description,Environment\n"
    "Checkout 502s after the ledger deploy,INC-101,10101,Incident,Done,Highest,Ana,Bo,04/Mar/21 2:05 PM,"
    '04/Mar/21 2:43 PM,Checkout API,Ledger,postmortem,missing-check,db-failover,"h2. What happened\n'
    'Ledger 4.2 changed a response field that checkout parsed.\n\nh2. Follow-ups\n* add a contract test",'
    "production\n"
    "Search slow for EU customers,INC-102,10102,Incident,Done,Medium,Ana,Bo,11/Oct/22 9:00 AM,,,,"
    'weak-monitoring,,,"Latency graphs were there, but nothing alerted.",staging\n'
    "Row whose date is not one,INC-103,10103,Incident,Done,Low,Ana,Bo,yesterday,,,,,,,,\n"
)
# A Confluence page-properties report exported to CSV (semicolons, as a spreadsheet in many locales saves it).
CONFLUENCE_TABLE = (
    "Title;Incident date;Severity;Services;Root cause category;Summary;Page URL\n"
    "Payment webhook retries stormed;2022-08-17;High;checkout-api;Capacity limit;"
    "Retries from the gateway doubled the load.;https://acme.atlassian.net/wiki/spaces/SRE/pages/123\n"
    ";17 Aug 2022;sev4;;;A cron job ran twice.\n"
)


def test_a_jira_export_is_read_with_jiras_columns(catalogue, tmp_path, run_import):
    run = run_import(write(tmp_path, {"jira.csv": JIRA_EXPORT}) / "jira.csv")

    first, second = imported()
    assert (first.title, first.external_id, first.severity) == (
        "Checkout 502s after the ledger deploy",
        "payments:INC-101",
        "sev1",
    )
    assert first.started_at == dt.datetime(2021, 3, 4, 14, 5, tzinfo=UTC)
    assert first.resolved_at == dt.datetime(2021, 3, 4, 14, 43, tzinfo=UTC)
    assert [service.slug for service in first.services.all()] == ["checkout-api"]  # ledger: another team's
    assert list(first.causes.values_list("slug", flat=True)) == ["missing-check"]
    assert first.body.startswith("## What happened\nLedger 4.2 changed")  # Jira's h2. made a Markdown heading
    assert first.body.endswith("Imported tags: postmortem, db-failover")
    assert first.environment.slug == "prod"
    assert (second.severity, second.environment.slug, second.resolved_at) == ("sev3", "staging", None)
    # The first row spans lines 2 to 6, so the third row is on line 8.
    assert "jira.csv:8: started_at: 'yesterday' is not a date or time this import understands" in run
    assert "db-failover (1)" in run and "postmortem (1)" in run


def test_a_confluence_table_is_read_with_the_generic_columns(catalogue, tmp_path, run_import):
    run = run_import(write(tmp_path, {"postmortems.csv": CONFLUENCE_TABLE}) / "postmortems.csv")

    storm, cron = imported()
    assert storm.title == "Payment webhook retries stormed" and storm.severity == "sev2"
    assert storm.summary == "Retries from the gateway doubled the load."
    assert list(storm.causes.values_list("slug", flat=True)) == ["capacity-limit"]
    assert "Imported from: <https://acme.atlassian.net/wiki/spaces/SRE/pages/123>" in storm.body
    assert storm.external_id.startswith("payments:sha256:")  # no key column: a hash of the row
    assert cron.title == "A cron job ran twice." and cron.started_at == dt.datetime(2022, 8, 17, tzinfo=UTC)
    assert "title: taken from the summary's first line." in run


def test_map_names_the_columns_of_an_unusual_table(catalogue, tmp_path, run_import):
    table = "What,When,Factors,Ticket\nDisk filled with debug logs,2023-05-02T08:00:00Z,manual change,OPS-9\n"
    path = write(tmp_path, {"odd.csv": table}) / "odd.csv"
    run = run_import(path, "--map", "title=What", "--map", "date=When", "--map", "causes=Factors",
                     "--map", "key=Ticket")  # fmt: skip

    item = imported()[0]
    assert (item.title, item.external_id) == ("Disk filled with debug logs", "payments:OPS-9")
    assert list(item.causes.values_list("slug", flat=True)) == ["manual-change"]
    assert "1 created" in run
    missing = run_import(path, "--map", "title=Headline")
    assert "odd.csv:1: --map title=Headline: the header has no column 'Headline'." in missing


def test_a_json_list_of_objects(catalogue, tmp_path, run_import):
    items = [
        {"title": "Cache stampede after restart", "date": "2021-07-01T12:00:00+02:00", "severity": "critical",
         "tags": ["capacity-limit", "thundering-herd"], "body": "## Timeline\n\nAll nodes restarted at once."},
        {"id": 7, "name": "Alert fired but nobody looked", "started_at": "2021-08-02", "sev": "P4"},
        "not an object",
        {"title": "No date"},
    ]  # fmt: skip
    run = run_import(write(tmp_path, {"items.json": json.dumps(items, indent=2)}) / "items.json")

    stampede, alert = imported()
    assert stampede.started_at == dt.datetime(2021, 7, 1, 10, tzinfo=UTC) and stampede.severity == "sev1"
    assert stampede.body.startswith("## Timeline") and stampede.body.endswith("Imported tags: thundering-herd")
    assert (alert.title, alert.external_id, alert.severity) == (
        "Alert fired but nobody looked",
        "payments:7",
        "sev4",
    )
    assert "items.json[3]: Not an object." in run
    assert "items.json[4]: No start date" in run


def test_invalid_json_is_reported_with_its_line(catalogue, tmp_path, run_import):
    run = run_import(write(tmp_path, {"broken.json": '[\n  {"title": "a",\n  "date": }\n]'}) / "broken.json")

    assert "broken.json:3: Not valid JSON: Expecting value." in run
    assert run.error is not None  # nothing could be read


def test_hindsight_api_export_round_trips(catalogue, service, lead, client, tmp_path, run_import):
    source = IncidentFactory(
        team=catalogue, title="Checkout errors after deploy", summary="Some payments failed.", trigger="Deploy 4.2",
        severity="sev2", environment=environment("prod"), caught_by="monitoring_alert", services=[service],
        body="## What happened\n\nThe new client sent an empty currency.",
        resolved_at=dt.datetime(2026, 1, 5, 12, tzinfo=UTC), started_at=dt.datetime(2026, 1, 5, 10, tzinfo=UTC),
    )  # fmt: skip
    IncidentCause.objects.create(
        incident=source, cause=cause("missing-check"), note="No contract test.", gate="ci"
    )
    TimelineEntryFactory(incident=source, at=dt.datetime(2026, 1, 5, 10, 5, tzinfo=UTC), text="Alert fired.")
    NearMissFactory(team=catalogue, confidential=True, title="Key nearly leaked")
    client.force_login(lead)
    detail = client.get(f"/api/v1/incidents/{source.reference}/").json()
    page = client.get("/api/v1/incidents/").json()
    page["results"] = [detail, *(item for item in page["results"] if item["reference"] != source.reference)]
    run = run_import(write(tmp_path, {"hindsight.json": json.dumps(page)}) / "hindsight.json")

    copy = Incident.objects.get(source="import")
    assert copy.external_id == f"payments:{source.reference}" and copy.pk != source.pk
    for name in ("title", "summary", "trigger", "severity", "environment", "caught_by", "started_at",
                 "resolved_at", "body", "kind"):  # fmt: skip
        assert getattr(copy, name) == getattr(source, name), name
    assert list(copy.services.all()) == [service]
    assert list(copy.incident_causes.values_list("cause__slug", "note", "gate")) == [
        ("missing-check", "No contract test.", "ci")
    ]
    assert list(copy.timeline.values_list("at", "text")) == [
        (dt.datetime(2026, 1, 5, 10, 5, tzinfo=UTC), "Alert fired.")
    ]
    assert "Confidential near-misses are not imported" in run.section("1 failed")


def test_hindsight_csv_export_round_trips(catalogue, service, lead, client, tmp_path, run_import):
    source = IncidentFactory(
        team=catalogue, title="-1 balance shown", severity="sev3", environment=environment("staging"),
        caught_by="manual_testing", services=[service], causes=["weak-monitoring"],
        started_at=dt.datetime(2026, 2, 3, 8, 30, tzinfo=UTC),
    )  # fmt: skip
    NearMissFactory(team=catalogue, title="Migration would have locked orders", caught_by="code_review",
                    started_at=dt.datetime(2026, 2, 4, 9, tzinfo=UTC))  # fmt: skip
    client.force_login(lead)
    export = client.get("/incidents/export.csv").content.decode()
    run = run_import(write(tmp_path, {"incidents.csv": export}) / "incidents.csv")

    copy = Incident.objects.get(source="import", external_id=f"payments:{source.reference}")
    assert copy.title == "-1 balance shown"  # the export's formula guard is taken off again
    assert (copy.severity, copy.environment.slug, copy.caught_by) == ("sev3", "staging", "manual_testing")
    assert copy.started_at == source.started_at
    assert list(copy.services.all()) == [service]
    assert list(copy.causes.values_list("slug", flat=True)) == ["weak-monitoring"]
    near_miss = Incident.objects.get(source="import", kind=Incident.Kind.NEAR_MISS)
    assert (near_miss.title, near_miss.caught_by) == ("Migration would have locked orders", "code_review")
    assert "2 created" in run


def test_fields_past_the_models_limits_fail_and_one_line_fields_lose_control_characters(
    catalogue, tmp_path, run_import
):
    long_title = "T" * 250
    table = (
        "Title,Date,Body\n"
        f"{long_title},2023-01-01,Fine\n"
        "Right\u202etxt.exe\u0007 spoof,2023-01-02,Fine\n"
        f"Huge body,2023-01-03,{'b' * 200_001}\n"
    )
    run = run_import(write(tmp_path, {"limits.csv": table}) / "limits.csv")

    assert "limits.csv:2: title: Ensure this value has at most 200 characters (it has 250)." in run
    assert "limits.csv:4: body: Keep this to at most 200000 characters (it has 200001)." in run
    assert [item.title for item in imported()] == ["Right txt.exe spoof"]
