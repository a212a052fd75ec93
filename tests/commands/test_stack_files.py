"""Stack files are read as the Pulumi CLI passes them: top-level values as their literal text, mappings and
lists as JSON, and nothing that YAML readers disagree on is guessed."""

from __future__ import annotations

from pathlib import Path

import pytest

from ahictl import plan
from program.settings import read_settings
from program.settings_spec import StackSettings
from testkit.mock_runs import PROJECT, PROJECT_DIR

DEV = 'config:\n  healthimaging-setup:accountId: "111122223333"\n  healthimaging-setup:region: us-east-1\n'


def write(tmp_path: Path, text: str) -> None:
    (tmp_path / "Pulumi.yaml").write_text((PROJECT_DIR / "Pulumi.yaml").read_text())
    (tmp_path / "Pulumi.t.yaml").write_text(text)


def stack(tmp_path: Path, extra: str) -> plan.StackConfig:
    write(tmp_path, DEV + extra)
    return plan.stack_config(tmp_path, "t")


def settings_of(config: plan.StackConfig) -> tuple[StackSettings, list[str]]:
    prefix = f"{PROJECT}:"
    return read_settings(PROJECT, "t", lambda key: config.values.get(prefix + key))


def value(config: plan.StackConfig, key: str) -> str:
    return config.values[f"{PROJECT}:{key}"]


# --- Top-level values: their literal text --------------------------------------------------------


def test_an_unquoted_account_id_keeps_its_leading_zero(tmp_path: Path) -> None:
    config = stack(tmp_path, "  healthimaging-setup:namePrefix: 012345678901\n")
    assert value(config, "namePrefix") == "012345678901"
    write(tmp_path, "config:\n  healthimaging-setup:accountId: 012345678901\n")
    assert value(plan.stack_config(tmp_path, "t"), "accountId") == "012345678901"


@pytest.mark.parametrize("word", ["yes", "on", "Y"])
def test_yes_is_not_a_boolean_setting(tmp_path: Path, word: str) -> None:
    config = stack(tmp_path, f"  healthimaging-setup:versioning: {word}\n")
    assert value(config, "versioning") == word
    _, problems = settings_of(config)
    assert problems == [f"versioning = {word!r}: expected true or false."]


@pytest.mark.parametrize(("word", "expected"), [("true", True), ("True", True), ("FALSE", False), ("false", False)])
def test_true_and_false_are_booleans(tmp_path: Path, word: str, expected: bool) -> None:
    settings, problems = settings_of(stack(tmp_path, f"  healthimaging-setup:versioning: {word}\n"))
    assert problems == []
    assert settings.versioning is expected


@pytest.mark.parametrize("text", ["1:30", "0b11", "1_0", "0x10"])
def test_numbers_only_yaml_1_1_reads_are_text_the_program_refuses(tmp_path: Path, text: str) -> None:
    config = stack(tmp_path, f"  healthimaging-setup:noncurrentVersionExpirationDays: {text}\n")
    assert value(config, "noncurrentVersionExpirationDays") == text
    _, problems = settings_of(config)
    assert problems == [f"noncurrentVersionExpirationDays = {text!r}: expected a whole number."]


@pytest.mark.parametrize("empty", ["", "~", "null"])
def test_an_empty_value_is_the_empty_string(tmp_path: Path, empty: str) -> None:
    config = stack(tmp_path, f"  healthimaging-setup:datastoreName: {empty}\n")
    assert value(config, "datastoreName") == ""
    settings, problems = settings_of(config)
    assert problems == []
    assert settings.datastore_name == ""


# --- Mappings and lists: JSON, never a guessed boolean ----------------------------------------------


def test_a_date_inside_a_mapping_stays_text(tmp_path: Path) -> None:
    config = stack(tmp_path, "  healthimaging-setup:tags:\n    since: 2024-01-01\n")
    assert value(config, "tags") == '{"since": "2024-01-01"}'


@pytest.mark.parametrize("word", ["no", "yes", "on", "off", "y", "N"])
def test_a_yaml_1_1_boolean_word_inside_a_mapping_must_be_quoted(tmp_path: Path, word: str) -> None:
    with pytest.raises(plan.PlanError) as raised:
        stack(tmp_path, f"  healthimaging-setup:tags:\n    environment: {word}\n")
    assert str(raised.value).startswith(
        f"Pulumi.t.yaml: {PROJECT}:tags.environment = {word}: YAML 1.1 readers (some Pulumi versions) read this"
    )
    assert "Quote it" in str(raised.value)


def test_a_quoted_word_inside_a_mapping_is_text(tmp_path: Path) -> None:
    settings, problems = settings_of(stack(tmp_path, "  healthimaging-setup:tags:\n    environment: 'no'\n"))
    assert problems == []
    assert settings.tags == {"environment": "no"}


# --- Shapes that are not a stack file -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("config: foo\n", "Pulumi.t.yaml: config must be a mapping of key: value."),
        ("- a\n- b\n", "Pulumi.t.yaml must be a mapping of key: value."),
        ("config:\n  a: [\n", "Pulumi.t.yaml is not valid YAML"),
    ],
)
def test_a_malformed_stack_file_is_explained(tmp_path: Path, text: str, message: str) -> None:
    write(tmp_path, text)
    with pytest.raises(plan.PlanError, match=message.replace("[", r"\[")):
        plan.stack_config(tmp_path, "t")


def test_a_qualified_stack_name_is_explained(tmp_path: Path) -> None:
    write(tmp_path, DEV)
    with pytest.raises(plan.PlanError, match="give the stack's short name"):
        plan.stack_config(tmp_path, "acme/dev")
