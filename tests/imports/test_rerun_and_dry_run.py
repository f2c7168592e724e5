"""Running an import again creates nothing; a --map that now resolves tags adds those causes and nothing else;
a dry run writes nothing."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from incidents.models import (
    AuditEntry,
    ChatWebhook,
    Incident,
    IncidentRevision,
    OutboxMessage,
    WebhookDelivery,
    WebhookSubscription,
)
from incidents.services import api_token_create
from tests.factories import IncidentFactory
from tests.imports.conftest import JEKYLL_POST, imported, write

pytestmark = pytest.mark.django_db

SLACK_URL = "https://hooks.slack.com/services/T0000000/B0000000/FAKEfakeFAKEfake0000"


@pytest.fixture
def folder(tmp_path):
    return write(tmp_path / "repo", {
        "2021-03-04-db-failover.md": JEKYLL_POST,
        "2021-05-01-pool.md": "---\ntitle: Connection pool exhausted\ntags: [db-failover, pool-size]\n---\nText.\n",
    })  # fmt: skip


def test_running_the_same_import_again_creates_nothing(catalogue, folder, run_import):
    run_import(folder)
    before = {item.pk: (item.version, item.body) for item in imported()}
    audit_entries = AuditEntry.objects.count()

    again = run_import(folder)

    assert {item.pk: (item.version, item.body) for item in imported()} == before
    assert AuditEntry.objects.count() == audit_entries
    assert "0 created:" in again and "2 already imported:" in again
    assert "db-failover (2)" in again  # still unknown: the admin can still map them


def test_a_map_that_resolves_tags_adds_those_causes_to_items_already_imported(catalogue, folder, run_import):
    run_import(folder)
    pool = Incident.objects.get(title="Connection pool exhausted")
    body, version = pool.body, pool.version

    again = run_import(
        folder, "--map", "tag:db-failover=untested-rollback", "--map", "tag:pool-size=Capacity limit"
    )

    pool.refresh_from_db()
    assert sorted(pool.causes.values_list("slug", flat=True)) == ["capacity-limit", "untested-rollback"]
    assert pool.body == body and pool.version == version + 1  # only the causes changed
    jekyll = Incident.objects.get(title="Checkout outage after the database failover")
    assert sorted(jekyll.causes.values_list("slug", flat=True)) == ["missing-check", "untested-rollback",
                                                                     "weak-monitoring"]  # fmt: skip
    assert "2 updated (causes added):" in again and "Causes added: untested-rollback, capacity-limit." in again
    assert "Unknown tags" not in again
    assert len(imported()) == 2
    assert "2 already imported:" in run_import(folder, "--map", "tag:db-failover=untested-rollback",
                                               "--map", "tag:pool-size=capacity-limit")  # fmt: skip


def test_a_tag_mapped_to_nothing_is_dropped(catalogue, folder, run_import):
    run = run_import(folder, "--map", "tag:db-failover=", "--map", "tag:POOL-SIZE=")

    assert all("Imported tags" not in item.body for item in imported())
    assert "Unknown tags" not in run


def test_a_dry_run_writes_nothing_and_says_what_it_would_do(catalogue, folder, run_import):
    WebhookSubscription.objects.create(name="Jira", team=catalogue, url="https://jira.example/hook")
    existing = IncidentFactory(team=catalogue)
    counts = (Incident.objects.count(), AuditEntry.objects.count(), IncidentRevision.objects.count(),
              OutboxMessage.objects.count(), WebhookDelivery.objects.count())  # fmt: skip

    run = run_import(folder, "--dry-run", "--status", "published")

    assert (Incident.objects.count(), AuditEntry.objects.count(), IncidentRevision.objects.count(),
            OutboxMessage.objects.count(), WebhookDelivery.objects.count()) == counts  # fmt: skip
    assert run.output.startswith("Dry run: nothing was written.")
    assert "2 would be created:" in run
    assert "2021-03-04-db-failover.md: Checkout outage after the database failover" in run  # no number yet
    assert IncidentFactory(team=catalogue).number == existing.number + 1  # no number was used up


def test_an_import_tells_no_one_unless_asked(catalogue, folder, run_import, lead, mailoutbox):
    """Imported postmortems are history: no leads' mail, chat post or webhook event for each of hundreds."""
    WebhookSubscription.objects.create(name="Jira", team=catalogue, url="https://jira.example/hook")
    ChatWebhook.objects.create(team=catalogue, kind=ChatWebhook.Kind.SLACK, url=SLACK_URL)
    run_import(folder, "--status", "published")

    assert set(item.status for item in imported()) == {Incident.Status.PUBLISHED}
    assert len(imported()) == 2
    assert OutboxMessage.objects.count() == 0 and WebhookDelivery.objects.count() == 0
    assert mailoutbox == []


def test_announce_sends_what_filing_and_publishing_send(catalogue, folder, run_import, lead, mailoutbox):
    WebhookSubscription.objects.create(name="Jira", team=catalogue, url="https://jira.example/hook")
    ChatWebhook.objects.create(team=catalogue, kind=ChatWebhook.Kind.SLACK, url=SLACK_URL)
    run_import(folder, "--status", "published", "--announce")

    assert set(item.status for item in imported()) == {Incident.Status.PUBLISHED}
    assert WebhookDelivery.objects.filter(event_type="postmortem.published").count() == 2
    assert WebhookDelivery.objects.filter(event_type="incident.created").count() == 2
    handlers = list(OutboxMessage.objects.values_list("handler", flat=True))
    assert handlers.count("incident_filed") == 2  # the leads' mail of each
    assert "chat_post" in handlers  # the SEV2 one is posted in the team's channel


def test_the_same_file_for_another_team_is_another_item(catalogue, other_team, folder, run_import):
    run_import(folder)
    run_import(folder, team="platform")

    assert sorted(item.team.slug for item in imported()) == ["payments", "payments", "platform", "platform"]


def test_a_tool_cannot_post_under_the_import_source(catalogue, tmp_path, run_import):
    run_import(write(tmp_path, {"2021-05-01-pool.md": "# Connection pool exhausted\n"}))
    _, raw = api_token_create(name="ci", team=catalogue, scope="write")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    response = client.post("/api/v1/incidents/", {"kind": "incident", "title": "Overwrite", "source": "import",
                           "external_id": "payments:2021-05-01-pool.md"}, format="json")  # fmt: skip

    assert response.status_code == 400 and "reserved" in str(response.json()["source"])
    assert [item.title for item in imported()] == ["Connection pool exhausted"]
