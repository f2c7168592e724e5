"""Chat delivery: a team's Slack and Microsoft Teams channels, reached through their incoming webhooks.

Every post is an outbox message (`chat_post`) naming the webhook and what to post; the message is rendered when it
is sent, so an item made confidential in between is not posted. A channel is read by anyone in it: posts say only
what a tool of the team may see (selectors/chat.py), never anything of a confidential near-miss.

Delivery, per post:
1. Skip a webhook that is gone or disabled (the message finishes without raising).
2. Render the post for the webhook's kind (Slack Block Kit, or a Teams message with an Adaptive Card).
3. POST it with a short timeout, following no redirect.
4. A success resets the failure count. 401, 403, 404 and 410 (the channel, the webhook or its workflow is gone)
   disable the webhook at once; other failures (5xx, timeouts, other answers) count, and the
   CHAT_WEBHOOK_MAX_FAILURES-th in a row disables it. A failure that does not disable raises, so the outbox retries.
5. Disabling claims the webhook once and tells each of the team's leads by e-mail (one outbox message each).
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import logging
import re
import urllib.error
import urllib.request
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from incidents.audit import audit_record
from incidents.mail import SUBJECT_LENGTH, header_text
from incidents.models import ActionItem, ChatWebhook, Incident, Team
from incidents.outbox import outbox_enqueue
from incidents.policies import Viewer, may_manage_chat, require
from incidents.report_summary import summarise
from incidents.selectors import chat as chat_selectors
from incidents.selectors.reports import report_labels, scope_of
from incidents.services.webhooks import webhook_overdue_enqueue
from incidents.weeks import Week

logger = logging.getLogger(__name__)

URL_MAX_LENGTH = 2000
POST_MAX_BYTES = 25_000  # under Teams' 28 KB per message; a Slack message stays far below its own limits
ANSWER_READ_BYTES = 1024  # of a webhook's answer, kept for the error shown to leads
# Slack's documented limits (Block Kit reference).
SLACK_MAX_BLOCKS = 50
SLACK_HEADER_MAX = 150
SLACK_SECTION_MAX = 3000
SLACK_FIELD_MAX = 2000
SLACK_MAX_FIELDS = 10
SLACK_BUTTON_TEXT_MAX = 75
SLACK_TEXT_MAX = 3000  # the notification fallback
# What one post lists at most; the rest is counted.
LINES_PER_SECTION = 10
LINE_MAX = 300
OVERDUE_LISTED = 15
OVERDUE_PER_POST = 200
CLAIM_BATCH = 2000
# Answers that mean the webhook (or its channel, or its workflow) is gone: no retry will succeed.
GONE_STATUSES = frozenset({401, 403, 404, 410})
RATE_LIMITED = 429


class ChatDeliveryFailed(Exception):
    """A post failed in a way worth retrying; the message names no URL."""


# --- The webhook's URL ---------------------------------------------------------------------------------------


def _allowed_hosts(kind: str) -> list[str]:
    hosts = (
        settings.CHAT_SLACK_WEBHOOK_HOSTS if kind == ChatWebhook.Kind.SLACK else settings.CHAT_TEAMS_WEBHOOK_HOSTS
    )
    return [host.lower() for host in hosts]


def _host_allowed(host: str, patterns: list[str]) -> bool:
    for pattern in patterns:
        if pattern.startswith("*."):
            if host.endswith(pattern[1:]) and len(host) > len(pattern) - 1:
                return True
        elif host == pattern:
            return True
    return False


def chat_webhook_url_check(*, kind: str, url: str) -> str:
    """The URL, stripped, if it may be a `kind` webhook: https (http only where CHAT_WEBHOOK_ALLOW_HTTP, for a
    local test receiver), no credentials in it, a host of the kind's allow-list. ValidationError on `url`."""
    if kind not in ChatWebhook.Kind.values:
        raise ValidationError({"kind": f"Use one of {', '.join(ChatWebhook.Kind.values)}."})
    url = (url or "").strip()
    if not url:
        raise ValidationError({"url": "Give the channel's incoming webhook URL."})
    if len(url) > URL_MAX_LENGTH:
        raise ValidationError({"url": f"Use at most {URL_MAX_LENGTH} characters."})
    if any(ord(char) < 33 or ord(char) == 127 for char in url):
        raise ValidationError({"url": "A URL holds no spaces or control characters."})
    match = re.fullmatch(r"(?i)(https?)://([^/?#]+)([/?#].*)?", url)
    if match is None:
        raise ValidationError({"url": "Give a full URL starting with https://."})
    scheme, authority = match.group(1).lower(), match.group(2)
    if scheme != "https" and not settings.CHAT_WEBHOOK_ALLOW_HTTP:
        raise ValidationError({"url": "Use an https:// URL."})
    if "@" in authority:
        raise ValidationError({"url": "A webhook URL holds no user name or password."})
    host, _, port = authority.lower().partition(":")
    if port and not (settings.CHAT_WEBHOOK_ALLOW_HTTP or port == "443"):
        raise ValidationError({"url": "Use the webhook's URL as the chat service gave it (no port)."})
    allowed = _allowed_hosts(kind)
    if not _host_allowed(host, allowed):
        label = ChatWebhook.Kind(kind).label
        raise ValidationError({"url": f"{host} is not a {label} webhook host (allowed: {', '.join(allowed)})."})
    return url


# --- A lead's writes -----------------------------------------------------------------------------------------


@transaction.atomic
def chat_webhook_set(*, actor: Viewer, team: Team, kind: str, url: str) -> ChatWebhook:
    """Set or replace the team's `kind` webhook; a replaced URL starts afresh (enabled, no failures)."""
    require(may_manage_chat(actor, team))
    url = chat_webhook_url_check(kind=kind, url=url)
    before = chat_selectors.chat_webhook_of(team=team, kind=kind)
    webhook, _ = ChatWebhook.objects.update_or_create(
        team=team, kind=kind,
        defaults={"url": url, "disabled_at": None, "disabled_reason": "", "consecutive_failures": 0,
                  "last_error": ""},
    )  # fmt: skip
    audit_record(obj=webhook, action="changed" if before else "created",
                 changes={"url": [before.masked_url if before else None, webhook.masked_url]})  # fmt: skip
    return webhook


@transaction.atomic
def chat_webhook_clear(*, actor: Viewer, team: Team, kind: str) -> bool:
    """Forget the team's `kind` webhook; whether there was one. Queued posts to it then finish quietly."""
    require(may_manage_chat(actor, team))
    webhook = chat_selectors.chat_webhook_of(team=team, kind=kind)
    if webhook is None:
        return False
    audit_record(obj=webhook, action="deleted", changes={"url": [webhook.masked_url, None]})
    webhook.delete()
    return True


@transaction.atomic
def chat_webhook_enable(*, actor: Viewer, webhook: ChatWebhook) -> ChatWebhook:
    """Enable a disabled webhook again, with its failure count reset."""
    require(may_manage_chat(actor, webhook.team))
    ChatWebhook.objects.filter(pk=webhook.pk).update(disabled_at=None, disabled_reason="", consecutive_failures=0)
    webhook.refresh_from_db()
    audit_record(obj=webhook, action="changed", changes={"active": [False, True]})
    return webhook


@transaction.atomic
def chat_webhook_test(*, actor: Viewer, webhook: ChatWebhook) -> None:
    """Queue a test message to the webhook's channel."""
    require(may_manage_chat(actor, webhook.team))
    outbox_enqueue(handler="chat_post", webhook_id=webhook.pk, post="test")


# --- What is queued, and when ----------------------------------------------------------------------------------


def _enqueue_for_team(team_id: int, post: str, **reference: Any) -> int:
    webhooks = list(chat_selectors.chat_webhooks_active(team_id=team_id).values_list("pk", flat=True))
    for webhook_id in webhooks:
        outbox_enqueue(handler="chat_post", webhook_id=webhook_id, post=post, **reference)
    return len(webhooks)


def chat_announce(*, incident: Incident, post: str) -> int:
    """Queue the announcement of an incident filed (SEV1 and SEV2 only) or of its postmortem published to its
    team's channels, in the caller's transaction. Nothing for a near-miss, a confidential item or triage."""
    if incident.confidential or incident.kind != Incident.Kind.INCIDENT:
        return 0
    if post == "incident_filed" and (
        incident.severity not in chat_selectors.ANNOUNCED_SEVERITIES
        or incident.status in (Incident.Status.TRIAGE, Incident.Status.DISMISSED)
    ):
        return 0
    return _enqueue_for_team(incident.team_id, post, incident_id=incident.pk)


def chat_digests_enqueue(*, week: Week) -> int:
    """After the weekly reports: queue each active webhook's team digest of `week`, once per webhook and week
    (a conditional UPDATE claims it, so a second weekly run queues nothing)."""
    queued = 0
    for webhook in chat_selectors.chat_webhooks_awaiting_digest(week=week).select_related("team"):
        if chat_selectors.chat_digest_report(team=webhook.team, week=week) is None:
            continue
        with transaction.atomic():
            claimed = (
                ChatWebhook.objects.filter(pk=webhook.pk)
                .filter(Q(last_digest_week__isnull=True) | Q(last_digest_week__lt=week.monday))
                .update(last_digest_week=week.monday)
            )
            if claimed:
                outbox_enqueue(handler="chat_post", webhook_id=webhook.pk, post="digest",
                               week_start=week.monday.isoformat())  # fmt: skip
                queued += 1
    return queued


@transaction.atomic
def chat_overdue_announce(*, today: dt.date | None = None) -> int:
    """Daily: one post per team channel listing the action items that became overdue since the last run.

    1. Lock the open, overdue items no run has announced (a concurrent run skips them).
    2. Mark them announced, whether or not their team has a channel: each is announced once, when it becomes
       overdue (a channel set later does not receive the backlog).
    3. Queue one post per active webhook of each team, naming its items.
    Returns the posts queued.
    """
    today = today or timezone.localdate()
    webhook_overdue_enqueue(today=today)  # the outbound webhooks' own overdue events (services/webhooks.py)
    due = chat_selectors.chat_overdue_unannounced(today=today)
    locked = due.select_for_update(skip_locked=True, of=("self",))
    rows = list(locked.values_list("pk", "team_id", "incident__team_id")[:CLAIM_BATCH])
    if not rows:
        return 0
    ActionItem.objects.filter(pk__in=[pk for pk, _, _ in rows]).update(overdue_announced_at=timezone.now())
    by_team: dict[int, list[int]] = defaultdict(list)
    for pk, own_team_id, incident_team_id in rows:
        by_team[own_team_id or incident_team_id].append(pk)
    queued = 0
    for team_id, ids in sorted(by_team.items()):
        queued += _enqueue_for_team(team_id, "overdue", action_item_ids=ids[:OVERDUE_PER_POST],
                                    today=today.isoformat())  # fmt: skip
    return queued


# --- The posts, in neutral form ------------------------------------------------------------------------------


@dataclass
class Section:
    heading: str
    lines: list[str] = field(default_factory=list)


@dataclass
class Post:
    """One chat message before it is rendered for Slack or Teams. Every string is plain text, untrusted (titles
    are typed by anyone who files); the renderers escape it for their markup."""

    fallback: str
    header: str
    sections: list[Section] = field(default_factory=list)
    facts: list[tuple[str, str]] = field(default_factory=list)
    context: str = ""
    link: tuple[str, str] | None = None  # (label, url)


def _cut(text: str, limit: int) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def _url(path: str) -> str:
    return settings.SITE_URL + path


def _incident_facts(incident: Incident) -> list[tuple[str, str]]:
    return [
        ("Team", incident.team.name),
        ("Severity", incident.get_severity_display() or "not set"),
        ("Environment", incident.environment.name if incident.environment else "not set"),
        ("Status", incident.get_status_display()),
    ]


def _incident_post(incident: Incident, *, published: bool) -> Post:
    what = "Postmortem published" if published else f"{incident.severity.upper()} incident filed"
    header = f"{what}: {incident.reference}"
    lines = [incident.title] + ([_cut(incident.summary, LINE_MAX)] if incident.summary.strip() else [])
    path = reverse("incidents:incident_detail", args=[incident.reference])
    return Post(
        fallback=f"{header} — {incident.title}", header=header, sections=[Section("", lines)],
        facts=_incident_facts(incident), link=("Open in Hindsight", _url(path)),
    )  # fmt: skip


def _digest_post(team: Team, week: Week) -> Post | None:
    report = chat_selectors.chat_digest_report(team=team, week=week)
    if report is None:
        return None
    summary = summarise(report.data, report_labels())
    header = f"Weekly digest: {team.name}, {week.label}"
    facts = [(number.label, f"{number.value} ({number.change})" if number.change else number.value)
             for number in summary.key_numbers]  # fmt: skip
    path = reverse("reports:report_detail", args=[week.label, scope_of(team)])
    return Post(
        fallback=header, header=header, facts=facts,
        sections=[
            Section("What changed", summary.changes or ["Nothing changed much on the week before."]),
            Section("Needs attention", summary.attention or ["Nothing needs attention."]),
        ],
        context=f"Week {week.label}: {week.monday.isoformat()} to {week.sunday.isoformat()}.",
        link=("Read the report", _url(path)),
    )  # fmt: skip


def _owner(item: ActionItem) -> str:
    if item.owner is None:
        return "no owner"
    return item.owner.get_full_name() or item.owner.get_username()


def _overdue_post(team: Team, ids: list[int], today: dt.date) -> Post | None:
    items = chat_selectors.chat_overdue_items(ids=ids, today=today)
    if not items:
        return None
    count = len(items)
    header = f"{count} action item{'s' * (count != 1)} became overdue: {team.name}"
    lines = [f"{item.title} ({item.incident.reference}, due {item.due_date}, {_owner(item)})"
             for item in items[:OVERDUE_LISTED]]  # fmt: skip
    if count > OVERDUE_LISTED:
        lines.append(f"… and {count - OVERDUE_LISTED} more.")
    return Post(
        fallback=header, header=header, sections=[Section("Newly overdue", lines)],
        link=("Open the action items", _url(reverse("incidents:action_item_list"))),
    )  # fmt: skip


def _test_post(team: Team) -> Post:
    header = "Hindsight is connected"
    return Post(
        fallback=f"{header}: {team.name}", header=header,
        sections=[Section("", [f"This channel will get {team.name}'s weekly digest, new SEV1 and SEV2 incidents, "
                                "published postmortems and overdue action items."])],
        link=("Open Hindsight", _url("/")),
    )  # fmt: skip


def chat_post_build(*, team: Team, post: str, **reference: Any) -> Post | None:
    """The post as it stands now, or None when there is nothing (any more) to post."""
    if post == "test":
        return _test_post(team)
    if post == "digest":
        return _digest_post(team, Week(dt.date.fromisoformat(reference["week_start"])))
    if post == "overdue":
        today = dt.date.fromisoformat(reference["today"]) if "today" in reference else timezone.localdate()
        return _overdue_post(team, list(reference["action_item_ids"]), today)
    if post in ("incident_filed", "postmortem_published"):
        incident = chat_selectors.chat_incident_for_post(incident_id=reference["incident_id"])
        if incident is None or incident.team_id != team.pk:
            return None
        return _incident_post(incident, published=post == "postmortem_published")
    raise ValueError(f"Unknown chat post {post!r}.")


# --- Rendering ----------------------------------------------------------------------------------------------


def slack_escape(text: str) -> str:
    """Untrusted text for Slack's mrkdwn: & < > escaped, as Slack documents, so that `<!channel>` pings nobody
    and `<https://x|y>` links nothing."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_mrkdwn(text: str, limit: int) -> str:
    """Escaped, then cut to `limit` without splitting an entity."""
    escaped = slack_escape(text)
    if len(escaped) <= limit:
        return escaped
    cut = escaped[: limit - 1]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut.rstrip() + "…"


def _plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": _cut(text, limit), "emoji": False}


def slack_message(post: Post) -> dict[str, Any]:
    """A Slack incoming-webhook body: Block Kit `blocks` and a `text` fallback, within Slack's limits."""
    blocks: list[dict[str, Any]] = [{"type": "header", "text": _plain(post.header, SLACK_HEADER_MAX)}]
    for section in post.sections:
        lines = [f"• {_cut(line, LINE_MAX)}" if section.heading else _cut(line, LINE_MAX)
                 for line in section.lines[:LINES_PER_SECTION]]  # fmt: skip
        body = (f"*{slack_escape(section.heading)}*\n" if section.heading else "") + "\n".join(
            slack_escape(line) for line in lines
        )
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _cut_block(body)}})
    if post.facts:
        fields = [{"type": "mrkdwn", "text": _slack_mrkdwn(f"*{label}*\n{value}", SLACK_FIELD_MAX)}
                  for label, value in post.facts[:SLACK_MAX_FIELDS]]  # fmt: skip
        blocks.append({"type": "section", "fields": fields})
    if post.context:
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": _slack_mrkdwn(post.context, 3000)}]}
        )
    if post.link:
        label, url = post.link
        blocks.append({"type": "actions", "elements": [
            {"type": "button", "text": _plain(label, SLACK_BUTTON_TEXT_MAX), "url": url[:3000]}
        ]})  # fmt: skip
    return {"text": _slack_mrkdwn(post.fallback, SLACK_TEXT_MAX), "blocks": blocks[:SLACK_MAX_BLOCKS]}


def _cut_block(text: str) -> str:
    """A section's text within Slack's 3000 characters, cut at a line so that no entity is split."""
    if len(text) <= SLACK_SECTION_MAX:
        return text
    kept = text[: SLACK_SECTION_MAX - 2].rsplit("\n", 1)[0]
    return kept + "\n…"


def _run(text: str, **style: Any) -> dict[str, Any]:
    """An Adaptive Card TextRun: shown as written, never read as Markdown (so no link can be injected)."""
    return {"type": "TextRun", "text": text, **style}


def _rich(*runs: dict[str, Any], **style: Any) -> dict[str, Any]:
    return {"type": "RichTextBlock", "inlines": list(runs), **style}


def teams_message(post: Post) -> dict[str, Any]:
    """A Teams incoming-webhook (or Workflows) body: a message with one Adaptive Card 1.4 attachment. Untrusted
    text goes into TextRuns, which Teams does not read as Markdown."""
    body: list[dict[str, Any]] = [_rich(_run(_cut(post.header, 200), weight="Bolder", size="Large"))]
    for section in post.sections:
        if section.heading:
            body.append(_rich(_run(section.heading, weight="Bolder"), spacing="Medium"))
        for line in section.lines[:LINES_PER_SECTION]:
            body.append(_rich(_run(("• " if section.heading else "") + _cut(line, LINE_MAX))))
    for label, value in post.facts[:SLACK_MAX_FIELDS]:
        body.append(_rich(_run(f"{label}: ", weight="Bolder"), _run(_cut(value, LINE_MAX)), spacing="Small"))
    if post.context:
        body.append(_rich(_run(post.context, isSubtle=True, size="Small")))
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
        "msteams": {"width": "Full"},
    }
    if post.link:
        card["actions"] = [{"type": "Action.OpenUrl", "title": post.link[0], "url": post.link[1]}]
    return {
        "type": "message",
        "summary": _cut(post.fallback, 200),
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
        ],
    }


def chat_message(*, kind: str, post: Post) -> bytes:
    """The post as the JSON body for a `kind` webhook, within POST_MAX_BYTES (lines are dropped to fit)."""
    render = slack_message if kind == ChatWebhook.Kind.SLACK else teams_message
    body = json.dumps(render(post), ensure_ascii=False).encode()
    while len(body) > POST_MAX_BYTES and any(section.lines for section in post.sections):
        longest = max(post.sections, key=lambda section: len(section.lines))
        longest.lines = longest.lines[: max(len(longest.lines) // 2, 0)]
        body = json.dumps(render(post), ensure_ascii=False).encode()
    return body


# --- Delivery -------------------------------------------------------------------------------------------------


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A webhook that answers with a redirect is not followed (it could point anywhere): the answer is kept."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


@dataclass(frozen=True)
class Answer:
    status: int | None  # None: no answer (timeout, refused connection)
    detail: str


def _send(url: str, body: bytes) -> Answer:
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked (https, or http for tests only)
        url, data=body, method="POST",
        headers={"Content-Type": "application/json; charset=utf-8", "User-Agent": "Hindsight"},
    )  # fmt: skip
    try:
        opener = urllib.request.build_opener(_NoRedirects)  # proxies as the environment says, read now
        with opener.open(request, timeout=settings.CHAT_WEBHOOK_TIMEOUT) as response:
            return Answer(response.status, response.read(ANSWER_READ_BYTES).decode("utf-8", "replace"))
    except urllib.error.HTTPError as error:
        detail = error.read(ANSWER_READ_BYTES).decode("utf-8", "replace") if error.fp else ""
        return Answer(error.code, detail)
    except TimeoutError:
        return Answer(None, "no answer within the timeout")
    except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as error:
        reason = getattr(error, "reason", error)
        if isinstance(reason, TimeoutError):
            return Answer(None, "no answer within the timeout")
        return Answer(None, f"could not connect ({type(reason).__name__})")


def _error_text(answer: Answer) -> str:
    detail = " ".join(answer.detail.split())[:120]
    where = f"HTTP {answer.status}" if answer.status is not None else "no answer"
    return _cut(f"{where}: {detail}" if detail else where, 300)


def _succeeded(webhook: ChatWebhook) -> None:
    ChatWebhook.objects.filter(pk=webhook.pk).update(
        consecutive_failures=0, last_success_at=timezone.now(), last_error=""
    )


def _failed(webhook: ChatWebhook, answer: Answer) -> str | None:
    """Record a failure; the reason the webhook is now disabled, or None while it is retried."""
    error = _error_text(answer)
    ChatWebhook.objects.filter(pk=webhook.pk).update(
        consecutive_failures=F("consecutive_failures") + 1, last_failure_at=timezone.now(), last_error=error
    )
    failures = (
        ChatWebhook.objects.filter(pk=webhook.pk).values_list("consecutive_failures", flat=True).first() or 0
    )
    logger.warning("Chat: a post to %s (%s, team %s) failed: %s", webhook.masked_url, webhook.kind,
                   webhook.team.slug, error)  # fmt: skip
    if answer.status in GONE_STATUSES:
        return f"The channel's webhook answered {error}: it no longer exists or no longer accepts posts."
    if answer.status != RATE_LIMITED and failures >= settings.CHAT_WEBHOOK_MAX_FAILURES:
        return f"{failures} posts in a row failed; the last: {error}."
    return None


@transaction.atomic
def chat_webhook_disable(*, webhook: ChatWebhook, reason: str) -> bool:
    """Disable the webhook (once) and queue a mail to each of its team's leads; whether this call disabled it."""
    claimed = ChatWebhook.objects.filter(pk=webhook.pk, disabled_at__isnull=True).update(
        disabled_at=timezone.now(), disabled_reason=_cut(reason, 300)
    )
    if not claimed:
        return False
    logger.warning("Chat: disabled the %s webhook of team %s (%s): %s", webhook.kind, webhook.team.slug,
                   webhook.masked_url, reason)  # fmt: skip
    for user_id, _ in chat_selectors.team_lead_emails(team_id=webhook.team_id):
        outbox_enqueue(handler="chat_webhook_disabled", webhook_id=webhook.pk, user_id=user_id)
    return True


def chat_post_deliver(*, webhook_id: int, post: str, **reference: Any) -> str:
    """Outbox handler's service: send one post (see the module's steps). Returns what happened; raises
    ChatDeliveryFailed for a failure worth retrying."""
    webhook = chat_selectors.chat_webhook_for_post(webhook_id=webhook_id)
    if webhook is None:
        return "webhook gone"
    if not webhook.active:
        return "webhook disabled"
    message = chat_post_build(team=webhook.team, post=post, **reference)
    if message is None:
        return "nothing to post"
    answer = _send(webhook.url, chat_message(kind=webhook.kind, post=message))
    if answer.status is not None and 200 <= answer.status < 300:
        _succeeded(webhook)
        return "posted"
    reason = _failed(webhook, answer)
    if reason is not None:
        chat_webhook_disable(webhook=webhook, reason=reason)
        return "webhook disabled now"
    raise ChatDeliveryFailed(f"{post} to the {webhook.kind} webhook of {webhook.team.slug}: {_error_text(answer)}")


def chat_webhook_disabled_mail(*, webhook_id: int, user_id: int) -> int:
    """Tell one lead that the team's webhook was disabled, unless it was enabled again (or they left)."""
    webhook = chat_selectors.chat_webhook_for_post(webhook_id=webhook_id)
    if webhook is None or webhook.active:
        return 0
    address = dict(chat_selectors.team_lead_emails(team_id=webhook.team_id)).get(user_id)
    if address is None:
        return 0
    user = get_user_model().objects.get(pk=user_id)
    context = {"webhook": webhook, "user": user,
               "url": _url(reverse("incidents:chat_settings", args=[webhook.team.slug]))}  # fmt: skip
    subject = header_text(
        f"[Hindsight] {webhook.get_kind_display()} posts for {webhook.team.name} are disabled", SUBJECT_LENGTH
    )
    return send_mail(subject, render_to_string("emails/chat_webhook_disabled.txt", context), None, [address])
