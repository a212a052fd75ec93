"""A function's pinned third-party requirements, installed for Lambda's platform into its archive: the wheels pip
installs are the Linux ones of the function's architecture, a tampered hash stops the build, the cache is reused, and
under Pulumi's mocks nothing is installed. Installs come from the package index (pip's own cache makes reruns quick).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pulumi
import pytest

from components import lambda_package
from components.lambda_package import (
    FUNCTIONS_DIR,
    RequirementsInstallError,
    function_archive,
    install_requirements,
    installed_top_level,
    package_files,
    third_party_imports,
)
from components.python_function import ARCHITECTURE, RUNTIME
from testkit.mock_runs import run_component

AUTHORIZER = FUNCTIONS_DIR / "dicomweb_authorizer"
REQUIREMENTS = AUTHORIZER / "requirements.txt"
#: ELF e_machine of each Lambda architecture.
ELF_MACHINE = {"arm64": 183, "x86_64": 62}


@pytest.fixture(scope="module")
def cache_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("lambda-requirements")


def elf_machine(path: Path) -> int:
    header = path.read_bytes()[:20]
    assert header[:4] == b"\x7fELF", f"{path} is not an ELF binary"
    return int.from_bytes(header[18:20], "little")


def archive_names(archive: pulumi.AssetArchive) -> dict[str, Path]:
    return {name: Path(asset.path) for name, asset in archive.assets.items()}


@pytest.mark.parametrize("architecture", ["arm64", "x86_64"])
def test_the_archive_holds_pyjwt_and_cryptographys_binary_for_the_architecture(
    architecture: str, cache_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(lambda_package.CACHE_VARIABLE, str(cache_root))
    files = archive_names(function_archive(AUTHORIZER, runtime=RUNTIME, architecture=architecture, install=True))
    assert {"dicomweb_authorizer/handler.py", "dicomweb_authorizer/requirements.txt", "jwt/__init__.py"} <= set(files)
    assert "jwt/algorithms.py" in files
    binaries = [name for name in files if name.startswith("cryptography/hazmat/bindings/_rust") and ".so" in name]
    assert binaries, "cryptography's compiled module is missing"
    assert {elf_machine(files[name]) for name in binaries} == {ELF_MACHINE[architecture]}
    assert any(name.startswith("cryptography-51.0.1.dist-info/") for name in files)
    assert not [name for name in files if name.endswith(".pyc") or name.startswith("bin/")]


def test_the_authorizer_imports_nothing_its_archive_lacks(cache_root: Path) -> None:
    installed = install_requirements(REQUIREMENTS, architecture=ARCHITECTURE, runtime=RUNTIME, cache_root=cache_root)
    assert {"jwt", "cryptography"} <= installed_top_level(installed)
    needed = third_party_imports(package_files(AUTHORIZER))
    assert needed == {"jwt"}
    assert needed <= installed_top_level(installed)


def test_a_tampered_hash_stops_the_build_with_a_clear_message(tmp_path: Path) -> None:
    tampered = tmp_path / "requirements.txt"
    text = REQUIREMENTS.read_text()
    original = "42d59d631f7768a1028a64c7ff581a9bf7519804daf91fc5b6c56e30eec5e193"  # PyJWT's wheel
    assert original in text
    tampered.write_text(text.replace(original, "0" * 64))
    with pytest.raises(RequirementsInstallError) as raised:
        install_requirements(tampered, architecture="arm64", runtime=RUNTIME, cache_root=tmp_path / "cache")
    message = str(raised.value)
    assert f"{tampered}: a downloaded wheel's SHA-256 is not the one pinned with --hash" in message
    assert "manylinux2014_aarch64, Python 3.12" in message
    assert "nothing was packaged" in message
    assert not [p for p in (tmp_path / "cache").iterdir()], "a failed install left a cache directory behind"


def test_an_unpinned_requirement_is_refused(tmp_path: Path) -> None:
    loose = tmp_path / "requirements.txt"
    loose.write_text("PyJWT>=2\n")
    with pytest.raises(RequirementsInstallError) as raised:
        install_requirements(loose, architecture="arm64", runtime=RUNTIME, cache_root=tmp_path / "cache")
    assert "every package, dependencies included, must be pinned (==) with the --hash" in str(raised.value)


def test_an_installed_cache_is_reused_without_pip(cache_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = install_requirements(REQUIREMENTS, architecture="arm64", runtime=RUNTIME, cache_root=cache_root)

    def no_pip(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("pip ran although the requirements are cached")

    monkeypatch.setattr(subprocess, "run", no_pip)
    assert install_requirements(REQUIREMENTS, architecture="arm64", runtime=RUNTIME, cache_root=cache_root) == first
    assert first.name.endswith("-manylinux2014_aarch64-cp312")


def test_a_changed_requirements_file_gets_its_own_cache_directory(tmp_path: Path) -> None:
    edited = tmp_path / "requirements.txt"
    edited.write_text(REQUIREMENTS.read_text() + "# reviewed again\n")
    kwargs: dict[str, Any] = {"architecture": "arm64", "runtime": RUNTIME, "cache_root": tmp_path}
    assert lambda_package.requirements_cache_dir(edited, **kwargs) != lambda_package.requirements_cache_dir(
        REQUIREMENTS, **kwargs
    )


def test_under_mocks_nothing_is_installed_and_the_archive_names_the_pins(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_install(*args: Any, **kwargs: Any) -> Path:
        raise AssertionError("installed under mocks")

    monkeypatch.setattr(lambda_package, "install_requirements", no_install)
    built: list[pulumi.AssetArchive] = []
    run_component(lambda: built.append(function_archive(AUTHORIZER, runtime=RUNTIME, architecture=ARCHITECTURE)))
    names = set(archive_names(built[0]))
    assert "dicomweb_authorizer/requirements.txt" in names
    assert "dicomweb_authorizer/decision.py" in names
    assert not [name for name in names if name.startswith(("jwt/", "cryptography/"))]


def test_a_function_without_requirements_is_archived_as_before() -> None:
    files = archive_names(function_archive(FUNCTIONS_DIR / "import_alerts", runtime=RUNTIME, architecture="arm64"))
    assert files == package_files(FUNCTIONS_DIR / "import_alerts")


def test_the_tests_use_the_versions_the_function_pins() -> None:
    """requirements-sandbox.txt (which requirements-dev.txt includes) installs PyJWT and cryptography for the sandbox
    and the tests: the versions the function's archive gets."""
    import re

    from testkit.mock_runs import PROJECT_DIR

    def pins(text: str) -> dict[str, str]:
        return {m[0].lower(): m[1] for m in re.findall(r"^([A-Za-z0-9_.-]+)==([^\s\\]+)", text, re.MULTILINE)}

    function_pins = pins(REQUIREMENTS.read_text())
    dev_pins = pins((PROJECT_DIR / "requirements-sandbox.txt").read_text())
    assert {name: dev_pins.get(name) for name in ("pyjwt", "cryptography")} == {
        name: function_pins[name] for name in ("pyjwt", "cryptography")
    }
