"""Releases and their deployments through the environments, from CI calls and GitHub deployment events."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from incidents.models import (
    Deployment,
    Environment,
    Hook,
    HookDelivery,
    Release,
    Service,
    validate_gates,
)
from incidents.policies import not_writable_detail, service_writable_by
from incidents.services.incidents import Redactions, _redact  # noqa: F401
from incidents.services.tools import hook_delivery_claim, hook_delivery_finish


def release_record(
    *,
    service: Service,
    version: str,
    artifact_digest: str = "",
    commit_sha: str = "",
    url: str = "",
    created_at: dt.datetime | None = None,
) -> Release:
    """Return the release of `service` at `version`, creating it when new.

    A release is a known artifact: recording the same version with a different digest or commit is refused.
    """
    url = _redact({"url": url}, into={}, policy_prefix="release.")["url"]
    candidate = Release(
        service=service, version=version, artifact_digest=artifact_digest, commit_sha=commit_sha, url=url,
        created_at=created_at or timezone.now(),
    )  # fmt: skip
    candidate.full_clean(validate_unique=False, validate_constraints=False)
    release, created = Release.objects.get_or_create(
        service=service, version=version, defaults={field: getattr(candidate, field) for field in (
            "artifact_digest", "commit_sha", "url", "created_at")}
    )  # fmt: skip
    if created:
        return release
    filled = []
    for field in ("artifact_digest", "commit_sha", "url"):
        given, stored = getattr(candidate, field), getattr(release, field)
        if given and stored and given != stored:
            raise ValidationError(
                {field: f"{service.slug} {version} was recorded with {field} {stored}, not {given}."}
            )
        if given and not stored:
            setattr(release, field, given)
            filled.append(field)
    if release.entered_by_hand:  # a tool has recorded it now: no longer only typed on a near-miss form
        release.entered_by_hand = False
        filled.append("entered_by_hand")
    if filled:
        release.save(update_fields=filled)
    return release


@transaction.atomic
def deployment_record(
    *,
    service: Service,
    version: str,
    environment: Environment,
    status: str,
    deployed_at: dt.datetime | None = None,
    gates: Mapping[str, str] | None = None,
    rollback_rehearsed: bool = False,
    artifact_digest: str = "",
    commit_sha: str = "",
    url: str = "",
    source: str = "",
    external_id: str = "",
) -> Deployment:
    """Record one promotion of a release into an environment, creating the release when it is new.

    With an external_id, the deployment is recorded once per (source, external_id); later calls update its
    status and gates (a deployment that starts, then succeeds or rolls back). The time of an event is its
    deployed_at (given, or now): every update sets it, so the stored deployed_at is the time of the event the
    stored status came from, and an event older than that changes nothing (a replayed or late "failure" cannot
    undo a newer "success"). The deployment returned then has `stale` set.
    """
    gates = dict(gates or {})
    try:
        validate_gates(gates)
    except ValidationError as error:
        raise ValidationError({"gates": error.messages}) from None
    deployed_at = deployed_at or timezone.now()
    existing = None
    if external_id:
        existing = Deployment.objects.select_for_update().filter(source=source, external_id=external_id).first()
        if existing is not None and deployed_at < existing.deployed_at:
            existing.stale = True
            return existing
    release = release_record(
        service=service, version=version, artifact_digest=artifact_digest, commit_sha=commit_sha, url=url
    )
    values = {
        "release": release, "environment": environment, "status": status, "gates": gates,
        "rollback_rehearsed": rollback_rehearsed, "deployed_at": deployed_at,
    }  # fmt: skip
    if existing is not None:
        for name, value in values.items():
            setattr(existing, name, value)
        existing.full_clean(validate_unique=False, validate_constraints=False)
        existing.save()
        existing.stale = False
        return existing
    deployment = Deployment(source=source, external_id=external_id, **values)
    deployment.full_clean()
    deployment.save()
    deployment.stale = False
    return deployment


GITHUB_FINAL_STATES = {"success": Deployment.Status.SUCCEEDED, "failure": Deployment.Status.FAILED,
                       "error": Deployment.Status.FAILED}  # fmt: skip
VERSION_REF = re.compile(r"(?:refs/tags/)?(v?\d+(?:\.\d+)+(?:[-+][0-9A-Za-z.+-]+)?)")


@dataclass(frozen=True)
class GitHubDeploymentOutcome:
    release: Release | None
    deployment: Deployment | None
    ignored: str = ""  # why nothing (or only the release) was recorded
    stale: bool = False  # the event is older than the status recorded: nothing changed
    duplicate: bool = False  # the delivery id was handled before: nothing done


def _github_version(*, service: Service, sha: str, ref: str) -> str:
    """A release is named by its commit when one is known, else by the ref's version, else the short sha."""
    known = Release.objects.filter(service=service, commit_sha=sha).order_by("created_at").first()
    if known is not None:
        return known.version
    match = VERSION_REF.fullmatch(ref or "")
    return match.group(1) if match else sha[:12]


def _github_environment(*, hook: Hook, name: str) -> Environment | None:
    slug = (hook.environment_map or {}).get(name, name)
    return Environment.objects.filter(slug=slug).first()


@dataclass(frozen=True)
class GitHubDeploymentEvent:
    """What Hindsight reads of a `deployment` or `deployment_status` event."""

    repository: str
    deployment_id: int
    sha: str
    ref: str
    environment_name: str
    state: str | None  # None for a `deployment` event
    at: dt.datetime  # the status's time (the deployment's for a `deployment` event)
    url: str = ""


def _github_service(*, hook: Hook, repository: str) -> tuple[Service | None, str]:
    """The hook's service (an admin's choice), else the service named like the repository, if the hook's team
    may write for it (policies.service_writable_by)."""
    if hook.service is not None:
        return hook.service, ""
    service = Service.objects.filter(slug=repository).first()
    if service is None:
        return None, f"No service for repository {repository!r}; set the hook's service."
    if not service_writable_by(hook.team, service):
        return None, f"Repository {repository!r}: " + not_writable_detail(
            hook.team, service
        ) + " Nothing recorded."
    return service, ""


@transaction.atomic
def github_deployment_record(*, hook: Hook, event: GitHubDeploymentEvent) -> GitHubDeploymentOutcome:
    """Record the release a GitHub deployment carries and, once its status is final, the deployment."""
    service, ignored = _github_service(hook=hook, repository=event.repository)
    if service is None:
        return GitHubDeploymentOutcome(None, None, ignored)
    version = _github_version(service=service, sha=event.sha, ref=event.ref)
    release = release_record(service=service, version=version, commit_sha=event.sha, url=event.url)
    environment = _github_environment(hook=hook, name=event.environment_name)
    if environment is None:
        return GitHubDeploymentOutcome(
            release, None, f"GitHub environment {event.environment_name!r} is not mapped."
        )
    if event.state not in GITHUB_FINAL_STATES:
        return GitHubDeploymentOutcome(
            release, None, f"Deployment state {event.state or 'created'!r} is not final yet."
        )
    deployment = deployment_record(
        service=service, version=version, environment=environment, status=GITHUB_FINAL_STATES[event.state],
        deployed_at=event.at, commit_sha=event.sha, source="github",
        external_id=f"hook{hook.pk}/{event.deployment_id}",
    )  # fmt: skip
    if deployment.stale:
        return GitHubDeploymentOutcome(
            release, deployment, "A newer status of this deployment is already recorded; nothing changed.",
            stale=True,
        )  # fmt: skip
    return GitHubDeploymentOutcome(release, deployment)


def _github_delivery_outcome(outcome: GitHubDeploymentOutcome) -> str:
    if outcome.stale:
        return HookDelivery.Outcome.UNCHANGED
    return HookDelivery.Outcome.IGNORED if outcome.ignored else HookDelivery.Outcome.RECORDED


@transaction.atomic
def github_delivery_record(
    *, hook: Hook, delivery_id: str, event: str, deployment: GitHubDeploymentEvent | None
) -> GitHubDeploymentOutcome:
    """Handle one GitHub delivery once per delivery id (X-GitHub-Delivery), recording its outcome.

    `deployment` is None for events other than `deployment` and `deployment_status` (ping included), which
    record nothing. A delivery id already handled is answered with `duplicate` set and changes nothing
    (see tools.hook_delivery_claim for the order of steps and which repeats are handled again).
    """
    delivery, fresh = hook_delivery_claim(
        source="github", delivery_id=delivery_id, hook=hook, event=event, team=hook.team
    )
    if not fresh:
        return GitHubDeploymentOutcome(None, None, f"Delivery {delivery_id} already received.", duplicate=True)
    if deployment is None:
        ignored = "pong" if event == "ping" else f"Event {event or '(none)'!r} ignored."
        outcome = GitHubDeploymentOutcome(None, None, ignored)
    else:
        outcome = github_deployment_record(hook=hook, event=deployment)
    hook_delivery_finish(delivery=delivery, outcome=_github_delivery_outcome(outcome), detail=outcome.ignored)
    return outcome
