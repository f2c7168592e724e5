"""P4's baseline: the least Django can do to store an incident posted as JSON (no auth, no validation).

It writes the row the API writes for the same body (a triage item with its number), so the ratio measures
what the API's authentication, validation, redaction, audit and idempotency cost on top of the insert.
"""

from __future__ import annotations

import json

from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.csrf import csrf_exempt

from incidents.models import Environment, Incident, IncidentCounter, Team


@csrf_exempt
def baseline_incident_create(request: HttpRequest) -> JsonResponse:
    data = json.loads(request.body)
    with transaction.atomic():
        counter = IncidentCounter.objects.select_for_update().get(kind=data["kind"])
        counter.last_number += 1
        counter.save(update_fields=["last_number"])
        incident = Incident.objects.create(
            kind=data["kind"],
            number=counter.last_number,
            title=data["title"],
            summary=data.get("summary", ""),
            severity=data.get("severity", ""),
            status=Incident.Status.TRIAGE,
            team=Team.objects.get(slug=data["team"]),
            environment=Environment.objects.get(slug=data["environment"]),
            caught_by=data.get("caught_by", ""),
            started_at=parse_datetime(data["started_at"]) or timezone.now(),
            source=data["source"],
        )
    return JsonResponse({"id": incident.pk}, status=201)
