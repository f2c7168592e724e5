"""factory_boy factories. Environments and causes are seeded by migration; factories look them up."""

from __future__ import annotations

import datetime as dt

import factory
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from incidents.models import (
    ActionItem,
    Cause,
    Deployment,
    Environment,
    Incident,
    IncidentCause,
    Membership,
    Release,
    Service,
    Team,
    TimelineEntry,
)
from incidents.services import incident_numbers_reserve


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"person{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    password = factory.django.Password("correct horse battery staple")


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Team {n}")
    slug = factory.Sequence(lambda n: f"team-{n}")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    team = factory.SubFactory(TeamFactory)
    role = Membership.Role.MEMBER


class ServiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Service
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Service {n}")
    slug = factory.Sequence(lambda n: f"service-{n}")
    owner_team = factory.SubFactory(TeamFactory)


def environment(slug: str) -> Environment:
    return Environment.objects.get(slug=slug)


def cause(slug: str) -> Cause:
    return Cause.objects.get(slug=slug)


class ReleaseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Release

    service = factory.SubFactory(ServiceFactory)
    version = factory.Sequence(lambda n: f"1.{n}.0")
    commit_sha = factory.Sequence(lambda n: f"{n:040x}")
    artifact_digest = factory.Sequence(lambda n: f"sha256:{n:064x}")


class DeploymentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Deployment

    release = factory.SubFactory(ReleaseFactory)
    environment = factory.LazyFunction(lambda: environment("prod"))
    status = Deployment.Status.SUCCEEDED
    gates = factory.LazyFunction(lambda: {"unit-tests": "passed", "security-scan": "passed"})


def _reserve_number(incident: Incident) -> int:
    with transaction.atomic():
        return incident_numbers_reserve(
            kind=Incident.number_sequence(
                kind=incident.kind, confidential=getattr(incident, "confidential", False)
            )
        )


class IncidentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Incident
        skip_postgeneration_save = True

    kind = Incident.Kind.INCIDENT
    number = factory.LazyAttribute(_reserve_number)
    title = factory.Sequence(lambda n: f"Checkout errors after deploy {n}")
    summary = "Payments failed for some customers."
    severity = Incident.Severity.SEV2
    status = Incident.Status.PUBLISHED
    team = factory.SubFactory(TeamFactory)
    environment = factory.LazyFunction(lambda: environment("prod"))
    caught_by = Incident.CaughtBy.MONITORING_ALERT
    started_at = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(hours=3))

    @factory.post_generation
    def causes(self, create: bool, extracted, **kwargs) -> None:
        for item in extracted or ():
            IncidentCause.objects.create(incident=self, cause=cause(item) if isinstance(item, str) else item)

    @factory.post_generation
    def services(self, create: bool, extracted, **kwargs) -> None:
        if extracted:
            self.services.set(extracted)


class NearMissFactory(IncidentFactory):
    kind = Incident.Kind.NEAR_MISS
    title = factory.Sequence(lambda n: f"Migration would have locked the orders table {n}")
    environment = factory.LazyFunction(lambda: environment("staging"))
    caught_by = Incident.CaughtBy.CODE_REVIEW
    severity = Incident.Severity.SEV3


class TimelineEntryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TimelineEntry

    incident = factory.SubFactory(IncidentFactory)
    at = factory.LazyAttribute(lambda entry: entry.incident.started_at + dt.timedelta(minutes=5))
    text = "Alert fired."


class ActionItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ActionItem

    incident = factory.SubFactory(IncidentFactory)
    title = factory.Sequence(lambda n: f"Add a canary check {n}")
    due_date = factory.LazyFunction(lambda: timezone.localdate() + dt.timedelta(days=14))
