"""Follow-up work, run by a worker: thin Celery tasks and the outbox's handlers.

Each task takes ids or ISO dates and calls one service; each outbox handler (registered by name with
`@outbox_handler`, and found by the outbox through that name only) calls a service or queues a task. This module
is imported when the app starts (IncidentsConfig.ready), so that every handler is known before the first message.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from celery import chord, shared_task
from django.conf import settings
from django.db import connection

from incidents import outbox, services
from incidents.models import Team
from incidents.outbox import outbox_handler
from incidents.selectors.reports import week_has_reports
from incidents.services import chat as chat_services
from incidents.services import reports as report_services
from incidents.services import webhooks as webhook_services
from incidents.weeks import Week


@shared_task(name="incidents.healthcheck")
def healthcheck_task(nonce: str) -> dict[str, str]:
    """Proves a worker is consuming from the broker and can reach the database."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        (one,) = cursor.fetchone()
    return {"nonce": nonce, "database": connection.vendor, "select": str(one)}


@shared_task(name="incidents.outbox_process", acks_late=True, ignore_result=True)
def outbox_process_task(message_id: int) -> bool:
    """Run one outbox message; a message already run (or being run) is left alone."""
    return outbox.outbox_process(message_id=message_id)


@shared_task(name="incidents.outbox_relay", ignore_result=True)
def outbox_relay_task() -> int:
    """Beat: hand the broker every outbox message still waiting (after an outage, or a lost message)."""
    return outbox.outbox_relay()


@shared_task(name="incidents.confidential_reporters_purge", acks_late=True)
def confidential_reporters_purge_task() -> int:
    """Daily: forget the identity of confidential reporters whose retention has passed."""
    return services.confidential_reporters_purge()


@shared_task(name="incidents.hook_deliveries_purge", acks_late=True)
def hook_deliveries_purge_task() -> int:
    """Daily: forget webhook deliveries older than HOOK_DELIVERY_RETENTION_DAYS."""
    return services.hook_deliveries_purge()


# ---------------------------------------------------------------------------------------------------------
# Outbox handlers: what a service enqueued, by name, in its transaction (incidents/outbox.py).


@outbox_handler("incident_filed")
def incident_filed_handler(*, incident_id: int) -> int:
    """Tell the team's leads that an incident or near-miss was filed."""
    return services.incident_notify_leads(incident_id=incident_id)


@outbox_handler("postmortem_amended")
def postmortem_amended_handler(*, incident_id: int, version: int) -> int:
    """Tell the team that a published postmortem was amended."""
    return services.postmortem_notify_amended(incident_id=incident_id, version=version)


@outbox_handler("report_generate")
def report_generate_handler(*, week_start: str, team_id: int | None) -> None:
    """Queue the generation of one report (retries and time limits are the task's)."""
    report_generate_task.delay(week_start, team_id)


@outbox_handler("chat_post")
def chat_post_handler(*, webhook_id: int, post: str, **reference: Any) -> str:
    """Post to a team's chat channel (docs/chat.md); a failure worth retrying raises, for the outbox to retry."""
    return chat_services.chat_post_deliver(webhook_id=webhook_id, post=post, **reference)


@outbox_handler("chat_webhook_disabled")
def chat_webhook_disabled_handler(*, webhook_id: int, user_id: int) -> int:
    """Tell one of the team's leads that its chat webhook was disabled."""
    return chat_services.chat_webhook_disabled_mail(webhook_id=webhook_id, user_id=user_id)


@shared_task(name="incidents.chat_overdue_announce", acks_late=True)
def chat_overdue_announce_task() -> int:
    """Daily: one post per team channel listing the action items that became overdue since the last run."""
    return chat_services.chat_overdue_announce()


@shared_task(name="incidents.chat_digests_send", acks_late=True)
def chat_digests_send_task(week_start: str) -> int:
    """After the weekly reports: queue each team channel's digest of the week (once per channel and week)."""
    return chat_services.chat_digests_enqueue(week=Week(dt.date.fromisoformat(week_start)))


@outbox_handler("webhook_deliver")
def webhook_deliver_handler(*, delivery_id: int) -> str:
    """One attempt of an outbound webhook delivery (docs/outbound-webhooks.md). A failed attempt does not raise:
    its retries follow WEBHOOK_RETRY_SCHEDULE (webhook_retries_send_task), not the outbox's."""
    return webhook_services.webhook_deliver(delivery_id=delivery_id)


@outbox_handler("webhook_disabled_mail")
def webhook_disabled_mail_handler(*, subscription_id: int, user_id: int) -> int:
    """Tell one of the team's leads (or an admin) that a webhook subscription was disabled."""
    return webhook_services.webhook_disabled_mail(subscription_id=subscription_id, user_id=user_id)


@shared_task(name="incidents.webhook_retries_send", acks_late=True, ignore_result=True)
def webhook_retries_send_task() -> int:
    """Beat: queue the outbound webhook attempts that are due (retries, and attempts whose worker died)."""
    return webhook_services.webhook_retries_send()


@shared_task(name="incidents.webhook_deliveries_purge", acks_late=True)
def webhook_deliveries_purge_task() -> int:
    """Daily: forget outbound webhook deliveries older than WEBHOOK_DELIVERY_RETENTION_DAYS."""
    return webhook_services.webhook_deliveries_purge()


# ---------------------------------------------------------------------------------------------------------
# Weekly trend reports. One task per (week, scope), computing both audiences; a weekly run generates every
# scope and then sends the digests. Each is safe to run twice: reports are replaced in place (unique week +
# scope + audience) and each digest delivery is claimed once (unique person + week).


REPORT_TASK_OPTIONS = {
    "bind": True,
    "acks_late": True,
    "max_retries": settings.REPORT_TASK_MAX_RETRIES,
    "soft_time_limit": settings.REPORT_TASK_TIME_LIMIT,
    "time_limit": settings.REPORT_TASK_TIME_LIMIT + 30,
}


def _backoff(retries: int) -> int:
    """Seconds before retry number `retries + 1`: 30 s, 60 s, 120 s, ... capped at an hour."""
    return min(settings.REPORT_TASK_RETRY_DELAY * 2**retries, 3600)


@shared_task(name="incidents.report_generate", **REPORT_TASK_OPTIONS)
def report_generate_task(self, week_start: str, team_id: int | None = None) -> str:
    """Generate the report of the week starting `week_start` (ISO date) for the team, or the organisation."""
    week = Week(dt.date.fromisoformat(week_start))
    team = None
    if team_id is not None:
        team = Team.objects.filter(pk=team_id).first()
        if team is None:
            return "team gone"
    try:
        return report_services.report_generate(week=week, team=team).status
    except Exception as error:
        if self.request.retries >= self.max_retries:
            # Give up quietly so that the weekly chord still sends the digests of the other reports.
            error_text = f"Gave up after {self.max_retries} retries: {error}"
            report_services.report_mark_failed(week=week, team=team, error=error_text)
            return "failed"
        raise self.retry(exc=error, countdown=_backoff(self.request.retries)) from error


@shared_task(name="incidents.digests_send", **REPORT_TASK_OPTIONS)
def digests_send_task(self, week_start: str) -> int:
    """Send the digest of the week starting `week_start` to every subscriber who has not had it."""
    try:
        return report_services.digests_send(week=Week(dt.date.fromisoformat(week_start)))
    except Exception as error:
        raise self.retry(exc=error, countdown=_backoff(self.request.retries)) from error


@shared_task(name="incidents.reports_weekly", acks_late=True)
def reports_weekly_task(week_start: str | None = None) -> str:
    """The beat entry: last week's report for the organisation and each team, then the digests (chat and mail)."""
    week = Week(dt.date.fromisoformat(week_start)) if week_start else Week.last()
    monday = week.monday.isoformat()
    reports = [
        report_generate_task.si(monday, team.pk if team else None) for team in report_services.report_scopes()
    ]
    # The e-mail digests first (the core), then each team channel's digest is queued (chat is optional).
    chord(reports)(digests_send_task.si(monday) | chat_digests_send_task.si(monday))
    return week.label


@shared_task(name="incidents.reports_catch_up", acks_late=True)
def reports_catch_up_task() -> str:
    """When the scheduler starts (config/celery.py, beat_init): last week's weekly run, unless a report of last
    week exists already. A new instance thus has last week's reports within minutes, not next Monday. Safe to
    run again: once any report of the week exists it does nothing, and the weekly run itself is idempotent."""
    week = Week.last()
    if week_has_reports(week):
        return f"{week.label}: reports exist"
    reports_weekly_task(week.monday.isoformat())
    return f"{week.label}: queued"
