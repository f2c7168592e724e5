"""Finds executable content in served HTML by parsing it, the way a browser would see it."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urlsplit

DANGEROUS_TAGS = {
    "script",
    "iframe",
    "frame",
    "object",
    "embed",
    "svg",
    "math",
    "style",
    "form",
    "base",
    "meta",
    "link",
}
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "srcset", "poster", "data"}
SAFE_SCHEMES = {"", "http", "https", "mailto"}
OWN_STATIC = "/static/"


class _Finder(HTMLParser):
    def __init__(self, allowed_tags: set[str]) -> None:
        super().__init__(convert_charrefs=True)
        self.allowed_tags = allowed_tags
        self.findings: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script" and (dict(attrs).get("src") or "").startswith(OWN_STATIC):
            pass  # the app's own static script file, the only kind the Content-Security-Policy allows
        elif tag in DANGEROUS_TAGS and tag not in self.allowed_tags:
            self.findings.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on"):
                self.findings.append(f"<{tag} {name}>")
            if name in URL_ATTRIBUTES and value is not None:
                scheme = urlsplit(value.strip().replace("\t", "").replace("\n", "")).scheme.lower()
                if scheme not in SAFE_SCHEMES:
                    self.findings.append(f"<{tag} {name}={value!r}>")


def executable_content(html: str, *, allowed_tags: set[str] = frozenset()) -> list[str]:
    """Every script-capable element, event handler or non-http(s)/mailto URL found in `html`."""
    finder = _Finder(set(allowed_tags))
    finder.feed(html)
    finder.close()
    return finder.findings
