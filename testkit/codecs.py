"""The optional image codecs the sandbox uses when installed (imagecodecs for HTJ2K), for tests that need them."""

from __future__ import annotations

import importlib
import os
from typing import Any

import pytest


def require_imagecodecs() -> Any:
    """imagecodecs (pinned in requirements-dev.txt); outside CI a test without it is skipped, in CI it fails."""
    if os.environ.get("CI") == "true":
        return importlib.import_module("imagecodecs")
    return pytest.importorskip(
        "imagecodecs", reason="imagecodecs is not installed: pip install -r requirements-dev.txt"
    )
