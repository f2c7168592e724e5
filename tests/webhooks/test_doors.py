"""The doors: the team's page /teams/<slug>/webhooks/ (its leads and admins), and the admin's subscriptions and
read-only delivery log (superusers)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from incidents.models import Membership, OutboxMessage, WebhookDelivery, WebhookSubscription
from tests.factories import MembershipFactory, UserFactory
from tests.webhooks.conftest import deliver_all

pytestmark = pytest.mark.django_db

PAGE = "/teams/payments/webhooks/"


@pytest.fixture
def other_lead(other_team):
    return MembershipFactory(user=UserFactory(username="pia"), team=other_team, role=Membership.Role.LEAD).user


@pytest.fixture
def staff():
    return UserFactory(username="stan", is_staff=True)


def _add(client, receiver, **extra):
    form = {"name": "Jira automation", "url": receiver.url("/jira/secret-path-TOKEN"), **extra}
    return client.post(PAGE, form)


def test_a_lead_adds_a_subscription_and_sees_its_secret_once(client, lead, team, receiver):
    client.force_login(lead)
    response = _add(client, receiver, event_types=["action_item.created", "action_item.closed"])
    assert response.status_code == 302 and response["Location"] == PAGE
    subscription = WebhookSubscription.objects.get()
    assert (subscription.team, subscription.created_by, subscription.include_confidential) == (team, lead, False)
    assert subscription.event_types == ["action_item.created", "action_item.closed"]
    shown = client.get(PAGE)
    page = shown.content.decode()
    assert shown["Cache-Control"] == "no-store"
    assert subscription.secret in page and "not shown again" in page
    assert subscription.masked_url in page and "secret-path-TOKEN" not in page
    again = client.get(PAGE).content.decode()
    assert subscription.secret not in again and "Jira automation" in again


@pytest.mark.parametrize(
    ("form", "field"),
    [({"name": "", "url": "https://93.184.215.14/"}, "name"), ({"name": "x", "url": ""}, "url"),
     ({"name": "Two\\nlines", "url": "https://93.184.215.14/"}, None),
     ({"name": "x", "url": "https://93.184.215.14/", "event_types": ["incident.deleted"]}, "event_types"),
     ({"name": "x" * 101, "url": "https://93.184.215.14/"}, "name"),
     ({"name": "x", "url": "https://93.184.215.14/" + "a" * 2000}, "url")],
)  # fmt: skip
def test_bad_input_is_a_form_error_naming_the_field(client, lead, form, field):
    form = {key: value.replace("\\n", "\n") if isinstance(value, str) else value for key, value in form.items()}
    client.force_login(lead)
    response = client.post(PAGE, form)
    assert response.status_code == 400
    assert response.context["form"].errors
    if field:
        assert field in response.context["form"].errors
    assert not WebhookSubscription.objects.exists()


def test_the_team_members_and_other_teams_leads_are_refused(client, reporter, other_lead, lead, team, receiver):
    client.force_login(lead)
    _add(client, receiver)
    mine = WebhookSubscription.objects.get()
    for person in (reporter, other_lead):
        client.force_login(person)
        assert client.get(PAGE).status_code == 403
        assert _add(client, receiver).status_code == 403
        assert client.post(f"{PAGE}{mine.pk}/", {"action": "delete"}).status_code == 403
    # Another team's subscription named under one's own team is not found.
    client.force_login(other_lead)
    assert client.post(f"/teams/platform/webhooks/{mine.pk}/", {"action": "delete"}).status_code == 404
    assert client.get("/teams/nowhere/webhooks/").status_code == 404
    assert WebhookSubscription.objects.count() == 1


def test_the_signed_out_and_tokens_are_sent_to_the_login_page(client, writer):
    assert client.get(PAGE)["Location"].startswith("/accounts/login/")
    response = client.get(PAGE, HTTP_AUTHORIZATION=f"Bearer {writer.raw}")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_a_lead_tests_disables_enables_and_deletes(client, lead, team, receiver):
    client.force_login(lead)
    _add(client, receiver)
    subscription = WebhookSubscription.objects.get()
    receiver.secrets["/jira/secret-path-TOKEN"] = subscription.secret
    act = f"{PAGE}{subscription.pk}/"
    assert client.post(act, {"action": "test"}).status_code == 302
    deliver_all()
    assert receiver.types("/jira/secret-path-TOKEN") == ["webhook.test"]
    assert client.post(act, {"action": "disable"}).status_code == 302
    subscription.refresh_from_db()
    assert not subscription.active and subscription.disabled_reason == "Disabled by leo."
    refused = client.post(act, {"action": "test"})
    assert refused.status_code == 400 and "Enable the subscription" in refused.content.decode()
    assert client.post(act, {"action": "enable"}).status_code == 302
    subscription.refresh_from_db()
    assert subscription.active
    page = client.get(PAGE).content.decode()
    assert "Last successful delivery" in page and "Send a test event" in page
    assert client.post(act, {"action": "delete"}).status_code == 302
    assert not WebhookSubscription.objects.exists() and not WebhookDelivery.objects.exists()
    assert client.post(act, {"action": "nonsense"}).status_code == 404  # gone


def test_an_unknown_action_is_a_400(client, lead, team, receiver):
    client.force_login(lead)
    _add(client, receiver)
    subscription = WebhookSubscription.objects.get()
    response = client.post(f"{PAGE}{subscription.pk}/", {"action": "explode"})
    assert response.status_code == 400 and "action" in response.context["action_form"].errors
    assert WebhookSubscription.objects.get().active


def test_an_admin_may_tick_include_confidential_on_the_page(client, admin_user, team, receiver):
    client.force_login(admin_user)
    assert "include_confidential" in client.get(PAGE).content.decode()
    assert _add(client, receiver, include_confidential="on").status_code == 302
    assert WebhookSubscription.objects.get().include_confidential


# --- The admin --------------------------------------------------------------------------------------------------


def test_an_admin_creates_an_organisation_subscription_in_the_admin(client, admin_user, receiver):
    client.force_login(admin_user)
    add = reverse("admin:incidents_webhooksubscription_add")
    refused = client.post(add, {"name": "Lake", "team": "", "url": "https://10.0.0.9/in"})
    assert refused.status_code == 200 and "not a public address" in refused.content.decode()
    response = client.post(add, {"name": "Lake", "team": "", "url": receiver.url("/lake"),
                                 "event_types": ["report.ready"], "include_confidential": "on"})  # fmt: skip
    assert response.status_code == 302
    subscription = WebhookSubscription.objects.get()
    assert (subscription.team, subscription.include_confidential, subscription.event_types) == (
        None, True, ["report.ready"],
    )  # fmt: skip
    shown = client.get(response["Location"]).content.decode()  # the page the creation leads to
    assert subscription.secret in shown and "not shown again" in shown
    change = client.get(reverse("admin:incidents_webhooksubscription_change", args=[subscription.pk]))
    assert change.status_code == 200 and subscription.secret not in change.content.decode()
    listing = client.get(reverse("admin:incidents_webhooksubscription_changelist")).content.decode()
    assert subscription.masked_url in listing and "/lake" not in listing.replace(subscription.masked_url, "")
    # The change form shows the URL masked too, and an empty URL field keeps it.
    page = change.content.decode()
    assert subscription.masked_url in page and subscription.url not in page
    edit = reverse("admin:incidents_webhooksubscription_change", args=[subscription.pk])
    saved = client.post(edit, {"name": "Lake house", "url": "", "event_types": ["report.ready"],
                               "include_confidential": "on"})  # fmt: skip
    assert saved.status_code == 302
    subscription.refresh_from_db()
    assert (subscription.name, subscription.url) == ("Lake house", receiver.url("/lake"))


def test_staff_who_are_not_superusers_see_no_subscription_or_delivery(client, staff, lead, team, receiver):
    client.force_login(lead)
    _add(client, receiver)
    client.force_login(staff)
    for name in ("webhooksubscription", "webhookdelivery"):
        assert client.get(reverse(f"admin:incidents_{name}_changelist")).status_code == 403


def test_the_delivery_log_shows_each_attempt_and_sends_again_with_the_same_id(client, admin_user, lead, team,
                                                                             receiver):  # fmt: skip
    client.force_login(lead)
    _add(client, receiver)
    subscription = WebhookSubscription.objects.get()
    receiver.secrets["/jira/secret-path-TOKEN"] = subscription.secret
    receiver.answer("/jira/secret-path-TOKEN", 500, "jira is down")
    client.post(f"{PAGE}{subscription.pk}/", {"action": "test"})
    deliver_all()
    delivery = WebhookDelivery.objects.get()
    client.force_login(admin_user)
    listing = client.get(reverse("admin:incidents_webhookdelivery_changelist"))
    assert listing.status_code == 200
    rows = listing.context["cl"].result_list
    assert [(row.event_type, row.status, row.attempts, row.last_status_code) for row in rows] == [
        ("webhook.test", "pending", 1, 500),
    ]  # fmt: skip
    detail = client.get(reverse("admin:incidents_webhookdelivery_change", args=[delivery.pk])).content.decode()
    assert "HTTP 500: jira is down" in detail and delivery.webhook_id in detail
    assert client.get(reverse("admin:incidents_webhookdelivery_add")).status_code == 403
    receiver.answer("/jira/secret-path-TOKEN", 204)
    sent = client.post(reverse("admin:incidents_webhookdelivery_changelist"),
                       {"action": "send_again", "_selected_action": [delivery.pk]})  # fmt: skip
    assert sent.status_code == 302
    assert OutboxMessage.objects.filter(handler="webhook_deliver", processed_at__isnull=True).count() == 1
    deliver_all()
    delivery.refresh_from_db()
    assert delivery.status == "delivered"
    assert {request.webhook_id for request in receiver.requests} == {delivery.webhook_id}
    assert len(receiver.requests) == 2
