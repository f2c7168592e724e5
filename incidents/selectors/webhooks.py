"""Reads of outbound webhooks: subscriptions, the deliveries due, and what each event says.

An event's payload is read here when each attempt is sent, from the item as it is then; the subject of an event
also says which teams it is about and whether it is confidential, for policies.may_receive_event. A report-ready
event carries the "everyone" report only: what the team's every member reads, computed as if confidential
near-misses did not exist.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.urls import reverse

from incidents import policies
from incidents.models import (
    ActionItem,
    Incident,
    Membership,
    Team,
    TrendReport,
    WebhookDelivery,
    WebhookEventType,
    WebhookSubscription,
)
from incidents.report_summary import summarise
from incidents.selectors.reports import report_labels
from incidents.weeks import Week

INCIDENT_EVENTS = frozenset({WebhookEventType.INCIDENT_CREATED, WebhookEventType.POSTMORTEM_PUBLISHED})
ACTION_ITEM_EVENTS = frozenset(
    {
        WebhookEventType.ACTION_ITEM_CREATED,
        WebhookEventType.ACTION_ITEM_CLOSED,
        WebhookEventType.ACTION_ITEM_OVERDUE,
    }
)


# --- Subscriptions -----------------------------------------------------------------------------------------


def webhook_subscriptions_of(*, team: Team) -> list[WebhookSubscription]:
    """The team's own subscriptions (not the organisation's), by name."""
    return list(WebhookSubscription.objects.filter(team=team).order_by("name", "id"))


def webhook_subscription_of(*, team: Team, pk: int) -> WebhookSubscription | None:
    """One of the team's subscriptions; None for another team's or the organisation's (as for none at all)."""
    return WebhookSubscription.objects.select_related("team").filter(team=team, pk=pk).first()


def webhook_subscriptions_listening(*, team_ids: Collection[int]) -> list[WebhookSubscription]:
    """The active subscriptions of these teams and of the organisation."""
    return list(
        WebhookSubscription.objects.filter(disabled_at__isnull=True)
        .filter(Q(team__isnull=True) | Q(team_id__in=sorted(team_ids)))
        .order_by("pk")
    )


def webhook_subscriptions_awaiting_overdue(*, today: dt.date) -> list[WebhookSubscription]:
    """Active subscriptions that want overdue action items and have not been sent today's."""
    waiting = WebhookSubscription.objects.filter(disabled_at__isnull=True).filter(
        Q(overdue_checked_on__isnull=True) | Q(overdue_checked_on__lt=today)
    )
    return [
        subscription
        for subscription in waiting.order_by("pk")
        if subscription.wants(WebhookEventType.ACTION_ITEM_OVERDUE)
    ]


def webhook_overdue_candidates(
    *, subscription: WebhookSubscription, since: dt.date, today: dt.date, limit: int,
    after: tuple[dt.date, int] | None = None,
) -> list[ActionItem]:  # fmt: skip
    """Open action items that became overdue on a day after `since` up to `today` (their due date passed in
    between) that the subscription hears of (action_item_event_teams; confidential ones only when it includes
    them), oldest due first; `after` (due date, id) is where the previous batch ended."""
    items = ActionItem.objects.filter(status=ActionItem.Status.OPEN, due_date__gte=since, due_date__lt=today)
    if not subscription.include_confidential:
        items = items.filter(incident__confidential=False)
    if subscription.team_id is not None:
        own = Q(incident__team_id=subscription.team_id)
        items = items.filter(own | Q(team_id=subscription.team_id, incident__confidential=False))
    if after is not None:
        items = items.filter(Q(due_date__gt=after[0]) | Q(due_date=after[0], id__gt=after[1]))
    return list(items.select_related("incident").order_by("due_date", "id")[:limit])


def webhook_disabled_recipients(*, subscription: WebhookSubscription) -> list[tuple[int, str]]:
    """(user id, e-mail) of who hears that a subscription was disabled: the team's leads, or for an organisation
    subscription the active admins."""
    if subscription.team_id is not None:
        people = Membership.objects.filter(team_id=subscription.team_id, role=Membership.Role.LEAD)
        return list(people.exclude(user__email="").order_by("user_id").values_list("user_id", "user__email"))
    admins = get_user_model().objects.filter(is_superuser=True, is_active=True).exclude(email="")
    return list(admins.order_by("pk").values_list("pk", "email"))


# --- Deliveries ----------------------------------------------------------------------------------------------


def webhook_delivery_for_send(*, delivery_id: int) -> WebhookDelivery | None:
    return (
        WebhookDelivery.objects.select_related("subscription", "subscription__team").filter(pk=delivery_id).first()
    )


def webhook_deliveries_due(*, now: dt.datetime, limit: int) -> list[int]:
    """Pending deliveries whose next attempt is due, soonest first."""
    due = WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now)
    return list(due.order_by("next_attempt_at", "id").values_list("pk", flat=True)[:limit])


def webhook_deliveries_stuck(*, before: dt.datetime, limit: int) -> list[int]:
    """Deliveries whose attempt started before `before` and never finished (its worker died)."""
    stuck = WebhookDelivery.objects.filter(status=WebhookDelivery.Status.SENDING, last_attempt_at__lt=before)
    return list(stuck.order_by("last_attempt_at", "id").values_list("pk", flat=True)[:limit])


# --- What an event is about, and what it says ------------------------------------------------------------------


@dataclass(frozen=True)
class Subject:
    """What an event is about: the teams it concerns and whether it is confidential (for the policy), and its
    `data` as the payload carries it."""

    team_ids: frozenset[int]
    confidential: bool
    data: dict[str, Any]


def iso(moment: dt.datetime | None) -> str | None:
    """A time as the payloads write it: ISO 8601 in UTC, with a Z."""
    return None if moment is None else moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _url(path: str) -> str:
    return settings.SITE_URL + path


def _team(team: Team | None) -> dict[str, str] | None:
    return None if team is None else {"slug": team.slug, "name": team.name}


def incident_data(incident: Incident) -> dict[str, Any]:
    return {
        "reference": incident.reference,
        "kind": incident.kind,
        "title": incident.title,
        "team": _team(incident.team),
        "severity": incident.severity or None,
        "status": incident.status,
        "environment": incident.environment.slug if incident.environment else None,
        "confidential": incident.confidential,
        "started_at": iso(incident.started_at),
        "url": _url(reverse("incidents:incident_detail", args=[incident.reference])),
    }


def action_item_data(item: ActionItem) -> dict[str, Any]:
    incident = item.incident
    owner = item.owner
    return {
        "id": item.pk,
        "title": item.title,
        "status": item.status,
        "due_date": item.due_date.isoformat() if item.due_date else None,
        "completed_at": iso(item.completed_at),
        "owner": {"username": owner.get_username(), "name": owner.get_full_name()} if owner else None,
        "team": _team(item.team or incident.team),
        "ticket_url": item.ticket_url or None,
        "incident": {
            "reference": incident.reference,
            "title": incident.title,
            "team": _team(incident.team),
            "confidential": incident.confidential,
            "url": _url(reverse("incidents:incident_detail", args=[incident.reference])),
        },
    }


def report_data(report: TrendReport) -> dict[str, Any]:
    week = Week(report.week_start)
    summary = summarise(report.data, report_labels())
    return {
        "week": week.label,
        "week_start": week.monday.isoformat(),
        "week_end": week.sunday.isoformat(),
        "scope": report.scope,
        "team": _team(report.team),
        "generated_at": iso(report.generated_at),
        "key_numbers": [
            {"label": number.label, "value": number.value, "change": number.change or None}
            for number in summary.key_numbers
        ],
        "url": _url(reverse("reports:report_detail", args=[week.label, report.scope])),
    }


def _incident_subject(incident_id: int) -> Subject | None:
    incident = Incident.objects.select_related("team", "environment").filter(pk=incident_id).first()
    if incident is None:
        return None
    return Subject(frozenset({incident.team_id}), incident.confidential, incident_data(incident))


def action_item_event_teams(item: ActionItem) -> frozenset[int]:
    """The teams whose subscriptions hear of an action item: its incident's team and the team it is assigned to;
    for an item of a confidential near-miss its own team only, since another team's people may not see it."""
    if item.incident.confidential or item.team_id is None:
        return frozenset({item.incident.team_id})
    return frozenset({item.incident.team_id, item.team_id})


def _action_item_subject(action_item_id: int) -> Subject | None:
    item = (
        ActionItem.objects.select_related("incident", "incident__team", "team", "owner")
        .filter(pk=action_item_id)
        .first()
    )
    if item is None:
        return None
    return Subject(action_item_event_teams(item), item.incident.confidential, action_item_data(item))


def everyone_report(*, week_start: dt.date, team_id: int | None) -> TrendReport | None:
    """The ready "everyone" report of a week and scope (the organisation's when `team_id` is None)."""
    reports = TrendReport.objects.select_related("team").filter(
        week_start=week_start, audience=TrendReport.Audience.EVERYONE, status=TrendReport.Status.READY
    )
    if team_id is None:
        return reports.filter(scope=TrendReport.ORGANISATION).first()
    return reports.filter(team_id=team_id).first()


def _report_subject(week_start: str, team_id: int | None) -> Subject | None:
    report = everyone_report(week_start=dt.date.fromisoformat(week_start), team_id=team_id)
    if report is None:
        return None
    teams = frozenset({team_id}) if team_id is not None else frozenset()
    return Subject(teams, False, report_data(report))


def _test_subject(subscription: WebhookSubscription) -> Subject:
    teams = frozenset({subscription.team_id}) if subscription.team_id is not None else frozenset()
    data = {
        "subscription": subscription.name,
        "team": _team(subscription.team),
        "message": "Hindsight can reach this URL; events will be signed like this one.",
    }
    return Subject(teams, False, data)


def webhook_subject(*, delivery: WebhookDelivery) -> Subject | None:
    """What a delivery's event is about, as it stands now; None when it is gone."""
    reference, event = delivery.reference, delivery.event_type
    if event in INCIDENT_EVENTS:
        return _incident_subject(reference["incident_id"])
    if event in ACTION_ITEM_EVENTS:
        return _action_item_subject(reference["action_item_id"])
    if event == WebhookEventType.REPORT_READY:
        return _report_subject(reference["week_start"], reference.get("team_id"))
    if event == WebhookEventType.TEST:
        return _test_subject(delivery.subscription)
    raise ValueError(f"Unknown webhook event {event!r}.")


def receives(subscription: WebhookSubscription, subject: Subject, event_type: str) -> bool:
    """Whether the subscription is sent this event: it chose the type, and the policy lets it see the subject."""
    return subscription.wants(event_type) and bool(
        policies.may_receive_event(subscription, team_ids=subject.team_ids, confidential=subject.confidential)
    )
