"""Markdown to safe HTML in time linear in the source: CommonMark with raw HTML off, then an allow-list sanitizer.

The parser is markdown-it-py, a CommonMark implementation built for untrusted input: its block and inline
rules follow the spec's linear-time algorithms (delimiter runs, bracket matching) and it bounds nesting
(`maxNesting`). On top of CommonMark: tables, strikethrough and task lists (`- [ ] x`, `- [x] x`). Raw HTML
in the source is shown as text; nh3 has the last word on every tag, attribute and URL scheme.
"""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.rules_core import StateCore
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr",
    "i", "input", "li", "ol", "p", "pre", "s", "strong", "sub", "sup", "table", "tbody", "td", "th", "thead",
    "tr", "ul",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "abbr": {"title"},
    "code": {"class"},
    "td": {"align"},
    "th": {"align"},
}
# A task-list checkbox is the only input that survives, and it is always a disabled checkbox.
FORCED_ATTRIBUTE_VALUES = {"input": {"type": "checkbox", "disabled": "disabled"}}
ALLOWED_ATTRIBUTE_VALUES = {"input": {"checked": {"checked"}}}
ALLOWED_URL_SCHEMES = {"http", "https", "mailto"}
# Deeper nesting (blockquotes, lists) is rendered as text: it bounds the parser's recursion and the HTML's depth.
MAX_NESTING = 20
TASK_MARKERS = {"[ ] ": False, "[x] ": True, "[X] ": True}
# The body asks only for what the form's own fields do not: the summary, the timeline and the action items have
# fields and sections of their own on the page, so the template does not repeat them as headings.
POSTMORTEM_TEMPLATE = """## Impact

Who or what was affected, for how long, and how we know.

## Contributing factors

The trigger, and the system causes that let it through (missing checks, unclear ownership, weak monitoring, ...).
Describe what the system allowed, not who did what.

## What went well

What helped us notice, respond and recover.

## Where we got lucky

What could have made it worse, and what stopped it.
"""


def _task_lists(state: StateCore) -> None:
    """`- [ ] x` / `- [x] x` list items start with a disabled checkbox, in one pass over the tokens.

    (mdit-py-plugins' tasklists plugin looks for each item's parent list by walking back through every
    earlier token, which is quadratic in the number of items; this rule only looks at its neighbours.)
    """
    tokens = state.tokens
    for index in range(2, len(tokens)):
        inline = tokens[index]
        if inline.type != "inline" or tokens[index - 1].type != "paragraph_open":
            continue
        if tokens[index - 2].type != "list_item_open" or not inline.children:
            continue
        first = inline.children[0]
        checked = TASK_MARKERS.get(first.content[:4]) if first.type == "text" else None
        if checked is None:
            continue
        first.content = first.content[4:]
        checkbox = Token("task_checkbox", "input", 0)
        checkbox.meta = {"checked": checked}
        inline.children.insert(0, checkbox)


def _render_checkbox(
    renderer: RendererHTML, tokens: list[Token], index: int, options: OptionsDict, env: EnvType
) -> str:
    checked = ' checked="checked"' if tokens[index].meta["checked"] else ""
    return f'<input type="checkbox" disabled{checked}> '


def _cell_alignment(state: StateCore) -> None:
    """Table cells say their alignment with the `align` attribute (allow-listed) instead of a style."""
    for token in state.tokens:
        if token.type in ("th_open", "td_open") and token.attrs.get("style"):
            style = str(token.attrs.pop("style"))
            token.attrs["align"] = style.removeprefix("text-align:")


def _parser() -> MarkdownIt:
    parser = MarkdownIt("commonmark", {"html": False, "linkify": False, "maxNesting": MAX_NESTING})
    parser.enable(["table", "strikethrough"])
    parser.core.ruler.after("inline", "task_lists", _task_lists)
    parser.core.ruler.push("cell_alignment", _cell_alignment)
    parser.add_render_rule("task_checkbox", _render_checkbox)
    return parser


_PARSER = _parser()


def render_markdown(source: str) -> str:
    html = _PARSER.render(source or "").rstrip("\n")  # stored without the trailing newline, as before
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        tag_attribute_values=ALLOWED_ATTRIBUTE_VALUES,
        set_tag_attribute_values=FORCED_ATTRIBUTE_VALUES,
        url_schemes=ALLOWED_URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )
