"""The version lives in pyproject.toml; every pin the docs and examples show, and the changelog, follow it."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

from testkit.mock_runs import PROJECT_DIR

VERSION = tomllib.loads((PROJECT_DIR / "pyproject.toml").read_text())["project"]["version"]
#: ``...healthimaging-setup@v1.2.3`` or ``.../provider@v1.2.3``: what a consumer pins.
PIN = re.compile(r"(?:healthimaging-setup|<repository>|provider|repository URL>|this repository>)@v(\d+\.\d+\.\d+)")


def tracked_text_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "*.md", "*.yaml", "*.ts", "*.py", "*.txt"],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout.split()
    return [PROJECT_DIR / name for name in listed]


def pins(text: str) -> list[str]:
    return PIN.findall(text)


def test_every_pin_shown_to_consumers_is_the_current_version() -> None:
    found = {
        str(path.relative_to(PROJECT_DIR)): pins(path.read_text())
        for path in tracked_text_files()
        if path.exists() and "tests/" not in str(path.relative_to(PROJECT_DIR))
    }
    stale = {name: versions for name, versions in found.items() if any(v != VERSION for v in versions)}
    assert sum(len(versions) for versions in found.values()) >= 5  # the docs and examples do show pins
    assert stale == {}, f"pins of another version than pyproject.toml's {VERSION}: {stale}"


def test_pins_are_recognised_in_each_form_the_docs_use() -> None:
    text = (
        'pip install "healthimaging-setup @ git+https://host/o/healthimaging-setup@v1.2.3"\n'
        "pulumi package add <repository URL>/provider@v1.2.4\n"
    )
    assert pins(text) == ["1.2.3", "1.2.4"]


def test_the_changelog_has_a_section_for_the_current_version() -> None:
    changelog = (PROJECT_DIR / "CHANGELOG.md").read_text()
    assert re.search(rf"(?m)^## \[{re.escape(VERSION)}\]", changelog), f"CHANGELOG.md has no section for {VERSION}"
