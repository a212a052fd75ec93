"""Every link between the project's pages resolves: the file exists, and the heading an anchor names is there."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from helpers import PROJECT_DIR

PAGES = sorted(
    {
        PROJECT_DIR / "README.md",
        PROJECT_DIR / "CHANGELOG.md",
        *PROJECT_DIR.glob("docs/*.md"),
        *PROJECT_DIR.glob("examples/*/README.md"),
    }
)
LINK = re.compile(r"\[[^\]]+\]\(([^)\s]+)\)")


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lowercase, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = re.sub(r"(?ms)^```.*?^```", "", page.read_text())
    return {github_anchor(h) for h in re.findall(r"(?m)^#{1,6} (.+)$", text)}


def local_links(page: Path) -> list[str]:
    text = re.sub(r"(?ms)^```.*?^```", "", page.read_text())
    return [t for t in LINK.findall(text) if not re.match(r"[a-z][a-z0-9+.-]*:", t)]


def test_the_readme_is_a_front_page_that_points_into_docs() -> None:
    readme = (PROJECT_DIR / "README.md").read_text()
    assert len(readme.splitlines()) < 400
    for page in sorted(PROJECT_DIR.glob("docs/*.md")):
        assert f"(docs/{page.name}" in readme, f"the README does not link to docs/{page.name}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(PROJECT_DIR)))
def test_every_local_link_resolves(page: Path) -> None:
    broken = []
    for target in local_links(page):
        path, _, anchor = target.partition("#")
        destination = (page.parent / path).resolve() if path else page
        if not destination.exists():
            broken.append(f"{target}: no such file")
        elif anchor and destination.suffix == ".md" and anchor not in anchors(destination):
            broken.append(f"{target}: no heading with that anchor")
    assert broken == [], f"{page.relative_to(PROJECT_DIR)}: {broken}"


def test_a_broken_link_is_found(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("# Title\n\n[ok](#title) [gone](#nothing) [file](missing.md)\n")
    assert anchors(page) == {"title"}
    assert local_links(page) == ["#title", "#nothing", "missing.md"]
