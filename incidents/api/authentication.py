"""Who is calling: a tool with `Authorization: Bearer <token>`, or GitHub signing its deliveries."""

from __future__ import annotations

import hmac

from django.contrib.auth.models import AnonymousUser
from rest_framework import authentication, exceptions

from incidents import selectors, services
from incidents.audit import set_actor
from incidents.models import ApiToken, Hook
from incidents.tokens import api_token_hash, github_signature


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
        services.api_token_touch(token=token)
        set_actor(label=f"token:{token.name}")
        return AnonymousUser(), token

    def authenticate_header(self, request) -> str:
        return f'{self.keyword} realm="api"'


SIGNATURE_HEADER = "HTTP_X_HUB_SIGNATURE_256"


class GitHubSignatureAuthentication(authentication.BaseAuthentication):
    """A delivery is GitHub's when its X-Hub-Signature-256 matches one active hook's secret."""

    def authenticate(self, request) -> tuple[AnonymousUser, Hook]:
        given = request.META.get(SIGNATURE_HEADER, "")
        if not given:
            raise exceptions.AuthenticationFailed("Missing X-Hub-Signature-256 header.")
        body = request._request.body  # the raw bytes GitHub signed
        for hook in selectors.github_hooks_active():
            if hmac.compare_digest(github_signature(hook.secret, body).encode(), given.encode()):
                set_actor(label=f"hook:{hook.name}")
                return AnonymousUser(), hook
        raise exceptions.AuthenticationFailed("X-Hub-Signature-256 does not match any active GitHub hook.")

    def authenticate_header(self, request) -> str:
        return 'X-Hub-Signature-256 realm="github"'
