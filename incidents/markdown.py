"""Markdown to safe HTML: raw HTML in the source is escaped, then an allow-list sanitizer has the last word."""

from __future__ import annotations

import markdown
import nh3

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr",
    "i", "li", "ol", "p", "pre", "strong", "sub", "sup", "table", "tbody", "td", "th", "thead", "tr", "ul",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "abbr": {"title"},
    "code": {"class"},
    "td": {"align"},
    "th": {"align"},
}
ALLOWED_URL_SCHEMES = {"http", "https", "mailto"}
POSTMORTEM_TEMPLATE = """## Summary

What happened, in two or three sentences a newcomer would understand.

## Impact

Who or what was affected, for how long, and how we know.

## Timeline

Times with their zone. Detection, escalation, mitigation, resolution.

## Contributing factors

The trigger, and the system causes that let it through (missing checks, unclear ownership, weak monitoring, ...).
Describe what the system allowed, not who did what.

## What went well

## Action items

Each one addresses a cause, has an owner and a due date.
"""


def _markdown() -> markdown.Markdown:
    md = markdown.Markdown(extensions=["fenced_code", "tables", "sane_lists"], output_format="html")
    # Raw HTML in the source is shown as text, never passed through.
    md.preprocessors.deregister("html_block")
    md.inlinePatterns.deregister("html")
    return md


def render_markdown(source: str) -> str:
    html = _markdown().convert(source or "")
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=ALLOWED_URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )
