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
    GitHubHook,
    Release,
    Service,
    validate_gates,
)
from incidents.services.incidents import Redactions, _redact  # noqa: F401


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
    status and gates (a deployment that starts, then succeeds or rolls back).
    """
    gates = dict(gates or {})
    try:
        validate_gates(gates)
    except ValidationError as error:
        raise ValidationError({"gates": error.messages}) from None
    release = release_record(
        service=service, version=version, artifact_digest=artifact_digest, commit_sha=commit_sha, url=url
    )
    values = {
        "release": release, "environment": environment, "status": status, "gates": gates,
        "rollback_rehearsed": rollback_rehearsed, "deployed_at": deployed_at or timezone.now(),
    }  # fmt: skip
    if external_id:
        existing = Deployment.objects.select_for_update().filter(source=source, external_id=external_id).first()
        if existing is not None:
            for name, value in values.items():
                setattr(existing, name, value)
            existing.full_clean(validate_unique=False, validate_constraints=False)
            existing.save()
            return existing
    deployment = Deployment(source=source, external_id=external_id, **values)
    deployment.full_clean()
    deployment.save()
    return deployment


GITHUB_FINAL_STATES = {"success": Deployment.Status.SUCCEEDED, "failure": Deployment.Status.FAILED,
                       "error": Deployment.Status.FAILED}  # fmt: skip
VERSION_REF = re.compile(r"(?:refs/tags/)?(v?\d+(?:\.\d+)+(?:[-+][0-9A-Za-z.+-]+)?)")


@dataclass(frozen=True)
class GitHubDeploymentOutcome:
    release: Release | None
    deployment: Deployment | None
    ignored: str = ""  # why nothing (or only the release) was recorded


def _github_version(*, service: Service, sha: str, ref: str) -> str:
    """A release is named by its commit when one is known, else by the ref's version, else the short sha."""
    known = Release.objects.filter(service=service, commit_sha=sha).order_by("created_at").first()
    if known is not None:
        return known.version
    match = VERSION_REF.fullmatch(ref or "")
    return match.group(1) if match else sha[:12]


def _github_environment(*, hook: GitHubHook, name: str) -> Environment | None:
    slug = (hook.environment_map or {}).get(name, name)
    return Environment.objects.filter(slug=slug).first()


@transaction.atomic
def github_deployment_record(
    *,
    hook: GitHubHook,
    repository: str,
    deployment_id: int,
    sha: str,
    ref: str,
    environment_name: str,
    state: str | None,
    at: dt.datetime,
    url: str = "",
) -> GitHubDeploymentOutcome:
    """Record the release a GitHub deployment carries and, once its status is final, the deployment."""
    service = hook.service or Service.objects.filter(slug=repository).first()
    if service is None:
        return GitHubDeploymentOutcome(
            None, None, f"No service for repository {repository!r}; set the hook's service."
        )
    version = _github_version(service=service, sha=sha, ref=ref)
    release = release_record(service=service, version=version, commit_sha=sha, url=url)
    environment = _github_environment(hook=hook, name=environment_name)
    if environment is None:
        return GitHubDeploymentOutcome(release, None, f"GitHub environment {environment_name!r} is not mapped.")
    if state not in GITHUB_FINAL_STATES:
        return GitHubDeploymentOutcome(release, None, f"Deployment state {state or 'created'!r} is not final yet.")
    deployment = deployment_record(
        service=service, version=version, environment=environment, status=GITHUB_FINAL_STATES[state],
        deployed_at=at, commit_sha=sha, source="github", external_id=f"hook{hook.pk}/{deployment_id}",
    )  # fmt: skip
    return GitHubDeploymentOutcome(release, deployment)


def github_hook_touch(*, hook: GitHubHook) -> None:
    GitHubHook.objects.filter(pk=hook.pk).update(last_delivery_at=timezone.now())
