"""`{% may "complete" item as allowed %}`: templates show a button only when the policy allows its action."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import template

from incidents import policies
from incidents.views.common import viewer_of

register = template.Library()

ACTIONS: dict[str, Callable[[policies.Viewer, Any], policies.Decision]] = {
    "view": policies.may_view,
    "edit": policies.may_edit,
    "publish": policies.may_publish,
    "triage": policies.may_triage,
    "complete": policies.may_complete,
    "edit_action_item": policies.may_edit_action_item,
    "request_report": policies.may_request_report,  # `{% may "request_report" team %}`; None: the organisation's
    # `{% may "manage_tokens" team %}`; with None: whether the person manages any team's tokens (the navigation)
    "manage_tokens": lambda viewer, team: (
        policies.may_manage_tokens(viewer, team) if team is not None else policies.may_manage_some_tokens(viewer)
    ),
}


@register.simple_tag(takes_context=True)
def may(context: template.Context, action: str, obj: object) -> bool:
    """Whether the request's viewer may do `action` to `obj` (the rules of incidents/policies.py)."""
    return bool(ACTIONS[action](viewer_of(context["request"]), obj))
