"""Export and import of the whole data set, optionally masked for non-production copies of Hindsight.

A masked export keeps dates, numbers, relations and the shape of the data, so that reports computed on the copy
give the same numbers, while nothing identifies a person: people get consistent pseudonyms (the same person has
the same pseudonym everywhere, including where their name appears in free text), free text is redacted
(incidents/redaction.py), passwords and receipts are unusable, and confidential reporters are dropped.

Every model of the app must have a rule here (tests/test_dataset.py checks), so a new model cannot leak by
being forgotten.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import IO, Any

from django.apps import apps
from django.contrib.auth import get_user_model
from django.core import serializers
from django.core.exceptions import ValidationError
from django.core.management.color import no_style
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction

from incidents.markdown import render_markdown
from incidents.redaction import redact_text


class _Encoder(DjangoJSONEncoder):
    """DjangoJSONEncoder keeps milliseconds only; a copy keeps every microsecond."""

    def default(self, o: Any) -> Any:
        if isinstance(o, dt.datetime | dt.time):
            return o.isoformat()
        return super().default(o)


FORMAT = "hindsight-dataset"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class Rule:
    """How one model travels: its free-text fields are redacted; `mask` rewrites a row; skipped models stay home."""

    text: tuple[str, ...] = ()
    mask: Callable[[dict[str, Any], Masker], None] | None = None
    skip: bool = False


@dataclass
class Masker:
    """Pseudonyms for people and redaction for text, consistent within one export."""

    key: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    names: dict[str, str] = field(default_factory=dict)  # lower-cased name → pseudonym
    _name_pattern: re.Pattern[str] | None = None

    def pseudonym(self, user_pk: int) -> str:
        digest = hmac.new(self.key, str(user_pk).encode(), hashlib.sha256).hexdigest()
        return f"person-{digest[:10]}"

    def learn_people(self, users: Iterable[Any]) -> None:
        for user in users:
            alias = self.pseudonym(user.pk)
            full_name = f"{user.first_name} {user.last_name}".strip()
            for name in (
                user.username,
                user.email,
                user.email.split("@")[0],
                full_name,
                user.first_name,
                user.last_name,
            ):
                if name and len(name) >= 3:
                    self.names[name.lower()] = alias
        ordered = sorted(self.names, key=len, reverse=True)  # longest first: "Alice Smith" before "Alice"
        self._name_pattern = (
            re.compile(r"(?<!\w)(" + "|".join(map(re.escape, ordered)) + r")(?!\w)", re.I) if ordered else None
        )

    def text(self, value: str) -> str:
        if not value:
            return value
        if self._name_pattern is not None:
            value = self._name_pattern.sub(lambda match: self.names[match.group(0).lower()], value)
        return redact_text(value)[0]


def _portable_user(row: dict[str, Any]) -> None:
    # Groups and permissions point at ids that differ between instances; Hindsight's roles are memberships.
    row["fields"].update(groups=[], user_permissions=[])


def _mask_user(row: dict[str, Any], masker: Masker) -> None:
    alias = masker.pseudonym(row["pk"])
    row["fields"].update(
        username=alias,
        email=f"{alias}@example.invalid",
        first_name="",
        last_name="",
        password="!masked",  # noqa: S106 - an unusable password hash
    )


def _mask_incident(row: dict[str, Any], masker: Masker) -> None:
    row["fields"]["body_html"] = render_markdown(row["fields"]["body"])


def _mask_confidential_reporter(row: dict[str, Any], masker: Masker) -> None:
    row["fields"].update(user=None, receipt_hash=secrets.token_hex(32))


def _mask_release(row: dict[str, Any], masker: Masker) -> None:
    row["fields"]["url"] = masker.text(row["fields"]["url"])


def _mask_action_item(row: dict[str, Any], masker: Masker) -> None:
    row["fields"]["ticket_url"] = masker.text(row["fields"]["ticket_url"])


# Models in load order (referenced rows first).
RULES: dict[str, Rule] = {
    "auth.user": Rule(mask=_mask_user),
    "incidents.team": Rule(),
    "incidents.membership": Rule(),
    "incidents.service": Rule(text=("description",)),
    "incidents.environment": Rule(),
    "incidents.cause": Rule(),
    "incidents.release": Rule(mask=_mask_release),
    "incidents.deployment": Rule(),
    "incidents.incidentcounter": Rule(),
    "incidents.incident": Rule(
        text=("title", "summary", "potential_impact", "trigger", "body"), mask=_mask_incident
    ),
    "incidents.confidentialreporter": Rule(mask=_mask_confidential_reporter),
    "incidents.incidentcause": Rule(text=("note",)),
    "incidents.timelineentry": Rule(text=("text",)),
    "incidents.actionitem": Rule(text=("title",), mask=_mask_action_item),
    "incidents.incidentrevision": Rule(text=("title", "summary", "trigger", "body")),
    "incidents.digestsubscription": Rule(),
    # Derived or operational data: reports are regenerated on the copy; delivery errors may quote addresses.
    "incidents.trendreport": Rule(skip=True),
    "incidents.digestdelivery": Rule(skip=True),
    # Credentials stay with the instance that issued them: a copy makes its own tokens and hook secrets.
    # Idempotency records hold replayed response bodies (free text) and expire within a day anyway.
    "incidents.apitoken": Rule(skip=True),
    "incidents.githubhook": Rule(skip=True),
    "incidents.idempotencyrecord": Rule(skip=True),
    # Webhook deliveries belong to the hooks and tokens above, which are not copied either.
    "incidents.hookdelivery": Rule(skip=True),
    # The audit trail is this instance's own history, and it names people: a copy starts its own.
    "incidents.auditentry": Rule(skip=True),
    # Follow-up work belongs to the instance that queued it.
    "incidents.outboxmessage": Rule(skip=True),
}


def unruled_models() -> list[str]:
    """Models of the app (and the user model) that have no export rule."""
    labels = {model._meta.label_lower for model in apps.get_app_config("incidents").get_models()}
    labels.add(get_user_model()._meta.label_lower)
    return sorted(labels - set(RULES))


def export_dataset(stream: IO[str], *, masked: bool) -> dict[str, int]:
    """Write every exported model to `stream` as one JSON document; returns the row count per model."""
    missing = unruled_models()
    if missing:
        raise RuntimeError(f"No export rule for {', '.join(missing)}; add one to incidents/dataset.py.")
    masker = Masker()
    if masked:
        masker.learn_people(get_user_model().objects.all())
    models: dict[str, list[dict[str, Any]]] = {}
    for label, rule in RULES.items():
        if rule.skip:
            continue
        model = apps.get_model(label)
        rows = serializers.serialize("python", model.objects.order_by("pk").iterator(chunk_size=2000))
        if label == "auth.user":
            for row in rows:
                _portable_user(row)
        if masked:
            for row in rows:
                for name in rule.text:
                    row["fields"][name] = masker.text(row["fields"][name])
                if rule.mask:
                    rule.mask(row, masker)
        models[label] = rows
    document = {"format": FORMAT, "version": FORMAT_VERSION, "masked": masked, "models": models}
    json.dump(document, stream, cls=_Encoder)
    return {label: len(rows) for label, rows in models.items()}


def _read(stream: IO[str]) -> dict[str, Any]:
    try:
        document = json.load(stream)
    except json.JSONDecodeError as error:
        raise ValidationError(f"The file is not JSON: {error}") from None
    except RecursionError:  # arrays or objects nested thousands deep: no data set looks like this
        raise ValidationError("The file is not a Hindsight data set: it is nested too deeply.") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ValidationError("The file is not a Hindsight data set.")
    if document.get("version") != FORMAT_VERSION:
        raise ValidationError(
            f"Data set version {document.get('version')} cannot be read (expected {FORMAT_VERSION})."
        )
    unknown = set(document.get("models", {})) - set(RULES)
    if unknown:
        raise ValidationError(f"The data set holds unknown models: {', '.join(sorted(unknown))}.")
    return document


@transaction.atomic
def import_dataset(stream: IO[str]) -> dict[str, int]:
    """Load a data set into an empty instance (nothing but the seeded taxonomy may exist)."""
    document = _read(stream)
    Incident, Team = apps.get_model("incidents.incident"), apps.get_model("incidents.team")
    if get_user_model().objects.exists() or Incident.objects.exists() or Team.objects.exists():
        raise ValidationError("Import into an empty instance: people, teams or incidents already exist here.")
    # The taxonomy seeded by the migrations is replaced by the data set's own, ids included.
    for label in ("incidents.environment", "incidents.cause", "incidents.incidentcounter"):
        apps.get_model(label).objects.all().delete()
    counts = {}
    for label, rows in document["models"].items():
        objects = serializers.deserialize("python", rows)
        count = 0
        for deserialized in objects:
            deserialized.save()
            count += 1
        counts[label] = count
    _reset_sequences([apps.get_model(label) for label in document["models"]])
    return counts


def _reset_sequences(models: list[Any]) -> None:
    statements = connection.ops.sequence_reset_sql(no_style(), models)
    if statements:
        with connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
