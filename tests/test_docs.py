"""The documentation stays a front door plus pages that exist and speak only of this repository.

- README.md stays short (the manual lives under docs/);
- every relative link in README.md and docs/*.md points to a file of the repository, and an anchor (`#...`) to a
  heading of that file;
- no file of the repository refers to documents kept outside it.
"""

from __future__ import annotations

import re
import subprocess
import unicodedata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README_MAX_LINES = 220

# Pages being written at the same time as these docs; linked already, allowed to be missing until they land.
BEING_WRITTEN: set[str] = set()

# Built from pieces so that this file does not itself mention what it looks for.
OUTSIDE_REFERENCES = ("DESIGN" + ".md", "STYLE" + ".md", "shared" + "/docs")

LINK = re.compile(r"(?<!!)\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^(```|~~~)")


def _doc_pages() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def _unfenced(text: str) -> list[str]:
    """The lines outside fenced code blocks."""
    kept, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line.strip()):
            fenced = not fenced
        elif not fenced:
            kept.append(line)
    return kept


def _prose(text: str) -> str:
    """The text outside code blocks and code spans, where a `[x](y)` is a link."""
    return "\n".join(re.sub(r"`[^`]*`", "", line) for line in _unfenced(text))


def links(text: str) -> list[str]:
    return LINK.findall(_prose(text))


def _slug(heading: str) -> str:
    """A heading's anchor as GitHub makes it: lower case, punctuation dropped, spaces to hyphens."""
    heading = re.sub(r"`([^`]*)`", r"\1", heading.strip()).lower()
    kept = "".join(ch for ch in heading if ch in " -_" or unicodedata.category(ch)[0] in "LN")
    return kept.replace(" ", "-")


def anchors(text: str) -> set[str]:
    found: set[str] = set()
    for line in _unfenced(text):
        match = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if match:
            slug, n = _slug(match.group(1)), 1
            while slug in found:  # repeated headings get -1, -2, ...
                slug, n = f"{_slug(match.group(1))}-{n}", n + 1
            found.add(slug)
    return found


def broken_links(page: Path, *, root: Path = ROOT, being_written: set[str] = BEING_WRITTEN) -> list[str]:
    problems = []
    text = page.read_text(encoding="utf-8")
    for target in links(text):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto:, ...
            continue
        path_part, _, anchor = target.partition("#")
        resolved = (page.parent / path_part).resolve() if path_part else page
        try:
            relative = resolved.relative_to(root.resolve()).as_posix()
        except ValueError:
            problems.append(f"{target}: outside the repository")
            continue
        if not resolved.exists():
            if relative not in being_written:
                problems.append(f"{target}: no such file")
            continue
        if anchor and resolved.suffix == ".md" and anchor not in anchors(resolved.read_text(encoding="utf-8")):
            problems.append(f"{target}: no heading #{anchor} in {relative}")
    return problems


def _repository_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    return [ROOT / name for name in listed if (ROOT / name).is_file()]


def test_readme_is_a_front_door():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines; move detail to a docs/ page"


def test_readme_links_every_docs_page():
    readme = {target.partition("#")[0] for target in links((ROOT / "README.md").read_text(encoding="utf-8"))}
    pages = {f"docs/{page.name}" for page in (ROOT / "docs").glob("*.md")} | BEING_WRITTEN
    assert sorted(pages - readme) == []


def test_receivers_page_links_every_senders_page():
    linked = {target.partition("#")[0] for target in links((ROOT / "docs" / "receivers.md").read_text("utf-8"))}
    pages = {f"receivers/{page.name}" for page in (ROOT / "docs" / "receivers").glob("*.md")}
    assert pages and sorted(pages - linked) == []


@pytest.mark.parametrize("page", _doc_pages(), ids=lambda page: page.relative_to(ROOT).as_posix())
def test_relative_links_point_to_files_that_exist(page):
    assert broken_links(page) == []


def test_no_file_refers_to_documents_outside_the_repository():
    offenders = []
    for path in _repository_files():
        relative = path.relative_to(ROOT).as_posix()
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        offenders += [f"{relative}: {needle}" for needle in OUTSIDE_REFERENCES if needle in text]
    assert offenders == []


def test_the_checker_finds_broken_links_and_anchors(tmp_path):
    """The link checker itself can fail: a missing file, a missing anchor, a path leaving the repository."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "there.md").write_text("# A page\n\n## Two words, `code`\n", encoding="utf-8")
    page = tmp_path / "docs" / "page.md"
    page.write_text(
        "[ok](there.md) [ok](there.md#two-words-code) [web](https://example.com) [self](#a-heading)\n"
        "# A heading\n"
        "[gone](missing.md) [bad anchor](there.md#nowhere) [out](../../elsewhere.md) [soon](soon.md)\n"
        "```\n[not a link](in-code.md)\n```\n",
        encoding="utf-8",
    )
    assert broken_links(page, root=tmp_path, being_written={"docs/soon.md"}) == [
        "missing.md: no such file",
        "there.md#nowhere: no heading #nowhere in docs/there.md",
        "../../elsewhere.md: outside the repository",
    ]


def test_the_checker_knows_what_a_link_is():
    assert links('[a](b.md) ![img](c.png) `[d](e.md)` [f](g.md#h "title")') == ["b.md", "g.md#h"]
    assert _slug("Two words, `code`") == "two-words-code"
    assert _slug("P7: the benchmark") == "p7-the-benchmark"
