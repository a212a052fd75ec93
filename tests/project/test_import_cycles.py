"""The project's own modules import each other without a cycle: imports only go down.

Every ``import`` and ``from ... import`` of the source packages counts, wherever it stands (at the top, inside a
function, under ``TYPE_CHECKING``): an import moved into a function still ties two modules in both directions.
"""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import pytest

from components._source import parse_source
from testkit.mock_runs import PROJECT_DIR

#: The packages whose modules must form no cycle, and the program's entry point beside them.
SOURCE_PACKAGES = (
    "components",
    "program",
    "ahiops",
    "ahictl",
    "healthimaging_functions",
    "provider",
    "scripts",
    "benchmarks",
    "testkit",
    "sandbox",
)


def module_name(root: Path, path: Path) -> str:
    """``components/validation/s3.py`` -> ``components.validation.s3``; a package's ``__init__.py`` is the package."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(tree: ast.Module, name: str, is_package: bool, known: set[str]) -> set[str]:
    """The project modules one module imports: for ``from package import thing``, the submodule ``package.thing``
    when there is one, else the package itself."""
    found: set[str] = set()
    package = name if is_package else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
    return {module for module in found if module in known and module != name}


def import_graph(root: Path, packages: tuple[str, ...]) -> dict[str, set[str]]:
    """Each module of ``packages`` under ``root`` (and the root's ``__main__.py``) with the project modules it imports."""
    paths = [path for package in packages for path in sorted((root / package).rglob("*.py"))]
    if (root / "__main__.py").exists():
        paths.append(root / "__main__.py")
    names = {module_name(root, path): path for path in paths}
    known = set(names)
    return {
        name: imported_modules(parse_source(path.read_text(), str(path)), name, path.name == "__init__.py", known)
        for name, path in names.items()
    }


def import_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One cycle of the graph (its first module repeated at the end), or an empty list when there is none."""
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as error:
        return list(error.args[1])
    return []


def test_the_project_modules_import_each_other_without_a_cycle() -> None:
    graph = import_graph(PROJECT_DIR, SOURCE_PACKAGES)
    assert {"program.settings", "program.component_args", "components.datastore", "ahictl.plan"} <= set(graph)
    assert "program.settings_spec" in graph["program.component_args"]  # the graph holds the real imports
    cycle = import_cycle(graph)
    assert cycle == [], "import cycle: " + " -> ".join(reversed(cycle))


def test_the_components_import_neither_the_program_nor_the_commands() -> None:
    graph = import_graph(PROJECT_DIR, SOURCE_PACKAGES)
    upward = {
        name: sorted(m for m in imported if m.split(".")[0] in ("program", "ahictl", "__main__"))
        for name, imported in graph.items()
        if name.split(".")[0] in ("components", "healthimaging_functions", "ahiops")
    }
    assert {name: modules for name, modules in upward.items() if modules} == {}


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (
            {"pkg/__init__.py": "", "pkg/a.py": "from pkg import b\n", "pkg/b.py": "def f():\n    from . import a\n"},
            {"pkg.a", "pkg.b"},
        ),
        (
            {
                "pkg/__init__.py": "",
                "pkg/a.py": "import pkg.b\n",
                "pkg/b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.a import A\n",
            },
            {"pkg.a", "pkg.b"},
        ),
        ({"pkg/__init__.py": "", "pkg/a.py": "from pkg import b\n", "pkg/b.py": "import json\n"}, set()),
    ],
    ids=["lazy import", "type-checking import", "no cycle"],
)
def test_a_cycle_is_found_however_it_is_imported(tmp_path: Path, files: dict[str, str], expected: set[str]) -> None:
    for relative, text in files.items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text(text)
    assert set(import_cycle(import_graph(tmp_path, ("pkg",)))) == expected
