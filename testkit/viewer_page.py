"""What the browser tests read off the OHIF Viewer's page: the viewport's pixels and the page's text (bounded polls),
and the Chromium they need (skipped with the reason where it is missing, a failure under ``CI=true``)."""

from __future__ import annotations

import os
import time

import pytest

from ahiops import viewer_app
from testkit.chromium_cdp import Chromium, find_chromium

IN_CI = os.environ.get("CI", "").lower() in ("true", "1", "yes")
#: Seconds the viewport may take to show the image (measured here: about 3 s after the app has loaded).
IMAGE_TIMEOUT_SECONDS = 90
#: Distinct colours the viewport must show: a CT slice in a grey ramp shows hundreds; a blank or uniform canvas one.
MIN_DISTINCT_VALUES = 64

#: The viewport canvases and how many distinct RGB values each holds (cornerstone draws each viewport on a 2D canvas).
VIEWPORT_PIXELS = """(() => [...document.querySelectorAll('canvas.cornerstone-canvas')].map(canvas => {
  if (!canvas.width || !canvas.height) return 0;
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  const values = new Set();
  for (let i = 0; i < data.length; i += 4) values.add((data[i] << 16) | (data[i + 1] << 8) | data[i + 2]);
  return values.size;
}))()"""


def chromium_binary() -> str:
    """Chromium's path, with the pinned viewer app in the cache; else skip (fail under CI) saying what is missing."""
    binary = find_chromium()
    app_ready = (viewer_app.cached_app_dir() / "index.html").is_file()
    missing = [
        name
        for name, ok in (("Chromium", binary), (f"the viewer app in {viewer_app.cached_app_dir()}", app_ready))
        if not ok
    ]
    if missing:
        reason = f"needs {' and '.join(missing)}; bash scripts/install_render_tools installs them"
        if IN_CI:
            pytest.fail(f"CI must run this check: {reason}")
        pytest.skip(reason)
    assert binary is not None
    return binary


def wait_for_image(browser: Chromium, timeout: float = IMAGE_TIMEOUT_SECONDS) -> list[int]:
    """Poll the viewport canvases until one shows an image (bounded); their distinct-value counts."""
    deadline = time.monotonic() + timeout
    counts: list[int] = []
    while time.monotonic() < deadline:
        counts = browser.evaluate(VIEWPORT_PIXELS) or []
        if any(count >= MIN_DISTINCT_VALUES for count in counts):
            return counts
        time.sleep(0.5)
    return counts


def shows_image(counts: list[int]) -> bool:
    return any(count >= MIN_DISTINCT_VALUES for count in counts)


def wait_for_text(browser: Chromium, text: str, timeout: float = IMAGE_TIMEOUT_SECONDS) -> bool:
    """Poll the page until its text holds ``text`` (bounded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in page_text(browser):
            return True
        time.sleep(0.5)
    return False


def page_text(browser: Chromium) -> str:
    return str(browser.evaluate("document.body ? document.body.innerText : ''") or "")
