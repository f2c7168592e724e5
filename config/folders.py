"""The folders Hindsight's processes write to under HINDSIGHT_VAR_DIR, made before they are first needed.

Settings only name them: importing config.settings touches no file. They are made when Django starts
(IncidentsConfig.ready(): the web server, the worker, the scheduler, manage.py) and when the Celery app first
reads its configuration (config/celery.py: a process that only sends tasks). Made here: the embedded broker's and
result store's folders, which kombu and Celery expect to exist, and the folder of the SQLite database. Redis and
PostgreSQL need none; the e-mail file backend makes its own folder.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

_FILE_RESULTS = "file://"


def var_folders() -> list[Path]:
    """The folders the configured broker, result store and database write to and do not create themselves."""
    folders = []
    if settings.CELERY_BROKER_URL == "filesystem://":
        options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
        folders += [Path(options[name]) for name in ("data_folder_in", "data_folder_out", "control_folder")]
    if settings.CELERY_RESULT_BACKEND.startswith(_FILE_RESULTS):
        folders.append(Path(settings.CELERY_RESULT_BACKEND.removeprefix(_FILE_RESULTS)))
    database = settings.DATABASES["default"]
    if database["ENGINE"] == "django.db.backends.sqlite3" and str(database["NAME"]) not in ("", ":memory:"):
        folders.append(Path(database["NAME"]).parent)
    return list(dict.fromkeys(folders))


def make_var_folders() -> None:
    for folder in var_folders():
        folder.mkdir(parents=True, exist_ok=True)
