"""The API's doors ask the policies: read with any token or a session; write with a token of the write scope."""

from __future__ import annotations

from rest_framework.permissions import SAFE_METHODS, BasePermission

from incidents import policies
from incidents.models import ApiToken, Team


def request_token(request) -> ApiToken | None:
    return request.auth if isinstance(request.auth, ApiToken) else None


def request_viewer(request) -> policies.Viewer:
    """The caller as an actor, computed once per request: a token acts for its team (as a member of it sees),
    a signed-in person as on the web."""
    if not hasattr(request, "_hindsight_viewer"):
        token = request_token(request)
        request._hindsight_viewer = (
            policies.viewer_for_token(token) if token is not None else policies.viewer_for_user(request.user)
        )
    return request._hindsight_viewer


def tool_token(request) -> ApiToken:
    """The token of a request that only a token may make: a write (TokenScopePermission lets only tools write)."""
    token = request_token(request)
    if token is None:
        raise RuntimeError("a write reached a view without an API token")
    return token


def acting_team(request) -> Team:
    return tool_token(request).team


class TokenScopePermission(BasePermission):
    message = policies.READ_ONLY_TOKEN

    def has_permission(self, request, view) -> bool:
        actor = request_viewer(request)
        decision = (
            policies.may_read_api(actor) if request.method in SAFE_METHODS else policies.may_write_api(actor)
        )
        if not decision:
            self.message = decision.rule
        return bool(decision)
