"""Stack files are read as the Pulumi CLI reads them: YAML 1.2, where only true and false are booleans."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import PROJECT, PROJECT_DIR

from ahictl import plan
from settings import read_settings

DEV = 'config:\n  healthimaging-setup:accountId: "111122223333"\n  healthimaging-setup:region: us-east-1\n'


def stack(tmp_path: Path, extra: str) -> plan.StackConfig:
    (tmp_path / "Pulumi.yaml").write_text((PROJECT_DIR / "Pulumi.yaml").read_text())
    (tmp_path / "Pulumi.t.yaml").write_text(DEV + extra)
    return plan.stack_config(tmp_path, "t")


def settings_of(config: plan.StackConfig) -> tuple[object, list[str]]:
    prefix = f"{PROJECT}:"
    return read_settings(PROJECT, "t", lambda key: config.values.get(prefix + key))


@pytest.mark.parametrize("word", ["no", "yes", "on", "off", "y", "n"])
def test_yaml_1_1_boolean_words_are_strings(tmp_path: Path, word: str) -> None:
    config = stack(tmp_path, f"  healthimaging-setup:tags:\n    environment: {word}\n")
    settings, problems = settings_of(config)
    assert problems == []
    assert settings.tags == {"environment": word}  # type: ignore[attr-defined]


def test_yes_is_not_a_boolean_setting(tmp_path: Path) -> None:
    config = stack(tmp_path, "  healthimaging-setup:versioning: yes\n")
    _, problems = settings_of(config)
    assert problems == ["versioning = 'yes': expected true or false."]


@pytest.mark.parametrize(("word", "expected"), [("true", True), ("True", True), ("FALSE", False), ("false", False)])
def test_yaml_1_2_booleans_are_booleans(tmp_path: Path, word: str, expected: bool) -> None:
    config = stack(tmp_path, f"  healthimaging-setup:versioning: {word}\n")
    settings, problems = settings_of(config)
    assert problems == []
    assert settings.versioning is expected  # type: ignore[attr-defined]


def test_an_unquoted_account_id_is_a_number_without_its_leading_zero(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.yaml").write_text((PROJECT_DIR / "Pulumi.yaml").read_text())
    (tmp_path / "Pulumi.t.yaml").write_text("config:\n  healthimaging-setup:accountId: 012345678901\n")
    assert plan.stack_config(tmp_path, "t").values[f"{PROJECT}:accountId"] == "12345678901"
