"""The public interface other languages see: the schema and version the plugin serves, as the engine asks for them.

The served schema is compared with a committed snapshot, so that any change of an input, output, type or
description shows as a diff in review. The version comes from one place, ``pyproject.toml``.
"""

from __future__ import annotations

import json
import re
import tomllib
from typing import Any

import pytest
from pulumi.provider.server import ProviderServicer

from scripts import schema_snapshot as snapshot
from testkit.mock_runs import PROJECT_DIR

PYPROJECT_VERSION = tomllib.loads((PROJECT_DIR / "pyproject.toml").read_text())["project"]["version"]


@pytest.fixture(scope="module")
def servicer() -> ProviderServicer:
    return snapshot.plugin_servicer()


@pytest.fixture(scope="module")
def schema(servicer: ProviderServicer) -> dict[str, Any]:
    return snapshot.served_schema(servicer)


def test_the_served_schema_is_the_committed_snapshot(schema: dict[str, Any]) -> None:
    committed = snapshot.SNAPSHOT.read_text() if snapshot.SNAPSHOT.exists() else ""
    assert snapshot.render(schema) == committed, (
        "The schema the plugin serves differs from tests/snapshots/healthimaging-schema.json: the components' public "
        "interface changed (inputs, outputs, types or descriptions). If the change is intended, regenerate the "
        f"snapshot with `{snapshot.UPDATE_COMMAND}`, review its diff, add a CHANGELOG.md entry and commit both."
    )


def test_the_snapshot_is_valid_json_of_the_healthimaging_package() -> None:
    committed = json.loads(snapshot.SNAPSHOT.read_text())
    assert committed["name"] == "healthimaging"
    assert committed["resources"], "the snapshot lists no component"
    assert all(token.startswith("healthimaging:index:") for token in committed["resources"])


def test_the_version_comes_from_pyproject(servicer: ProviderServicer, schema: dict[str, Any]) -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+(?:[-+.][0-9A-Za-z.-]+)?", PYPROJECT_VERSION), PYPROJECT_VERSION
    assert snapshot.served_version(servicer) == PYPROJECT_VERSION
    assert schema["version"] == PYPROJECT_VERSION


def test_the_version_is_written_nowhere_else_in_the_provider() -> None:
    for path in (PROJECT_DIR / "provider").glob("*.py"):
        assert f'"{PYPROJECT_VERSION}"' not in path.read_text(), f"{path.name} hard-codes the version"


def test_the_changelog_describes_the_version() -> None:
    changelog = (PROJECT_DIR / "CHANGELOG.md").read_text()
    headings = re.findall(r"^## \[([^\]]+)\]", changelog, re.MULTILINE)
    assert PYPROJECT_VERSION in headings, f"CHANGELOG.md has no '## [{PYPROJECT_VERSION}]' section"
    released = [h for h in headings if h != "Unreleased"]
    assert released, "CHANGELOG.md has no released section"
    assert released[0] == PYPROJECT_VERSION, "the newest released section must be pyproject's version"


def test_the_check_mode_fails_on_a_stale_snapshot(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    stale = tmp_path / "schema.json"
    stale.write_text("{}\n")
    monkeypatch.setattr(snapshot, "SNAPSHOT", stale)
    assert snapshot.main(["--check"]) == 1
    assert snapshot.main([]) == 0
    assert snapshot.main(["--check"]) == 0
    assert json.loads(stale.read_text())["name"] == "healthimaging"
