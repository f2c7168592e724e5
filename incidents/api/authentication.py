"""Who is calling: a tool with `Authorization: Bearer <token>` (signed senders: incidents/api/receivers/base.py)."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from rest_framework import authentication, exceptions

from incidents import policies, selectors, services
from incidents.audit import set_actor
from incidents.models import ApiToken
from incidents.tokens import api_token_hash


class BearerTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request) -> tuple[AnonymousUser, ApiToken] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        scheme, _, raw = header.partition(" ")
        if scheme.lower() != self.keyword.lower():
            return None
        raw = raw.strip()
        if not raw or " " in raw or not raw.isascii() or not raw.isprintable():
            raise exceptions.AuthenticationFailed("Send the token as `Authorization: Bearer <token>`.")
        token = selectors.api_token_authenticate(token_hash=api_token_hash(raw))
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        if not token.is_active:
            raise exceptions.AuthenticationFailed("This token has been revoked.")
        presented = policies.may_present_token(
            policies.viewer_for_token(token), getattr(request.parser_context.get("view"), "hook_source", None)
        )
        if not presented:
            raise exceptions.PermissionDenied(presented.rule)
        services.api_token_touch(token=token)
        set_actor(label=f"token:{token.name}")
        return AnonymousUser(), token

    def authenticate_header(self, request) -> str:
        return f'{self.keyword} realm="api"'
