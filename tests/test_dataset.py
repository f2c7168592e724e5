"""Masked copies: export with people pseudonymized and text redacted, import into an empty instance."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from pathlib import Path

import pytest
import time_machine
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db.models import Count

from incidents.dataset import (
    RULES,
    Drop,
    Keep,
    Mask,
    Rule,
    export_dataset,
    import_dataset,
    rules_table,
    unruled_models,
)
from incidents.demo import seed_demo
from incidents.models import (
    ActionItem,
    ConfidentialReporter,
    Deployment,
    Incident,
    IncidentCause,
    IncidentRevision,
    Membership,
    Release,
    Team,
    TimelineEntry,
)
from incidents.selectors.reports import report_data
from incidents.weeks import Week
from tests.factories import (
    ActionItemFactory,
    DeploymentFactory,
    IncidentFactory,
    NearMissFactory,
    ReleaseFactory,
    TimelineEntryFactory,
    UserFactory,
)

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
        seed_demo(incidents=60, weeks=4, seed=3)
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
    before = fingerprint()
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
    assert fingerprint() == before and Incident.objects.count() > 60


# --- Every field of every exported model has a declared treatment -----------------------------------------

LEAK = "run-by-alice@example.com"


def exported_models() -> list[str]:
    """Walked independently of the export: every model of the app and the user model, minus those left home."""
    labels = [model._meta.label_lower for model in apps.get_app_config("incidents").get_models()]
    return [label for label in ["auth.user", *labels] if not RULES[label].skip]


@pytest.mark.parametrize("label", exported_models())
def test_every_field_of_an_exported_model_is_declared_kept_masked_or_dropped(label):
    rule = RULES[label]
    for model_field in apps.get_model(label)._meta.get_fields():
        if not model_field.concrete:
            continue  # reverse relations: the other model's rows carry them
        treatment = rule.fields.get(model_field.name)
        assert isinstance(treatment, Keep | Mask | Drop), f"{label}.{model_field.name} has no treatment"
        explanation = treatment.how if isinstance(treatment, Mask) else treatment.reason
        assert explanation.strip(), f"{label}.{model_field.name} does not say why or how"


def test_the_export_refuses_to_run_with_an_undeclared_field_and_names_it(monkeypatch, tmp_path):
    fields = dict(RULES["incidents.deployment"].fields)
    del fields["external_id"]
    monkeypatch.setitem(RULES, "incidents.deployment", Rule(fields))
    target = tmp_path / "copy.json"
    with pytest.raises(CommandError, match=r"incidents\.deployment\.external_id"):
        call_command("export_dataset", str(target), "--masked", stderr=io.StringIO())
    assert not target.exists()


def _leaky_rows(team, service) -> None:
    """The identifier fields that neither redaction on the way in nor the old export touched, holding an address."""
    release = ReleaseFactory(
        service=service, version=LEAK, artifact_digest=f"sha256:{LEAK}", commit_sha=LEAK,
        url=f"https://ci.example.com/{LEAK}",
    )  # fmt: skip
    DeploymentFactory(release=release, source=LEAK, external_id=LEAK, gates={LEAK: "passed"})
    incident = IncidentFactory(team=team, source=LEAK, external_id=LEAK)
    ActionItemFactory(incident=incident, ticket_url=f"https://tickets.example.com/{LEAK}")


def export_masked(tmp_path) -> str:
    target = tmp_path / "copy.json"
    call_command("export_dataset", str(target), "--masked", stderr=io.StringIO())
    return target.read_text()


def test_identifiers_carrying_an_address_leave_nothing_of_it_in_the_masked_copy(team, service, tmp_path):
    _leaky_rows(team, service)
    exported = export_masked(tmp_path)
    assert "alice" not in exported.lower()
    rows = {label: rows for label, rows in json.loads(exported)["models"].items()}
    release = rows["incidents.release"][0]["fields"]
    deployment = rows["incidents.deployment"][0]["fields"]
    incident = rows["incidents.incident"][0]["fields"]
    masked = {
        "Release.version": release["version"],
        "Release.artifact_digest": release["artifact_digest"],
        "Release.commit_sha": release["commit_sha"],
        "Release.url": release["url"],
        "Deployment.source": deployment["source"],
        "Deployment.external_id": deployment["external_id"],
        "Deployment gate name": next(iter(deployment["gates"])),
        "Incident.source": incident["source"],
        "Incident.external_id": incident["external_id"],
        "ActionItem.ticket_url": rows["incidents.actionitem"][0]["fields"]["ticket_url"],
    }
    for name, value in masked.items():
        assert "example.com" not in value and value, name
    assert deployment["gates"] == {masked["Deployment gate name"]: "passed"}


@pytest.mark.parametrize(
    "field_name",
    ["version", "artifact_digest", "commit_sha", "url", "deployment_external_id", "incident_external_id"],
)
def test_each_identifier_with_an_address_is_masked_on_export(team, service, tmp_path, field_name):
    value = f"https://ci.example.com/{LEAK}" if field_name == "url" else LEAK
    release = ReleaseFactory(service=service)
    if field_name in {"version", "artifact_digest", "commit_sha", "url"}:
        setattr(release, field_name, value)
        release.save()
    elif field_name == "deployment_external_id":
        DeploymentFactory(release=release, source="github", external_id=value)
    else:
        IncidentFactory(team=team, source="alertmanager", external_id=value)
    assert "alice" in json.dumps(_unmasked(), default=str)
    assert "alice" not in export_masked(tmp_path)


def _unmasked() -> dict:
    stream = io.StringIO()
    export_dataset(stream, masked=False)
    return json.loads(stream.getvalue())


def test_masked_identifiers_keep_their_shape_joins_and_uniqueness(team, service, tmp_path):
    sha = "3f786850e387550fdab836ed7e6dc881de23001b"
    first = ReleaseFactory(service=service, version="1.2.3", commit_sha=sha, artifact_digest=f"sha256:{'ab' * 32}")
    ReleaseFactory(service=service, version="1.2.4", commit_sha=sha)
    DeploymentFactory(release=first, source="github", external_id="hook1/42")
    IncidentFactory(team=team, source="incident-bot", external_id="hook1/42")
    target = tmp_path / "copy.json"
    call_command("export_dataset", str(target), "--masked", stderr=io.StringIO())
    wipe()
    call_command("import_dataset", str(target), stdout=io.StringIO())

    versions = sorted(Release.objects.values_list("version", flat=True))
    assert len(set(versions)) == 2 and "1.2.3" not in versions
    assert all(re.fullmatch(r"\d\.\d\.\d-[0-9a-f]{16}", version) for version in versions)
    shas = set(Release.objects.values_list("commit_sha", flat=True))
    assert len(shas) == 1 and sha not in shas and re.fullmatch(r"[0-9a-f]{40}", shas.pop())
    digest = Release.objects.get(pk=first.pk).artifact_digest
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest) and "ab" * 32 not in digest
    deployment, incident = Deployment.objects.get(), Incident.objects.get()
    assert deployment.external_id == incident.external_id != "hook1/42"
    assert (deployment.source, incident.source[:4]) == ("github", "src-")


def test_the_data_hygiene_doc_lists_every_field_as_the_export_treats_it():
    doc = (Path(__file__).resolve().parents[1] / "docs" / "data-hygiene.md").read_text()
    table = doc.split("<!-- rules table: start -->\n", 1)[1].split("<!-- rules table: end -->", 1)[0]
    assert table == rules_table(), (
        "regenerate the table in docs/data-hygiene.md from incidents.dataset.rules_table()"
    )
