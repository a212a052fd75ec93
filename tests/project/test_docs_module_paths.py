"""The module paths the docs and examples name exist: a ``healthimaging_setup.<module>.<name>`` (the installed
package's import name for ``components/``, pyproject.toml's ``package-dir``) imports from this repository's code, and
every ``components.<module>`` path the docs name is also given under the installed package's name."""

from __future__ import annotations

import importlib
import re
import tomllib
from pathlib import Path

import pytest

from testkit.mock_runs import PROJECT_DIR

PACKAGE_DIRS: dict[str, str] = tomllib.loads((PROJECT_DIR / "pyproject.toml").read_text())["tool"]["setuptools"][
    "package-dir"
]
WHEEL_NAME, SOURCE_PACKAGE = next((name, path) for name, path in PACKAGE_DIRS.items() if path == "components")
#: Pages and example programs a user of the installed package reads.
SOURCES = sorted(
    {
        PROJECT_DIR / "README.md",
        *PROJECT_DIR.glob("docs/*.md"),
        *(p for p in PROJECT_DIR.glob("examples/**/*") if p.suffix in (".md", ".py") and "node_modules" not in p.parts),
    }
)
_PATH = r"(?:\.[A-Za-z_]\w*)+"
WHEEL_PATH = re.compile(rf"(?<![\w/.-]){WHEEL_NAME}{_PATH}")
SOURCE_PATH = re.compile(rf"(?<![\w/.-]){SOURCE_PACKAGE}{_PATH}")
FROM_IMPORT = re.compile(rf"^from ({WHEEL_NAME}(?:{_PATH})?) import (?:\(([^)]*)\)|([\w ,]+)$)", re.MULTILINE)


def named_paths(pattern: re.Pattern[str]) -> dict[str, list[str]]:
    """Dotted path -> the files that name it."""
    found: dict[str, list[str]] = {}
    for source in SOURCES:
        text = source.read_text()
        paths = [m.group(0).rstrip(".") for m in pattern.finditer(text)]
        if pattern is WHEEL_PATH:
            paths += [
                f"{module}.{name.strip()}"
                for module, inside, line in FROM_IMPORT.findall(text)
                for name in (inside or line).split(",")
                if name.strip()
            ]
        for path in paths:
            found.setdefault(path, []).append(str(source.relative_to(PROJECT_DIR)))
    return found


def resolve(dotted: str) -> object:
    """The object a path of the installed package names, found in ``components/``: the longest prefix that is a
    module, then attributes."""
    parts = [SOURCE_PACKAGE, *dotted.split(".")[1:]]
    for cut in range(len(parts), 0, -1):
        try:
            found: object = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attribute in parts[cut:]:
            if isinstance(found, type) and attribute in getattr(found, "__annotations__", {}):
                return found  # an output a component declares and sets in its constructor
            found = getattr(found, attribute)
        return found
    raise ModuleNotFoundError(dotted)


WHEEL_PATHS = named_paths(WHEEL_PATH)


def test_the_docs_name_paths_of_the_installed_package() -> None:
    assert f"{WHEEL_NAME}.policies.datastore_key_service_statement" in WHEEL_PATHS
    assert f"{WHEEL_NAME}.access_policies.PERSONAS" in WHEEL_PATHS, "names imported with from ... import count too"


@pytest.mark.parametrize("dotted", sorted(WHEEL_PATHS))
def test_a_path_of_the_installed_package_exists_in_the_code(dotted: str) -> None:
    try:
        resolve(dotted)
    except (ModuleNotFoundError, AttributeError) as error:
        pytest.fail(f"{dotted} (named in {', '.join(WHEEL_PATHS[dotted])}) does not import: {error}")


def test_a_repository_path_in_the_docs_is_also_given_for_the_installed_package() -> None:
    wheel_modules = {p.split(".")[1] for p in WHEEL_PATHS}
    repository_only = {
        path: files for path, files in named_paths(SOURCE_PATH).items() if path.split(".")[1] not in wheel_modules
    }
    assert repository_only == {}, f"name these as {WHEEL_NAME}.<module> for the installed package"


def test_the_check_resolves_and_refuses() -> None:
    assert callable(resolve(f"{WHEEL_NAME}.policies.datastore_key_service_statement"))
    with pytest.raises(AttributeError):
        resolve(f"{WHEEL_NAME}.policies.no_such_function")
    assert Path(PROJECT_DIR / SOURCE_PACKAGE).is_dir()
