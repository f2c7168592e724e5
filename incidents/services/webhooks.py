"""Outbound webhooks: Hindsight's events, POSTed to subscribers' URLs and signed as Standard Webhooks specifies.

When something happens (an item filed, a postmortem published, an action item created, closed or overdue, a
report ready), the service that did it calls one function here, in its own transaction. Each active subscription
that wants the event and may see what it is about (policies.may_receive_event) gets a delivery row and an outbox
message (`webhook_deliver`); a subscription that may not see it gets nothing at all, so a confidential near-miss
leaves no trace in what the others receive (docs/outbound-webhooks.md).

Each attempt of a delivery:
1. Claim it with a conditional UPDATE, so that one worker sends it.
2. Fail it when the subscription is disabled; skip it when what it is about is gone or no longer visible to the
   subscription. The payload is built now, from the item as it is.
3. Sign `id.timestamp.body` (standardwebhooks) and POST it through incidents/egress.py: checked addresses, no
   redirect followed, one deadline, a capped answer.
4. A 2xx answer: delivered, and the subscription's failure count is reset. 410 Gone: failed, and the subscription
   is disabled at once. Anything else: the next attempt waits for WEBHOOK_RETRY_SCHEDULE's next delay; after the
   last, the delivery has failed, and the WEBHOOK_MAX_FAILURES-th failed delivery in a row disables the
   subscription.
5. Disabling claims the subscription once, fails its pending deliveries and tells its team's leads (the admins,
   for an organisation subscription) by e-mail, one outbox message each.

The retries are handed to the outbox by a beat task (`webhook_retries_send`), which also takes back attempts
whose worker died; the webhook-id stays the same across every attempt and every "send again".
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from incidents import egress
from incidents.audit import audit_record
from incidents.mail import SUBJECT_LENGTH, header_text
from incidents.models import (
    SUBSCRIBABLE_EVENT_TYPES,
    ActionItem,
    Incident,
    Team,
    TrendReport,
    WebhookDelivery,
    WebhookEventType,
    WebhookSubscription,
)
from incidents.outbox import outbox_enqueue
from incidents.policies import (
    Viewer,
    may_let_webhooks_receive_confidential,
    may_manage_webhooks,
    may_receive_event,
    may_see_operations,
    require,
)
from incidents.selectors import webhooks as webhook_selectors
from incidents.selectors.webhooks import Subject, iso, receives

logger = logging.getLogger(__name__)

USER_AGENT = "Hindsight-Webhooks/1"
STUCK_AFTER = dt.timedelta(minutes=10)  # an attempt takes WEBHOOK_TIMEOUT (30 s at most): its worker died
POLL_BATCH = 500
MAX_SUBSCRIPTIONS = 20  # per team, and for the organisation: every event fans out to each of them
OVERDUE_BATCH = 500  # action items read at a time by the daily overdue run, per subscription
PURGE_BATCH = 5000
GONE = 410
FINISHED = (WebhookDelivery.Status.DELIVERED, WebhookDelivery.Status.FAILED, WebhookDelivery.Status.SKIPPED)
Status = WebhookDelivery.Status


def _cut(text: str, limit: int = 300) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


# --- Subscriptions: a lead's or an admin's writes ---------------------------------------------------------------


def webhook_url_check(url: str) -> str:
    """The URL, stripped, if events may be sent to it: https (http only where WEBHOOK_ALLOW_HTTP), no credentials
    in it, a host that resolves to public addresses only (or to WEBHOOK_ALLOWED_NETWORKS). ValidationError on
    `url`."""
    url = (url or "").strip()
    try:
        egress.check(url, allow_http=settings.WEBHOOK_ALLOW_HTTP, allowed=_allowed_networks())
    except egress.Refused as refused:
        raise ValidationError({"url": str(refused)}) from None
    return url


def _allowed_networks() -> list[egress.IpNetwork]:
    return egress.networks(settings.WEBHOOK_ALLOWED_NETWORKS)


def _event_types(chosen: Collection[str]) -> list[str]:
    """The chosen event types in their documented order; ValidationError naming `event_types` for others."""
    unknown = sorted(set(chosen) - set(SUBSCRIBABLE_EVENT_TYPES))
    if unknown:
        raise ValidationError({"event_types": f"Unknown event types: {', '.join(unknown)}."})
    return [event for event in SUBSCRIBABLE_EVENT_TYPES if event in chosen]


def _audited(subscription: WebhookSubscription) -> dict[str, Any]:
    return {
        "name": subscription.name,
        "url": subscription.masked_url,
        "event_types": ", ".join(subscription.event_types) or "all",
        "include_confidential": subscription.include_confidential,
    }


@transaction.atomic
def webhook_subscription_create(
    *,
    actor: Viewer,
    team: Team | None,
    name: str,
    url: str,
    event_types: Collection[str] = (),
    include_confidential: bool = False,
) -> WebhookSubscription:
    """A new subscription of `team` (the organisation's when None: admins only) with a new signing secret, which
    the caller shows once. Only an admin lets it include confidential near-misses."""
    require(may_manage_webhooks(actor, team))
    if include_confidential:
        require(may_let_webhooks_receive_confidential(actor))
    if WebhookSubscription.objects.filter(team=team).count() >= MAX_SUBSCRIPTIONS:
        owner = "A team" if team is not None else "The organisation"
        raise ValidationError({"url": f"{owner} has at most {MAX_SUBSCRIPTIONS} subscriptions: delete one first."})
    subscription = WebhookSubscription(
        team=team, name=(name or "").strip(), url=webhook_url_check(url), event_types=_event_types(event_types),
        include_confidential=include_confidential, created_by_id=actor.user_id,
    )  # fmt: skip
    subscription.full_clean()
    subscription.save()
    audit_record(obj=subscription, action="created",
                 changes={name: [None, value] for name, value in _audited(subscription).items()})  # fmt: skip
    return subscription


UPDATABLE = frozenset({"name", "url", "event_types", "include_confidential"})


@transaction.atomic
def webhook_subscription_update(
    *, actor: Viewer, subscription: WebhookSubscription, changes: Mapping[str, Any]
) -> WebhookSubscription:
    """Change a subscription's name, URL, event types or whether it includes confidential near-misses (that one
    an admin's only, either way). Its secret and its team stay."""
    require(may_manage_webhooks(actor, subscription.team))
    unknown = set(changes) - UPDATABLE
    if unknown:
        raise ValidationError({name: "This field cannot be changed." for name in sorted(unknown)})
    changes = dict(changes)
    if (
        "include_confidential" in changes
        and bool(changes["include_confidential"]) != subscription.include_confidential
    ):
        require(may_let_webhooks_receive_confidential(actor))
    if "url" in changes:
        changes["url"] = webhook_url_check(changes["url"])
    if "event_types" in changes:
        changes["event_types"] = _event_types(changes["event_types"])
    before = _audited(subscription)
    for field, value in changes.items():
        setattr(subscription, field, value)
    subscription.full_clean()
    subscription.save(update_fields=list(changes))
    after = _audited(subscription)
    changed = {field: [before[field], after[field]] for field in after if before[field] != after[field]}
    if changed:
        audit_record(obj=subscription, action="changed", changes=changed)
    return subscription


@transaction.atomic
def webhook_subscription_delete(*, actor: Viewer, subscription: WebhookSubscription) -> None:
    """Forget a subscription and its delivery log; its queued deliveries then finish quietly."""
    require(may_manage_webhooks(actor, subscription.team))
    audit_record(obj=subscription, action="deleted", changes={"url": [subscription.masked_url, None]})
    subscription.delete()


@transaction.atomic
def webhook_subscription_switch(
    *, actor: Viewer, subscription: WebhookSubscription, active: bool, by: str = ""
) -> WebhookSubscription:
    """Enable a subscription again (its failure count reset), or disable it by hand (its pending deliveries fail;
    nobody is mailed, since a person did it)."""
    require(may_manage_webhooks(actor, subscription.team))
    was_active = subscription.active
    if active:
        # Afresh: no failures counted, and no backlog of the overdue items of the days it was off.
        WebhookSubscription.objects.filter(pk=subscription.pk).update(
            disabled_at=None, disabled_reason="", consecutive_failures=0, overdue_checked_on=None
        )
    else:
        webhook_subscription_disable(
            subscription=subscription, reason=f"Disabled by {by or 'hand'}.", notify=False
        )
    subscription.refresh_from_db()
    if was_active != subscription.active:
        audit_record(obj=subscription, action="changed", changes={"active": [was_active, subscription.active]})
    return subscription


@transaction.atomic
def webhook_test_send(*, actor: Viewer, subscription: WebhookSubscription) -> WebhookDelivery:
    """Queue a `webhook.test` event to the subscription, whatever event types it chose."""
    require(may_manage_webhooks(actor, subscription.team))
    if not subscription.active:
        raise ValidationError("Enable the subscription before sending it a test event.")
    return _queue(subscription, WebhookEventType.TEST, {})


@transaction.atomic
def webhook_delivery_send_again(*, actor: Viewer, delivery: WebhookDelivery) -> bool:
    """Send a delivery again, with the same webhook-id and a fresh set of retries (the admin's delivery log); not
    one being sent now. Whether it was queued."""
    require(may_see_operations(actor))
    again = WebhookDelivery.objects.filter(pk=delivery.pk).exclude(status=Status.SENDING)
    if not again.update(status=Status.PENDING, attempts=0, next_attempt_at=None, delivered_at=None):
        return False
    outbox_enqueue(handler="webhook_deliver", delivery_id=delivery.pk)
    return True


# --- Events: what the services call, in their transaction ------------------------------------------------------


def _queue(subscription: WebhookSubscription, event_type: str, reference: dict[str, Any]) -> WebhookDelivery:
    delivery = WebhookDelivery.objects.create(
        subscription=subscription, event_type=event_type, reference=reference, occurred_at=timezone.now()
    )
    outbox_enqueue(handler="webhook_deliver", delivery_id=delivery.pk)
    return delivery


def _fan_out(event_type: str, reference: dict[str, Any], *, team_ids: Collection[int], confidential: bool,
             skip_confidential_readers: bool = False) -> int:  # fmt: skip
    """One delivery for each active subscription that wants the event and may see what it is about (but those
    that include confidential near-misses, with `skip_confidential_readers`: they heard of it already)."""
    scope = Subject(frozenset(team_ids), confidential, {})
    listening = webhook_selectors.webhook_subscriptions_listening(team_ids=team_ids)
    receiving = [
        subscription for subscription in listening
        if receives(subscription, scope, event_type)
        and not (skip_confidential_readers and subscription.include_confidential)
    ]  # fmt: skip
    for subscription in receiving:
        _queue(subscription, event_type, reference)
    return len(receiving)


def _incident_event(event_type: str, incident: Incident) -> int:
    return _fan_out(event_type, {"incident_id": incident.pk}, team_ids={incident.team_id},
                    confidential=incident.confidential)  # fmt: skip


def webhook_incident_filed(*, incident: Incident) -> int:
    """`incident.created` for an item filed or promoted out of triage (not one that waits there), and
    `postmortem.published` when it is filed published (a near-miss filed through the form)."""
    if incident.status in Incident.UNCOUNTED_STATUSES:
        return 0
    queued = _incident_event(WebhookEventType.INCIDENT_CREATED, incident)
    if incident.status == Incident.Status.PUBLISHED:
        queued += _incident_event(WebhookEventType.POSTMORTEM_PUBLISHED, incident)
    return queued


def webhook_confidential_opened(*, incident: Incident, was_published: bool) -> int:
    """A confidential near-miss opened (now NM-n): the subscriptions that could not see it hear of it now, as of
    one filed (`incident.created`, and `postmortem.published` when it was published already; publishing it in the
    same change is announced to everyone as publishing is)."""
    if incident.status in Incident.UNCOUNTED_STATUSES or incident.confidential:
        return 0
    types = [WebhookEventType.INCIDENT_CREATED]
    if was_published:
        types.append(WebhookEventType.POSTMORTEM_PUBLISHED)
    reference = {"incident_id": incident.pk}
    teams = {incident.team_id}
    return sum(
        _fan_out(kind, reference, team_ids=teams, confidential=False, skip_confidential_readers=True)
        for kind in types
    )


def webhook_postmortem_published(*, incident: Incident) -> int:
    """`postmortem.published`: an item was moved to published."""
    return _incident_event(WebhookEventType.POSTMORTEM_PUBLISHED, incident)


def webhook_action_item_event(*, event_type: str, action_item: ActionItem) -> int:
    """`action_item.created` or `action_item.closed`, for the incident's team and the team it is assigned to."""
    return _fan_out(event_type, {"action_item_id": action_item.pk}, team_ids=webhook_selectors.action_item_event_teams(action_item),
                    confidential=action_item.incident.confidential)  # fmt: skip


def webhook_report_ready(*, report: TrendReport) -> int:
    """`report.ready` for a report just generated: its team's subscriptions and the organisation's (the
    organisation's report: the organisation's only). The payload is the "everyone" report's."""
    team_ids = {report.team_id} if report.team_id is not None else set()
    reference = {"week_start": report.week_start.isoformat(), "team_id": report.team_id}
    return _fan_out(WebhookEventType.REPORT_READY, reference, team_ids=team_ids, confidential=False)


def webhook_overdue_enqueue(*, today: dt.date | None = None) -> int:
    """Daily, with the chat's overdue run: `action_item.overdue` for each open item that became overdue since the
    subscription's last run (the first run: those that became overdue today, no backlog). Each subscription's day
    is claimed once with a conditional UPDATE, so a second run the same day sends nothing. Returns the
    deliveries queued."""
    today = today or timezone.localdate()
    queued = 0
    for subscription in webhook_selectors.webhook_subscriptions_awaiting_overdue(today=today):
        since = subscription.overdue_checked_on or today - dt.timedelta(days=1)
        with transaction.atomic():
            claimed = (
                WebhookSubscription.objects.filter(pk=subscription.pk)
                .filter(Q(overdue_checked_on__isnull=True) | Q(overdue_checked_on__lt=today))
                .update(overdue_checked_on=today)
            )
            if not claimed:
                continue
            queued += _overdue_queue(subscription, since=since, today=today)
    return queued


def _overdue_queue(subscription: WebhookSubscription, *, since: dt.date, today: dt.date) -> int:
    """The subscription's overdue events since its last run, every one of them, read in batches."""
    queued = 0
    after: tuple[dt.date, int] | None = None
    while items := webhook_selectors.webhook_overdue_candidates(
        subscription=subscription, since=since, today=today, limit=OVERDUE_BATCH, after=after
    ):
        for item in items:
            teams, confidential = webhook_selectors.action_item_event_teams(item), item.incident.confidential
            if may_receive_event(subscription, team_ids=teams, confidential=confidential):
                _queue(subscription, WebhookEventType.ACTION_ITEM_OVERDUE, {"action_item_id": item.pk})
                queued += 1
        last = items[-1]
        after = (last.due_date or since, last.pk)  # candidates all have a due date (the query asks for one)
    return queued


# --- Sending --------------------------------------------------------------------------------------------------


def webhook_body(*, delivery: WebhookDelivery, subject: Subject) -> bytes:
    """The payload: `{"type", "timestamp", "data"}` as compact UTF-8 JSON (docs/outbound-webhooks.md)."""
    envelope = {"type": delivery.event_type, "timestamp": iso(delivery.occurred_at), "data": subject.data}
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode()


def webhook_headers(*, secret: str, webhook_id: str, at: dt.datetime, body: bytes) -> dict[str, str]:
    """The Standard Webhooks headers: the id, the attempt's time, and `v1,<base64 HMAC-SHA256>` of
    `id.timestamp.body` with the secret."""
    at = at.astimezone(dt.UTC)
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(webhook_id, at, body.decode()),
    }


def _finish(delivery: WebhookDelivery, status: str, error: str) -> str:
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status=status, last_error=_cut(error))
    return status


def _error_text(answer: egress.Answer) -> str:
    detail = " ".join(answer.detail.split())[:160]
    if answer.status is None:
        return _cut(detail or "no answer")
    return _cut(f"HTTP {answer.status}: {detail}" if detail else f"HTTP {answer.status}")


def webhook_deliver(*, delivery_id: int) -> str:
    """The outbox handler's service: one attempt of one delivery (the module's steps). Returns what happened;
    raises only for what the outbox should retry (the database), never for what the receiver answered."""
    now = timezone.now()
    claimed = (
        WebhookDelivery.objects.filter(pk=delivery_id, status=Status.PENDING)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .update(status=Status.SENDING, last_attempt_at=now, next_attempt_at=None)
    )
    if not claimed:
        return "not due"
    delivery = webhook_selectors.webhook_delivery_for_send(delivery_id=delivery_id)
    if delivery is None:
        return "gone"
    subscription = delivery.subscription
    if not subscription.active:
        return _finish(delivery, Status.FAILED, "The subscription is disabled.")
    subject = webhook_selectors.webhook_subject(delivery=delivery)
    if subject is None:
        return _finish(delivery, Status.SKIPPED, "What the event is about no longer exists.")
    if not receives(subscription, subject, delivery.event_type):
        return _finish(delivery, Status.SKIPPED, "The subscription no longer receives what the event is about.")
    body = webhook_body(delivery=delivery, subject=subject)
    answer = egress.post(
        subscription.url, body, headers=webhook_headers(secret=subscription.secret, webhook_id=delivery.webhook_id,
                                                        at=timezone.now(), body=body),
        allow_http=settings.WEBHOOK_ALLOW_HTTP, allowed=_allowed_networks(), timeout=settings.WEBHOOK_TIMEOUT,
    )  # fmt: skip
    return _record(delivery, subscription, answer)


def _record(delivery: WebhookDelivery, subscription: WebhookSubscription, answer: egress.Answer) -> str:
    now = timezone.now()
    attempts = delivery.attempts + 1
    attempt = {"attempts": attempts, "last_status_code": answer.status, "last_duration_ms": answer.duration_ms}
    deliveries = WebhookDelivery.objects.filter(pk=delivery.pk)
    subscriptions = WebhookSubscription.objects.filter(pk=subscription.pk)
    if answer.status is not None and 200 <= answer.status < 300:
        deliveries.update(**attempt, status=Status.DELIVERED, delivered_at=now, last_error="")
        subscriptions.update(consecutive_failures=0, last_success_at=now, last_error="")
        return "delivered"
    error = _error_text(answer)
    logger.warning("Webhooks: %s to %s (%s) failed: %s", delivery.webhook_id, subscription.masked_url,
                   subscription, error)  # fmt: skip
    deliveries.update(**attempt, last_error=error)
    subscriptions.update(last_failure_at=now, last_error=error)
    if answer.status == GONE:
        deliveries.update(status=Status.FAILED)
        webhook_subscription_disable(subscription=subscription, reason=f"The URL answered {error}: it is gone.")
        return "gone"
    schedule: Sequence[int] = settings.WEBHOOK_RETRY_SCHEDULE
    if attempts <= len(schedule):
        deliveries.update(
            status=Status.PENDING, next_attempt_at=now + dt.timedelta(seconds=schedule[attempts - 1])
        )
        return "retry scheduled"
    deliveries.update(status=Status.FAILED)
    subscriptions.update(consecutive_failures=F("consecutive_failures") + 1)
    failures = subscriptions.values_list("consecutive_failures", flat=True).first() or 0
    if failures >= settings.WEBHOOK_MAX_FAILURES:
        reason = f"{failures} deliveries in a row failed every attempt; the last: {error}"
        webhook_subscription_disable(subscription=subscription, reason=reason)
    return "failed"


@transaction.atomic
def webhook_subscription_disable(*, subscription: WebhookSubscription, reason: str, notify: bool = True) -> bool:
    """Disable the subscription (once) and fail its pending deliveries; when `notify`, queue a mail to each of
    its team's leads (the admins, for the organisation's). Whether this call disabled it."""
    claimed = WebhookSubscription.objects.filter(pk=subscription.pk, disabled_at__isnull=True).update(
        disabled_at=timezone.now(), disabled_reason=_cut(reason)
    )
    if not claimed:
        return False
    WebhookDelivery.objects.filter(subscription_id=subscription.pk, status=Status.PENDING).update(
        status=Status.FAILED, next_attempt_at=None, last_error="The subscription was disabled."
    )
    logger.warning("Webhooks: disabled %s (%s): %s", subscription, subscription.masked_url, reason)
    if notify:
        for user_id, _ in webhook_selectors.webhook_disabled_recipients(subscription=subscription):
            outbox_enqueue(handler="webhook_disabled_mail", subscription_id=subscription.pk, user_id=user_id)
    return True


def webhook_disabled_mail(*, subscription_id: int, user_id: int) -> int:
    """Tell one lead (or admin) that a subscription was disabled, unless it was enabled again or they left."""
    subscription = WebhookSubscription.objects.select_related("team").filter(pk=subscription_id).first()
    if subscription is None or subscription.active:
        return 0
    address = dict(webhook_selectors.webhook_disabled_recipients(subscription=subscription)).get(user_id)
    if address is None:
        return 0
    if subscription.team is not None:
        path = reverse("incidents:webhook_list", args=[subscription.team.slug])
    else:
        path = reverse("admin:incidents_webhooksubscription_change", args=[subscription.pk])
    context = {"subscription": subscription, "url": settings.SITE_URL + path}
    scope = subscription.team.name if subscription.team else "the organisation"
    subject = header_text(f"[Hindsight] Webhook “{subscription.name}” of {scope} is disabled", SUBJECT_LENGTH)
    return send_mail(subject, render_to_string("emails/webhook_disabled.txt", context), None, [address])


def webhook_retries_send(*, now: dt.datetime | None = None) -> int:
    """Beat: hand the outbox each delivery whose next attempt is due, and each attempt whose worker died.

    1. Claim it with a conditional UPDATE (its next attempt time emptied: queued), so that a second poll skips it.
    2. Queue its outbox message in the same transaction.
    Returns the deliveries queued.
    """
    now = now or timezone.now()
    queued = 0
    pending = WebhookDelivery.objects.filter(status=Status.PENDING, next_attempt_at__lte=now)
    for pk in webhook_selectors.webhook_deliveries_due(now=now, limit=POLL_BATCH):
        with transaction.atomic():
            if pending.filter(pk=pk).update(next_attempt_at=None):
                outbox_enqueue(handler="webhook_deliver", delivery_id=pk)
                queued += 1
    stuck = WebhookDelivery.objects.filter(status=Status.SENDING, last_attempt_at__lt=now - STUCK_AFTER)
    for pk in webhook_selectors.webhook_deliveries_stuck(before=now - STUCK_AFTER, limit=POLL_BATCH):
        with transaction.atomic():
            if stuck.filter(pk=pk).update(status=Status.PENDING, next_attempt_at=None):
                outbox_enqueue(handler="webhook_deliver", delivery_id=pk)
                queued += 1
    return queued


def webhook_deliveries_purge(*, now: dt.datetime | None = None) -> int:
    """Daily: forget finished deliveries older than WEBHOOK_DELIVERY_RETENTION_DAYS; returns how many."""
    cutoff = (now or timezone.now()) - dt.timedelta(days=settings.WEBHOOK_DELIVERY_RETENTION_DAYS)
    old = WebhookDelivery.objects.filter(created_at__lt=cutoff, status__in=FINISHED)
    purged = 0
    while ids := list(old.values_list("pk", flat=True)[:PURGE_BATCH]):
        purged += WebhookDelivery.objects.filter(pk__in=ids).delete()[0]
    return purged
