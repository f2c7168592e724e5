"""E-mail digests: who gets them, what they say, once per person and week, and unsubscribing without logging in."""

from __future__ import annotations

import pytest
from django.core import mail
from django.urls import reverse

from incidents.models import DigestDelivery, OutboxMessage
from incidents.outbox import MAX_ATTEMPTS
from incidents.services.reports import (
    digest_message,
    digest_send,
    digest_subscribers,
    digest_subscription_set,
    digests_send,
    report_generate,
    unsubscribe_token,
)
from incidents.weeks import Week
from tests.factories import UserFactory
from tests.reports.conftest import REPORT_WEEK

pytestmark = pytest.mark.django_db
WEEK = Week.parse(REPORT_WEEK)


@pytest.fixture
def reports(golden, team, other_team, settings):
    settings.SITE_URL = "https://hindsight.example.com"
    report_generate(week=WEEK, team=None)
    report_generate(week=WEEK, team=team)
    report_generate(week=WEEK, team=other_team)


def test_leads_are_subscribed_by_default_and_others_opt_in(lead, reporter, outsider, digest_reader):
    assert list(digest_subscribers()) == [lead]
    digest_subscription_set(user=digest_reader, subscribed=True)
    digest_subscription_set(user=lead, subscribed=False)
    assert list(digest_subscribers()) == [digest_reader]


def test_digest_has_key_numbers_changes_attention_and_links_in_html_and_text(reports, lead, golden):
    assert digest_send(user=lead, week=WEEK) is True
    (message,) = mail.outbox
    assert message.subject == "Hindsight weekly trend report 2026-W01" and message.to == [lead.email]
    html = message.alternatives[0][0]
    for body in (message.body, html):
        assert "Payments" in body and "Organisation" in body and "Platform" not in body
        assert "Near-miss share" in body and "50%" in body  # the payments team: 3 of 6
        assert "Incidents rose from 1 to 3." in body
        assert "Rising cause: Missing check (3 this week, 1 in the 12 before)." in body
        assert "2 action items overdue." in body
        assert f"{golden['I1'].reference}: Missing check on Checkout API came back" in body
        assert "https://hindsight.example.com/reports/2026-W01/team:payments/" in body
        assert "https://hindsight.example.com/reports/unsubscribe/" in body
    assert message.extra_headers["List-Unsubscribe"].startswith(
        "<https://hindsight.example.com/reports/unsubscribe/"
    )


def test_each_lead_gets_each_weeks_digest_once(reports, lead):
    assert digests_send(week=WEEK) == 1
    assert digests_send(week=WEEK) == 0
    assert len(mail.outbox) == 1
    assert DigestDelivery.objects.get(user=lead).status == DigestDelivery.Status.SENT


def test_a_delivery_claimed_by_another_run_is_not_sent_again(reports, lead):
    DigestDelivery.objects.create(user=lead, week_start=WEEK.monday)  # another worker is sending it
    assert digest_send(user=lead, week=WEEK) is False
    assert mail.outbox == []


def test_a_failed_send_is_retried_by_the_next_run(reports, lead, monkeypatch):
    def refuse(self, fail_silently=False):
        raise OSError("mail server down")

    monkeypatch.setattr("django.core.mail.EmailMultiAlternatives.send", refuse)
    with pytest.raises(Exception, match="could not be sent"):
        digests_send(week=WEEK)
    assert DigestDelivery.objects.get(user=lead).status == DigestDelivery.Status.FAILED
    monkeypatch.undo()
    assert digests_send(week=WEEK) == 1
    assert len(mail.outbox) == 1


def test_no_digest_without_a_ready_report(golden, lead):
    assert digest_send(user=lead, week=WEEK) is False
    assert not DigestDelivery.objects.exists() and mail.outbox == []


def test_unsubscribe_link_works_without_logging_in(client, lead):
    url = reverse("reports:unsubscribe", args=[unsubscribe_token(lead)])
    page = client.get(url)
    assert page.status_code == 200 and lead.email in page.content.decode()
    assert lead in digest_subscribers(), "opening the link alone unsubscribes nobody (mail scanners follow links)"
    assert client.post(url).status_code == 200
    assert lead not in digest_subscribers()


def test_a_forged_unsubscribe_link_is_refused(client, lead):
    token = unsubscribe_token(lead)[:-2] + "xx"
    response = client.post(reverse("reports:unsubscribe", args=[token]))
    assert response.status_code == 400 and "not valid" in response.content.decode()
    assert lead in digest_subscribers()


def test_anyone_can_subscribe_and_unsubscribe_on_the_settings_page(client, digest_reader, lead):
    client.force_login(digest_reader)
    url = reverse("reports:subscription")
    assert "You do not get the weekly digest" in client.get(url).content.decode()
    assert client.post(url, {"subscribed": "on"}).status_code == 302
    assert digest_reader in digest_subscribers()
    client.force_login(lead)
    client.post(url, {})
    assert lead not in digest_subscribers()
    assert "You do not get the weekly digest" in client.get(url).content.decode()


def test_an_admins_digest_says_which_follow_up_work_gave_up_and_nobody_elses_does(settings):
    OutboxMessage.objects.create(handler="incident_filed", payload={"incident_id": 1}, attempts=MAX_ATTEMPTS)
    OutboxMessage.objects.create(handler="incident_filed", payload={"incident_id": 2}, attempts=1)
    admin = UserFactory(username="root", email="root@example.com", is_superuser=True, is_staff=True)
    member = UserFactory(username="mia", email="mia@example.com")
    week = Week.parse("2026-W20")
    admin_mail = digest_message(user=admin, week=week, reports=[])
    member_mail = digest_message(user=member, week=week, reports=[])
    assert "1 follow-up message for incident_filed gave up" in admin_mail.body
    assert "gave_up=yes" in admin_mail.alternatives[0][0]
    assert "gave up" not in member_mail.body and "gave up" not in member_mail.alternatives[0][0]
