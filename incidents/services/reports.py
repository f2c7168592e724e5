"""Writes behind the weekly trend report: generating reports, requesting them, and the e-mail digests."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from incidents.mail import SUBJECT_LENGTH, header_text
from incidents.models import DigestDelivery, DigestSubscription, Membership, Team, TrendReport
from incidents.outbox import outbox_enqueue, outbox_gave_up
from incidents.policies import may_request_report, viewer_for_user
from incidents.report_summary import NO_LABELS, summarise
from incidents.selectors.reports import report_data, report_labels, reports_visible, scope_of
from incidents.services.webhooks import webhook_report_ready
from incidents.weeks import Week

logger = logging.getLogger(__name__)
# The "everyone" report first: it is what most people read, and it never waits for the other one.
AUDIENCES = (TrendReport.Audience.EVERYONE, TrendReport.Audience.CONFIDENTIAL)
UNSUBSCRIBE_SALT = "incidents.reports.digest-unsubscribe"


class DigestsIncomplete(Exception):
    """Some digests of the week could not be sent; running again sends those and no others."""


# ---------------------------------------------------------------------------------------------------------
# Reports


def _report_claim(*, week: Week, team: Team | None, audience: str, status: str) -> TrendReport:
    """Create the (week, scope, audience) row or move the existing one to `status`; the unique constraint
    settles a race between two creators, and the loser updates the winner's row."""
    key: dict[str, Any] = {"week_start": week.monday, "scope": scope_of(team), "audience": audience}
    defaults: dict[str, Any] = {"team": team, "status": status, "error": "", "requested_at": timezone.now()}
    try:
        with transaction.atomic():
            report, _ = TrendReport.objects.update_or_create(**key, defaults=defaults)
    except IntegrityError:
        TrendReport.objects.filter(**key).update(**defaults)
        report = TrendReport.objects.get(**key)
    return report


def _report_store(*, report: TrendReport, week: Week, team: Team | None) -> TrendReport:
    """Compute one audience's data and store it ready; on an error mark the row failed and re-raise."""
    try:
        data = report_data(week=week, team=team, audience=report.audience)
    except Exception as error:
        TrendReport.objects.filter(pk=report.pk).update(status=TrendReport.Status.FAILED, error=str(error)[:2000])
        raise
    # Stamped when the aggregation has finished, so that generated_at - requested_at (the claim above) is how
    # long generation took: the metrics read it (incidents/metrics.py).
    generated_at = timezone.now()
    data["generated_at"] = generated_at.isoformat()
    TrendReport.objects.filter(pk=report.pk).update(
        status=TrendReport.Status.READY, data=data, error="", generated_at=generated_at
    )
    report.refresh_from_db()
    return report


def report_generate(*, week: Week, team: Team | None = None) -> TrendReport:
    """Compute the reports of `week` for the organisation or `team`, one per audience, and store them,
    replacing any earlier ones. Returns the "everyone" report.

    1. Mark both rows running (created if new), committed at once so that pages show the progress.
    2. Aggregate and store the "everyone" report (selectors.report_data), then the "confidential" one. The
       "everyone" report is final before the other is computed, so what its readers see never depends on
       the confidential near-misses, not even through a failure.
    3. A failing audience is marked failed with the reason, and the error re-raised (the task retries).
    """
    claimed = [
        _report_claim(week=week, team=team, audience=a, status=TrendReport.Status.RUNNING) for a in AUDIENCES
    ]
    everyone, confidential = claimed
    try:
        everyone = _report_store(report=everyone, week=week, team=team)
    except Exception as error:
        TrendReport.objects.filter(pk=confidential.pk).update(
            status=TrendReport.Status.FAILED, error=str(error)[:2000]
        )
        raise
    _report_store(report=confidential, week=week, team=team)
    webhook_report_ready(report=everyone)
    return everyone


def report_mark_failed(*, week: Week, team: Team | None, error: str) -> None:
    """Record that generation gave up (retries exhausted) on the audiences that did not get ready, keeping
    any data from an earlier run."""
    TrendReport.objects.filter(week_start=week.monday, scope=scope_of(team)).exclude(
        status=TrendReport.Status.READY
    ).update(status=TrendReport.Status.FAILED, error=error[:2000])


def report_request(*, week: Week, team: Team | None, user: User) -> TrendReport:
    """ "Generate now": mark the week's reports (both audiences) pending and queue their generation through the
    outbox. Returns the "everyone" report."""
    decision = may_request_report(viewer_for_user(user), team)
    if not decision:
        raise ValidationError({"scope": decision.rule})
    if week > Week.current():
        raise ValidationError({"week": f"{week.label} has not started yet."})
    with transaction.atomic():
        everyone, _confidential = (
            _report_claim(week=week, team=team, audience=audience, status=TrendReport.Status.PENDING)
            for audience in AUDIENCES
        )
        outbox_enqueue(
            handler="report_generate", week_start=week.monday.isoformat(), team_id=team.pk if team else None
        )
    return everyone


def report_scopes() -> list[Team | None]:
    """Every scope a weekly run generates: the organisation, then each team."""
    return [None, *Team.objects.order_by("name")]


# ---------------------------------------------------------------------------------------------------------
# Digest subscriptions


def digest_subscribers() -> QuerySet:
    """People who get the weekly digest: those who subscribed, and leads and admins who did not unsubscribe
    (admins' digests also say what follow-up work gave up)."""
    User = get_user_model()
    is_lead = Exists(Membership.objects.filter(user=OuterRef("pk"), role=Membership.Role.LEAD))
    return (
        User.objects.filter(is_active=True)
        .exclude(email="")
        .filter(
            Q(digest_subscription__subscribed=True)
            | (Q(digest_subscription__isnull=True) & (is_lead | Q(is_superuser=True)))
        )
        .order_by("pk")
    )


def digest_is_subscribed(user: User) -> bool:
    return digest_subscribers().filter(pk=user.pk).exists()


def digest_subscription_set(*, user: User, subscribed: bool) -> DigestSubscription:
    subscription, _ = DigestSubscription.objects.update_or_create(
        user=user, defaults={"subscribed": subscribed, "updated_at": timezone.now()}
    )
    return subscription


def unsubscribe_token(user: User) -> str:
    return signing.dumps({"user": user.pk}, salt=UNSUBSCRIBE_SALT, compress=True)


def unsubscribe_user(token: str) -> User:
    """The person a signed unsubscribe token names; ValidationError for a forged or damaged token."""
    try:
        user_id = signing.loads(token, salt=UNSUBSCRIBE_SALT)["user"]
        return get_user_model().objects.get(pk=user_id)
    except (signing.BadSignature, KeyError, TypeError, get_user_model().DoesNotExist):
        raise ValidationError({"token": "This unsubscribe link is not valid."}) from None


# ---------------------------------------------------------------------------------------------------------
# Digest e-mails


def report_url(report: TrendReport) -> str:
    path = reverse("reports:report_detail", args=[report.week_label, report.scope])
    return f"{settings.SITE_URL}{path}"


def digest_reports(*, user: User, week: Week) -> list[TrendReport]:
    """The ready reports a person's digest covers: each of their teams', then the organisation's, each of the
    audience the person reads on the web (selectors.report_audience_for): a lead gets their team's report with
    its confidential near-misses, the organisation's "everyone" report unless they are an admin."""
    viewer = viewer_for_user(user)
    reports = reports_visible(viewer).filter(week_start=week.monday, status=TrendReport.Status.READY)
    reports = reports.filter(Q(team_id__in=sorted(viewer.team_ids)) | Q(scope=TrendReport.ORGANISATION))
    return sorted(reports, key=lambda report: (report.team is None, report.scope))


def digest_context(*, user: User, week: Week, reports: list[TrendReport]) -> dict[str, Any]:
    """What the digest templates (emails/digest.html and .txt) are rendered with: by the mail, and by the
    preview page (views.reports.digest_preview), so that the preview is the mail."""
    unsubscribe = f"{settings.SITE_URL}{reverse('reports:unsubscribe', args=[unsubscribe_token(user)])}"
    labels = report_labels() if reports else NO_LABELS
    return {
        "user": user,
        "week": week,
        "sections": [
            {"report": report, "summary": summarise(report.data, labels), "url": report_url(report)}
            for report in reports
        ],
        "unsubscribe_url": unsubscribe,
        "subscriptions_url": f"{settings.SITE_URL}{reverse('reports:subscription')}",
        "operations": digest_operations_notes(user=user),
    }


def digest_message(*, user: User, week: Week, reports: list[TrendReport]) -> EmailMultiAlternatives:
    context = digest_context(user=user, week=week, reports=reports)
    unsubscribe = context["unsubscribe_url"]
    message = EmailMultiAlternatives(
        subject=header_text(f"Hindsight weekly trend report {week.label}", SUBJECT_LENGTH),
        body=render_to_string("emails/digest.txt", context),
        to=[user.email],
        headers={"List-Unsubscribe": f"<{unsubscribe}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
    )
    message.attach_alternative(render_to_string("emails/digest.html", context), "text/html")
    return message


def digest_operations_notes(*, user: User) -> list[str]:
    """For admins only: follow-up work that gave up (the outbox's messages past their last attempt), per
    handler, with where to look. Nobody else's digest says anything about it."""
    if not user.is_superuser:
        return []
    counts = outbox_gave_up().values_list("handler").annotate(count=Count("id")).order_by("handler")
    link = f"{settings.SITE_URL}{reverse('admin:incidents_outboxmessage_changelist')}?gave_up=yes"
    return [
        f"{count} follow-up message{'s' * (count != 1)} for {handler} gave up after every retry: {link}"
        for handler, count in counts
    ]


def _delivery_claim(*, user: User, week: Week) -> DigestDelivery | None:
    """Claim the (person, week) delivery: a new row, or a failed one to retry. None when another run has
    claimed or sent it."""
    try:
        with transaction.atomic():
            return DigestDelivery.objects.create(user=user, week_start=week.monday)
    except IntegrityError:
        pass
    retried = DigestDelivery.objects.filter(
        user=user, week_start=week.monday, status=DigestDelivery.Status.FAILED
    ).update(status=DigestDelivery.Status.SENDING, claimed_at=timezone.now(), error="")
    return DigestDelivery.objects.get(user=user, week_start=week.monday) if retried else None


def digest_send(*, user: User, week: Week) -> bool:
    """Send one person's digest for `week` at most once; True when this call sent it.

    1. Skip when none of the person's reports is ready.
    2. Claim the delivery row (unique per person and week); whoever does not get the claim stops here.
    3. Send, then mark the row sent. A failed send marks it failed so a later run retries it; a worker that
       dies between 2 and 3 leaves it `sending`, and the person gets no second copy.
    """
    reports = digest_reports(user=user, week=week)
    if not reports:
        return False
    delivery = _delivery_claim(user=user, week=week)
    if delivery is None:
        return False
    try:
        digest_message(user=user, week=week, reports=reports).send()
    except Exception as error:
        DigestDelivery.objects.filter(pk=delivery.pk).update(status=DigestDelivery.Status.FAILED, error=str(error))
        raise
    DigestDelivery.objects.filter(pk=delivery.pk).update(status=DigestDelivery.Status.SENT, sent_at=timezone.now())
    return True


def digests_send(*, week: Week) -> int:
    """Send the week's digest to every subscriber who has not had it; returns how many were sent now.

    One person's failure (a refused address) is logged and recorded on their delivery and the others still
    get theirs; then DigestsIncomplete is raised so that the task retries the failed ones (and only those).
    """
    sent, failed = 0, 0
    for user in digest_subscribers():
        try:
            sent += digest_send(user=user, week=week)
        except Exception:
            failed += 1
            logger.exception("Weekly digest %s for user %s could not be sent", week.label, user.pk)
    if failed:
        raise DigestsIncomplete(f"{failed} digest(s) for {week.label} could not be sent; {sent} were.")
    return sent
