"""Which build of the OHIF Viewer the stack's viewer deploys.

The pinned package (``@ohif/app``, the version ``ahictl view`` serves) unpacked in the user's cache
(:mod:`ahiops.viewer_app`). When it is not there:

- under Pulumi's mocks (``ahictl plan``, the tests, CI without npm), the small stand-in app of
  ``program/viewer_fixture_app`` (an ``index.html`` with an inline script, a hashed bundle, an ``app-config.js``):
  the plan then shows every resource of the viewer, with a handful of file objects instead of the ~220 of the
  package, and needs neither npm nor the network;
- in a real deployment, the package is fetched with npm and checked against its pinned integrity hash first.
"""

from __future__ import annotations

from pathlib import Path

from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.mocks import MockMonitor

#: The stand-in app the offline plan deploys when the pinned package is not in the cache.
FIXTURE_APP_DIR = Path(__file__).resolve().parent / "viewer_fixture_app"


def under_mocks() -> bool:
    """Whether the program runs under Pulumi's mocks (no engine, nothing is deployed)."""
    return isinstance(getattr(runtime_settings.SETTINGS, "monitor", None), MockMonitor)


def cached_package_dir() -> Path | None:
    """The pinned package's app in the cache, when it is there."""
    try:
        from ahiops.viewer_app import cached_app_dir  # the one pin, shared with `ahictl view`
    except ImportError:  # pragma: no cover - before `ahictl view` is part of the tree
        return None
    app = cached_app_dir()
    return app if (app / "index.html").is_file() else None


def viewer_app_dir() -> Path:
    """The app to deploy: the cached package, else the stand-in under mocks, else the package fetched now."""
    cached = cached_package_dir()
    if cached is not None:
        return cached
    if under_mocks():
        return FIXTURE_APP_DIR
    from ahiops.viewer_app import fetch_viewer_app

    return fetch_viewer_app()
