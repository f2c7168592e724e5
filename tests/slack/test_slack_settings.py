"""The Slack app's settings: both secrets or neither, and a malformed value stops start-up naming it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


def _check(tmp_path, **variables: str) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if not key.startswith("SLACK_")}
    env |= {"DEBUG": "true", "HINDSIGHT_VAR_DIR": str(tmp_path), **variables}
    return subprocess.run(
        [sys.executable, "-c", "import config.settings"], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip


def test_a_signing_secret_without_a_bot_token_stops_start_up(tmp_path):
    result = _check(tmp_path, SLACK_SIGNING_SECRET="fake-secret")
    assert result.returncode != 0
    assert "Set both SLACK_SIGNING_SECRET and SLACK_BOT_TOKEN" in result.stderr


def test_a_malformed_team_id_stops_start_up(tmp_path):
    result = _check(tmp_path, SLACK_TEAM_ID="not a team")
    assert result.returncode != 0
    assert "SLACK_TEAM_ID='not a team' is not valid" in result.stderr


def test_the_defaults_leave_the_app_off(settings):
    assert settings.SLACK_SIGNING_SECRET is None and settings.SLACK_BOT_TOKEN is None
    assert settings.SLACK_API_URL == "https://slack.com/api/"
    assert settings.SLACK_RESPONSE_URL_HOSTS == ["hooks.slack.com"]
