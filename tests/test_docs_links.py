"""The docs stand on their own: every relative link in README.md, CHANGELOG.md and docs/ resolves to a file of the
repository (and its #anchor to a heading there), and no page names a file outside the repository."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.test_cli_support import ROOT

PAGES = sorted([ROOT / "README.md", ROOT / "CHANGELOG.md", *(ROOT / "docs").glob("*.md")])
_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)|!\[[^\]]*\]\(([^)\s]+)\)")
_FENCE = re.compile(r"^```.*?^```", re.M | re.S)
# Paths a page must not name: the brief beside the repository, and folders of a developer's machine.
_OUTSIDE = re.compile(r"\.\./shared/|/work/|/home/[a-z]|/Users/[A-Za-z]|[A-Z]:\\\\Users")


def _anchors(page: Path) -> set[str]:
    """GitHub's anchors for a page's headings: lower case, punctuation dropped, spaces to hyphens."""
    anchors = set()
    for heading in re.findall(r"^#+\s+(.+?)\s*$", _FENCE.sub("", page.read_text(encoding="utf-8")), re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        anchors.add(slug)
    return anchors


def _links(page: Path) -> list[str]:
    text = _FENCE.sub("", page.read_text(encoding="utf-8"))
    return [a or b for a, b in _LINK.findall(text)]


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_every_relative_link_resolves_inside_the_repository(page: Path) -> None:
    for link in _links(page):
        if re.match(r"^[a-z][a-z0-9+.-]*:", link):  # https:, mailto:
            continue
        target, _, anchor = link.partition("#")
        path = (page.parent / target).resolve() if target else page
        assert path.is_relative_to(ROOT), f"{page.name}: {link} points outside the repository"
        assert path.exists(), f"{page.name}: {link} does not exist"
        if anchor and path.suffix == ".md":
            assert anchor in _anchors(path), f"{page.name}: {link}: no heading #{anchor} in {path.name}"


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_no_page_names_a_file_outside_the_repository(page: Path) -> None:
    for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
        assert not _OUTSIDE.search(line), f"{page.name}:{number} names a path outside the repository: {line.strip()}"


def test_the_readmes_documentation_list_links_every_page_of_docs() -> None:
    readme = ROOT / "README.md"
    listed = {(ROOT / link.partition("#")[0]).resolve() for link in _links(readme)}
    assert [page.name for page in sorted((ROOT / "docs").glob("*.md")) if page.resolve() not in listed] == []
