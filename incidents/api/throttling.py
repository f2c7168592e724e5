"""Write throttling per token (or per webhook sender), counted in Django's cache: Redis when REDIS_URL is set."""

from __future__ import annotations

import logging

from django.conf import settings
from rest_framework.permissions import SAFE_METHODS
from rest_framework.throttling import SimpleRateThrottle

from incidents.models import ApiToken, GitHubHook

logger = logging.getLogger(__name__)


class WriteRateThrottle(SimpleRateThrottle):
    scope = "write"

    def get_rate(self) -> str:
        return settings.API_WRITE_THROTTLE_RATE

    def allow_request(self, request, view) -> bool:
        if request.method in SAFE_METHODS:
            return True
        try:
            return super().allow_request(request, view)
        except Exception as error:  # the cache (Redis) is unreachable: writes go on unthrottled, not 500
            logger.warning("Write throttle unavailable (%s); allowing the request.", error)
            return True

    def get_cache_key(self, request, view) -> str:
        if isinstance(request.auth, ApiToken):
            ident = f"token-{request.auth.pk}"
        elif isinstance(request.auth, GitHubHook):
            ident = f"github-{request.auth.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            ident = self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}
