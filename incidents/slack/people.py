"""Who a Slack user is in Hindsight: the one active account whose e-mail is their Slack e-mail (any case)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import User


def mrkdwn_escape(text: str) -> str:
    """`text` shown as itself in Slack's mrkdwn (which reads &, < and > as markup)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _how_to_link() -> str:
    ways = "ask a Hindsight admin to set it"
    if getattr(settings, "OIDC_ISSUER", None):
        ways += ", or sign in to Hindsight once with single sign-on"
    return f"Your Hindsight account's e-mail must be the same as your Slack e-mail: {ways}."


def person_for_email(email: str) -> tuple[User | None, str]:
    """(the user, "") when exactly one active account has `email`; otherwise (None, why, and how to link)."""
    if not email:
        return None, (
            "Slack did not share your e-mail with Hindsight, so your account cannot be matched. The Slack app "
            "needs the users:read.email scope: ask whoever manages it."
        )
    found = list(User.objects.filter(email__iexact=email, is_active=True).order_by("pk")[:2])
    if len(found) == 1:
        return found[0], ""
    shown = mrkdwn_escape(email)
    if found:
        return None, f"More than one Hindsight account has the e-mail {shown}; ask a Hindsight admin to keep one."
    return None, f"No Hindsight account has the e-mail {shown}. {_how_to_link()}"
