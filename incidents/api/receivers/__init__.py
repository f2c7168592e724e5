"""The webhook receivers, one module per sender, each at /api/v1/hooks/<source>/ (docs/receivers.md).

Adding a sender: a module with a `Receiver` subclass (base.py says what it declares), a `Hook.Source` choice, and
its entry below.
"""

from __future__ import annotations

from django.urls import URLPattern, path

from incidents.api.receivers.alertmanager import AlertmanagerReceiver
from incidents.api.receivers.base import Receiver, receiver_view
from incidents.api.receivers.datadog import DatadogReceiver
from incidents.api.receivers.github import GitHubReceiver
from incidents.api.receivers.grafana import GrafanaReceiver
from incidents.api.receivers.opsgenie import OpsgenieReceiver
from incidents.api.receivers.pagerduty import PagerDutyReceiver
from incidents.api.receivers.sentry import SentryReceiver

RECEIVERS: dict[str, Receiver] = {
    receiver.source: receiver
    for receiver in (
        AlertmanagerReceiver(),
        GitHubReceiver(),
        PagerDutyReceiver(),
        OpsgenieReceiver(),
        GrafanaReceiver(),
        SentryReceiver(),
        DatadogReceiver(),
    )
}


def receiver_urls() -> list[URLPattern]:
    return [
        path(f"v1/hooks/{source}/", receiver_view(receiver).as_view(), name=f"hook-{source}")
        for source, receiver in RECEIVERS.items()
    ]
