"""The deployment package of a Lambda function written in this repository, as a Pulumi archive.

A function lives in a package under ``healthimaging_functions/`` (for example
``healthimaging_functions/import_alerts/``) and may import this repository's libraries (``ahiops``). The archive holds the function's package at its top level (``import_alerts/...``)
and every module of this repository that it imports, directly or through other modules, found by reading their
``import`` statements: never a hand-kept list that could fall behind the code. Third-party packages are not copied:
the function may import only the standard library and what the Lambda runtime provides (:data:`RUNTIME_PACKAGES`);
:func:`third_party_imports` tells which others a package would need, and the tests keep that empty.
"""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path

import pulumi

from ._source import parsed_file


def _package_dir(name: str) -> Path:
    """Where an importable package's directory is, found by the import system without importing it."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(f"the package {name} is not installed beside the components: reinstall healthimaging-setup")
    return Path(next(iter(spec.submodule_search_locations))).resolve()


#: The directory of the functions' packages (``healthimaging_functions/``): in the repository, or in site-packages
#: when the components come from the wheel (which ships it).
FUNCTIONS_DIR = _package_dir("healthimaging_functions")
#: The directory that holds the libraries a function may import (:data:`LIBRARY_PACKAGES`): archive names are
#: relative to it (``ahiops/manifest.py``).
LIBRARY_ROOT = _package_dir("ahiops").parent
#: Top-level packages of this repository that a function may import (copied into its archive).
LIBRARY_PACKAGES = ("ahiops",)
#: What the Lambda Python runtime provides besides the standard library.
RUNTIME_PACKAGES = frozenset({"boto3", "botocore"})


def _imported_modules(path: Path, module: str, is_package: bool) -> set[str]:
    """Dotted names of the modules ``path`` (the module ``module``) imports, relative imports resolved."""
    tree = parsed_file(path)
    package = module if is_package else module.rpartition(".")[0]
    # Imports under ``if TYPE_CHECKING:`` never run: they are for the type checker only.
    type_checking_only = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and _is_type_checking(node.test)
        for statement in node.body
        for inner in ast.walk(statement)
    }
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in type_checking_only:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                base = ".".join(base_parts[: len(base_parts) - node.level + 1])
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            found.add(target)
            # ``from package import name``: ``name`` may be a submodule.
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return found


def _is_type_checking(test: ast.expr) -> bool:
    """``TYPE_CHECKING`` or ``typing.TYPE_CHECKING``."""
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _module_file(root: Path, dotted: str) -> tuple[Path, bool] | None:
    """The file of a dotted module under ``root`` and whether it is a package (None when it is no module there)."""
    base = root.joinpath(*dotted.split("."))
    if (base / "__init__.py").is_file():
        return base / "__init__.py", True
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py"), False
    return None


def package_files(function_package: Path, *, root: Path = LIBRARY_ROOT) -> dict[str, Path]:
    """Archive name -> file, for the function's package and the repository modules it needs (see the module docstring)."""
    name = function_package.name
    files: dict[str, Path] = {}
    pending: list[tuple[Path, str, bool]] = []
    for path in sorted(function_package.glob("*.py")):
        module = name if path.name == "__init__.py" else f"{name}.{path.stem}"
        files[f"{name}/{path.name}"] = path
        pending.append((path, module, path.name == "__init__.py"))
    seen: set[str] = set()
    while pending:
        path, module, is_package = pending.pop()
        for dotted in sorted(_imported_modules(path, module, is_package)):
            top = dotted.split(".")[0]
            if top not in LIBRARY_PACKAGES or dotted in seen:
                continue
            seen.add(dotted)
            parts = dotted.split(".")
            # A module's parent packages are imported first: their __init__.py files are needed too.
            for depth in range(1, len(parts) + 1):
                prefix = ".".join(parts[:depth])
                located = _module_file(root, prefix)
                if located is None:
                    break  # an attribute imported from a module, not a module
                file, package = located
                archive_name = file.relative_to(root).as_posix()
                if archive_name not in files:
                    files[archive_name] = file
                    pending.append((file, prefix, package))
    return dict(sorted(files.items()))


def third_party_imports(files: dict[str, Path]) -> set[str]:
    """Top-level packages the archived modules import that are neither in the archive, nor in the standard library,
    nor provided by the Lambda runtime (they would fail with ImportError in Lambda)."""
    archived = {name.split("/")[0] for name in files}
    needed: set[str] = set()
    for name, path in files.items():
        module = name.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
        for dotted in _imported_modules(path, module, name.endswith("__init__.py")):
            top = dotted.split(".")[0]
            if top and top not in archived and top not in sys.stdlib_module_names and top not in RUNTIME_PACKAGES:
                needed.add(top)
    return needed


def function_archive(function_package: Path, *, root: Path = LIBRARY_ROOT) -> pulumi.AssetArchive:
    """The function's deployment package (see the module docstring)."""
    return pulumi.AssetArchive(
        {name: pulumi.FileAsset(str(path)) for name, path in package_files(function_package, root=root).items()}
    )
