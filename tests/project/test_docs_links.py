"""Every link between the project's pages resolves: the file exists, and the heading an anchor names is there."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from testkit.mock_runs import PROJECT_DIR

PAGES = sorted(
    {
        PROJECT_DIR / "README.md",
        PROJECT_DIR / "CHANGELOG.md",
        *PROJECT_DIR.glob("benchmarks/*.md"),
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


#: Files whose prose (messages, setting descriptions, comments) points people at a section of a page.
POINTER_SOURCES = sorted(
    {
        *PROJECT_DIR.glob("*.py"),
        *PROJECT_DIR.glob("program/*.py"),
        *PROJECT_DIR.glob("Pulumi*.yaml"),
        *PROJECT_DIR.glob("components/**/*.py"),
        *PROJECT_DIR.glob("ahictl/*.py"),
        *PROJECT_DIR.glob("ahiops/*.py"),
        *PROJECT_DIR.glob("healthimaging_functions/**/*.py"),
    }
)
#: A page and, in quotes, the headings meant: ``docs/configuration.md, "Pulumi's own provider keys"`` or
#: ``README 'Quick start'`` (a comment may wrap between them: ``#`` and spaces are skipped).
SECTION_POINTER = re.compile(
    r"""(?P<page>README(?:\.md)?|docs/[\w-]+\.md),?[\s#]*(?P<headings>(?:(?:"[^"\n]+"|'[^'\n]+')(?:,[\s#]*)?)+)"""
)


def headings(page: Path) -> list[str]:
    text = re.sub(r"(?ms)^```.*?^```", "", page.read_text())
    return [h.strip() for h in re.findall(r"(?m)^#{1,6} (.+)$", text)]


def section_pointers(text: str) -> list[tuple[str, str]]:
    """(page, heading) for every pointer of the form above; a heading may be the beginning of the real one."""
    found = []
    for match in SECTION_POINTER.finditer(text):
        page = "README.md" if match["page"].startswith("README") else match["page"]
        quoted = re.findall(r""""([^"\n]+)"|'([^'\n]+)'""", match["headings"])
        found += [(page, double or single) for double, single in quoted]
    return found


@pytest.mark.parametrize("source", POINTER_SOURCES, ids=lambda p: str(p.relative_to(PROJECT_DIR)))
def test_every_section_a_message_or_comment_points_to_exists(source: Path) -> None:
    missing = []
    for page, heading in section_pointers(source.read_text()):
        target = PROJECT_DIR / page
        if not target.exists() or not any(h.startswith(heading) for h in headings(target)):
            missing.append(f"{page}, {heading!r}")
    assert missing == [], f"{source.relative_to(PROJECT_DIR)} points to sections that do not exist: {missing}"


def test_section_pointers_are_read_across_a_wrapped_comment() -> None:
    text = '# see (docs/a.md,\n  # "It\'s first", "Second") and README \'Third\'; not "Fourth"'
    assert section_pointers(text) == [("docs/a.md", "It's first"), ("docs/a.md", "Second"), ("README.md", "Third")]
