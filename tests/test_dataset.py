"""Masked copies: export with people pseudonymized and text redacted, import into an empty instance."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
import time_machine
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db.models import Count

from incidents.dataset import RULES, export_dataset, import_dataset, unruled_models
from incidents.demo import seed_demo
from incidents.models import (
    ActionItem,
    ConfidentialReporter,
    Incident,
    IncidentCause,
    IncidentRevision,
    Membership,
    Team,
    TimelineEntry,
)
from incidents.reports.selectors import report_data
from incidents.reports.weeks import Week
from tests.factories import ActionItemFactory, IncidentFactory, NearMissFactory, TimelineEntryFactory, UserFactory

pytestmark = pytest.mark.django_db

IDENTIFYING = [
    "mquince",
    "Mirabel Quince",
    "quince",
    "mquince@corp.example",
    "10.1.2.3",
    "AKIAIOSFODNN7EXAMPLE",
    "hunter2",
]


@pytest.fixture
def data(team, reporter):
    with time_machine.travel(dt.datetime(2026, 11, 26, 9, tzinfo=dt.UTC), tick=False):
        seed_demo(incidents=150, weeks=6, seed=3)
    mirabel = UserFactory(
        username="mquince", email="mquince@corp.example", first_name="Mirabel", last_name="Quince"
    )
    Membership.objects.create(user=mirabel, team=team, role="lead")
    incident = IncidentFactory(
        team=team, reporter=mirabel, title="Mirabel Quince restarted the primary",
        summary="mquince ran a script from 10.1.2.3 with key AKIAIOSFODNN7EXAMPLE",
        body="Mail mquince@corp.example; db postgres://app:hunter2@db/app",
    )  # fmt: skip
    TimelineEntryFactory(incident=incident, text="mquince paged quince's phone")
    IncidentRevision.objects.create(
        incident=incident, version=1, author=mirabel, title="Mirabel Quince's first draft",
        body="key AKIAIOSFODNN7EXAMPLE from 10.1.2.3", status="draft",
    )  # fmt: skip
    ActionItemFactory(incident=incident, owner=mirabel, title="Mirabel to rotate AKIAIOSFODNN7EXAMPLE")
    hidden = NearMissFactory(team=team, confidential=True)
    ConfidentialReporter.objects.create(incident=hidden, user=reporter, receipt_hash="a" * 64)
    return mirabel


def fingerprint() -> dict:
    """The shape a report is computed from: counts by week, kind, severity, status, place, cause and gate."""
    return {
        "incidents": sorted(
            Incident.objects.values_list(
                "kind",
                "number",
                "severity",
                "status",
                "environment__slug",
                "caught_by",
                "team__slug",
                "started_at",
                "detected_at",
                "mitigated_at",
                "resolved_at",
                "confidential",
            )
        ),
        "causes": sorted(
            IncidentCause.objects.values_list("incident__number", "incident__kind", "cause__slug", "gate")
        ),
        "items": sorted(
            ActionItem.objects.values_list(
                "incident__number", "status", "due_date", "created_at", "completed_at", "owner_id", "team_id"
            )
        ),
        "per_week": sorted(
            Incident.objects.values_list("started_at__week", "kind")
            .annotate(n=Count("id"))
            .values_list("started_at__week", "kind", "n")
        ),
        "timeline": TimelineEntry.objects.count(),
    }


def wipe() -> None:
    for label in reversed(list(RULES)):
        apps.get_model(label).objects.all().delete()


def round_trip(masked: bool = True) -> str:
    stream = io.StringIO()
    export_dataset(stream, masked=masked)
    wipe()
    import_dataset(io.StringIO(stream.getvalue()))
    return stream.getvalue()


def test_every_model_has_an_export_rule():
    assert unruled_models() == []


def reports() -> list[dict]:
    """Every week's organisation and team reports over the seeded span, as the copy would compute them."""
    teams = [None, *Team.objects.order_by("slug")]
    computed = []
    for week in Week.containing(dt.date(2026, 11, 26)).window(8):
        for team in teams:
            data = report_data(week=week, team=team)
            data.pop("generated_at")
            if data["archive_pick"]:
                data["archive_pick"] = data["archive_pick"]["number"]  # its title is redacted on the copy
            computed.append(data)
    return computed


def test_masked_round_trip_keeps_the_shape_and_leaves_nothing_identifying(data, team):
    before, reports_before = fingerprint(), reports()
    exported = round_trip()
    assert fingerprint() == before
    assert reports() == reports_before
    assert sum(n or 0 for r in reports_before for n in r["counts"]["near_misses"]) > 0
    unmasked_dump = io.StringIO()
    export_dataset(unmasked_dump, masked=False)
    for text in (exported, unmasked_dump.getvalue()):
        for needle in IDENTIFYING:
            assert needle.lower() not in text.lower(), needle
    assert not ConfidentialReporter.objects.exclude(user=None).exists()


def test_the_same_person_gets_the_same_pseudonym_everywhere(data):
    mirabel_pk = data.pk
    round_trip()
    alias = get_user_model().objects.get(pk=mirabel_pk).username
    assert alias.startswith("person-")
    incident = Incident.objects.get(reporter_id=mirabel_pk, kind="incident", source="web")
    assert incident.title == f"{alias} restarted the primary"
    assert incident.summary == f"{alias} ran a script from [ip] with key [secret]"
    assert incident.timeline.get().text == f"{alias} paged {alias}'s phone"
    assert ActionItem.objects.get(owner_id=mirabel_pk).title == f"{alias} to rotate [secret]"
    assert incident.body_html == f"<p>Mail {alias}; db postgres://app:[secret]@db/app</p>"


def test_masked_people_cannot_log_in_and_keep_their_roles(data, client):
    round_trip()
    user = get_user_model().objects.get(pk=data.pk)
    assert not user.has_usable_password()
    assert user.email.endswith("@example.invalid")
    assert Membership.objects.get(user=user).role == "lead"


def test_unmasked_round_trip_is_a_faithful_copy(data):
    before = fingerprint()
    round_trip(masked=False)
    assert fingerprint() == before
    assert get_user_model().objects.get(pk=data.pk).username == "mquince"


def test_import_refuses_a_non_empty_instance_and_foreign_files(data, tmp_path):
    target = tmp_path / "copy.json"
    call_command("export_dataset", str(target), "--masked", stderr=io.StringIO())
    with pytest.raises(CommandError, match="empty instance"):
        call_command("import_dataset", str(target))
    (tmp_path / "other.json").write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(CommandError, match="not a Hindsight data set"):
        call_command("import_dataset", str(tmp_path / "other.json"))
    (tmp_path / "broken.json").write_text("{nope")
    with pytest.raises(CommandError, match="not JSON"):
        call_command("import_dataset", str(tmp_path / "broken.json"))
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("import_dataset", str(tmp_path / "missing.json"))
    assert Incident.objects.count() > 150
