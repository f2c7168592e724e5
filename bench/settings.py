"""Settings for the bench server only: the application's settings, plus P4's baseline view (bench/urls.py).

Selected with DJANGO_SETTINGS_MODULE=bench.settings by bench/run.py; the normal app never loads it, so the
baseline view is not reachable there.
"""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
