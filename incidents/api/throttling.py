"""Write throttling per token (or per webhook sender), counted in Django's cache: Redis when REDIS_URL is set."""

from __future__ import annotations

import logging

from django.conf import settings
from rest_framework.exceptions import Throttled, ValidationError
from rest_framework.permissions import SAFE_METHODS
from rest_framework.throttling import SimpleRateThrottle

from incidents.models import ApiToken, Hook

logger = logging.getLogger(__name__)


class WriteRateThrottle(SimpleRateThrottle):
    scope = "write"
    # Set by SimpleRateThrottle.__init__ from the rate (parse_rate), which is always given here.
    num_requests: int
    duration: int

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
        elif isinstance(request.auth, Hook):
            ident = f"hook-{request.auth.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            ident = self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}

    def charge(self, request, view, count: int, *, field: str) -> None:
        """Count `count` more writes for this request (one per alert of a notification).

        Past the rate none of them is counted and Throttled (429 with Retry-After) is raised: the sender retries
        the whole request later. More writes than the rate allows at all is a 400, as no retry could pass.
        """
        if count <= 0:
            return
        if count + 1 > self.num_requests:
            raise ValidationError(
                {field: [f"This request counts as {count + 1} writes; this sender may make {self.rate}."]}
            )
        try:
            self.key = self.get_cache_key(request, view)
            self.now = self.timer()
            history = [at for at in self.cache.get(self.key, []) if at > self.now - self.duration]
        except Exception as error:  # as in allow_request: no cache, no throttle
            logger.warning("Write throttle unavailable (%s); allowing the request.", error)
            return
        if len(history) + count > self.num_requests:
            # The oldest writes leave the window first; wait until enough of them have left.
            must_leave = len(history) + count - self.num_requests
            raise Throttled(wait=max(1, history[-must_leave] + self.duration - self.now))
        self.cache.set(self.key, [self.now] * count + history, self.duration)


def charge_writes(request, view, count: int, *, field: str) -> None:
    """Count `count` writes beyond the one the request itself was counted as (see WriteRateThrottle.charge)."""
    WriteRateThrottle().charge(request, view, count, field=field)
