"""Regressions found by a hostile review of the receivers, the outbound webhooks and the importer: each test
states the behaviour that holds (each failed before its fix)."""

# ruff: noqa: F811 - the webhook fixtures are imported from tests/webhooks/conftest.py and used by name

from __future__ import annotations

import copy
import datetime as dt
import io
import ipaddress
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from incidents import egress
from incidents.api import examples as ex
from incidents.api.receivers.pagerduty import pagerduty_signature
from incidents.audit import acting_as
from incidents.models import Incident, Membership, WebhookDelivery, WebhookSubscription
from incidents.policies import viewer_for_user
from incidents.services import action_item_create, hook_create, incident_create, near_miss_report
from incidents.services import webhooks as webhook_services
from tests.factories import ActionItemFactory, MembershipFactory, NearMissFactory, UserFactory
from tests.receivers.conftest import Sender, _fresh_throttle_counts  # noqa: F401 - each test counts its writes
from tests.webhooks.conftest import deliver_all, receiver, subscribe  # noqa: F401 - the local subscriber

pytestmark = pytest.mark.django_db


def pagerduty_sign(secret: str, body: bytes) -> dict[str, str]:
    return {"X-PagerDuty-Signature": pagerduty_signature(secret, body)}


def pagerduty_sender(team, secret: str) -> Sender:
    with acting_as(label="test"):
        created = hook_create(source="pagerduty", name=f"PagerDuty of {team.slug}", team=team, secret=secret)
    return Sender(created, pagerduty_sign)


@pytest.fixture
def other_lead(other_team):
    return MembershipFactory(user=UserFactory(username="pia"), team=other_team, role=Membership.Role.LEAD).user


# --- Receivers ---------------------------------------------------------------------------------------------------


def test_one_pagerduty_event_delivered_to_two_teams_hooks_is_recorded_for_each_team(team, other_team):
    """Two teams subscribe to the same PagerDuty account, each with its own hook: PagerDuty sends each subscription
    the same event (the same event id). The delivery ids are deduplicated per source, not per hook, so the second
    team's copy is answered 'already received' and never becomes its triage item."""
    payments = pagerduty_sender(team, "payments-pagerduty-signing-secret")
    platform = pagerduty_sender(other_team, "platform-pagerduty-signing-secret")
    body = copy.deepcopy(ex.PAGERDUTY_TRIGGERED)

    first = payments.post(body)
    assert first.status_code == 200 and len(first.json()["created"]) == 1

    second = platform.post(body)
    assert second.status_code == 200, second.json()
    assert "detail" not in second.json(), second.json()  # "Delivery … already received." (another team's)
    assert len(second.json()["created"]) == 1
    assert Incident.objects.filter(team=other_team).count() == 1


# --- Outbound webhooks: where they may go ---------------------------------------------------------------------

EMBEDDED_PRIVATE = [
    "https://[64:ff9b::a00:1]/hook",  # NAT64 of 10.0.0.1
    "https://[64:ff9b::a9fe:a9fe]/latest/meta-data/",  # NAT64 of 169.254.169.254
    "https://[2002:a9fe:a9fe::1]/hook",  # 6to4 of 169.254.169.254
    "https://[::7f00:1]/hook",  # IPv4-compatible 127.0.0.1
    "https://[::ffff:0:a00:1]/hook",  # IPv4-translated 10.0.0.1
    "https://[2001:0:4136:e378:8000:63bf:f5ff:fffe]/hook",  # Teredo, client 10.0.0.1
    "https://[fec0::1]/hook",  # site-local
    "https://192.0.0.8/hook",  # IETF protocol assignments
]


@pytest.mark.parametrize("address", ["8.8.8.8", "2001:4860:4860::8888", "2002:808:808::1"])
def test_public_addresses_stay_allowed(address):
    assert egress.allowed_address(ipaddress.ip_address(address), allowed=[])


@pytest.mark.parametrize("url", EMBEDDED_PRIVATE)
def test_an_ipv6_address_that_embeds_a_private_ipv4_address_is_refused_on_the_teams_page(
    url, client, lead, settings
):
    settings.WEBHOOK_ALLOW_HTTP = False
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    client.force_login(lead)
    response = client.post("/teams/payments/webhooks/", {"name": "Relay", "url": url})
    assert response.status_code == 400, f"{url} was accepted"
    assert "not a public address" in response.content.decode()
    assert not WebhookSubscription.objects.exists()


def test_a_subscription_url_with_non_ascii_characters_never_leaves_a_delivery_sending(
    client,
    lead,
    team,
    receiver,
):
    """http.client sends the request line as ASCII: a path typed with 'é' makes egress.post raise (its contract:
    never raises), the delivery stays 'sending' and is taken back every 10 minutes, for ever, with nothing on the
    lead's page. The URL should be refused when saved, or sent percent-encoded."""
    client.force_login(lead)
    response = client.post("/teams/payments/webhooks/", {"name": "Café", "url": receiver.url("/café")})
    if response.status_code == 400:
        return  # refused when saved: the behaviour wanted
    assert response.status_code == 302
    incident_create(actor=viewer_for_user(lead), team=team, kind=Incident.Kind.INCIDENT, title="Checkout down",
                    status=Incident.Status.DRAFT, started_at=dt.datetime(2026, 3, 1, tzinfo=dt.UTC))  # fmt: skip
    deliver_all()  # raises UnicodeEncodeError today
    delivery = WebhookDelivery.objects.get()
    assert delivery.status != WebhookDelivery.Status.SENDING


# --- Outbound webhooks: confidential near-misses --------------------------------------------------------------


def test_an_action_item_of_a_confidential_near_miss_assigned_to_another_team_is_not_sent_to_that_team(
    subscribe,
    receiver,
    admin_user,
    reporter,
    lead,
    other_lead,
    team,
    other_team,
    staging,
):
    """An admin lets the platform team's subscription include *its own team's* confidential near-misses. A lead of
    payments assigns an action item of a payments confidential near-miss to platform: platform's leads cannot see
    the near-miss (nor the action item), yet platform's URL is sent its reference and title."""
    subscribe(admin_user, other_team, "/platform", include_confidential=True)
    filing = near_miss_report(reporter=reporter, team=team, title="Token nearly pushed to a public repo",
                              summary="A hook stopped it.", environment=staging,
                              caught_by=Incident.CaughtBy.AUTOMATED_CHECK, confidential=True)  # fmt: skip
    action_item_create(
        actor=viewer_for_user(lead), incident=filing.incident, title="Rotate the token", team=other_team
    )
    deliver_all()
    sent = receiver.payloads("/platform")
    assert [payload["type"] for payload in sent] == [], [payload["data"] for payload in sent]


def test_confidential_action_items_do_not_take_the_places_of_a_subscriptions_overdue_events(
    subscribe,
    receiver,
    lead,
    team,
    monkeypatch,
):
    """The daily overdue run reads its candidates in batches (here of 1) of the items the subscription hears of:
    a confidential near-miss's overdue items neither take the places of others nor stop the run short."""
    monkeypatch.setattr(webhook_services, "OVERDUE_BATCH", 1)
    today = dt.date(2026, 3, 18)
    subscription = subscribe(lead, team, "/team", event_types=["action_item.overdue"])
    WebhookSubscription.objects.filter(pk=subscription.pk).update(overdue_checked_on=today - dt.timedelta(days=4))
    secret = NearMissFactory(team=team, confidential=True, status=Incident.Status.DRAFT)
    public = NearMissFactory(team=team)
    ActionItemFactory(incident=secret, title="Rotate the token", due_date=today - dt.timedelta(days=3))
    seen = ActionItemFactory(incident=public, title="Alert on queue depth", due_date=today - dt.timedelta(days=2))
    also = ActionItemFactory(incident=public, title="Page the owner", due_date=today - dt.timedelta(days=1))

    assert webhook_services.webhook_overdue_enqueue(today=today) == 2

    queued = WebhookDelivery.objects.filter(subscription=subscription).values_list("reference", flat=True)
    assert sorted(reference["action_item_id"] for reference in queued) == sorted([seen.pk, also.pk])


# --- The importer -------------------------------------------------------------------------------------------------


def _zipped(members: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "front_matter",
    ["date: 2021-02-30", "date: 0000-01-01", "date: 2021-01-01 10:00:00 +99:00", "date: " + "9" * 5000,
     "date: 2021-01-01\ntimeline:\n  - at: 2021-02-30\n    text: paged"],
    ids=["no-such-day", "year-0", "offset-99h", "5000-digit-number", "timeline-no-such-day"],
)  # fmt: skip
def test_a_front_matter_value_yaml_cannot_build_is_a_problem_of_its_file_not_a_500(
    front_matter, client, admin_user, team
):
    """PyYAML's safe loader raises a bare ValueError (not a YAMLError) for a timestamp that is no date, an offset
    of a day or more, or an integer past Python's digit limit: the admin page answers 500 (and the command
    stops) for the whole upload, instead of listing the one file among the problems."""
    client.force_login(admin_user)
    content = _zipped({
        "2021-03-04-db.md": "---\ntitle: Database failover\n---\nThe primary failed over.\n",
        "2021-03-05-bad.md": f"---\ntitle: Bad date\n{front_matter}\n---\nText.\n",
    })  # fmt: skip
    upload = SimpleUploadedFile("postmortems.zip", content, content_type="application/zip")
    response = client.post("/admin/incidents/incident/import/", {
        "upload": upload, "team": team.pk, "format": "", "mappings": "", "status": "draft",
    })  # fmt: skip
    assert response.status_code == 200
    page = response.content.decode()
    assert "2021-03-05-bad.md" in page and "Failed (1)" in page
    assert Incident.objects.filter(title="Database failover").exists()


def test_a_team_has_at_most_max_subscriptions(client, lead, team, settings):
    """Each event fans out to every subscription: without a cap a lead turns one filing into a flood."""
    settings.WEBHOOK_ALLOW_HTTP = True
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    client.force_login(lead)
    for number in range(webhook_services.MAX_SUBSCRIPTIONS):
        response = client.post("/teams/payments/webhooks/", {"name": f"n{number}", "url": "http://127.0.0.1:9/x"})
        assert response.status_code == 302, response.content.decode()[:300]
    refused = client.post("/teams/payments/webhooks/", {"name": "one more", "url": "http://127.0.0.1:9/x"})
    assert refused.status_code == 400
    assert "at most 20 subscriptions" in refused.content.decode()
    assert WebhookSubscription.objects.filter(team=team).count() == webhook_services.MAX_SUBSCRIPTIONS
