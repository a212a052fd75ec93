"""Pulumi.yaml's ``config:`` block and the documentation's tables of keys are what scripts/generate_stack_docs.py
writes from SETTINGS_SPEC, the one description of each stack key."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from program.settings_spec import SETTINGS_SPEC, SPEC_BY_KEY
from scripts import generate_stack_docs as generator
from testkit.mock_runs import PROJECT_DIR

GENERATED = [
    "Pulumi.yaml",
    "docs/configuration.md",
    "docs/access-for-people.md",
    "docs/alerts-audit-and-import-on-upload.md",
]


def copy_of_the_generated_files(root: Path) -> Path:
    for relative in GENERATED:
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(PROJECT_DIR / relative, root / relative)
    return root


def test_the_generated_files_are_current() -> None:
    stale = [str(path.relative_to(PROJECT_DIR)) for path in generator.stale_files(PROJECT_DIR)]
    assert stale == [], "run: venv/bin/python scripts/generate_stack_docs.py"


def test_the_check_command_passes_on_the_repository() -> None:
    completed = subprocess.run(
        [sys.executable, str(PROJECT_DIR / "scripts" / "generate_stack_docs.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (completed.returncode, completed.stderr) == (0, "")


def test_an_edited_description_in_the_spec_makes_both_places_stale() -> None:
    spec = [
        dataclasses.replace(s, description="Versioning, edited.") if s.key == "versioning" else s for s in SETTINGS_SPEC
    ]
    stale = [str(path.relative_to(PROJECT_DIR)) for path in generator.stale_files(PROJECT_DIR, spec)]
    assert stale == ["Pulumi.yaml", "docs/configuration.md"]


def test_a_hand_edited_table_is_stale(tmp_path: Path) -> None:
    root = copy_of_the_generated_files(tmp_path)
    page = root / "docs" / "access-for-people.md"
    page.write_text(page.read_text().replace("One IAM group per persona", "One group per persona", 1))
    assert generator.stale_files(root) == [page]
    generator.stale_files(root)  # checking writes nothing
    assert "One group per persona" in page.read_text()


def test_generation_rewrites_only_between_the_markers(tmp_path: Path) -> None:
    root = copy_of_the_generated_files(tmp_path)
    pulumi_yaml = root / "Pulumi.yaml"
    pulumi_yaml.write_text(pulumi_yaml.read_text().replace('default: "kms"', 'default: "sse-s3"', 1))
    (path, text), *_ = generator.generated_files(root).items()
    assert path == pulumi_yaml
    assert text == (PROJECT_DIR / "Pulumi.yaml").read_text()
    project = yaml.safe_load(text)
    assert project["name"] == "healthimaging-setup"
    assert list(project["config"]) == [s.key for s in SETTINGS_SPEC]


def test_missing_markers_are_refused_with_what_to_do(tmp_path: Path) -> None:
    root = copy_of_the_generated_files(tmp_path)
    page = root / "docs" / "configuration.md"
    page.write_text("\n".join(line for line in page.read_text().split("\n") if "END GENERATED" not in line))
    with pytest.raises(
        SystemExit, match=r"docs/configuration.md: expected one line .*END GENERATED table of the general keys"
    ):
        generator.generated_files(root)


def test_every_key_is_in_exactly_one_table() -> None:
    in_tables = [s.key for _, _, first in generator.TABLES for s in generator.table_keys(SETTINGS_SPEC, first)]
    assert sorted(in_tables) == sorted(s.key for s in SETTINGS_SPEC)
    assert len(in_tables) == len(set(in_tables))


@pytest.mark.parametrize(
    ("key", "row"),
    [
        ("accountId", "| `accountId` | string | required | Required. The 12-digit AWS account"),
        ("accessPersonas", "| `accessPersonas` | array | `[admin, importer, reader]` | Personas that get"),
        ("bucketNaming", "| `bucketNaming` | string | `account-regional` | How bucket names are generated"),
        ("namePrefix", '| `namePrefix` | string | `""` | Prefix of generated names'),
    ],
)
def test_a_row_shows_the_type_default_and_description(key: str, row: str) -> None:
    table = generator.markdown_table([s for s in SETTINGS_SPEC if s.key == key])
    assert table.split("\n")[2].startswith(row)


def test_a_row_names_the_arguments_the_key_feeds() -> None:
    rows = generator.markdown_table(
        [s for s in SETTINGS_SPEC if s.key in ("region", "bucketNaming", "disposableStack")]
    )
    assert rows.split("\n")[2].endswith("| `region` of every component |")
    assert rows.split("\n")[3].endswith("| none: the program reads it |")
    assert rows.split("\n")[4].endswith("| `ImagingBucketPair.naming`, `AuditTrail.naming` |")


def test_a_row_names_the_arguments_derived_from_the_key_before_those_it_feeds() -> None:
    rows = generator.markdown_table([s for s in SETTINGS_SPEC if s.key in ("namePrefix", "disposableStack")])
    assert rows.split("\n")[2].endswith(
        "| `ImagingDatastore.datastore_name`, `ImagingDatastore.key_alias`, `ImportJobRole.role_name`, "
        "`HealthImagingAccess.name_prefix`, `ImagingBucketPair.extra_access_log_sources` | "
        "`ImagingBucketPair.name_prefix`, `ImportJobAlerts.name_prefix`, `AuditTrail.name_prefix`, "
        "`AutoImport.name_prefix`, `ImagingDatastore.name_prefix`, `ImagingViewer.name_prefix` |"
    )
    assert rows.split("\n")[3].endswith(
        "| `ImagingBucketPair.protect_data`, `ImagingDatastore.protect_data`, `ImportJobAlerts.protect_data`, "
        "`AuditTrail.protect_data`, `AutoImport.protect_data`, `ImagingViewer.protect_data` | none: the program reads it |"
    )


def test_a_row_of_a_key_that_derives_nothing_has_an_empty_derives_cell() -> None:
    assert generator.markdown_table([SPEC_BY_KEY["versioning"]]).endswith(
        "(S3.14). false logs a warning. |  | `ImagingBucketPair.versioning` |"
    )


def test_markdown_never_swallows_a_placeholder_or_splits_a_cell() -> None:
    setting = dataclasses.replace(SETTINGS_SPEC[0], description="Empty: '<prefix>-x' | or y.")
    assert "Empty: '\\<prefix>-x' \\| or y." in generator.markdown_table([setting])
