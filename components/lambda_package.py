"""The deployment package of a Lambda function written in this repository, as a Pulumi archive.

A function lives in a package under ``healthimaging_functions/`` (for example
``healthimaging_functions/import_alerts/``) and may import this repository's libraries (``ahiops``). The archive holds the function's package at its top level (``import_alerts/...``)
and every module of this repository that it imports, directly or through other modules, found by reading their
``import`` statements: never a hand-kept list that could fall behind the code. A function imports the standard
library, what the Lambda runtime provides (:data:`RUNTIME_PACKAGES`) and, when its package declares them, pinned
third-party packages: :func:`third_party_imports` tells which others a package would need, and the tests keep that
empty.

Third-party packages. A function package may hold a ``requirements.txt`` (:data:`REQUIREMENTS_FILE`) that pins every
package it needs, dependencies included, each with the SHA-256 of its wheels (``--hash=sha256:...``). They are
installed for the function's runtime and architecture, never for the machine that builds the archive
(:func:`install_requirements`: ``pip install --require-hashes --only-binary=:all: --platform manylinux2014_<arch>
--implementation cp --python-version <runtime>``), into a cache directory keyed by the file's SHA-256, the platform
and the Python version (:func:`requirements_cache_dir`; ``$HEALTHIMAGING_LAMBDA_CACHE``, else
``~/.cache/healthimaging-setup/lambda-requirements``), and added at the top level of the archive beside
``requirements.txt`` itself. A wheel whose hash differs from the pinned one stops the build with
:class:`RequirementsInstallError`. The install runs when the program is deployed or previewed by the Pulumi engine.
Under Pulumi's mocks (unit tests, ``ahictl plan``) nothing is downloaded: the archive holds the function's modules
and its ``requirements.txt``, whose SHA-256 the offline plan shows, so a changed pin still shows in the plan and the
plan does not depend on what a machine has cached.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pulumi
from pulumi.runtime.mocks import MockMonitor

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
#: A function package's pinned third-party requirements, with hashes (see the module docstring).
REQUIREMENTS_FILE = "requirements.txt"
#: Lambda's architecture -> the platform tag of the wheels pip installs for it.
PLATFORMS = {"arm64": "manylinux2014_aarch64", "x86_64": "manylinux2014_x86_64"}
#: Environment variable naming the cache of installed requirements (default: :data:`DEFAULT_CACHE_ROOT`).
CACHE_VARIABLE = "HEALTHIMAGING_LAMBDA_CACHE"
DEFAULT_CACHE_ROOT = Path.home() / ".cache" / "healthimaging-setup" / "lambda-requirements"
#: The file that marks a cache directory as completely installed.
COMPLETE_MARKER = ".installed"
#: The longest one install may take (downloads included).
INSTALL_TIMEOUT_SECONDS = 600
#: What an install writes that a function does not need (console scripts, compiled bytecode of the build machine).
_NOT_ARCHIVED_DIRS = frozenset({"bin", "__pycache__"})


class RequirementsInstallError(pulumi.RunError):
    """A function's pinned requirements could not be installed (a hash that differs, a pin without a wheel for the
    platform, no package index): the archive is not built, nothing is deployed."""


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


def requirements_of(function_package: Path) -> Path | None:
    """The function package's pinned requirements file, or None when it needs no third-party package."""
    path = function_package / REQUIREMENTS_FILE
    return path if path.is_file() else None


def python_version(runtime: str) -> str:
    """``3.12`` for Lambda's runtime ``python3.12``."""
    return runtime.removeprefix("python")


def requirements_cache_dir(
    requirements: Path, *, architecture: str, runtime: str, cache_root: Path | None = None
) -> Path:
    """Where the requirements are installed for this platform and runtime: keyed by the file's SHA-256, so that a
    changed pin or hash never reuses an older install."""
    root = cache_root or Path(os.environ.get(CACHE_VARIABLE) or DEFAULT_CACHE_ROOT)
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()[:24]
    return root / f"{digest}-{PLATFORMS[architecture]}-cp{python_version(runtime).replace('.', '')}"


def install_requirements(
    requirements: Path, *, architecture: str, runtime: str, cache_root: Path | None = None
) -> Path:
    """The directory holding the requirements installed for Lambda's ``architecture`` and ``runtime`` (installed on
    first use, then reused from the cache; see the module docstring). Raises :class:`RequirementsInstallError`."""
    if architecture not in PLATFORMS:
        raise ValueError(f"no wheel platform for the Lambda architecture {architecture!r} (known: {sorted(PLATFORMS)})")
    target = requirements_cache_dir(requirements, architecture=architecture, runtime=runtime, cache_root=cache_root)
    if (target / COMPLETE_MARKER).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    # Installed beside the target and renamed into place when complete: an interrupted install leaves no half-filled
    # cache directory behind.
    staging = Path(tempfile.mkdtemp(prefix=".installing-", dir=target.parent))
    try:
        command = [
            sys.executable, "-m", "pip", "install",
            "--require-hashes", "--only-binary=:all:",
            "--platform", PLATFORMS[architecture],
            "--implementation", "cp",
            "--python-version", python_version(runtime),
            "--target", str(staging),
            "--no-compile", "--no-input", "--disable-pip-version-check", "--quiet",
            "--requirement", str(requirements),
        ]  # fmt: skip
        try:
            done = subprocess.run(  # noqa: S603 - this interpreter's pip, with arguments built here
                command, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_SECONDS, check=False
            )
        except subprocess.TimeoutExpired:
            raise RequirementsInstallError(
                f"{requirements}: installing the pinned packages took longer than {INSTALL_TIMEOUT_SECONDS} s; "
                "check that the package index is reachable, then run again."
            ) from None
        if done.returncode != 0:
            raise RequirementsInstallError(_install_failure(requirements, architecture, runtime, done.stderr))
        (staging / COMPLETE_MARKER).write_text(" ".join(command[3:-1]) + "\n")
        try:
            staging.rename(target)
        except OSError:  # installed meanwhile by another run: keep that one
            if not (target / COMPLETE_MARKER).is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _install_failure(requirements: Path, architecture: str, runtime: str, stderr: str) -> str:
    platform = f"{PLATFORMS[architecture]}, Python {python_version(runtime)}"
    lines = [line for line in stderr.strip().splitlines() if "is ignored: it is neither a file" not in line]
    detail = "\n".join(lines[-12:])
    if "DO NOT MATCH THE HASHES" in stderr:
        return (
            f"{requirements}: a downloaded wheel's SHA-256 is not the one pinned with --hash ({platform}). Either the "
            "file was edited or the package index serves another file than the one reviewed: nothing was packaged. "
            f"Take the hashes from the wheels you reviewed (pip hash <wheel>).\npip said:\n{detail}"
        )
    return (
        f"{requirements}: pip could not install the pinned packages for the function's platform ({platform}); every "
        "package, dependencies included, must be pinned (==) with the --hash of a wheel for that platform.\n"
        f"pip said:\n{detail}"
    )


def installed_files(directory: Path) -> dict[str, Path]:
    """Archive name -> file, for the packages installed in ``directory`` (no console scripts, no bytecode)."""
    files: dict[str, Path] = {}
    for path in sorted(directory.rglob("*")):
        relative = path.relative_to(directory)
        if not path.is_file() or path.name == COMPLETE_MARKER or path.suffix == ".pyc":
            continue
        if _NOT_ARCHIVED_DIRS.intersection(relative.parts):
            continue
        files[relative.as_posix()] = path
    return files


def installed_top_level(directory: Path) -> set[str]:
    """The top-level import names installed in ``directory`` (``jwt``, ``cryptography``, ``cffi``, ...)."""
    return {
        path.name if path.is_dir() else path.name.split(".")[0]
        for path in directory.iterdir()
        if not path.name.endswith(".dist-info")
        and path.name not in _NOT_ARCHIVED_DIRS
        and not path.name.startswith(".")
        and (path.is_dir() or path.suffix in (".py", ".so"))
    }


def _under_mocks() -> bool:
    """Whether the program runs under Pulumi's mocks (unit tests, ``ahictl plan``) rather than the engine."""
    return isinstance(pulumi.runtime.settings.get_monitor(), MockMonitor)


def function_archive(
    function_package: Path,
    *,
    runtime: str,
    architecture: str,
    root: Path = LIBRARY_ROOT,
    install: bool | None = None,
) -> pulumi.AssetArchive:
    """The function's deployment package for Lambda's ``runtime`` and ``architecture`` (see the module docstring).

    ``install``: whether to install the pinned requirements into the archive; None: unless under Pulumi's mocks.
    """
    files = package_files(function_package, root=root)
    requirements = requirements_of(function_package)
    if requirements is not None:
        files[f"{function_package.name}/{REQUIREMENTS_FILE}"] = requirements
        if install if install is not None else not _under_mocks():
            installed = install_requirements(requirements, architecture=architecture, runtime=runtime)
            clashes = sorted(set(installed_files(installed)) & set(files))
            if clashes:
                raise RequirementsInstallError(
                    f"{requirements}: the installed packages would overwrite the function's own files {clashes}."
                )
            files.update(installed_files(installed))
    return pulumi.AssetArchive({name: pulumi.FileAsset(str(path)) for name, path in sorted(files.items())})
