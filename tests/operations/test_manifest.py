"""Reading import job output: pure parsing of the manifest and ndjson files, and finding them in S3 by listing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ahiops import manifest
from ahiops.errors import ServiceError
from testkit.fakes.environment import MOTO_ACCOUNT_ID, AwsEnv

DATASTORE = "0123456789abcdef0123456789abcdef"
JOB = "fedcba9876543210fedcba9876543210"

OWNER = MOTO_ACCOUNT_ID


def manifest_bytes(**overrides: Any) -> bytes:
    summary = {
        "jobId": JOB,
        "datastoreId": DATASTORE,
        "inputS3Uri": "s3://in-bucket/imports/abc/job-0001/",
        "outputS3Uri": f"s3://out-bucket/imports/abc/job-0001/{DATASTORE}-DicomImport-{JOB}/",
        "successOutputS3Uri": "s3://out-bucket/.../SUCCESS/",
        "failureOutputS3Uri": "s3://out-bucket/.../FAILURE/",
        "warningsOutputS3Uri": "s3://out-bucket/.../WARNING/",
        "numberOfScannedFiles": 3,
        "numberOfImportedFiles": 2,
        "numberOfFilesWithCustomerError": 1,
        "numberOfFilesWithServerError": 0,
        "numberOfGeneratedImageSets": 1,
        "imageSetsSummary": [
            {"imageSetId": "i" * 32, "imageSetVersion": 1, "isPrimary": True, "numberOfMatchedSOPInstances": 2}
        ],
    }
    summary.update(overrides)
    return json.dumps({"jobSummary": summary}).encode()


SUCCESS = (
    b'{"inputFile": "s3://in-bucket/imports/abc/job-0001/a.dcm", "importResponse": {"imageSetId": "iii", '
    b'"isPrimary": true}}\n'
    b'{"inputFile": "s3://in-bucket/imports/abc/job-0001/b.dcm", "importResponse": {"imageSetId": "iii"}}\n'
)
FAILURE = (
    b'{"inputFile": "s3://in-bucket/imports/abc/job-0001/c.dcm", "exception": {"exceptionType": '
    b'"ValidationException", "message": "not a DICOM Part 10 file"}}\n\n'
)
WARNING = b'{"inputFile": "s3://in-bucket/x.dcm", "importResponse": {"imageSetId": "j"}, "warnings": ["odd tag"]}\n'


def test_parse_manifest() -> None:
    summary = manifest.parse_manifest(manifest_bytes())
    assert (summary.job_id, summary.datastore_id) == (JOB, DATASTORE)
    assert (summary.scanned_files, summary.imported_files, summary.files_with_customer_error) == (3, 2, 1)
    assert summary.generated_image_sets == 1
    assert summary.image_sets[0] == manifest.ImageSetSummary("i" * 32, 1, True, 2)


def test_parse_ndjson_files() -> None:
    successes = manifest.parse_successes(SUCCESS)
    assert [item.input_file.rsplit("/", 1)[1] for item in successes] == ["a.dcm", "b.dcm"]
    assert successes[0].is_primary is True
    assert successes[1].is_primary is None
    failures = manifest.parse_failures(FAILURE)
    assert len(failures) == 1
    assert failures[0].reason == "ValidationException: not a DICOM Part 10 file"
    warnings = manifest.parse_warnings(WARNING)
    assert warnings[0].warnings == ("odd tag",)
    assert warnings[0].image_set_id == "j"


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"not json", "not valid JSON"),
        (b"{}", "no 'jobSummary'"),
        (manifest_bytes(numberOfImportedFiles="2"), "'numberOfImportedFiles' is not a count"),
        (manifest_bytes(jobId=None), "'jobId' is missing"),
    ],
)
def test_malformed_manifests_are_named(data: bytes, problem: str) -> None:
    with pytest.raises(manifest.ManifestFormatError, match=problem):
        manifest.parse_manifest(data, source="s3://out/m.json")


def test_malformed_ndjson_names_the_line() -> None:
    with pytest.raises(manifest.ManifestFormatError, match=r"line 3: not a JSON object"):
        manifest.parse_failures(FAILURE + b"[1]\n", source="f.ndjson")


# ---------------------------------------------------------------- against moto's S3 on loopback


@pytest.fixture
def s3(aws_env: AwsEnv) -> Any:
    client = aws_env.client("s3")
    client.create_bucket(Bucket="out-bucket")
    return client


def write_output(s3: Any, folder: str) -> None:
    s3.put_object(Bucket="out-bucket", Key=folder + "job-output-manifest.json", Body=manifest_bytes())
    s3.put_object(Bucket="out-bucket", Key=folder + "SUCCESS/success.ndjson", Body=SUCCESS)
    s3.put_object(Bucket="out-bucket", Key=folder + "FAILURE/failure.ndjson", Body=FAILURE)
    s3.put_object(Bucket="out-bucket", Key=folder + "WARNING/warning.ndjson", Body=WARNING)


def test_read_job_output_finds_the_folder_by_listing(s3: Any) -> None:
    folder = f"imports/abc/job-0001/{DATASTORE}-DicomImport-{JOB}/"
    write_output(s3, folder)
    # another job's folder beside it must not be read
    s3.put_object(Bucket="out-bucket", Key=f"imports/abc/job-0001/{DATASTORE}-DicomImport-other/x", Body=b"")
    output = manifest.read_job_output(
        s3, "s3://out-bucket/imports/abc/job-0001/", DATASTORE, JOB, attempts=1, expected_bucket_owner=OWNER
    )
    assert output.folder_uri == f"s3://out-bucket/{folder}"
    assert output.summary.imported_files == 2
    assert len(output.imported) == 2
    assert [item.reason for item in output.failed] == ["ValidationException: not a DICOM Part 10 file"]
    assert len(output.warnings) == 1
    # the job folder itself as outputS3Uri (what GetDICOMImportJob may return) works too
    again = manifest.read_job_output(
        s3, f"s3://out-bucket/{folder}", DATASTORE, JOB, attempts=1, expected_bucket_owner=OWNER
    )
    assert again == output


def test_read_job_output_retries_while_the_manifest_is_absent(s3: Any) -> None:
    folder = f"imports/abc/job-0001/{DATASTORE}-DicomImport-{JOB}/"
    pauses: list[float] = []

    def sleep(seconds: float) -> None:
        pauses.append(seconds)
        if len(pauses) == 2:
            write_output(s3, folder)

    output = manifest.read_job_output(
        s3,
        "s3://out-bucket/imports/abc/job-0001/",
        DATASTORE,
        JOB,
        attempts=5,
        delay_seconds=0.5,
        sleep=sleep,
        expected_bucket_owner=OWNER,
    )
    assert pauses == [0.5, 0.5]
    assert output.summary.job_id == JOB


def test_read_job_output_gives_up_with_a_clear_message(s3: Any) -> None:
    pauses: list[float] = []
    with pytest.raises(ServiceError, match=r"did not appear after 3 tries") as caught:
        manifest.read_job_output(
            s3,
            "s3://out-bucket/imports/abc/",
            DATASTORE,
            JOB,
            attempts=3,
            delay_seconds=1,
            sleep=pauses.append,
            expected_bucket_owner=OWNER,
        )
    assert pauses == [1, 1]
    assert f"ahictl jobs {JOB}" in str(caught.value)
