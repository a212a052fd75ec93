"""Import jobs that really parse DICOM, and the runtime operations on what they imported, through boto3
(sandbox/healthimaging.py, sandbox/imaging_runtime.py)."""

from __future__ import annotations

import gzip
import io
import json
import urllib.error
import urllib.request
import zlib
from pathlib import Path
from typing import Any

import pydicom
import pytest
from botocore.exceptions import ClientError

from sandbox import htj2k
from sandbox.healthimaging import HealthImagingEmulator
from testkit.codecs import require_imagecodecs
from testkit.dicom_samples import sample
from testkit.dicomweb_client import OHIF_FRAMES_ACCEPT, pixel_data, send
from testkit.fakes.environment import AwsEnv
from testkit.import_job import import_files

CT_SMALL = sample("CT_small.dcm")
MR_SMALL = sample("MR_small.dcm")
CT = pydicom.dcmread(CT_SMALL, stop_before_pixels=True)


@pytest.fixture
def medical_imaging(aws_env: AwsEnv) -> Any:
    return aws_env.client("medical-imaging")


@pytest.fixture
def without_htj2k(monkeypatch: pytest.MonkeyPatch) -> None:
    """The emulator as it runs where imagecodecs is not installed: frames answered as it keeps them."""
    monkeypatch.setattr(htj2k, "available", lambda: False)


def frame_ids(client: Any, datastore_id: str, image_set_id: str) -> tuple[str, dict[str, Any]]:
    """The first frame id of CT_small's instance, and that instance's entry in the image set metadata."""
    blob = client.get_image_set_metadata(datastoreId=datastore_id, imageSetId=image_set_id)["imageSetMetadataBlob"]
    instance = json.loads(gzip.decompress(blob.read()))["Study"]["Series"][CT.SeriesInstanceUID]["Instances"][
        CT.SOPInstanceUID
    ]
    return instance["ImageFrames"][0]["ID"], instance


def truncated(path: Path) -> bytes:
    data = path.read_bytes()
    return data[: len(data) // 2]


def test_an_import_with_a_non_dicom_and_a_corrupt_file_imports_the_rest_and_lists_the_failures(
    aws_env: AwsEnv, healthimaging: HealthImagingEmulator
) -> None:
    datastore_id, _ = healthimaging.create_datastore("runtime")
    summary = import_files(
        aws_env,
        healthimaging,
        datastore_id,
        {
            "ct.dcm": CT_SMALL.read_bytes(),
            "mr.dcm": MR_SMALL.read_bytes(),
            "notes.txt": b"not DICOM at all",
            "broken.dcm": truncated(CT_SMALL),
        },
    )
    assert (summary["numberOfImportedFiles"], summary["numberOfFilesWithCustomerError"]) == (2, 2)
    failures = {f["inputFile"].rsplit("/", 1)[-1]: f["exception"] for f in summary["failures"]}
    assert failures["notes.txt"]["exceptionType"] == "ValidationException"
    assert "Not a DICOM Part 10 file" in failures["notes.txt"]["message"]
    assert failures["broken.dcm"]["exceptionType"] == "ValidationException"
    assert "Unreadable DICOM Part 10 file" in failures["broken.dcm"]["message"]
    assert all(s["importResponse"]["isPrimary"] is True for s in summary["successes"])
    assert len(healthimaging.image_sets) == 2


def test_a_conflicting_import_of_a_known_series_makes_a_non_primary_image_set(
    aws_env: AwsEnv, healthimaging: HealthImagingEmulator, medical_imaging: Any
) -> None:
    datastore_id, _ = healthimaging.create_datastore("runtime")
    first = import_files(aws_env, healthimaging, datastore_id, {"ct.dcm": CT_SMALL.read_bytes()})
    dataset = pydicom.dcmread(CT_SMALL)
    dataset.PatientID = "ANOTHER-PATIENT"
    dataset.SOPInstanceUID = "1.2.826.0.1.3680043.8.498.77"
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    second = import_files(aws_env, healthimaging, datastore_id, {"ct.dcm": buffer.getvalue()})
    [primary] = first["imageSetsSummary"]
    [other] = second["imageSetsSummary"]
    assert other["imageSetId"] != primary["imageSetId"]
    assert (other["isPrimary"], second["successes"][0]["importResponse"]["isPrimary"]) == (False, False)
    image_set = medical_imaging.get_image_set(datastoreId=datastore_id, imageSetId=other["imageSetId"])
    assert image_set["isPrimary"] is False


def test_image_set_metadata_is_gzip_json_in_healthimagings_shape(
    aws_env: AwsEnv, healthimaging: HealthImagingEmulator, medical_imaging: Any, without_htj2k: None
) -> None:
    datastore_id, _ = healthimaging.create_datastore("runtime")
    summary = import_files(aws_env, healthimaging, datastore_id, {"ct.dcm": CT_SMALL.read_bytes()})
    [image_set] = summary["imageSetsSummary"]
    answer = medical_imaging.get_image_set_metadata(datastoreId=datastore_id, imageSetId=image_set["imageSetId"])
    assert (answer["contentType"], answer["contentEncoding"]) == ("application/json", "gzip")
    metadata = json.loads(gzip.decompress(answer["imageSetMetadataBlob"].read()))
    assert (metadata["DatastoreID"], metadata["ImageSetID"]) == (datastore_id, image_set["imageSetId"])
    assert metadata["SchemaVersion"] == "1.1"
    patient = metadata["Patient"]["DICOM"]
    assert (patient["PatientName"], patient["PatientID"], patient["PatientSex"]) == (
        "CompressedSamples^CT1",
        "1CT1",
        "O",
    )
    assert metadata["Study"]["DICOM"]["StudyInstanceUID"] == CT.StudyInstanceUID
    series = metadata["Study"]["Series"][CT.SeriesInstanceUID]
    assert series["DICOM"]["Modality"] == "CT"
    instance = series["Instances"][CT.SOPInstanceUID]
    assert instance["DICOM"]["Rows"] == 128
    assert "PatientID" not in instance["DICOM"]
    assert instance["StoredTransferSyntaxUID"] == "1.2.840.10008.1.2.1"
    [frame] = instance["ImageFrames"]
    assert frame["FrameSizeInBytes"] == 128 * 128 * 2
    assert frame["PixelDataChecksumFromBaseToFullResolution"][0]["Width"] == 128


def test_without_htj2k_get_image_frame_answers_the_pixel_data_of_the_imported_file(
    aws_env: AwsEnv, healthimaging: HealthImagingEmulator, medical_imaging: Any, without_htj2k: None
) -> None:
    datastore_id, _ = healthimaging.create_datastore("runtime")
    summary = import_files(aws_env, healthimaging, datastore_id, {"ct.dcm": CT_SMALL.read_bytes()})
    [image_set] = summary["imageSetsSummary"]
    frame_id, _ = frame_ids(medical_imaging, datastore_id, image_set["imageSetId"])
    frame = medical_imaging.get_image_frame(
        datastoreId=datastore_id, imageSetId=image_set["imageSetId"], imageFrameInformation={"imageFrameId": frame_id}
    )
    assert frame["imageFrameBlob"].read() == pixel_data(CT_SMALL)
    with pytest.raises(ClientError) as error:
        medical_imaging.get_image_frame(
            datastoreId=datastore_id,
            imageSetId=image_set["imageSetId"],
            imageFrameInformation={"imageFrameId": "0" * 32},
        )
    assert error.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_get_image_frame_answers_htj2k_that_decodes_to_the_pixel_data_as_the_metadata_says(
    aws_env: AwsEnv, healthimaging: HealthImagingEmulator, medical_imaging: Any
) -> None:
    imagecodecs = require_imagecodecs()
    datastore_id, _ = healthimaging.create_datastore("runtime")
    summary = import_files(aws_env, healthimaging, datastore_id, {"ct.dcm": CT_SMALL.read_bytes()})
    [image_set] = summary["imageSetsSummary"]
    frame_id, instance = frame_ids(medical_imaging, datastore_id, image_set["imageSetId"])
    assert instance["StoredTransferSyntaxUID"] == "1.2.840.10008.1.2.4.202"
    blob = medical_imaging.get_image_frame(
        datastoreId=datastore_id, imageSetId=image_set["imageSetId"], imageFrameInformation={"imageFrameId": frame_id}
    )["imageFrameBlob"].read()
    assert blob[:2] == b"\xff\x4f"  # a JPEG 2000 codestream, not the raw pixels
    assert imagecodecs.htj2k_decode(blob).tobytes() == pixel_data(CT_SMALL)
    assert instance["ImageFrames"][0]["PixelDataChecksumFromBaseToFullResolution"][0]["Checksum"] == zlib.crc32(
        pixel_data(CT_SMALL)
    )


def test_list_image_set_versions_counts_the_imports_of_a_series(
    aws_env: AwsEnv, healthimaging: HealthImagingEmulator, medical_imaging: Any
) -> None:
    datastore_id, _ = healthimaging.create_datastore("runtime")
    [first] = import_files(aws_env, healthimaging, datastore_id, {"ct.dcm": CT_SMALL.read_bytes()})["imageSetsSummary"]
    [second] = import_files(aws_env, healthimaging, datastore_id, {"ct.dcm": CT_SMALL.read_bytes()})["imageSetsSummary"]
    assert second["imageSetId"] == first["imageSetId"]
    versions = medical_imaging.list_image_set_versions(datastoreId=datastore_id, imageSetId=first["imageSetId"])
    assert [v["versionId"] for v in versions["imageSetPropertiesList"]] == ["2", "1"]
    assert all(v["isPrimary"] for v in versions["imageSetPropertiesList"])


def test_search_image_sets_by_patient_id_and_study_uid(
    aws_env: AwsEnv, healthimaging: HealthImagingEmulator, medical_imaging: Any
) -> None:
    datastore_id, _ = healthimaging.create_datastore("runtime")
    import_files(
        aws_env, healthimaging, datastore_id, {"ct.dcm": CT_SMALL.read_bytes(), "mr.dcm": MR_SMALL.read_bytes()}
    )
    found = medical_imaging.search_image_sets(
        datastoreId=datastore_id,
        searchCriteria={"filters": [{"values": [{"DICOMPatientId": "1CT1"}], "operator": "EQUAL"}]},
    )["imageSetsMetadataSummaries"]
    [summary] = found
    assert summary["DICOMTags"]["DICOMStudyInstanceUID"] == CT.StudyInstanceUID
    assert summary["DICOMTags"]["DICOMSeriesModality"] == "CT"
    assert summary["DICOMTags"]["DICOMNumberOfStudyRelatedInstances"] == 1
    assert summary["isPrimary"] is True
    everything = medical_imaging.search_image_sets(datastoreId=datastore_id)["imageSetsMetadataSummaries"]
    assert len(everything) == 2
    by_study = medical_imaging.search_image_sets(
        datastoreId=datastore_id,
        searchCriteria={"filters": [{"values": [{"DICOMStudyInstanceUID": "1.2.3"}], "operator": "EQUAL"}]},
    )["imageSetsMetadataSummaries"]
    assert by_study == []


def test_what_an_import_job_made_is_served_by_dicomweb(aws_env: AwsEnv, healthimaging: HealthImagingEmulator) -> None:
    datastore_id, _ = healthimaging.create_datastore("runtime")
    import_files(aws_env, healthimaging, datastore_id, {"ct.dcm": CT_SMALL.read_bytes()})
    root = healthimaging.dicomweb_url(datastore_id)
    url = f"{root}/studies/{CT.StudyInstanceUID}/series/{CT.SeriesInstanceUID}/instances/{CT.SOPInstanceUID}/frames/1"
    [(_, payload)] = send(url, headers={"Accept": OHIF_FRAMES_ACCEPT}).parts()
    assert payload == pixel_data(CT_SMALL)


def test_an_unsigned_control_plane_request_is_refused(aws_env: AwsEnv, healthimaging: HealthImagingEmulator) -> None:
    request = urllib.request.Request(f"{healthimaging.endpoint_url}/datastore", method="GET")
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(request, timeout=10)
    assert error.value.code == 403
    assert error.value.headers["X-Amzn-ErrorType"] == "MissingAuthenticationTokenException"
    assert healthimaging.refused[-1] == ("GET", "/datastore", "MissingAuthenticationTokenException")


def test_a_control_plane_request_with_a_wrong_secret_is_refused(
    aws_env: AwsEnv, healthimaging: HealthImagingEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-sandbox-secret")
    with pytest.raises(ClientError) as error:
        aws_env.client("medical-imaging").list_datastores()
    assert error.value.response["Error"]["Code"] == "InvalidSignatureException"
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
