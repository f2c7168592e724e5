"""The Celery application; configuration comes from Django settings (CELERY_* names)."""

from __future__ import annotations

import os
from typing import Any

from celery import Celery
from celery.signals import beat_init
from django.conf import settings  # lazy: read when a signal fires, after Django is set up

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("hindsight")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_configure.connect
def _make_var_folders(sender: Celery, **kwargs: Any) -> None:
    """A process that only sends tasks may never set Django up: the embedded broker's folders are made here too,
    when the app first reads its configuration, before it connects to the broker or the result store."""
    from config.folders import make_var_folders

    make_var_folders()


@beat_init.connect
def _reports_catch_up(sender: Any = None, **kwargs: Any) -> None:
    """The scheduler's first start on a new instance produces last week's report: queue the catch-up task,
    which runs the weekly generation of last week when no report of it exists (incidents.tasks). Only beat
    sends it (a plain worker never starts beat); REPORT_CATCH_UP_ON_START=false turns it off (the outbox test's
    worker with beat does)."""
    if settings.REPORT_CATCH_UP_ON_START:
        app.send_task("incidents.reports_catch_up")
