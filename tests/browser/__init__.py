"""Browser tests. They skip with the reason when Chromium or axe-core is missing, except where
HINDSIGHT_BROWSER_TESTS=required (as in .ci/run): there a missing browser or axe-core fails the run."""

from __future__ import annotations

import os

REQUIRED = os.environ.get("HINDSIGHT_BROWSER_TESTS") == "required"
