"""Export and import of the whole data set, optionally masked for non-production copies of Hindsight.

A masked export keeps dates, numbers, relations and the shape of the data, so that reports computed on the copy
give the same numbers, while nothing identifies a person: people get consistent pseudonyms (the same person has
the same pseudonym everywhere, including where their name appears in free text), free text is redacted
(incidents/redaction.py), identifiers (versions, shas, external ids, gate names, URLs) become keyed hashes in
their own shape, passwords and receipts are unusable, and confidential reporters are dropped.

Every model of the app has a rule here, and every field of an exported model a treatment (kept with a reason,
masked with how, or dropped): the export refuses to run otherwise, naming what is missing, so a new model or
field cannot leak by being forgotten. docs/data-hygiene.md carries the table (`rules_table()`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import math
import re
import secrets
import string
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

from django.apps import apps
from django.contrib.auth import get_user_model
from django.core import serializers
from django.core.exceptions import ValidationError
from django.core.management.color import no_style
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction

from incidents.markdown import render_markdown
from incidents.redaction import redact_text
from incidents.services.tools import RESERVED_SOURCES

if TYPE_CHECKING:
    from _typeshed import SupportsWrite


class _Encoder(DjangoJSONEncoder):
    """DjangoJSONEncoder keeps milliseconds only; a copy keeps every microsecond."""

    def default(self, o: Any) -> Any:
        if isinstance(o, dt.datetime | dt.time):
            return o.isoformat()
        return super().default(o)


FORMAT = "hindsight-dataset"
FORMAT_VERSION = 1


# --- How each field travels in a masked export ------------------------------------------------------------
# Every concrete field of every exported model is declared below as kept (with the reason it identifies nobody),
# masked (with how) or dropped (with why). An undeclared field stops the export, so a new one cannot leak by
# being forgotten; tests/test_dataset.py walks the models the same way.


@dataclass(frozen=True)
class Keep:
    """Copied as it is: `reason` says why it identifies nobody (an enum, a date, a number, a foreign key...)."""

    reason: str


@dataclass(frozen=True)
class Mask:
    """Rewritten on a masked export by `apply(masker, value, row, max_length)`; `how` says how, for the docs."""

    how: str
    apply: Callable[[Masker, Any, dict[str, Any], int | None], Any]


@dataclass(frozen=True)
class Drop:
    """Replaced by `empty()` on a masked export: the copy has no use for it and it could identify someone."""

    reason: str
    empty: Callable[[], Any]


Treatment = Keep | Mask | Drop


@dataclass(frozen=True)
class Rule:
    """How one model travels: each field's treatment, or the whole model stays home (`skip`)."""

    fields: dict[str, Treatment] = field(default_factory=dict)
    skip: bool = False


_HEX = re.compile(r"(?=.*[a-f])[0-9a-f]{7,}|(?=.*[A-F])[0-9A-F]{7,}")  # shas, fingerprints
_LABELLED_HEX = re.compile(r"([A-Za-z0-9]+:)([0-9a-fA-F]+)")  # sha256:2cf24d…
_OWN_SOURCE = re.compile(r"api-team\d+")  # deployments recorded through the API, named by Hindsight
_UNIQUE_BITS = 64  # below this, a masked identifier gets a hash suffix so that distinct values stay distinct


@dataclass
class Masker:
    """Pseudonyms for people, redaction for text and keyed hashes for identifiers, consistent within one export.

    The key is new for every export: the same value is masked the same way everywhere in one file (joins and
    unique constraints survive), and nothing links two exports or lets the original be recovered.
    """

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

    def people(self, value: str) -> str:
        """Every known person's name, username or address in `value` becomes their pseudonym."""
        if not value or self._name_pattern is None:
            return value
        return self._name_pattern.sub(lambda match: self.names[match.group(0).lower()], value)

    def text(self, value: str) -> str:
        if not value:
            return value
        return redact_text(self.people(value))[0]

    def _stream(self, value: str, length: int) -> bytes:
        seed = hmac.new(self.key, b"identifier:" + value.encode(), hashlib.sha256).digest()
        return hashlib.shake_256(seed).digest(length)

    def _hex(self, value: str, length: int) -> str:
        return self._stream(value, (length + 1) // 2).hex()[:length]

    def identifier(self, value: str, max_length: int | None = None) -> str:
        """A keyed hash of `value` in its shape: hex stays hex; otherwise each digit becomes a digit and each letter
        a letter of the same case, and punctuation stays. A value too short to stay distinct gets a hash suffix
        (`1.2.3` → `7.0.4-3fa9c21b0d4e5f6a`), so that distinct values stay distinct (unique constraints hold)."""
        if not value:
            return value
        masked, bits = self._shaped(value)
        if bits >= _UNIQUE_BITS:
            return masked
        suffix = "-" + self._hex("suffix:" + value, 16)
        if max_length:
            masked = masked[: max_length - len(suffix)]
        return masked + suffix

    def _shaped(self, value: str) -> tuple[str, float]:
        """`value` with each character replaced by one of its class, and the bits of randomness that gives."""
        if _HEX.fullmatch(value):
            masked = self._hex(value, len(value))
            return (masked if value.islower() else masked.upper()), 4.0 * len(value)
        shaped, bits = [], 0.0
        for char, byte in zip(value, self._stream(value, len(value)), strict=True):
            if char.isascii() and char.isdigit():
                shaped.append(string.digits[byte % 10])
                bits += math.log2(10)
            elif char.isascii() and char.isalpha():
                alphabet = string.ascii_lowercase if char.islower() else string.ascii_uppercase
                shaped.append(alphabet[byte % 26])
                bits += math.log2(26)
            else:
                shaped.append(char if char.isascii() and char.isprintable() else "_")
        return "".join(shaped), bits

    def digest(self, value: str, max_length: int | None = None) -> str:
        """An artifact digest keeps its algorithm label; its hex becomes a keyed hash of the same length."""
        labelled = _LABELLED_HEX.fullmatch(value or "")
        if labelled is None:
            return self.identifier(value, max_length)
        label, hex_part = labelled.groups()
        return label + self._hex(value, len(hex_part))

    def url(self, value: str) -> str:
        return f"https://masked.example.invalid/{self._hex(value, 16)}" if value else value

    def source(self, value: str) -> str:
        """Names of Hindsight's own doors stay (web, api, alertmanager, github, api-team<n>); a tool's own name
        becomes `src-<hash>`, which the API would still accept as a source."""
        if not value or value in KEPT_SOURCES or _OWN_SOURCE.fullmatch(value):
            return value
        return f"src-{self._hex(value, 12)}"

    def slug(self, value: str, max_length: int | None = None) -> str:
        """People's names in a slug become pseudonyms; a slug that still holds anything redaction finds, or that
        no longer fits, becomes `s-<hash>`."""
        masked = self.people(value)
        if redact_text(masked)[1] or (max_length and len(masked) > max_length):
            return f"s-{self._hex(value, 14)}"
        return masked

    def gates(self, value: Any) -> dict[str, str]:
        if not isinstance(value, dict):  # only the admin or the shell could store one; nothing of it travels
            return {}
        return {self.identifier(name, 50): result for name, result in value.items()}


KEPT_SOURCES = frozenset({*RESERVED_SOURCES, "api"})


def _fresh_hash() -> str:
    return secrets.token_hex(32)


def _portable_user(row: dict[str, Any]) -> None:
    # Groups and permissions point at ids that differ between instances; Hindsight's roles are memberships.
    row["fields"].update(groups=[], user_permissions=[])


# The treatments used below, named once so that the docs table reads the same everywhere.
ID = Keep("the row's id")
FK = Keep("a foreign key to a row that is itself masked")
M2M = Keep("links to rows that are themselves masked")
DATE = Keep("a date or time")
NUMBER = Keep("a number")
FLAG = Keep("a yes/no flag")
ENUM = Keep("an enum (one of a fixed set of values)")
TAXONOMY = Keep("a slug of the shared taxonomy (environments, causes), chosen by admins")
TEXT = Mask(
    "free text: people's names become their pseudonyms, then every redaction detector runs "
    "(incidents/redaction.py), whatever the field's policy on the way in",
    lambda masker, value, row, limit: masker.text(value),
)
IDENTIFIER = Mask(
    "keyed hash in the same shape (hex stays hex; digits, letters and punctuation keep their places; "
    "a short value gets a hash suffix so that distinct values stay distinct)",
    lambda masker, value, row, limit: masker.identifier(value, limit),
)
URL = Mask(
    "keyed hash: `https://masked.example.invalid/<hash>`",
    lambda masker, value, row, limit: masker.url(value),
)
SOURCE = Mask(
    "Hindsight's own door names stay (`web`, `api`, `alertmanager`, `github`, `api-team<n>`); others become "
    "`src-<hash>`",
    lambda masker, value, row, limit: masker.source(value),
)
SLUG = Mask(
    "people's names become pseudonyms; a slug still holding personal data becomes `s-<hash>`",
    lambda masker, value, row, limit: masker.slug(value, limit),
)

# Models in load order (referenced rows first).
RULES: dict[str, Rule] = {
    "auth.user": Rule(
        {
            "id": ID,
            "password": Drop("a copy's people cannot log in", lambda: "!masked"),  # an unusable password hash
            "last_login": DATE,
            "is_superuser": FLAG,
            "username": Mask(
                "pseudonym `person-<keyed hash of the id>`, the same one that replaces their name in text",
                lambda masker, value, row, limit: masker.pseudonym(row["pk"]),
            ),
            "first_name": Drop("names a person; the pseudonym stands in", str),
            "last_name": Drop("names a person; the pseudonym stands in", str),
            "email": Mask(
                "`<pseudonym>@example.invalid`",
                lambda masker, value, row, limit: f"{masker.pseudonym(row['pk'])}@example.invalid",
            ),
            "is_staff": FLAG,
            "is_active": FLAG,
            "date_joined": DATE,
            "groups": Drop("ids differ between instances; Hindsight's roles are memberships", list),
            "user_permissions": Drop("ids differ between instances; Hindsight's roles are memberships", list),
        }
    ),
    "incidents.team": Rule({"id": ID, "name": TEXT, "slug": SLUG, "created_at": DATE, "members": M2M}),
    "incidents.membership": Rule({"id": ID, "user": FK, "team": FK, "role": ENUM}),
    "incidents.service": Rule({"id": ID, "name": TEXT, "slug": SLUG, "owner_team": FK, "description": TEXT}),
    "incidents.environment": Rule(
        {"id": ID, "name": TEXT, "slug": TAXONOMY, "kind": ENUM, "promotion_order": NUMBER, "mandate": TEXT}
    ),
    "incidents.cause": Rule(
        {"id": ID, "slug": TAXONOMY, "name": TEXT, "description": TEXT, "category": ENUM, "active": FLAG}
    ),
    "incidents.release": Rule(
        {
            "id": ID,
            "service": FK,
            "version": IDENTIFIER,
            "artifact_digest": Mask(
                "the algorithm label stays (`sha256:`); the hex becomes a keyed hash of the same length",
                lambda masker, value, row, limit: masker.digest(value, limit),
            ),
            "commit_sha": IDENTIFIER,
            "url": URL,
            "created_at": DATE,
            "entered_by_hand": FLAG,
        }
    ),
    "incidents.deployment": Rule(
        {
            "id": ID,
            "release": FK,
            "environment": FK,
            "status": ENUM,
            "deployed_at": DATE,
            "gates": Mask(
                "each gate name as an identifier (keyed hash in its shape); the results (an enum) stay",
                lambda masker, value, row, limit: masker.gates(value),
            ),
            "rollback_rehearsed": FLAG,
            "source": SOURCE,
            "external_id": IDENTIFIER,
            "created_at": DATE,
        }
    ),
    "incidents.incidentcounter": Rule(
        {"kind": Keep("the primary key: an item kind (incident, near_miss)"), "last_number": NUMBER}
    ),
    "incidents.incident": Rule(
        {
            "id": ID,
            "kind": ENUM,
            "number": Keep("a number (INC-12): the copy keeps the same references"),
            "title": TEXT,
            "summary": TEXT,
            "potential_impact": TEXT,
            "trigger": TEXT,
            "severity": ENUM,
            "status": ENUM,
            "team": FK,
            "environment": FK,
            "caught_by": ENUM,
            "started_at": DATE,
            "detected_at": DATE,
            "mitigated_at": DATE,
            "resolved_at": DATE,
            "body": TEXT,
            "body_html": Mask(
                "rendered again from the masked body",
                lambda masker, value, row, limit: render_markdown(row["fields"]["body"]),
            ),
            "reporter": FK,
            "confidential": FLAG,
            "release_entered": IDENTIFIER,
            "source": SOURCE,
            "external_id": IDENTIFIER,
            "version": NUMBER,
            "created_at": DATE,
            "updated_at": DATE,
            "services": M2M,
            "releases": M2M,
            "causes": Keep("stored as incidents.incidentcause rows, masked there"),
        }
    ),
    "incidents.confidentialreporter": Rule(
        {
            "id": ID,
            "incident": FK,
            "user": Drop("who filed a confidential near-miss never leaves the instance", lambda: None),
            "receipt_hash": Drop("a receipt only works where it was issued: a fresh random hash", _fresh_hash),
            "created_at": DATE,
            "purged_at": DATE,
        }
    ),
    "incidents.incidentcause": Rule({"id": ID, "incident": FK, "cause": FK, "note": TEXT, "gate": ENUM}),
    "incidents.timelineentry": Rule({"id": ID, "incident": FK, "at": DATE, "text": TEXT}),
    "incidents.actionitem": Rule(
        {
            "id": ID,
            "incident": FK,
            "title": TEXT,
            "owner": FK,
            "team": FK,
            "due_date": DATE,
            "status": ENUM,
            "cause": FK,
            "ticket_url": URL,
            "created_at": DATE,
            "completed_at": DATE,
            "overdue_announced_at": DATE,
        }
    ),
    "incidents.incidentrevision": Rule(
        {
            "id": ID,
            "incident": FK,
            "version": NUMBER,
            "author": FK,
            "title": TEXT,
            "summary": TEXT,
            "trigger": TEXT,
            "body": TEXT,
            "status": ENUM,
            "timeline": TEXT,
            "note": TEXT,
            "created_at": DATE,
        }
    ),
    "incidents.digestsubscription": Rule({"id": ID, "user": FK, "subscribed": FLAG, "updated_at": DATE}),
    # Derived or operational data: reports are regenerated on the copy; delivery errors may quote addresses.
    "incidents.trendreport": Rule(skip=True),
    "incidents.digestdelivery": Rule(skip=True),
    # Credentials stay with the instance that issued them: a copy makes its own tokens and hook secrets.
    # Idempotency records hold replayed response bodies (free text) and expire within a day anyway.
    "incidents.apitoken": Rule(skip=True),
    "incidents.hook": Rule(skip=True),
    # A chat webhook URL is a credential of the channel it posts to.
    "incidents.chatwebhook": Rule(skip=True),
    # An outbound webhook subscription holds its signing secret and a URL that is often a credential; its
    # deliveries belong to it (and are this instance's own log).
    "incidents.webhooksubscription": Rule(skip=True),
    "incidents.webhookdelivery": Rule(skip=True),
    "incidents.idempotencyrecord": Rule(skip=True),
    # Webhook deliveries belong to the hooks and tokens above, which are not copied either.
    "incidents.hookdelivery": Rule(skip=True),
    # The audit trail is this instance's own history, and it names people: a copy starts its own.
    "incidents.auditentry": Rule(skip=True),
    # Follow-up work belongs to the instance that queued it.
    "incidents.outboxmessage": Rule(skip=True),
}


class ExportRefused(Exception):
    """The rules do not cover the models or fields there are: nothing is written."""


def unruled_models() -> list[str]:
    """Models of the app (and the user model) that have no export rule."""
    labels = {model._meta.label_lower for model in apps.get_app_config("incidents").get_models()}
    labels.add(get_user_model()._meta.label_lower)
    return sorted(labels - set(RULES))


def exported_fields(label: str) -> list[Any]:
    """The fields of a model that its serialized rows carry: every concrete one, many-to-many included."""
    return [f for f in apps.get_model(label)._meta.get_fields() if f.concrete]


def unclassified_fields() -> list[str]:
    """`model.field` for every field of an exported model without a treatment, or with one it cannot have."""
    problems = []
    for label, rule in RULES.items():
        if rule.skip:
            continue
        fields = exported_fields(label)
        names = {f.name for f in fields}
        problems += [f"{label}.{f.name}" for f in fields if f.name not in rule.fields]
        problems += [f"{label}.{name} (no such field)" for name in rule.fields if name not in names]
        pk = apps.get_model(label)._meta.pk.name
        if pk in rule.fields and not isinstance(rule.fields[pk], Keep):
            problems.append(f"{label}.{pk} (a primary key is kept, or the rows would not join)")
    return problems


def check_rules() -> None:
    if missing := unruled_models():
        raise ExportRefused(f"No export rule for {', '.join(missing)}; add one to incidents/dataset.py.")
    if unclassified := unclassified_fields():
        raise ExportRefused(
            f"Fields without a masking rule: {', '.join(unclassified)}. Declare each in incidents/dataset.py "
            "RULES as kept (with the reason), masked (with how) or dropped."
        )


def _mask_row(row: dict[str, Any], rule: Rule, limits: dict[str, int | None], masker: Masker) -> None:
    # In declaration order, so a field derived from another (body_html from body) sees the masked value.
    for name, treatment in rule.fields.items():
        if isinstance(treatment, Mask):
            row["fields"][name] = treatment.apply(masker, row["fields"][name], row, limits[name])
        elif isinstance(treatment, Drop):
            row["fields"][name] = treatment.empty()


def rules_table() -> str:
    """The masked export's treatment of every field, as the Markdown table of docs/data-hygiene.md."""
    lines = ["| model | field | masked export |", "|---|---|---|"]
    for label, rule in RULES.items():
        if rule.skip:
            lines.append(f"| `{label}` | (every field) | not exported |")
            continue
        for name, treatment in rule.fields.items():
            if isinstance(treatment, Keep):
                what = f"kept: {treatment.reason}"
            elif isinstance(treatment, Mask):
                what = f"masked: {treatment.how}"
            else:
                what = f"dropped: {treatment.reason}"
            lines.append(f"| `{label}` | `{name}` | {what} |")
    return "\n".join(lines) + "\n"


def export_dataset(stream: SupportsWrite[str], *, masked: bool) -> dict[str, int]:
    """Write every exported model to `stream` as one JSON document; returns the row count per model.

    Raises ExportRefused, before reading anything, when a model or a field has no rule.
    """
    check_rules()
    masker = Masker()
    if masked:
        masker.learn_people(get_user_model().objects.all())
    models: dict[str, list[dict[str, Any]]] = {}
    for label, rule in RULES.items():
        if rule.skip:
            continue
        model = apps.get_model(label)
        limits = {f.name: getattr(f, "max_length", None) for f in exported_fields(label)}
        rows = serializers.serialize("python", model.objects.order_by("pk").iterator(chunk_size=2000))
        for row in rows:
            if label == "auth.user":
                _portable_user(row)
            if masked:
                _mask_row(row, rule, limits, masker)
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
