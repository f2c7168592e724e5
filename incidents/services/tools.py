"""What the API needs beyond the shared writes: tokens, safe retries, items posted by tools, alerts."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.db.models import Q
from django.utils import timezone

from incidents.audit import audit_record
from incidents.models import (
    ApiToken,
    Hook,
    HookDelivery,
    HookSource,
    IdempotencyRecord,
    Incident,
    Team,
)
from incidents.policies import (
    Viewer,
    may_manage_tokens,
    require,
)
from incidents.services.incidents import (
    Saved,
    incident_create,
)
from incidents.tokens import api_token_hash, api_token_new

# --- The API for tools: tokens, safe retries, items posted by tools, webhook events ---------------------


TOOL_STATUSES = (
    Incident.Status.TRIAGE,
    Incident.Status.DRAFT,
    Incident.Status.IN_REVIEW,
    Incident.Status.PUBLISHED,
)
# Sources that Hindsight's own doors write; a tool posting through the API cannot claim them.
RESERVED_SOURCES = ("web", "slack", "import", *HookSource.values)
ABANDONED_CLAIM_AFTER = dt.timedelta(minutes=5)
LAST_USED_PRECISION = dt.timedelta(minutes=1)


def api_token_create(*, name: str, team: Team, scope: str, actor: Viewer | None = None) -> tuple[ApiToken, str]:
    """Create a token for `team` and return it with its secret, which is not stored and cannot be shown again.
    With an `actor` (the web app's token page), only as policies.may_manage_tokens allows."""
    if actor is not None:
        require(may_manage_tokens(actor, team))
    raw = api_token_new()
    token = ApiToken(
        name=name, team=team, scope=scope, prefix=raw[: ApiToken.PREFIX_LENGTH], token_hash=api_token_hash(raw)
    )
    token.full_clean()
    with transaction.atomic():
        token.save()
        audit_record(obj=token, action="created", changes={"scope": [None, scope], "team": [None, team.slug]})
    return token, raw


def api_token_revoke(*, token: ApiToken, actor: Viewer | None = None) -> ApiToken:
    """Revoke a token at once (the API refuses it from the next request on); revoking it again changes nothing.
    With an `actor` (the web app's token page), only as policies.may_manage_tokens allows."""
    if actor is not None:
        require(may_manage_tokens(actor, token.team))
    with transaction.atomic():
        revoked = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
        if revoked:
            audit_record(obj=token, action="revoked")
    token.refresh_from_db(fields=["revoked_at"])
    return token


def api_token_touch(*, token: ApiToken) -> None:
    """Record that the token was used, at most once a minute so reads stay reads."""
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_PRECISION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now


def _idempotency_purge(*, token: ApiToken) -> None:
    now = timezone.now()
    expired = Q(created_at__lt=now - dt.timedelta(hours=settings.API_IDEMPOTENCY_TTL_HOURS))
    abandoned = Q(state=IdempotencyRecord.State.PROCESSING, created_at__lt=now - ABANDONED_CLAIM_AFTER)
    IdempotencyRecord.objects.filter(expired | abandoned, token=token).delete()


def idempotency_claim(*, token: ApiToken, key: str, fingerprint: str) -> tuple[IdempotencyRecord, bool]:
    """Claim `key` for a request; returns the record and whether this request claimed it.

    1. Forget the token's expired records and claims abandoned by a crashed request.
    2. Insert a "processing" record in its own transaction: the unique constraint lets exactly one of
       several concurrent requests with the same key through.
    3. The others read the winner's record (still processing, or done with a response to replay).
    """
    _idempotency_purge(token=token)
    for _ in range(3):
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(token=token, key=key, request_fingerprint=fingerprint)
            return record, True
        except IntegrityError:
            winner = IdempotencyRecord.objects.filter(token=token, key=key).first()
            if winner is not None:
                return winner, False
    raise RuntimeError(f"Could not claim idempotency key {key!r}.")


def idempotency_finish(*, record: IdempotencyRecord, status: int, body: Any) -> None:
    IdempotencyRecord.objects.filter(pk=record.pk).update(
        state=IdempotencyRecord.State.DONE, response_status=status, response_body=body
    )


def idempotency_release(*, record: IdempotencyRecord) -> None:
    """Forget a claim whose request failed before doing anything, so the key can be used again."""
    IdempotencyRecord.objects.filter(pk=record.pk, state=IdempotencyRecord.State.PROCESSING).delete()


def _recorded_for_team(*, team: Team, source: str, external_id: str) -> Incident | None:
    existing = Incident.objects.filter(source=source, external_id=external_id).first()
    if existing is not None and existing.team_id != team.pk:
        raise ValidationError({"external_id": f"{source}/{external_id} is already used by another team."})
    return existing


def incident_record_for_tool(
    *, actor: Viewer, team: Team, source: str, external_id: str = "", **fields: Any
) -> tuple[Saved[Incident], bool]:
    """Create an item posted by a tool acting for `team`, or return the one already recorded under source +
    external_id.

    Returns (what was saved, created); an item already recorded comes back without redactions.
    1. An item already recorded under the same source + external_id is returned as it is.
    2. Otherwise create it. Two concurrent requests can both get here; the unique constraint on
       (source, external_id) refuses the second insert (or its validation sees the first row), and that
       request returns the first one's item.
    """
    if external_id:
        existing = _recorded_for_team(team=team, source=source, external_id=external_id)
        if existing is not None:
            return Saved(existing), False
    try:
        return incident_create(actor=actor, team=team, source=source, external_id=external_id, **fields), True
    except (IntegrityError, ValidationError):
        existing = _recorded_for_team(team=team, source=source, external_id=external_id) if external_id else None
        if existing is None:
            raise
        return Saved(existing), False


ALERT_SEVERITIES = {
    "critical": Incident.Severity.SEV1, "page": Incident.Severity.SEV1, "sev1": Incident.Severity.SEV1,
    "p1": Incident.Severity.SEV1, "high": Incident.Severity.SEV2, "major": Incident.Severity.SEV2,
    "error": Incident.Severity.SEV2, "sev2": Incident.Severity.SEV2, "p2": Incident.Severity.SEV2,
    "warning": Incident.Severity.SEV3, "warn": Incident.Severity.SEV3, "minor": Incident.Severity.SEV3,
    "medium": Incident.Severity.SEV3, "sev3": Incident.Severity.SEV3, "p3": Incident.Severity.SEV3,
    "info": Incident.Severity.SEV4, "low": Incident.Severity.SEV4, "sev4": Incident.Severity.SEV4,
    "p4": Incident.Severity.SEV4,
}  # fmt: skip


def _cut(text: str, length: int) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"


# --- Webhook deliveries: replays refused by delivery id, old ones forgotten -------------------------------


def hook_delivery_claim(*, source: str, delivery_id: str, hook: Hook | None = None, token: ApiToken | None = None,
                        event: str = "", team: Team | None = None) -> tuple[HookDelivery, bool]:  # fmt: skip
    """Claim a delivery id inside the caller's transaction; returns the row and whether it is to be processed.

    1. Insert the row (in a savepoint): of several concurrent copies of one delivery, the unique constraint on
       (source, team, delivery_id) lets exactly one through; the others wait for its transaction and fail.
    2. A copy that failed reads the row, locked: a delivery that recorded something, or found it already
       recorded, is not processed again (its repeat is counted). One that was ignored (e.g. an environment
       not mapped yet) is processed again, as the hook's settings may have been fixed since.
    3. The caller processes and sets the outcome with hook_delivery_finish. When it raises, its transaction
       rolls back the claim too, so a corrected redelivery is processed.
    Without a delivery id there is nothing to deduplicate: the row only records the outcome.
    """
    if not delivery_id:
        return HookDelivery(
            source=source, hook=hook, token=token, team=team, event=event, outcome=HookDelivery.Outcome.IGNORED
        ), True  # fmt: skip
    try:
        with transaction.atomic():
            return HookDelivery.objects.create(
                source=source, delivery_id=delivery_id, hook=hook, token=token, team=team, event=event,
                outcome=HookDelivery.Outcome.IGNORED,
            ), True  # fmt: skip
    except IntegrityError:
        pass
    seen = HookDelivery.objects.select_for_update().get(source=source, team=team, delivery_id=delivery_id)
    HookDelivery.objects.filter(pk=seen.pk).update(repeats=models.F("repeats") + 1)
    return seen, seen.outcome == HookDelivery.Outcome.IGNORED


def hook_delivery_finish(*, delivery: HookDelivery, outcome: str, detail: str = "") -> None:
    delivery.outcome, delivery.detail = outcome, _cut(detail, 300)
    delivery.full_clean(exclude=["hook", "token"], validate_unique=False, validate_constraints=False)
    if delivery.pk is None:
        delivery.save()
    else:  # a claimed row: its repeats are counted by concurrent copies
        delivery.save(update_fields=["outcome", "detail"])


def hook_deliveries_purge(*, now: dt.datetime | None = None) -> int:
    """Forget deliveries older than HOOK_DELIVERY_RETENTION_DAYS; a replay older than that is refused anyway
    by the ordering of deployment events. Returns how many were forgotten."""
    cutoff = (now or timezone.now()) - dt.timedelta(days=settings.HOOK_DELIVERY_RETENTION_DAYS)
    deleted, _ = HookDelivery.objects.filter(received_at__lt=cutoff).delete()
    return deleted


# GitHub deployment_status states that end a deployment, and what Hindsight records for them.
