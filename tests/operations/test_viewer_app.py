"""The viewer app: the pinned package fetched with npm into the cache and checked, or an unpacked build given."""

from __future__ import annotations

import io
import json
import sys
import tarfile
from pathlib import Path

import pytest

from ahiops import viewer_app
from ahiops.errors import UsageError
from ahiops.viewer_app import ViewerAppError


def make_tarball(path: Path, files: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    return path


def fake_npm(tmp_path: Path, tarball: Path) -> Path:
    """An `npm` that answers `npm pack SPEC --pack-destination DIR ...` with a copy of ``tarball`` and logs its args."""
    script = tmp_path / "npm"
    script.write_text(
        f"#!{sys.executable}\n"
        "import json, shutil, sys\n"
        f"open({str(tmp_path / 'npm-args.json')!r}, 'a').write(json.dumps(sys.argv[1:]) + '\\n')\n"
        "destination = sys.argv[sys.argv.index('--pack-destination') + 1]\n"
        f"shutil.copy({str(tarball)!r}, destination + '/ohif-app-{viewer_app.OHIF_VERSION}.tgz')\n"
    )
    script.chmod(0o755)
    return script


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def package(tmp_path: Path) -> Path:
    return make_tarball(
        tmp_path / "package.tgz",
        {
            "package/package.json": b"{}",
            "package/dist/index.html": b"<!doctype html>",
            "package/dist/app.bundle.js": b"bundle",
        },
    )


def test_the_pin_is_npm_integrity_of_the_version() -> None:
    assert viewer_app.OHIF_PACKAGE == "@ohif/app"
    assert viewer_app.OHIF_INTEGRITY.startswith("sha512-")
    assert len(viewer_app.OHIF_INTEGRITY) == len("sha512-") + 88


def test_the_package_is_fetched_checked_and_unpacked_into_the_cache(
    cache: Path, package: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(viewer_app, "OHIF_INTEGRITY", viewer_app.integrity_of(package))
    app = viewer_app.fetch_viewer_app(npm=str(fake_npm(tmp_path, package)))
    assert app == cache / "healthimaging-setup" / "ohif" / viewer_app.OHIF_VERSION / "dist"
    assert (app / "app.bundle.js").read_bytes() == b"bundle"
    assert not (app / "package.json").exists()
    [arguments] = [json.loads(line) for line in (tmp_path / "npm-args.json").read_text().splitlines()]
    assert arguments[:2] == ["pack", f"@ohif/app@{viewer_app.OHIF_VERSION}"]
    assert "--ignore-scripts" in arguments


def test_a_checked_cache_is_used_without_npm(
    cache: Path, package: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(viewer_app, "OHIF_INTEGRITY", viewer_app.integrity_of(package))
    first = viewer_app.fetch_viewer_app(npm=str(fake_npm(tmp_path, package)))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert viewer_app.viewer_app_dir() == first
    assert len((tmp_path / "npm-args.json").read_text().splitlines()) == 1


def test_a_package_that_does_not_match_the_pin_is_refused_and_not_kept(
    cache: Path, package: Path, tmp_path: Path
) -> None:
    with pytest.raises(ViewerAppError, match="does not match its pinned integrity hash") as refused:
        viewer_app.fetch_viewer_app(npm=str(fake_npm(tmp_path, package)))
    assert viewer_app.integrity_of(package) in str(refused.value)
    assert not viewer_app.cached_app_dir().exists()


def test_a_package_with_a_path_out_of_its_folder_is_not_unpacked_there(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    evil = make_tarball(
        tmp_path / "evil.tgz",
        {"package/dist/index.html": b"<!doctype html>", "package/dist/../../../../escaped.txt": b"x"},
    )
    monkeypatch.setattr(viewer_app, "OHIF_INTEGRITY", viewer_app.integrity_of(evil))
    with pytest.raises(ViewerAppError, match=r"could not be unpacked .*OutsideDestinationError"):
        viewer_app.fetch_viewer_app(npm=str(fake_npm(tmp_path, evil)))
    assert not list(tmp_path.rglob("escaped.txt"))


def test_without_npm_and_cache_the_message_says_install_npm_or_viewer_dir(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(ViewerAppError, match="npm, which fetches it, is not installed") as refused:
        viewer_app.viewer_app_dir()
    assert "--viewer-dir DIR" in str(refused.value)
    assert refused.value.exit_code == 1


def test_a_failing_npm_is_reported_with_its_message(cache: Path, tmp_path: Path) -> None:
    npm = tmp_path / "npm"
    npm.write_text("#!/bin/sh\necho 'npm error code E404' >&2\nexit 1\n")
    npm.chmod(0o755)
    with pytest.raises(ViewerAppError, match="npm error code E404"):
        viewer_app.fetch_viewer_app(npm=str(npm))


@pytest.mark.parametrize("inner", ["", "dist"])
def test_viewer_dir_is_the_build_or_its_parent(tmp_path: Path, inner: str) -> None:
    build = tmp_path / "build" / inner
    build.mkdir(parents=True)
    (build / "index.html").write_text("<!doctype html>")
    assert viewer_app.viewer_app_dir(tmp_path / "build") == build


def test_a_viewer_dir_without_index_html_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"--viewer-dir .*: no index.html in it or in its dist/ folder"):
        viewer_app.viewer_app_dir(tmp_path)
