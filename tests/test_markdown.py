"""Markdown renders to HTML with raw HTML escaped and only safe links kept."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from incidents.markdown import render_markdown
from tests.html_safety import executable_content


def test_markdown_renders_headings_lists_code_and_tables():
    html = render_markdown("## Impact\n\n- one\n- two\n\n```\ncode\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n")
    assert "<h2>Impact</h2>" in html
    assert "<li>one</li>" in html
    assert "<pre><code>code\n</code></pre>" in html
    assert "<td>1</td>" in html


@pytest.mark.parametrize(
    "source",
    [
        "<script>alert(1)</script>",
        '<img src=x onerror="alert(1)">',
        "[x](javascript:alert(1))",
        "[x](JaVaScRiPt:alert(1))",
        "[x](data:text/html;base64,PHNjcmlwdD4=)",
        '<svg onload="alert(1)"></svg>',
        "<iframe src=https://evil.example></iframe>",
    ],
)
def test_dangerous_input_never_becomes_markup(source):
    html = render_markdown(source)
    assert executable_content(html) == []
    assert "<img" not in html


def test_the_safety_check_itself_finds_executable_content():
    assert executable_content('<p><a href="javascript:x">a</a><img src=x onerror=y><script></script></p>') == [
        "<a href='javascript:x'>", "<img onerror>", "<script>",
    ]  # fmt: skip


def test_safe_links_are_kept_with_rel():
    html = render_markdown("[runbook](https://wiki.example/runbook) and [mail](mailto:oncall@example.com)")
    assert 'href="https://wiki.example/runbook"' in html
    assert 'href="mailto:oncall@example.com"' in html
    assert 'rel="noopener noreferrer nofollow"' in html


def _inputs(html: str) -> list[dict[str, str | None]]:
    """The attributes of each <input> in `html`, whatever order the sanitizer wrote them in."""
    found: list[dict[str, str | None]] = []

    class Inputs(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if tag == "input":
                found.append(dict(attrs))

    Inputs().feed(html)
    return found


def test_task_lists_render_as_disabled_checkboxes():
    html = render_markdown("- [ ] rotate the key\n- [x] page the owner\n- [y] not a task\n")
    assert _inputs(html) == [
        {"type": "checkbox", "disabled": "disabled"},
        {"type": "checkbox", "disabled": "disabled", "checked": "checked"},
    ]
    assert "> rotate the key</li>" in html and "> page the owner</li>" in html
    assert "<li>[y] not a task</li>" in html


def test_no_other_input_survives_the_sanitizer():
    html = render_markdown('<input type="text" name="q" value="x" autofocus onfocus="alert(1)">')
    assert "<input" not in html


def test_fenced_code_keeps_its_language_class_and_strikethrough_and_alignment_render():
    html = render_markdown("```python\nprint(1)\n```\n\n~~retired~~\n\n| a | b |\n|:-|-:|\n| 1 | 2 |\n")
    assert '<pre><code class="language-python">print(1)\n</code></pre>' in html
    assert "<s>retired</s>" in html
    assert '<td align="left">1</td>' in html and '<td align="right">2</td>' in html


@pytest.mark.parametrize(
    "source", ["<javascript:alert(1)>", "<data:text/html,x>", "<vbscript:x>", "https://ok.example javascript:x"]
)
def test_autolinks_only_link_safe_schemes(source):
    html = render_markdown(source)
    assert executable_content(html) == []
    assert "href" not in html  # bare URLs are not linked; <javascript:...> stays text


def test_safe_autolink_is_linked():
    html = render_markdown("<https://status.example/incident>")
    assert '<a href="https://status.example/incident" rel="noopener noreferrer nofollow">' in html
