"""Managing a team's chat channels through its doors: the leads' page, the API, the admin. The URL is a secret:
it is validated on the way in and never shown back in full."""

from __future__ import annotations

import pytest
from django.test import Client

from incidents.models import ChatWebhook, Membership, OutboxMessage
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

SLACK_URL = "https://hooks.slack.com/services/T0000000/B0000000/FAKEfakeFAKEfake1234"
TEAMS_URL = (
    "https://prod-23.westeurope.logic.azure.com:443/workflows/abc/triggers/manual/paths/invoke?sig=FAKE9876"
)
PAGE = "/teams/payments/chat/"


def _set(client, kind: str, url: str):
    return client.post(PAGE, {"kind": kind, "action": "set", "url": url})


# --- The leads' page -----------------------------------------------------------------------------------------


def test_a_lead_sets_both_channels_and_sees_them_masked(client, lead, team):
    client.force_login(lead)
    assert _set(client, "slack", SLACK_URL).status_code == 302
    assert _set(client, "teams", TEAMS_URL).status_code == 302
    assert dict(ChatWebhook.objects.values_list("kind", "url")) == {"slack": SLACK_URL, "teams": TEAMS_URL}
    page = client.get(PAGE)
    html = page.content.decode()
    assert page.status_code == 200 and page["Cache-Control"] == "no-store"
    assert "hooks.slack.com/…1234" in html and "prod-23.westeurope.logic.azure.com:443/…9876" in html
    assert "FAKEfakeFAKEfake" not in html and "sig=FAKE" not in html
    assert "Active" in html


def test_the_token_page_links_each_led_team_to_its_chat_page(client, lead):
    client.force_login(lead)
    assert f'href="{PAGE}"' in client.get("/tokens/").content.decode()


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("http://hooks.slack.com/services/T/B/x", "Use an https:// URL."),
        ("https://hooks.slack.com.evil.example/services/T/B/x", "is not a Slack webhook host"),
        ("https://user:pw@hooks.slack.com/services/T/B/x", "no user name or password"),
        ("https://hooks.slack.com:8443/services/T/B/x", "no port"),
        ("hooks.slack.com/services", "Give a full URL"),
        ("https://hooks.slack.com/" + "x" * 2000, "at most 2000 characters"),
    ],
)
def test_a_bad_url_is_a_form_error_naming_the_url(client, lead, url, complaint):
    client.force_login(lead)
    response = _set(client, "slack", url)
    assert response.status_code == 400
    assert any(complaint in error for error in response.context["form"].errors["url"])
    assert not ChatWebhook.objects.exists()


@pytest.mark.parametrize(
    "url", [SLACK_URL, "https://evillogic.azure.com/workflows/x", "https://logic.azure.com.evil.example/workflows/x",
            "https://logic.azure.com/workflows/x"],
)  # fmt: skip
def test_a_teams_url_must_be_on_a_teams_host(client, lead, url):
    client.force_login(lead)
    response = _set(client, "teams", url)
    assert response.status_code == 400
    assert "is not a Microsoft Teams webhook host" in response.context["form"].errors["url"][0]


def test_the_default_teams_hosts_take_workflows_and_connector_urls(client, lead):
    client.force_login(lead)
    for url in (
        TEAMS_URL,
        "https://contoso.webhook.office.com/webhookb2/abc@def/IncomingWebhook/123/456",
        "https://default123.45.environment.api.powerplatform.com:443/powerautomate/automations/x",
    ):
        assert _set(client, "teams", url).status_code == 302, url
        assert ChatWebhook.objects.get(kind="teams").url == url


def test_a_lead_re_enables_tests_and_clears_a_channel(client, lead, team):
    hook = ChatWebhook.objects.create(team=team, kind="slack", url=SLACK_URL, consecutive_failures=5,
                                      disabled_reason="5 posts in a row failed")  # fmt: skip
    ChatWebhook.objects.filter(pk=hook.pk).update(disabled_at=hook.created_at)
    client.force_login(lead)
    assert "Disabled" in client.get(PAGE).content.decode()
    assert client.post(PAGE, {"kind": "slack", "action": "enable"}).status_code == 302
    hook.refresh_from_db()
    assert hook.active and hook.consecutive_failures == 0
    assert client.post(PAGE, {"kind": "slack", "action": "test"}).status_code == 302
    assert OutboxMessage.objects.get(handler="chat_post").payload == {"webhook_id": hook.pk, "post": "test"}
    assert client.post(PAGE, {"kind": "slack", "action": "clear"}).status_code == 302
    assert not ChatWebhook.objects.exists()
    missing = client.post(PAGE, {"kind": "slack", "action": "test"})
    assert missing.status_code == 400
    assert missing.context["form"].errors["kind"] == ["Set this channel's webhook URL first."]


def test_replacing_a_url_starts_the_webhook_afresh(client, lead, team):
    ChatWebhook.objects.create(
        team=team, kind="slack", url=SLACK_URL, consecutive_failures=4, last_error="HTTP 500"
    )
    client.force_login(lead)
    _set(client, "slack", SLACK_URL.replace("1234", "5678"))
    hook = ChatWebhook.objects.get()
    assert (hook.url.endswith("5678"), hook.consecutive_failures, hook.last_error) == (True, 0, "")


def test_only_the_teams_leads_and_admins_manage_its_channels(client, reporter, outsider, admin_user, other_team):
    other_lead = MembershipFactory(
        user=UserFactory(username="olga"), team=other_team, role=Membership.Role.LEAD
    ).user
    for person, status in ((reporter, 403), (outsider, 403), (other_lead, 403), (admin_user, 200)):
        client.force_login(person)
        assert client.get(PAGE).status_code == status, person
        assert _set(client, "slack", SLACK_URL).status_code == (302 if status == 200 else 403), person
    assert ChatWebhook.objects.count() == 1  # the admin's
    client.logout()
    assert client.get(PAGE)["Location"].startswith("/accounts/login/")
    assert client.get("/teams/nowhere/chat/").status_code == 302  # signed out first, before any lookup


def test_an_unknown_team_is_not_found(client, lead):
    client.force_login(lead)
    assert client.get("/teams/nowhere/chat/").status_code == 404


def test_the_page_refuses_a_post_without_its_csrf_token(lead):
    client = Client(enforce_csrf_checks=True)
    client.force_login(lead)
    assert _set(client, "slack", SLACK_URL).status_code == 403
    assert not ChatWebhook.objects.exists()


# --- The API ----------------------------------------------------------------------------------------------------

API = "/api/v1/teams/payments/chat/slack/"


def test_the_teams_write_token_sets_reads_and_clears_a_channel_masked(writer):
    saved = writer.client.put(API, {"url": SLACK_URL}, format="json")
    assert saved.status_code == 200, saved.content
    assert saved.json()["url_masked"] == "hooks.slack.com/…1234" and saved.json()["active"] is True
    assert "url" not in saved.json() and "FAKEfake" not in saved.content.decode()
    read = writer.get(API)
    assert read.status_code == 200 and read.json()["kind"] == "slack" and "FAKEfake" not in read.content.decode()
    assert writer.client.delete(API).status_code == 204
    assert writer.get(API).status_code == 404
    assert writer.client.delete(API).status_code == 404


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        ({"url": "https://evil.example/services/T/B/x"}, "is not a Slack webhook host"),
        ({"url": "http://hooks.slack.com/services/T/B/x"}, "Use an https:// URL."),
        ({"url": 5}, "Must be a string."),
        ({}, "This field is required."),
        ({"url": "https://hooks.slack.com/" + "x" * 2000}, "no more than 2000 characters"),
    ],
)
def test_a_bad_url_is_a_400_naming_url(writer, body, complaint):
    response = writer.client.put(API, body, format="json")
    assert response.status_code == 400
    assert any(complaint in message for message in response.json()["url"]), response.json()
    assert not ChatWebhook.objects.exists()


def test_other_tokens_and_people_cannot_manage_the_channel(reader, other_writer, client, reporter, lead, team):
    ChatWebhook.objects.create(team=team, kind="slack", url=SLACK_URL)
    assert reader.get(API).status_code == 403
    assert reader.client.put(API, {"url": SLACK_URL}, format="json").status_code == 403
    assert other_writer.get(API).status_code == 403
    assert other_writer.client.put(API, {"url": SLACK_URL}, format="json").status_code == 403
    assert other_writer.client.delete(API).status_code == 403
    client.force_login(reporter)
    assert client.get(API).status_code == 403
    client.force_login(lead)  # a lead reads it in the API (masked); writes are for tokens
    assert (
        client.get(API).status_code == 200
        and client.put(API, {"url": SLACK_URL}, content_type="application/json").status_code == 403
    )
    assert ChatWebhook.objects.get().url == SLACK_URL


def test_an_unknown_kind_or_team_is_a_404(writer):
    assert writer.get("/api/v1/teams/payments/chat/irc/").status_code == 404
    assert writer.get("/api/v1/teams/nowhere/chat/slack/").status_code == 404


# --- The admin ------------------------------------------------------------------------------------------------


def test_the_admin_lists_webhooks_masked_and_read_only(client, admin_user, team):
    hook = ChatWebhook.objects.create(team=team, kind="slack", url=SLACK_URL)
    client.force_login(admin_user)
    listing = client.get("/admin/incidents/chatwebhook/").content.decode()
    assert "hooks.slack.com/…1234" in listing and "FAKEfake" not in listing
    change = client.get(f"/admin/incidents/chatwebhook/{hook.pk}/change/").content.decode()
    assert "FAKEfake" not in change
    assert client.get("/admin/incidents/chatwebhook/add/").status_code == 403
