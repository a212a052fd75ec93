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
from pathlib import Path
from urllib.parse import urlsplit

import pydicom
import pytest

from sandbox.healthimaging import HealthImagingEmulator
from testkit.chromium_cdp import Chromium
from testkit.dicom_samples import sample
from testkit.fakes.environment import AwsEnv
from testkit.import_job import import_files
from testkit.view_process import ViewProcess, dummy_aws_environment, write_outputs
from testkit.viewer_page import MIN_DISTINCT_VALUES, chromium_binary, wait_for_image, wait_for_text

pytestmark = pytest.mark.browser

CT_SMALL = sample("CT_small.dcm")
CT = pydicom.dcmread(CT_SMALL, stop_before_pixels=True)


@pytest.fixture
def chromium() -> str:
    return chromium_binary()


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
