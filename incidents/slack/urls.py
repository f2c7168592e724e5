"""The Slack app: a door of its own (docs/slack.md). Slack's signed requests file near-misses through the services."""

from __future__ import annotations

from django.urls import path

from incidents.slack import views

app_name = "slack"
urlpatterns = [
    path("commands/", views.commands, name="commands"),
    path("interactions/", views.interactions, name="interactions"),
]
