"""Each name derived from the stack's prefix is built by one function, next to the component that owns the name;
the program and the tools call it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from components._source import parse_source
from components.datastore import generated_datastore_name, prefixed_key_alias
from components.import_role import generated_role_name
from program import component_args
from program.settings import read_settings
from testkit.mock_runs import PROJECT_DIR

#: Where the source may spell out how a name is derived: the function that builds it.
SOURCES = (
    "components",
    "program",
    "ahictl",
    "ahiops",
    "scripts",
    "healthimaging_functions",
    "provider",
    "benchmarks",
    "testkit",
)
#: How a derived name ends, and the one module whose code (docstrings aside) may spell it out.
DERIVED_NAME_PARTS = {"-ImportJobDataAccessRole": "components/import_role.py", "-datastore": "components/datastore.py"}


def string_constants(path: Path) -> list[tuple[int, str]]:
    """The string literals of a module's code, f-string parts included, docstrings and other bare strings left out."""
    tree = parse_source(path.read_text(), str(path))
    bare = {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Expr)}
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in bare
    ]


def places(part: str, root: Path = PROJECT_DIR) -> list[str]:
    """Every ``path:line`` whose code has a string literal (an f-string's part too) that ends with ``part``."""
    paths = [p for source in SOURCES for p in sorted((root / source).rglob("*.py"))]
    return [
        f"{path.relative_to(root)}:{line}"
        for path in paths
        for line, text in string_constants(path)
        if text.endswith(part)
    ]


@pytest.mark.parametrize(("part", "owner"), DERIVED_NAME_PARTS.items())
def test_a_derived_name_is_spelt_out_in_one_function_only(part: str, owner: str) -> None:
    found = places(part)
    assert len(found) == 1, found
    assert found[0].startswith(owner + ":"), found


def test_the_data_stores_key_alias_is_built_from_its_name_not_spelt_out() -> None:
    # prefixed_key_alias derives it from generated_datastore_name; a literal "<prefix>-datastore-key" would bypass both.
    assert places("-datastore-key") == []


def test_a_second_place_that_builds_the_name_is_found(tmp_path: Path) -> None:
    (tmp_path / "program").mkdir()
    (tmp_path / "program" / "names.py").write_text(
        '"""Builds f"{prefix}-ImportJobDataAccessRole" in a docstring: not code."""\n\n'
        'def role(prefix: str) -> str:\n    return f"{prefix}-ImportJobDataAccessRole"\n'
    )
    assert places("-ImportJobDataAccessRole", tmp_path) == ["program/names.py:4"]


def test_the_stack_passes_the_names_the_components_build() -> None:
    settings, problems = read_settings(
        "healthimaging-setup", "dev", {"accountId": "111122223333", "region": "us-east-1", "namePrefix": "ahi-t"}.get
    )
    assert problems == []
    datastore = component_args.datastore_args(settings)
    assert datastore["datastore_name"] == generated_datastore_name("ahi-t") == "ahi-t-datastore"
    assert datastore["key_alias"] == prefixed_key_alias("ahi-t") == "ahi-t-datastore-key"
    role_name = component_args.import_role_plain_args(settings)["role_name"]
    assert role_name == generated_role_name("ahi-t") == "ahi-t-ImportJobDataAccessRole"
