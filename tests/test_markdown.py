"""Markdown renders to HTML with raw HTML escaped and only safe links kept."""

from __future__ import annotations

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
