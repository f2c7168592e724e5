from __future__ import annotations

from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    name = "incidents"
    verbose_name = "Hindsight"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from config.folders import make_var_folders

        # The embedded broker's and the SQLite database's folders, before any process writes there.
        make_var_folders()

        # The follow-up work registers its outbox handlers by name (and its Celery tasks) as it is imported, and
        # single sign-on its system check (OIDC_GROUP_MAP naming a team that does not exist).
        from incidents import sso, tasks  # noqa: F401
