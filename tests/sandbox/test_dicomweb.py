"""DICOMweb on the emulator (sandbox/dicomweb.py): the requests OHIF makes, QIDO matching, WADO, STOW, authentication."""

from __future__ import annotations

import base64
import concurrent.futures
import datetime as dt
import http.client
import io
import json
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pydicom
import pytest

from sandbox.dicom_store import parse_part10
from sandbox.healthimaging import HealthImagingEmulator
from testkit.codecs import require_imagecodecs
from testkit.dicom_samples import sample
from testkit.dicomweb_client import OHIF_FRAMES_ACCEPT, Answer, pixel_data, send, stow_body

pytestmark = pytest.mark.server

CT_SMALL = sample("CT_small.dcm")
MR_SMALL = sample("MR_small.dcm")
RTDOSE = sample("rtdose.dcm")
CT = pydicom.dcmread(CT_SMALL, stop_before_pixels=True)
MR = pydicom.dcmread(MR_SMALL, stop_before_pixels=True)
ROLE = "arn:aws:iam::123456789012:role/DicomwebReader"


def ct_copy(**changes: Any) -> bytes:
    dataset = pydicom.dcmread(CT_SMALL)
    for keyword, value in changes.items():
        setattr(dataset, keyword, value)
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


@pytest.fixture
def emulator() -> Iterator[HealthImagingEmulator]:
    """An emulator on 127.0.0.1 (no S3: DICOMweb only), stopped after the test."""
    emulator = HealthImagingEmulator()
    emulator.start()
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture
def root(emulator: HealthImagingEmulator) -> str:
    """The DICOMweb root of an ACTIVE data store holding CT_small (two instances), MR_small and rtdose."""
    datastore_id, _ = emulator.create_datastore("dicomweb")
    files = [CT_SMALL.read_bytes(), ct_copy(SOPInstanceUID="1.2.826.0.1.3680043.8.498.1", InstanceNumber=2)]
    files += [MR_SMALL.read_bytes(), RTDOSE.read_bytes()]
    emulator.store.add(datastore_id, [parse_part10(data) for data in files])
    return emulator.dicomweb_url(datastore_id)


def get(url: str, **kwargs: Any) -> Answer:
    return send(url, **kwargs)


def by_tag(record: dict[str, Any], tag: str) -> Any:
    value = record[tag].get("Value", [None])[0]
    return value["Alphabetic"] if isinstance(value, dict) and "Alphabetic" in value else value


# --- the requests OHIF makes, in its order ------------------------------------------------------------------


def test_qido_studies_with_includefield_finds_the_study_with_its_patient_and_counts(root: str) -> None:
    answer = get(f"{root}/studies?limit=101&offset=0&fuzzymatching=false&includefield=00081030%2C00080060")
    assert answer.status == 200
    assert answer.headers["content-type"] == "application/dicom+json"
    studies = {by_tag(record, "0020000D"): record for record in answer.json()}
    ct_study = studies[CT.StudyInstanceUID]
    assert by_tag(ct_study, "00100010") == "CompressedSamples^CT1"
    assert by_tag(ct_study, "00100020") == "1CT1"
    assert by_tag(ct_study, "00201206") == 1  # NumberOfStudyRelatedSeries
    assert by_tag(ct_study, "00201208") == 2  # NumberOfStudyRelatedInstances
    assert ct_study["00080061"]["Value"] == ["CT"]  # ModalitiesInStudy
    assert by_tag(ct_study, "00081030") == CT.StudyDescription  # asked for with includefield


def test_qido_series_of_a_study(root: str) -> None:
    answer = get(f"{root}/studies/{CT.StudyInstanceUID}/series")
    [series] = answer.json()
    assert by_tag(series, "0020000E") == CT.SeriesInstanceUID
    assert by_tag(series, "00080060") == "CT"
    assert by_tag(series, "00201209") == 2  # NumberOfSeriesRelatedInstances
    assert by_tag(series, "00081190").endswith(f"/studies/{CT.StudyInstanceUID}/series/{CT.SeriesInstanceUID}")


def test_qido_studies_by_patient_id(root: str) -> None:
    [study] = get(f"{root}/studies?PatientID=4MR1").json()
    assert by_tag(study, "0020000D") == MR.StudyInstanceUID
    assert get(f"{root}/studies?00100020=nobody").json() == []


def test_wado_series_metadata_has_every_instance_without_pixel_data(root: str) -> None:
    answer = get(f"{root}/studies/{CT.StudyInstanceUID}/series/{CT.SeriesInstanceUID}/metadata")
    instances = answer.json()
    assert [by_tag(i, "00200013") for i in instances] == [1, 2]  # InstanceNumber order
    assert all("7FE00010" not in instance for instance in instances)
    assert by_tag(instances[0], "00280010") == CT.Rows


def test_a_frame_is_the_pixel_data_of_the_file_it_came_from(root: str) -> None:
    url = f"{root}/studies/{CT.StudyInstanceUID}/series/{CT.SeriesInstanceUID}/instances/{CT.SOPInstanceUID}/frames/1"
    answer = get(url, headers={"Accept": OHIF_FRAMES_ACCEPT})
    assert answer.status == 200
    assert answer.headers["content-type"].startswith('multipart/related; type="application/octet-stream"')
    [(content_type, payload)] = answer.parts()
    assert content_type == "application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1"
    assert payload == pixel_data(CT_SMALL)


# --- QIDO matching ------------------------------------------------------------------------------------------


def test_qido_wildcards_on_person_names_ignore_case(root: str) -> None:
    found = get(f"{root}/studies?PatientName=compressedsamples%5E*").json()
    assert {by_tag(s, "00100020") for s in found} == {"1CT1", "4MR1"}
    assert [by_tag(s, "00100020") for s in get(f"{root}/studies?PatientName=*CT?").json()] == ["1CT1"]


def test_qido_date_ranges(root: str) -> None:
    found = get(f"{root}/studies?StudyDate=20040101-20040630").json()
    assert [by_tag(s, "00080020") for s in found] == ["20040119"]
    assert len(get(f"{root}/studies?StudyDate=20040101-").json()) >= 2


def test_qido_limit_and_offset_page_through_the_studies(root: str) -> None:
    everything = [by_tag(s, "0020000D") for s in get(f"{root}/studies").json()]
    assert len(everything) == 3
    pages = [
        by_tag(s, "0020000D") for offset in (0, 1, 2) for s in get(f"{root}/studies?limit=1&offset={offset}").json()
    ]
    assert pages == everything


def test_qido_includefield_all_returns_every_attribute(root: str) -> None:
    [study] = get(f"{root}/studies?PatientID=1CT1&includefield=all").json()
    assert "00180050" in study  # SliceThickness: in no default list
    [plain] = get(f"{root}/studies?PatientID=1CT1").json()
    assert "00180050" not in plain


def test_qido_instances_of_a_series(root: str) -> None:
    found = get(f"{root}/studies/{CT.StudyInstanceUID}/series/{CT.SeriesInstanceUID}/instances").json()
    assert sorted(by_tag(i, "00080018") for i in found) == sorted([CT.SOPInstanceUID, "1.2.826.0.1.3680043.8.498.1"])


def test_qido_with_an_unknown_attribute_is_a_clear_400(root: str) -> None:
    answer = get(f"{root}/studies?PatientNmae=x")
    assert answer.status == 400
    assert "Unknown attribute 'PatientNmae'" in answer.json()["message"]


# --- WADO-RS ------------------------------------------------------------------------------------------------


def test_wado_instance_metadata(root: str) -> None:
    url = f"{root}/studies/{MR.StudyInstanceUID}/series/{MR.SeriesInstanceUID}/instances/{MR.SOPInstanceUID}/metadata"
    [instance] = get(url).json()
    assert by_tag(instance, "00080018") == MR.SOPInstanceUID


def test_wado_instance_is_the_file_as_imported(root: str) -> None:
    url = f"{root}/studies/{MR.StudyInstanceUID}/series/{MR.SeriesInstanceUID}/instances/{MR.SOPInstanceUID}"
    answer = get(url, headers={"Accept": 'multipart/related; type="application/dicom"'})
    [(content_type, payload)] = answer.parts()
    assert content_type.startswith("application/dicom")
    assert payload == MR_SMALL.read_bytes()


def test_several_frames_of_a_multi_frame_instance(root: str) -> None:
    dose = pydicom.dcmread(RTDOSE)
    url = f"{root}/studies/{dose.StudyInstanceUID}/series/{dose.SeriesInstanceUID}/instances/{dose.SOPInstanceUID}"
    answer = get(f"{url}/frames/2,15", headers={"Accept": OHIF_FRAMES_ACCEPT})
    size = dose.Rows * dose.Columns * dose.BitsAllocated // 8
    assert [payload for _, payload in answer.parts()] == [dose.PixelData[size : 2 * size], dose.PixelData[14 * size :]]
    assert get(f"{url}/frames/16", headers={"Accept": OHIF_FRAMES_ACCEPT}).status == 404


def test_frames_in_a_transfer_syntax_the_emulator_would_have_to_transcode_to_are_refused(root: str) -> None:
    url = f"{root}/studies/{CT.StudyInstanceUID}/series/{CT.SeriesInstanceUID}/instances/{CT.SOPInstanceUID}/frames/1"
    accept = "multipart/related; type=application/octet-stream; transfer-syntax=1.2.840.10008.1.2.4.50"
    answer = get(url, headers={"Accept": accept})
    assert answer.status == 406
    assert "does not transcode" in answer.json()["message"]


def test_frames_in_htj2k_when_asked_for_decode_to_the_pixel_data(root: str) -> None:
    imagecodecs = require_imagecodecs()
    url = f"{root}/studies/{CT.StudyInstanceUID}/series/{CT.SeriesInstanceUID}/instances/{CT.SOPInstanceUID}/frames/1"
    accept = "multipart/related; type=application/octet-stream; transfer-syntax=1.2.840.10008.1.2.4.202"
    [(content_type, payload)] = get(url, headers={"Accept": accept}).parts()
    assert content_type == "application/octet-stream; transfer-syntax=1.2.840.10008.1.2.4.202"
    assert imagecodecs.htj2k_decode(payload).tobytes() == pixel_data(CT_SMALL)


def test_an_unknown_series_is_404(root: str) -> None:
    assert get(f"{root}/studies/{CT.StudyInstanceUID}/series/1.2.3/metadata").status == 404


def test_an_unknown_data_store_is_404(emulator: HealthImagingEmulator) -> None:
    answer = get(f"{emulator.dicomweb_url('f' * 32)}/studies")
    assert answer.status == 404
    assert "not found or not ACTIVE" in answer.json()["message"]


# --- STOW-RS ------------------------------------------------------------------------------------------------


def test_stow_stores_instances_with_the_import_grouping_and_reports_failures(emulator: HealthImagingEmulator) -> None:
    datastore_id, _ = emulator.create_datastore("stow")
    root = emulator.dicomweb_url(datastore_id)
    content_type, body = stow_body([CT_SMALL.read_bytes(), b"not a DICOM file"])
    answer = send(f"{root}/studies", "POST", headers={"Content-Type": content_type}, body=body)
    assert answer.status == 202  # one stored, one failed
    stored = answer.json()
    [referenced] = stored["00081199"]["Value"]
    assert referenced["00081155"]["Value"] == [CT.SOPInstanceUID]
    [failed] = stored["00081198"]["Value"]
    assert failed["00081197"]["Value"] == [0xC000]
    [image_set] = emulator.image_sets.values()
    assert (image_set.version, image_set.is_primary) == (1, True)

    content_type, body = stow_body([ct_copy(SOPInstanceUID="1.2.826.0.1.3680043.8.498.2")])
    again = send(f"{root}/studies/{CT.StudyInstanceUID}", "POST", headers={"Content-Type": content_type}, body=body)
    assert again.status == 200
    assert list(emulator.image_sets) == [image_set.image_set_id]
    assert (image_set.version, len(image_set.instances)) == (2, 2)
    [study] = get(f"{root}/studies").json()
    assert by_tag(study, "00201208") == 2


def test_stow_of_only_unreadable_parts_is_409(emulator: HealthImagingEmulator) -> None:
    datastore_id, _ = emulator.create_datastore("stow")
    content_type, body = stow_body([b"\0" * 200])
    answer = send(
        f"{emulator.dicomweb_url(datastore_id)}/studies", "POST", headers={"Content-Type": content_type}, body=body
    )
    assert answer.status == 409
    assert emulator.image_sets == {}


# --- authentication -----------------------------------------------------------------------------------------


def test_an_unsigned_request_is_refused_with_403_and_recorded_as_unsigned(
    emulator: HealthImagingEmulator, root: str
) -> None:
    answer = get(f"{root}/studies", signed=False)
    assert answer.status == 403
    assert "MissingAuthenticationTokenException" in answer.json()["message"]
    assert emulator.dicomweb.requests[-1].signed is False


def test_a_request_signed_for_another_service_is_refused(root: str) -> None:
    answer = get(f"{root}/studies", service="s3")
    assert answer.status == 403
    assert "medical-imaging" in answer.json()["message"]


def test_signed_requests_are_recorded_as_signed(emulator: HealthImagingEmulator, root: str) -> None:
    get(f"{root}/studies")
    get(f"{root}/studies/{CT.StudyInstanceUID}/series")
    records = emulator.dicomweb.requests
    assert [(r.operation, r.signed, r.status) for r in records] == [
        ("SearchDICOMStudies", True, 200),
        ("SearchDICOMSeries", True, 200),
    ]


def jwt() -> str:
    now = int(dt.datetime.now(dt.UTC).timestamp())
    claims = {"sub": "reader", "iat": now - 10, "exp": now + 600}
    encoded = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    return f"eyJhbGciOiJSUzI1NiJ9.{encoded}.c2ln"


def test_a_bearer_token_the_authorizer_accepts_reads_dicomweb(emulator: HealthImagingEmulator, root: str) -> None:
    events: list[dict[str, Any]] = []
    emulator.set_authorizer(lambda event: events.append(event) or {"isTokenValid": True, "roleArn": ROLE})
    token = jwt()
    answer = get(f"{root}/studies?PatientID=1CT1", signed=False, headers={"Authorization": f"Bearer {token}"})
    assert answer.status == 200
    assert len(answer.json()) == 1
    datastore_id = urllib.parse.urlsplit(root).path.rsplit("/", 1)[-1]
    assert events == [{"datastoreId": datastore_id, "operation": "SearchDICOMStudies", "bearerToken": token}]
    assert emulator.dicomweb.requests[-1].auth == "bearer"


def test_a_bearer_token_without_an_authorizer_is_refused(root: str) -> None:
    answer = get(f"{root}/studies", signed=False, headers={"Authorization": f"Bearer {jwt()}"})
    assert answer.status == 403
    assert "has no Lambda authorizer" in answer.json()["message"]


def test_a_cors_preflight_is_answered_without_authentication(root: str) -> None:
    answer = get(
        f"{root}/studies",
        method="OPTIONS",
        signed=False,
        headers={
            "Origin": "https://viewer.example.org",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    assert answer.status == 204
    assert answer.headers["access-control-allow-origin"] == "*"
    assert "authorization" in answer.headers["access-control-allow-headers"].split(", ")
    assert "GET" in answer.headers["access-control-allow-methods"].split(", ")
    assert "access-control-allow-credentials" not in answer.headers


def test_an_answer_to_another_origin_may_be_read_by_it_refusals_included(
    emulator: HealthImagingEmulator, root: str
) -> None:
    emulator.set_authorizer(lambda event: {"isTokenValid": True, "roleArn": ROLE})
    origin = {"Origin": "https://viewer.example.org"}
    allowed = get(f"{root}/studies", signed=False, headers={**origin, "Authorization": f"Bearer {jwt()}"})
    refused = get(f"{root}/studies", signed=False, headers=origin)
    same_origin = get(f"{root}/studies")
    assert (allowed.status, allowed.headers["access-control-allow-origin"]) == (200, "*")
    assert (refused.status, refused.headers["access-control-allow-origin"]) == (403, "*")
    assert same_origin.status == 200
    assert "access-control-allow-origin" not in same_origin.headers


# --- concurrency --------------------------------------------------------------------------------------------


def test_64_parallel_frame_requests_over_keep_alive_connections_all_succeed(root: str) -> None:
    url = f"{root}/studies/{CT.StudyInstanceUID}/series/{CT.SeriesInstanceUID}/instances/{CT.SOPInstanceUID}/frames/1"
    expected = pixel_data(CT_SMALL)
    parsed = urllib.parse.urlsplit(url)

    def client(_: int) -> list[bytes]:
        connection = http.client.HTTPConnection(str(parsed.hostname), parsed.port, timeout=10)
        try:  # two requests on one connection: the second reuses it (keep-alive)
            answers = [send(url, headers={"Accept": OHIF_FRAMES_ACCEPT}, connection=connection) for _ in range(2)]
        finally:
            connection.close()
        assert all(answer.status == 200 for answer in answers)
        return [answer.parts()[0][1] for answer in answers]

    with concurrent.futures.ThreadPoolExecutor(max_workers=64) as pool:
        results = list(pool.map(client, range(64), timeout=60))
    assert len(results) == 64
    assert all(payload == expected for payloads in results for payload in payloads)
