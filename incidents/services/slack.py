"""Writes of the Slack app (docs/slack.md): a signed request is taken once, and a modal files its near-miss once.

Both are remembered as webhook deliveries (HookDelivery, source "slack") and forgotten with them after
HOOK_DELIVERY_RETENTION_DAYS: a request by the hash of its signature, a modal by the hash of its view id.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import F

from incidents.models import HookDelivery
from incidents.services.incidents import NearMissFiling, near_miss_report
from incidents.services.tools import hook_delivery_claim, hook_delivery_finish

SLACK_SOURCE = "slack"


def _key(kind: str, value: str) -> str:
    return f"{kind}:{hashlib.sha256(value.encode()).hexdigest()}"


def slack_request_claim(*, signature: str, event: str) -> bool:
    """Remember a verified request by its signature; False when it was received before (a replay)."""
    try:
        with transaction.atomic():
            HookDelivery.objects.create(
                source=SLACK_SOURCE, delivery_id=_key("request", signature), event=event[:50],
                outcome=HookDelivery.Outcome.RECORDED,
            )  # fmt: skip
    except IntegrityError:
        HookDelivery.objects.filter(source=SLACK_SOURCE, delivery_id=_key("request", signature)).update(
            repeats=F("repeats") + 1
        )
        return False
    return True


@dataclass(frozen=True)
class SlackFiling:
    """What a modal filed: the filing (None when the modal had filed before), and the reference of a
    non-confidential item filed before (a confidential one's is not kept)."""

    filing: NearMissFiling | None
    earlier_reference: str = ""


@transaction.atomic
def slack_near_miss_file(*, view_id: str, reporter: User, **arguments: Any) -> SlackFiling:
    """File the near-miss of one submitted modal (near_miss_report), once per view: a submission sent again
    (Slack retries, a double click) files nothing and hands back what was filed.

    1. Claim the view (tools.hook_delivery_claim): of concurrent copies exactly one goes on.
    2. File; a ValidationError rolls the claim back with the filing, so a corrected submission files.
    3. Keep the reference of a non-confidential item only: nothing kept ties a Slack view to a confidential one.
    """
    delivery, fresh = hook_delivery_claim(source=SLACK_SOURCE, delivery_id=_key("view", view_id), event="view")
    if not fresh:
        return SlackFiling(None, delivery.detail)
    filing = near_miss_report(reporter=reporter, **arguments)
    detail = "" if filing.receipt_code else filing.incident.reference
    hook_delivery_finish(delivery=delivery, outcome=HookDelivery.Outcome.RECORDED, detail=detail)
    return SlackFiling(filing)
