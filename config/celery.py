"""The Celery application; configuration comes from Django settings (CELERY_* names)."""

from __future__ import annotations

import os
from typing import Any

from celery import Celery

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
