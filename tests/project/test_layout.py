"""The repository's layout rules: one way to find the root, no sys.path edits outside entry points, tests in
folders that mirror the code, and the shared test doubles under one package name."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from testkit.mock_runs import PROJECT_DIR

#: The project's own Python files (what a virtualenv, a cache or node_modules holds is not the project's).
SKIPPED_PARTS = frozenset(
    {"venv", ".venv", "node_modules", ".git", "__pycache__", ".mypy_cache", ".ruff_cache", "build"}
)
#: Entry points run as files, whose first lines put the repository's packages on the path: the provider plugin (run
#: by the Pulumi CLI as ``python provider``), and the scripts and benchmarks (``python scripts/<name>.py``); and the
#: mock harness, which puts a program's own directory first on the path, as Pulumi's language host does.
ENTRY_POINTS = frozenset({"provider/__main__.py", "ahictl/mockrun.py"})
#: How an entry point run as a file finds the repository's packages (and nothing else may).
FILE_BOOTSTRAP = re.compile(
    r'^if __package__ in \(None, ""\):\n    sys\.path\.insert\(0, str\(Path\(__file__\)\.resolve\(\)\.parent\.parent\)\)$',
    re.MULTILINE,
)
#: A statement that changes the import path (a child process's command line, run as Lambda runs an archive, is its
#: own entry point and is not such a statement).
EDITS_PATH = re.compile(r"^\s*sys\.path\.(?:insert|append|extend)\(|^\s*sys\.path\s*=", re.MULTILINE)
ROOT_BY_FILE = re.compile(r"Path\(__file__\)(?:\.resolve\(\))?\.parent\.parent")


def project_python_files() -> list[Path]:
    return sorted(
        path
        for path in PROJECT_DIR.rglob("*.py")
        if not SKIPPED_PARTS.intersection(path.relative_to(PROJECT_DIR).parts)
    )


def relative(path: Path) -> str:
    return path.relative_to(PROJECT_DIR).as_posix()


def without_bootstrap(text: str) -> str:
    return FILE_BOOTSTRAP.sub("", text)


def test_the_rules_see_the_projects_files() -> None:
    names = {relative(path) for path in project_python_files()}
    assert {"ahictl/repository.py", "scripts/deployer_policy.py", "tests/conftest.py", "testkit/mock_runs.py"} <= names
    assert not any(name.startswith("venv/") for name in names)


def test_the_repository_root_is_found_in_one_place() -> None:
    finders = [
        relative(path)
        for path in project_python_files()
        if relative(path) != "ahictl/repository.py"
        and relative(path) != "tests/project/test_layout.py"  # its own patterns
        and ROOT_BY_FILE.search(without_bootstrap(path.read_text()))
    ]
    assert finders == [], (
        f"{finders} find the repository's root themselves: import REPOSITORY_ROOT from ahictl.repository "
        "(tests: PROJECT_DIR from testkit.mock_runs)"
    )


def test_only_entry_points_change_the_import_path() -> None:
    editors = [
        relative(path)
        for path in project_python_files()
        if relative(path) not in ENTRY_POINTS
        and relative(path) != "tests/project/test_layout.py"
        and EDITS_PATH.search(without_bootstrap(path.read_text()))
    ]
    assert editors == [], f"{editors} change sys.path: import the project's packages from the repository root instead"


@pytest.mark.parametrize("folder", ["scripts", "benchmarks"])
def test_scripts_and_benchmarks_run_as_files_through_the_one_bootstrap(folder: str) -> None:
    for path in sorted((PROJECT_DIR / folder).glob("*.py")):
        text = path.read_text()
        if "sys.path" in text:
            assert FILE_BOOTSTRAP.search(text), f"{relative(path)} edits sys.path other than through the bootstrap"


def test_the_bootstrap_pattern_matches_what_it_should() -> None:
    bootstrap = 'if __package__ in (None, ""):\n    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))\n'
    assert without_bootstrap(bootstrap).strip() == ""
    assert ROOT_BY_FILE.search("ROOT = Path(__file__).resolve().parent.parent")
    assert without_bootstrap("sys.path.insert(0, str(Path(__file__).resolve().parent.parent))\n").strip()


def test_tests_live_in_folders_that_mirror_the_code() -> None:
    top_level = sorted(path.name for path in (PROJECT_DIR / "tests").glob("test_*.py"))
    assert top_level == [], f"{top_level} sit at the top of tests/: move each into the folder of the code it tests"
    folders = {path.parent.name for path in (PROJECT_DIR / "tests").rglob("test_*.py")}
    assert {"components", "program", "operations", "commands", "functions", "end_to_end"} <= folders


def test_the_test_doubles_are_imported_under_one_name() -> None:
    old_names = re.compile(
        r"^\s*(?:from|import) (?:tests\.)?(?:helpers|fakes|provider_harness)\b|^\s*from tests\.", re.MULTILINE
    )
    offenders = [
        relative(path)
        for path in project_python_files()
        if relative(path).startswith(("tests/", "testkit/", "benchmarks/", "scripts/"))
        and old_names.search(path.read_text())
    ]
    assert offenders == [], f"{offenders} import the test doubles by another name than testkit.*"


def test_modules_are_loaded_from_files_only_for_projects_of_their_own() -> None:
    # A module loaded from its file gets a second name beside its package's; only an example project (not a package
    # of this repository) is loaded that way.
    loaders = [
        relative(path)
        for path in project_python_files()
        if relative(path).startswith(("tests/", "testkit/", "benchmarks/", "scripts/"))
        and not relative(path).startswith("tests/examples/")
        and relative(path) != "tests/project/test_layout.py"
        and "spec_from_file_location" in path.read_text()
    ]
    assert loaders == [], f"{loaders} load a module from its file: import it by its package name instead"
