"""The OHIF Viewer's prebuilt app (npm package ``@ohif/app``): pinned here, fetched once with npm into a cache outside
the repository, checked against the pinned integrity hash, unpacked.

The cache is ``$XDG_CACHE_HOME/healthimaging-setup/ohif/<version>/`` (``~/.cache/...`` without XDG_CACHE_HOME):
``ohif-app-<version>.tgz`` as npm fetched it and ``dist/``, the app. A directory given instead (``--viewer-dir``) is an
unpacked build: its ``index.html`` at the top, or in its ``dist/``.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from .errors import OpsError, UsageError

#: The one pin of the viewer app: the package, its version, and npm's integrity hash of its tarball
#: (``npm view @ohif/app@<version> dist.integrity``).
OHIF_PACKAGE = "@ohif/app"
OHIF_VERSION = "3.13.2"
OHIF_INTEGRITY = "sha512-WZdxmpmG7rqFgW9ZJLcbgr3XCtLi1KDNPoMaeY5PPe6j4G4fjEjjkycZM6C6Zk2F87BKxFfpq+jd5xXZB9E8EA=="
#: Seconds npm may take to fetch the package (about 50 MB).
NPM_TIMEOUT_SECONDS = 600
#: Written last into an unpacked cache entry: the integrity it was checked against.
_VERIFIED_MARK = "verified-integrity"
#: What of the package is the app.
_APP_PREFIX = "package/dist/"


class ViewerAppError(OpsError):
    """The viewer app could not be fetched, checked or found; the message says what to do."""


def cache_root() -> Path:
    """``$XDG_CACHE_HOME/healthimaging-setup`` (``~/.cache/healthimaging-setup`` by default)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "healthimaging-setup"


def cached_app_dir(version: str = OHIF_VERSION) -> Path:
    """Where the pinned app is unpacked: ``<cache>/ohif/<version>/dist``."""
    return cache_root() / "ohif" / version / "dist"


def integrity_of(path: Path) -> str:
    """npm's integrity string (``sha512-<base64>``) of a file."""
    digest = hashlib.sha512()
    with path.open("rb") as file:
        while chunk := file.read(1024 * 1024):
            digest.update(chunk)
    return "sha512-" + base64.b64encode(digest.digest()).decode()


def given_app_dir(directory: Path) -> Path:
    """The app in ``--viewer-dir DIR``: DIR itself or DIR/dist, whichever holds ``index.html``."""
    for candidate in (directory, directory / "dist"):
        if (candidate / "index.html").is_file():
            return candidate
    raise UsageError(
        f"--viewer-dir {directory}: no index.html in it or in its dist/ folder. Give the folder of an unpacked "
        f"OHIF Viewer build, for example the dist/ of `npm pack {OHIF_PACKAGE}@{OHIF_VERSION}` unpacked."
    )


def viewer_app_dir(viewer_dir: Path | None = None) -> Path:
    """The app to serve: ``viewer_dir`` when given, else the pinned package from the cache (fetched when missing)."""
    if viewer_dir is not None:
        return given_app_dir(viewer_dir)
    return fetch_viewer_app()


def fetch_viewer_app(*, npm: str | None = None) -> Path:
    """The pinned app unpacked in the cache, fetched with npm and checked first when not there yet."""
    app = cached_app_dir()
    entry = app.parent
    mark = entry / _VERIFIED_MARK
    if (app / "index.html").is_file() and mark.is_file() and mark.read_text().strip() == OHIF_INTEGRITY:
        return app
    npm = npm or shutil.which("npm")
    if npm is None:
        raise ViewerAppError(
            f"the viewer app ({OHIF_PACKAGE} {OHIF_VERSION}) is not in the cache ({entry}) and npm, which fetches "
            "it, is not installed. Install Node.js with npm and run the command again, or pass --viewer-dir DIR "
            "with an unpacked OHIF Viewer build."
        )
    entry.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".fetch-{OHIF_VERSION}-", dir=entry.parent) as temp:
        work = Path(temp)
        tarball = _npm_pack(npm, work)
        found = integrity_of(tarball)
        if found != OHIF_INTEGRITY:
            raise ViewerAppError(
                f"the fetched {OHIF_PACKAGE} {OHIF_VERSION} does not match its pinned integrity hash (expected "
                f"{OHIF_INTEGRITY}, got {found}); it was not used. Check the npm registry configured "
                "(`npm config get registry`) and run the command again."
            )
        unpacked = work / "entry"
        _unpack_app(tarball, unpacked / "dist")
        tarball.rename(unpacked / tarball.name)
        (unpacked / _VERIFIED_MARK).write_text(OHIF_INTEGRITY + "\n")
        if entry.exists():
            shutil.rmtree(entry)  # an unfinished or unchecked earlier entry
        unpacked.rename(entry)
    return app


def _npm_pack(npm: str, destination: Path) -> Path:
    """Fetch the pinned package's tarball with ``npm pack`` (no install, no scripts run); its path."""
    spec = f"{OHIF_PACKAGE}@{OHIF_VERSION}"
    try:
        completed = subprocess.run(  # noqa: S603 - npm with fixed arguments, no shell
            [npm, "pack", spec, "--pack-destination", str(destination), "--silent", "--ignore-scripts"],
            capture_output=True,
            text=True,
            timeout=NPM_TIMEOUT_SECONDS,
            check=False,
            cwd=destination,
        )
    except subprocess.TimeoutExpired:
        raise ViewerAppError(
            f"`npm pack {spec}` did not finish within {NPM_TIMEOUT_SECONDS} s; check the network and npm's registry "
            "and proxy settings, or pass --viewer-dir DIR."
        ) from None
    except OSError as error:
        raise ViewerAppError(f"`npm pack {spec}` could not run ({error}); or pass --viewer-dir DIR.") from None
    tarballs = sorted(destination.glob("*.tgz"))
    if completed.returncode != 0 or len(tarballs) != 1:
        detail = (completed.stderr.strip() or completed.stdout.strip() or f"exit status {completed.returncode}")[-500:]
        raise ViewerAppError(
            f"`npm pack {spec}` failed: {detail}. Check the network and npm's registry settings, or pass "
            "--viewer-dir DIR with an unpacked OHIF Viewer build."
        )
    return tarballs[0]


def _unpack_app(tarball: Path, destination: Path) -> None:
    """Unpack the package's ``dist/`` into ``destination`` (tarfile's data filter: no links out, no devices)."""
    destination.mkdir(parents=True)
    try:
        with tarfile.open(tarball, "r:gz") as archive:
            for member in archive:
                if not member.name.startswith(_APP_PREFIX) or member.name == _APP_PREFIX:
                    continue
                member.name = member.name[len(_APP_PREFIX) :]
                archive.extract(member, destination, filter="data")
    except (tarfile.TarError, OSError) as error:
        raise ViewerAppError(
            f"{OHIF_PACKAGE} {OHIF_VERSION} could not be unpacked ({type(error).__name__}: {error}); it was not used."
        ) from None
    if not (destination / "index.html").is_file():
        raise ViewerAppError(f"{OHIF_PACKAGE} {OHIF_VERSION} holds no dist/index.html; it was not used.")
