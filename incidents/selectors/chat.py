"""Reads of chat delivery: a team's channel webhooks, and what a channel post may say.

A channel is read by anyone in it, so every read for a post sees what a tool of the team sees: no confidential
near-miss, nor anything of one (its action items, its counts: the team's "everyone" report).
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Q, QuerySet

from incidents import policies
from incidents.models import ActionItem, ChatWebhook, Incident, Membership, Team, TrendReport
from incidents.policies import Viewer
from incidents.weeks import Week

# Severities announced in a team's channel when filed.
ANNOUNCED_SEVERITIES = frozenset({Incident.Severity.SEV1, Incident.Severity.SEV2})


def chat_teams_managed(*, viewer: Viewer) -> QuerySet[Team]:
    """The teams whose chat channels `viewer` manages (policies.may_manage_chat), by name."""
    return Team.objects.filter(policies.chat_managed_teams(viewer)).order_by("name")


def chat_webhooks_of(*, team: Team) -> dict[str, ChatWebhook]:
    """kind → the team's webhook of that kind (kinds not set are missing)."""
    return {webhook.kind: webhook for webhook in ChatWebhook.objects.filter(team=team)}


def chat_webhook_of(*, team: Team, kind: str) -> ChatWebhook | None:
    return ChatWebhook.objects.filter(team=team, kind=kind).first()


def chat_webhooks_active(*, team_id: int) -> QuerySet[ChatWebhook]:
    return ChatWebhook.objects.filter(team_id=team_id, disabled_at__isnull=True).order_by("kind")


def chat_webhooks_awaiting_digest(*, week: Week) -> QuerySet[ChatWebhook]:
    """Active webhooks that have not had the digest of `week` (nor of a later week) queued."""
    return ChatWebhook.objects.filter(disabled_at__isnull=True).filter(
        Q(last_digest_week__isnull=True) | Q(last_digest_week__lt=week.monday)
    )


def chat_webhook_for_post(*, webhook_id: int) -> ChatWebhook | None:
    return ChatWebhook.objects.select_related("team").filter(pk=webhook_id).first()


def chat_incident_for_post(*, incident_id: int) -> Incident | None:
    """The item a post names, unless it is (now) confidential: a channel never hears of one."""
    return (
        Incident.objects.select_related("team", "environment").filter(pk=incident_id, confidential=False).first()
    )


def chat_digest_report(*, team: Team, week: Week) -> TrendReport | None:
    """The team's report of `week` computed for everyone (as if confidential near-misses did not exist)."""
    return TrendReport.objects.filter(
        team=team, week_start=week.monday, audience=TrendReport.Audience.EVERYONE, status=TrendReport.Status.READY
    ).first()


def _announceable_action_items() -> QuerySet[ActionItem]:
    return ActionItem.objects.filter(status=ActionItem.Status.OPEN, incident__confidential=False)


def chat_overdue_unannounced(*, today: dt.date) -> QuerySet[ActionItem]:
    """Open action items past their due date that no channel was told of yet, none of a confidential item. The
    channel that hears of one is its own team's, else its incident's team's."""
    return (
        _announceable_action_items()
        .filter(due_date__lt=today, overdue_announced_at__isnull=True)
        .order_by("due_date", "id")
    )


def chat_overdue_items(*, ids: list[int], today: dt.date) -> list[ActionItem]:
    """The action items of an overdue post that are still open, overdue and not confidential, oldest due first."""
    return list(
        _announceable_action_items()
        .filter(pk__in=ids, due_date__lt=today)
        .select_related("incident", "owner")
        .order_by("due_date", "id")
    )


def team_lead_emails(*, team_id: int) -> list[tuple[int, str]]:
    """(user id, e-mail) of the team's leads who have an address."""
    return list(
        Membership.objects.filter(team_id=team_id, role=Membership.Role.LEAD)
        .exclude(user__email="")
        .order_by("user_id")
        .values_list("user_id", "user__email")
    )
