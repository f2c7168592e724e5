"""The environment every benchmark process runs in (bench/run.py and bench/hostile_input.py set it before Django
starts). A module of its own, importing nothing, so that neither entry point imports the other."""

from __future__ import annotations

BENCH_ENVIRONMENT = {
    "DJANGO_SETTINGS_MODULE": "bench.settings",
    "DEBUG": "false",
    "HINDSIGHT_ENV": "staging",
    "SECURE_SSL_REDIRECT": "false",
    "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
    # P4 measures throughput, not the per-token write limit.
    "API_WRITE_THROTTLE_RATE": "10000000/min",
}
