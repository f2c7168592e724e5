"""The outbound webhooks' settings readers: well-formed values parse, anything else stops start-up naming the
variable."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.env import env_durations, env_networks


def _schedule(raw: str | None) -> list[int]:
    environ = {} if raw is None else {"WEBHOOK_RETRY_SCHEDULE": raw}
    return env_durations("WEBHOOK_RETRY_SCHEDULE", "5s,5m,30m,2h,5h,10h", max_items=12, max_seconds=7 * 24 * 3600,
                         environ=environ)  # fmt: skip


def test_the_default_retry_schedule_is_7_attempts_over_about_18_hours():
    assert _schedule(None) == [5, 300, 1800, 7200, 18000, 36000]
    assert sum(_schedule(None)) == 63305
    assert _schedule(" 1s, 2m ,3h") == [1, 120, 10800]


@pytest.mark.parametrize("raw", ["5", "5 s", "5d", "0s", "1s,,2s", "169h", ",".join(["1s"] * 13), "-5s", "1e3s"])
def test_a_malformed_retry_schedule_stops_start_up(raw):
    with pytest.raises(ImproperlyConfigured, match="WEBHOOK_RETRY_SCHEDULE"):
        _schedule(raw)


def test_allowed_networks_are_read_as_cidr():
    environ = {"WEBHOOK_ALLOWED_NETWORKS": "10.20.0.0/16, 127.0.0.1, fd00::/8, 192.168.1.7/24"}
    assert env_networks("WEBHOOK_ALLOWED_NETWORKS", environ=environ) == [
        "10.20.0.0/16", "127.0.0.1/32", "fd00::/8", "192.168.1.0/24",
    ]  # fmt: skip
    assert env_networks("WEBHOOK_ALLOWED_NETWORKS", environ={}) == []


@pytest.mark.parametrize("raw", ["10.0.0.0/33", "localhost", "10.0.0.0/8,,", "300.1.1.1"])
def test_a_malformed_network_stops_start_up(raw):
    with pytest.raises(ImproperlyConfigured, match="WEBHOOK_ALLOWED_NETWORKS"):
        env_networks("WEBHOOK_ALLOWED_NETWORKS", environ={"WEBHOOK_ALLOWED_NETWORKS": raw})
