"""Sending: the Standard Webhooks headers, retries on the schedule (time is moved, never slept), replays with the
same webhook-id, disabling after failures and on 410 Gone with the leads told, and the delivery log's housekeeping."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.conf import settings as django_settings
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from config.celery import app
from incidents.models import Incident, WebhookDelivery, WebhookSubscription
from incidents.policies import viewer_for_user
from incidents.services import webhooks as webhook_services
from tests.factories import IncidentFactory
from tests.webhooks.conftest import deliver_all

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 3, 18, 9, 0, tzinfo=dt.UTC)
Status = WebhookDelivery.Status


@pytest.fixture
def hook(subscribe, lead, team) -> WebhookSubscription:
    return subscribe(lead, team, "/hook")


def _test_event(subscription: WebhookSubscription, user) -> WebhookDelivery:
    return webhook_services.webhook_test_send(actor=viewer_for_user(user), subscription=subscription)


def test_each_request_is_signed_as_standard_webhooks_says(hook, lead, receiver):
    with time_machine.travel(T0, tick=False):
        delivery = _test_event(hook, lead)
        deliver_all()
    (request,) = receiver.at("/hook")
    assert request.problem == ""  # Webhook.verify accepted it
    headers = request.headers
    assert headers["webhook-id"] == delivery.webhook_id and headers["webhook-id"].startswith("msg_")
    assert headers["webhook-timestamp"] == str(int(T0.timestamp()))
    assert headers["webhook-signature"].startswith("v1,")
    assert headers["content-type"] == "application/json"
    assert request.payload["type"] == "webhook.test" and request.payload["data"]["subscription"] == "hook"
    assert hook.secret.startswith("whsec_") and len(hook.secret) == len("whsec_") + 44
    with time_machine.travel(T0, tick=False):
        # A changed body, another secret or another id does not verify.
        with pytest.raises(WebhookVerificationError):
            Webhook(hook.secret).verify(request.raw.replace(b"hook", b"evil"), headers)
        with pytest.raises(WebhookVerificationError):
            Webhook("whsec_" + "A" * 43 + "=").verify(request.raw, headers)
        with pytest.raises(WebhookVerificationError):
            Webhook(hook.secret).verify(request.raw, {**headers, "webhook-id": "msg_other"})
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (Status.DELIVERED, 1, 204)
    hook.refresh_from_db()
    assert hook.last_success_at == T0 and hook.consecutive_failures == 0


def test_a_receiver_that_does_not_know_the_secret_refuses_and_the_attempt_counts_as_failed(hook, lead, receiver):
    receiver.secrets["/hook"] = "whsec_" + "B" * 43 + "="
    _test_event(hook, lead)
    deliver_all()
    delivery = WebhookDelivery.objects.get()
    assert receiver.at("/hook")[0].problem and delivery.last_status_code == 401
    assert delivery.status == Status.PENDING and delivery.next_attempt_at is not None


def test_a_failing_receiver_is_retried_on_the_schedule_then_given_up(hook, lead, receiver):
    receiver.answer("/hook", 500, "boom")
    waits = django_settings.WEBHOOK_RETRY_SCHEDULE
    with time_machine.travel(T0, tick=False) as clock:
        delivery = _test_event(hook, lead)
        deliver_all()
        for attempt, wait in enumerate(waits, start=1):
            delivery.refresh_from_db()
            assert (delivery.status, delivery.attempts) == (Status.PENDING, attempt)
            assert delivery.next_attempt_at == timezone.now() + dt.timedelta(seconds=wait)
            assert (delivery.last_status_code, delivery.last_error) == (500, "HTTP 500: boom")
            clock.shift(dt.timedelta(seconds=wait - 1))
            assert webhook_services.webhook_retries_send() == 0  # not due yet
            clock.shift(dt.timedelta(seconds=1))
            assert webhook_services.webhook_retries_send() == 1
            assert webhook_services.webhook_retries_send() == 0  # claimed: a second poll queues nothing
            deliver_all()
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == (Status.FAILED, len(waits) + 1, None)
    requests = receiver.at("/hook")
    assert len(requests) == len(waits) + 1
    assert {request.webhook_id for request in requests} == {delivery.webhook_id}  # one delivery, one id
    stamps = [int(request.headers["webhook-timestamp"]) for request in requests]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)  # each attempt signs its own time
    assert [request.problem for request in requests] == [""] * len(requests)
    hook.refresh_from_db()
    assert (hook.consecutive_failures, hook.active, hook.last_error) == (1, True, "HTTP 500: boom")


def test_a_receiver_that_recovers_gets_the_delivery_and_the_count_is_reset(hook, lead, receiver):
    receiver.answer("/hook", 503)
    with time_machine.travel(T0, tick=False) as clock:
        _test_event(hook, lead)
        deliver_all()
        receiver.answer("/hook", 200, "thanks")
        clock.shift(dt.timedelta(seconds=5))
        webhook_services.webhook_retries_send()
        deliver_all()
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_error) == (Status.DELIVERED, 2, "")
    hook.refresh_from_db()
    assert hook.last_success_at is not None and hook.consecutive_failures == 0


def test_repeated_failed_deliveries_disable_the_subscription_and_tell_each_lead(
    hook, lead, team, receiver, settings, mailoutbox
):
    from tests.factories import MembershipFactory, UserFactory

    second = MembershipFactory(user=UserFactory(username="lena"), team=team, role="lead").user
    settings.WEBHOOK_RETRY_SCHEDULE = [1]
    settings.WEBHOOK_MAX_FAILURES = 2
    receiver.answer("/hook", 503, "down")
    with time_machine.travel(T0, tick=False) as clock:
        for _ in range(3):
            _test_event(hook, lead)
        deliver_all()
        clock.shift(dt.timedelta(seconds=1))
        webhook_services.webhook_retries_send()
        deliver_all()
    hook.refresh_from_db()
    assert not hook.active and "2 deliveries in a row failed every attempt" in hook.disabled_reason
    statuses = [delivery.status for delivery in WebhookDelivery.objects.order_by("pk")]
    assert statuses == [Status.FAILED] * 3  # the third was pending: it fails with the subscription
    assert len(receiver.at("/hook")) == 5  # 3 first attempts, 2 retries; nothing for the third once disabled
    assert sorted(mail.to[0] for mail in mailoutbox) == sorted([lead.email, second.email])
    body = mailoutbox[0].body
    assert "/teams/payments/webhooks/" in body and hook.masked_url in body and hook.url not in body
    assert "“hook” of Payments is disabled" in mailoutbox[0].subject
    # Disabled, it receives nothing more.
    IncidentFactory(team=team)
    webhook_services.webhook_incident_filed(incident=Incident.objects.get())
    assert WebhookDelivery.objects.count() == 3


def test_410_gone_disables_at_once(hook, lead, receiver, mailoutbox):
    receiver.answer("/hook", 410, "this hook was deleted")
    _test_event(hook, lead)
    deliver_all()
    hook.refresh_from_db()
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (Status.FAILED, 1, 410)
    assert not hook.active and "410" in hook.disabled_reason
    assert [mail.to for mail in mailoutbox] == [[lead.email]]


def test_an_organisation_subscription_that_is_disabled_tells_the_admins(subscribe, admin_user, lead, receiver,
                                                                       mailoutbox):  # fmt: skip
    everything = subscribe(admin_user, None, "/all")
    receiver.answer("/all", 410)
    _test_event(everything, admin_user)
    deliver_all()
    assert [mail.to for mail in mailoutbox] == [[admin_user.email]]
    assert f"/admin/incidents/webhooksubscription/{everything.pk}/" in mailoutbox[0].body


def test_enabling_again_before_the_mail_is_sent_sends_no_mail(hook, lead, receiver, mailoutbox):
    receiver.answer("/hook", 410)
    _test_event(hook, lead)
    from incidents.models import OutboxMessage
    from incidents.outbox import outbox_process

    outbox_process(message_id=OutboxMessage.objects.get(handler="webhook_deliver").pk)
    webhook_services.webhook_subscription_switch(actor=viewer_for_user(lead), subscription=hook, active=True)
    deliver_all()
    assert mailoutbox == []
    hook.refresh_from_db()
    assert hook.active and hook.consecutive_failures == 0


def test_a_slow_receiver_times_out_and_the_attempt_is_retried(hook, lead, receiver):
    receiver.answer("/hook", 204, delay=1.5)
    _test_event(hook, lead)
    deliver_all()
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == Status.PENDING and delivery.last_status_code is None
    assert delivery.last_error == "no answer within 0.5 s"
    assert delivery.last_duration_ms < 1400


def test_a_redirect_is_not_followed(hook, lead, receiver):
    receiver.answer("/hook", 302)
    _test_event(hook, lead)
    deliver_all()
    assert [request.path for request in receiver.requests] == ["/hook"]  # never /elsewhere
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.last_status_code) == (Status.PENDING, 302)


def test_only_the_start_of_a_long_answer_is_read(hook, lead, receiver):
    receiver.answer("/hook", 500, "x" * 200_000)
    _test_event(hook, lead)
    deliver_all()
    error = WebhookDelivery.objects.get().last_error
    assert error.startswith("HTTP 500: xxx") and len(error) <= 300


def test_sending_again_replays_the_same_webhook_id_and_body(hook, lead, admin_user, receiver):
    with time_machine.travel(T0, tick=False):
        delivery = _test_event(hook, lead)
        deliver_all()
        assert webhook_services.webhook_delivery_send_again(actor=viewer_for_user(admin_user), delivery=delivery)
        deliver_all()
    first, again = receiver.at("/hook")
    assert first.webhook_id == again.webhook_id == delivery.webhook_id
    assert first.raw == again.raw and again.problem == ""
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (Status.DELIVERED, 1)
    # A receiver that keeps the ids it handled sees a replay, and can answer 2xx doing nothing.
    assert len({request.webhook_id for request in receiver.at("/hook")}) == 1


def test_an_attempt_whose_worker_died_is_taken_back(hook, lead, receiver):
    delivery = _test_event(hook, lead)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=Status.SENDING, last_attempt_at=timezone.now() - dt.timedelta(minutes=9)
    )
    assert webhook_services.webhook_retries_send() == 0  # maybe still running
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=2), tick=False):
        assert webhook_services.webhook_retries_send() == 1
        deliver_all()
    delivery.refresh_from_db()
    assert delivery.status == Status.DELIVERED and len(receiver.at("/hook")) == 1


def test_the_payload_is_read_when_it_is_sent(hook, team, receiver):
    incident = IncidentFactory(team=team, title="First title", status=Incident.Status.DRAFT)
    webhook_services.webhook_incident_filed(incident=incident)
    Incident.objects.filter(pk=incident.pk).update(title="Corrected title")
    deliver_all()
    assert receiver.payloads("/hook")[0]["data"]["title"] == "Corrected title"
    gone = IncidentFactory(team=team, status=Incident.Status.DRAFT)
    webhook_services.webhook_incident_filed(incident=gone)
    gone.delete()
    deliver_all()
    skipped = WebhookDelivery.objects.get(status=Status.SKIPPED)
    assert skipped.last_error == "What the event is about no longer exists." and len(receiver.requests) == 1


def test_the_purge_forgets_old_finished_deliveries_only(hook, lead, receiver, settings):
    settings.WEBHOOK_DELIVERY_RETENTION_DAYS = 30
    old, recent, waiting = (_test_event(hook, lead) for _ in range(3))
    long_ago = timezone.now() - dt.timedelta(days=31)
    WebhookDelivery.objects.filter(pk=old.pk).update(created_at=long_ago, status=Status.DELIVERED)
    WebhookDelivery.objects.filter(pk=waiting.pk).update(created_at=long_ago)  # still pending: kept
    assert webhook_services.webhook_deliveries_purge() == 1
    assert set(WebhookDelivery.objects.values_list("pk", flat=True)) == {recent.pk, waiting.pk}


def test_the_beat_schedule_sends_retries_and_purges_the_log():
    schedule = django_settings.CELERY_BEAT_SCHEDULE
    assert schedule["webhook-retries"]["schedule"] == django_settings.WEBHOOK_RETRY_POLL_SECONDS
    for entry in ("webhook-retries", "purge-webhook-deliveries"):
        assert schedule[entry]["task"] in app.tasks
