"""What a caller may do: read with any token or a session; write with a token of the write scope."""

from __future__ import annotations

from rest_framework.permissions import SAFE_METHODS, BasePermission

from incidents import selectors
from incidents.models import ApiToken, GitHubHook, Team


def request_token(request) -> ApiToken | None:
    return request.auth if isinstance(request.auth, ApiToken) else None


def request_viewer(request) -> selectors.Viewer:
    """A token sees what a member of its team sees; a signed-in person what they see on the web."""
    token = request_token(request)
    if token is not None:
        return selectors.viewer_for_team(token.team)
    return selectors.viewer_for_user(request.user)


def acting_team(request) -> Team:
    return request_token(request).team


class TokenScopePermission(BasePermission):
    message = "This API token can only read; writing needs a token with the write scope."

    def has_permission(self, request, view) -> bool:
        token = request_token(request)
        if request.method in SAFE_METHODS:
            return token is not None or bool(request.user and request.user.is_authenticated)
        if token is None:
            self.message = "Writing needs an API token with the write scope; a session can only read."
            return False
        return token.can_write


class SignedByGitHub(BasePermission):
    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, GitHubHook)
