"""`ahictl view` end to end in Debian's headless Chromium with software WebGL, against the sandbox: pydicom's sample
CT is imported into a data store of the HealthImaging emulator by a real import job (staged in moto's S3,
StartDICOMImportJob, COMPLETED), the printed URL opens the OHIF Viewer (the pinned package from the cache) on that
study, the viewport shows the image, every DICOMweb request the emulator saw was SigV4-signed and answered, and the
page asked nothing of any other host.

Needs Chromium and the pinned viewer app in the cache, which ``scripts/install_render_tools`` installs and CI runs.
Where they are missing the test is skipped with the reason, except under ``CI=true``, where that is a failure.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path
from urllib.parse import urlsplit

import pydicom
import pytest

from ahiops import viewer_app
from sandbox.healthimaging import HealthImagingEmulator
from testkit.chromium_cdp import Chromium, find_chromium
from testkit.dicom_samples import sample
from testkit.fakes.environment import AwsEnv
from testkit.import_job import import_files
from testkit.view_process import ViewProcess, dummy_aws_environment, write_outputs

pytestmark = pytest.mark.browser

IN_CI = os.environ.get("CI", "").lower() in ("true", "1", "yes")
#: Seconds the viewport may take to show the image (measured here: about 3 s after the app has loaded).
IMAGE_TIMEOUT_SECONDS = 90
#: Distinct colours the viewport must show: a CT slice in a grey ramp shows hundreds; a blank or uniform canvas one.
MIN_DISTINCT_VALUES = 64
CT_SMALL = sample("CT_small.dcm")
CT = pydicom.dcmread(CT_SMALL, stop_before_pixels=True)

#: The viewport canvases and how many distinct RGB values each holds (cornerstone draws each viewport on a 2D canvas).
VIEWPORT_PIXELS = """(() => [...document.querySelectorAll('canvas.cornerstone-canvas')].map(canvas => {
  if (!canvas.width || !canvas.height) return 0;
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  const values = new Set();
  for (let i = 0; i < data.length; i += 4) values.add((data[i] << 16) | (data[i + 1] << 8) | data[i + 2]);
  return values.size;
}))()"""


@pytest.fixture
def chromium() -> str:
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


@pytest.fixture
def imported_study(aws_env: AwsEnv, healthimaging: HealthImagingEmulator, tmp_path: Path) -> Path:
    """pydicom's sample CT imported by a real import job into an ACTIVE data store of the emulator; an outputs file
    naming that data store with the emulator's DICOMweb root as ``dicomwebUrl``. The emulator's DICOMweb records
    are cleared after the import, so they hold the viewer's requests only."""
    datastore_id, _ = healthimaging.create_datastore("viewer")
    summary = import_files(aws_env, healthimaging, datastore_id, {"ct/CT_small.dcm": CT_SMALL.read_bytes()})
    assert summary["failures"] == []
    healthimaging.dicomweb.requests.clear()
    return write_outputs(tmp_path / "outputs.json", datastore_id, healthimaging.dicomweb_url(datastore_id))


def not_signed_and_answered(healthimaging: HealthImagingEmulator) -> list[str]:
    return [
        f"{seen.method} {seen.path} {seen.auth or 'unauthenticated'} {seen.status}"
        for seen in healthimaging.dicomweb.requests
        if not seen.signed or seen.status >= 400
    ]


def wait_for_image(browser: Chromium) -> list[int]:
    """Poll the viewport canvases until one shows an image (bounded); their distinct-value counts."""
    deadline = time.monotonic() + IMAGE_TIMEOUT_SECONDS
    counts: list[int] = []
    while time.monotonic() < deadline:
        counts = browser.evaluate(VIEWPORT_PIXELS) or []
        if any(count >= MIN_DISTINCT_VALUES for count in counts):
            return counts
        time.sleep(0.5)
    return counts


def test_the_viewer_shows_the_study_signed_through_the_proxy(
    chromium: str, imported_study: Path, healthimaging: HealthImagingEmulator, tmp_path: Path
) -> None:
    view = ViewProcess(imported_study, "--study", CT.StudyInstanceUID, environment=dummy_aws_environment(tmp_path))
    try:
        with Chromium(chromium) as browser:
            browser.navigate(view.url)
            counts = wait_for_image(browser)
            browser.screenshot(tmp_path / "viewer.png")
            requested = browser.requested_urls()
            log = browser.log_tail()
    finally:
        code, _, stderr = view.stop()

    assert any(count >= MIN_DISTINCT_VALUES for count in counts), (counts, log)
    seen = healthimaging.dicomweb.requests
    assert [request.operation for request in seen].count("GetDICOMInstanceFrames") >= 1
    assert not_signed_and_answered(healthimaging) == []
    origin = f"http://{urlsplit(view.url).netloc}/"
    elsewhere = [url for url in requested if not url.startswith((origin, "data:", "blob:"))]
    assert elsewhere == []
    assert (tmp_path / "viewer.png").stat().st_size > 10_000
    assert code == 0, stderr


def wait_for_text(browser: Chromium, text: str) -> bool:
    """Poll the page until its text holds ``text`` (bounded)."""
    deadline = time.monotonic() + IMAGE_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if text in (browser.evaluate("document.body ? document.body.innerText : ''") or ""):
            return True
        time.sleep(0.5)
    return False


def test_the_study_list_shows_the_data_stores_study(
    chromium: str, imported_study: Path, healthimaging: HealthImagingEmulator, tmp_path: Path
) -> None:
    family_name = str(CT.PatientName.family_name)
    view = ViewProcess(imported_study, environment=dummy_aws_environment(tmp_path))
    try:
        with Chromium(chromium) as browser:
            browser.navigate(view.url)
            listed = wait_for_text(browser, family_name)
            location = browser.evaluate("window.location.pathname + window.location.search")
            shown = browser.evaluate("document.body.innerText")
    finally:
        code, _, stderr = view.stop()
    assert listed, shown
    assert location == "/"  # the secret left the address bar
    assert dt.datetime.strptime(CT.StudyDate, "%Y%m%d").strftime("%d-%b-%Y") in shown  # from the QIDO-RS record
    operations = [request.operation for request in healthimaging.dicomweb.requests]
    assert "SearchDICOMStudies" in operations
    assert not_signed_and_answered(healthimaging) == []
    assert code == 0, stderr
