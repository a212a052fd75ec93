"""The loopback stand-ins the end-to-end tests rely on: moto's server, the HealthImaging control plane, IAM's simulator."""

from __future__ import annotations

import ast
import datetime as dt
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.exceptions import ClientError

from ahiops.stack_outputs import load_outputs_file
from components import policies
from components._source import parse_source
from sandbox.healthimaging import AWS_RATE_LIMITS, HealthImagingEmulator
from sandbox.healthimaging import ImportJob as ImportJobRecord
from sandbox.policy_evaluator import PolicySource, evaluate
from sandbox.policy_evaluator import Request as EvalRequest
from testkit.dicom_samples import sample
from testkit.fakes import MOTO_ACCOUNT_ID
from testkit.fakes.deployed_stack import EXPORTED_KEYS, DeployedStack
from testkit.fakes.environment import AwsEnv
from testkit.mock_runs import PROJECT_DIR


def test_moto_endpoint_listens_on_loopback_and_serves_s3_iam_sts_kms(aws_env: AwsEnv, moto_endpoint: str) -> None:
    assert urllib.parse.urlsplit(moto_endpoint).hostname == "127.0.0.1"
    for service in ("S3", "IAM", "STS", "KMS"):
        assert os.environ[f"AWS_ENDPOINT_URL_{service}"] == aws_env.endpoints[service]
    assert aws_env.client("sts").get_caller_identity()["Account"] == MOTO_ACCOUNT_ID
    s3 = aws_env.client("s3")
    s3.create_bucket(Bucket="fixture-check")
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["fixture-check"]
    assert aws_env.client("kms").create_key()["KeyMetadata"]["Arn"].startswith("arn:aws:kms:us-east-1:")
    aws_env.client("iam").create_role(RoleName="fixture-check", AssumeRolePolicyDocument="{}")


def test_aws_env_resets_moto_between_tests(aws_env: AwsEnv) -> None:
    assert aws_env.client("s3").list_buckets()["Buckets"] == []
    assert aws_env.client("iam").list_roles()["Roles"] == []


def test_aws_env_uses_dummy_credentials_and_no_user_configuration(aws_env: AwsEnv) -> None:
    session = boto3.session.Session()
    credentials = session.get_credentials()
    assert credentials is not None
    assert (credentials.access_key, credentials.method) == ("testing", "env")
    assert session.region_name == "us-east-1"
    assert not os.path.exists(os.environ["AWS_CONFIG_FILE"])
    assert not os.path.exists(os.environ["AWS_SHARED_CREDENTIALS_FILE"])
    assert "AWS_RETRY_MODE" not in os.environ
    assert "AWS_PROFILE" not in os.environ


def test_a_test_can_remove_the_credentials_and_gets_no_credentials_at_once(
    aws_env: AwsEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    assert boto3.session.Session().get_credentials() is None


# --- The HealthImaging stand-in -----------------------------------------------------------------------------

INPUT_BUCKET = "fake-input"
OUTPUT_BUCKET = "fake-output"
ROLE_ARN = f"arn:aws:iam::{MOTO_ACCOUNT_ID}:role/ImportJobDataAccessRole"
CT_SMALL = sample("CT_small.dcm")  # Part 10, one series
MR_SMALL = sample("MR_small.dcm")  # Part 10, another series
NO_META = sample("ExplVR_LitEndNoMeta.dcm")  # DICOM without the Part 10 header


@pytest.fixture
def medical_imaging(aws_env: AwsEnv) -> Any:
    """A real boto3 medical-imaging client (no retries), reaching the stand-in via AWS_ENDPOINT_URL_MEDICAL_IMAGING."""
    return aws_env.client("medical-imaging")


def stage(aws_env: AwsEnv, prefix: str, files: dict[str, Path]) -> Any:
    """The input and output buckets in moto, with ``files`` (name -> sample) uploaded under ``prefix``."""
    s3 = aws_env.client("s3")
    for bucket in (INPUT_BUCKET, OUTPUT_BUCKET):
        if bucket not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
            s3.create_bucket(Bucket=bucket)
    for name, path in files.items():
        s3.put_object(Bucket=INPUT_BUCKET, Key=f"{prefix}{name}", Body=path.read_bytes())
    return s3


def start_job(client: Any, datastore_id: str, prefix: str, token: str = "token-1", **extra: Any) -> dict[str, Any]:
    args = {
        "datastoreId": datastore_id,
        "jobName": "fixture-job",
        "clientToken": token,
        "dataAccessRoleArn": ROLE_ARN,
        "inputS3Uri": f"s3://{INPUT_BUCKET}/{prefix}",
        "outputS3Uri": f"s3://{OUTPUT_BUCKET}/{prefix}",
        "inputOwnerAccountId": MOTO_ACCOUNT_ID,
    }
    return client.start_dicom_import_job(**{**args, **extra})


def read_ndjson(s3: Any, key: str) -> list[dict[str, Any]]:
    body = s3.get_object(Bucket=OUTPUT_BUCKET, Key=key)["Body"].read().decode()
    return [json.loads(line) for line in body.splitlines()]


def test_a_job_goes_submitted_in_progress_completed_and_writes_its_manifest_and_results(
    aws_env: AwsEnv, healthimaging: HealthImagingEmulator, medical_imaging: Any
) -> None:
    datastore_id, _ = healthimaging.create_datastore("ds", kms_key_arn=None)
    s3 = stage(aws_env, "study/", {"ct.dcm": CT_SMALL, "mr/mr.dcm": MR_SMALL, "nometa.dcm": NO_META})

    started = start_job(medical_imaging, datastore_id, "study/")
    assert started["jobStatus"] == "SUBMITTED"
    assert isinstance(started["submittedAt"], dt.datetime)
    job_id = started["jobId"]
    statuses = [
        medical_imaging.get_dicom_import_job(datastoreId=datastore_id, jobId=job_id)["jobProperties"]["jobStatus"]
        for _ in range(3)
    ]
    assert statuses == ["SUBMITTED", "IN_PROGRESS", "COMPLETED"]

    properties = medical_imaging.get_dicom_import_job(datastoreId=datastore_id, jobId=job_id)["jobProperties"]
    folder_key = f"study/{datastore_id}-DicomImport-{job_id}/"
    assert properties["outputS3Uri"] == f"s3://{OUTPUT_BUCKET}/{folder_key}"
    assert properties["endedAt"] >= properties["submittedAt"]
    keys = {item["Key"] for item in s3.list_objects_v2(Bucket=OUTPUT_BUCKET, Prefix=folder_key)["Contents"]}
    assert keys == {
        f"{folder_key}job-output-manifest.json",
        f"{folder_key}SUCCESS/success.ndjson",
        f"{folder_key}FAILURE/failure.ndjson",
    }
    summary = json.loads(
        s3.get_object(Bucket=OUTPUT_BUCKET, Key=f"{folder_key}job-output-manifest.json")["Body"].read()
    )["jobSummary"]
    assert summary["jobId"] == job_id
    assert summary["datastoreId"] == datastore_id
    assert summary["inputS3Uri"] == f"s3://{INPUT_BUCKET}/study/"
    assert summary["outputS3Uri"] == properties["outputS3Uri"]
    assert summary["successOutputS3Uri"] == f"{properties['outputS3Uri']}SUCCESS/"
    assert summary["failureOutputS3Uri"] == f"{properties['outputS3Uri']}FAILURE/"
    assert summary["warningsOutputS3Uri"] == f"{properties['outputS3Uri']}WARNING/"
    counts = {key: value for key, value in summary.items() if key.startswith("number")}
    assert counts == {
        "numberOfScannedFiles": 3,
        "numberOfImportedFiles": 2,
        "numberOfFilesWithCustomerError": 1,
        "numberOfFilesWithServerError": 0,
        "numberOfGeneratedImageSets": 2,  # CT and MR are different series
    }
    assert [s["numberOfMatchedSOPInstances"] for s in summary["imageSetsSummary"]] == [1, 1]

    successes = read_ndjson(s3, f"{folder_key}SUCCESS/success.ndjson")
    assert sorted(s["inputFile"] for s in successes) == [
        f"s3://{INPUT_BUCKET}/study/ct.dcm",
        f"s3://{INPUT_BUCKET}/study/mr/mr.dcm",
    ]
    image_set_ids = {s["importResponse"]["imageSetId"] for s in successes}
    assert image_set_ids == {s["imageSetId"] for s in summary["imageSetsSummary"]}
    (failure,) = read_ndjson(s3, f"{folder_key}FAILURE/failure.ndjson")
    assert failure["inputFile"] == f"s3://{INPUT_BUCKET}/study/nometa.dcm"
    assert failure["exception"]["exceptionType"] == "ValidationException"
    assert "Part 10" in failure["exception"]["message"]

    image_set_id = sorted(image_set_ids)[0]
    image_set = medical_imaging.get_image_set(datastoreId=datastore_id, imageSetId=image_set_id)
    assert (image_set["imageSetState"], image_set["versionId"]) == ("ACTIVE", "1")
    deleted = medical_imaging.delete_image_set(datastoreId=datastore_id, imageSetId=image_set_id)
    assert deleted["imageSetWorkflowStatus"] == "DELETING"
    with pytest.raises(ClientError) as error:
        medical_imaging.get_image_set(datastoreId=datastore_id, imageSetId=image_set_id)
    assert error.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_importing_the_same_series_again_makes_a_new_image_set_version(
    aws_env: AwsEnv, healthimaging: HealthImagingEmulator, medical_imaging: Any
) -> None:
    healthimaging.polls_until_done = 0
    datastore_id, _ = healthimaging.create_datastore("ds")
    stage(aws_env, "a/", {"ct.dcm": CT_SMALL})
    stage(aws_env, "b/", {"ct-again.dcm": CT_SMALL})
    versions = []
    for prefix, token in (("a/", "t-a"), ("b/", "t-b")):
        job_id = start_job(medical_imaging, datastore_id, prefix, token)["jobId"]
        medical_imaging.get_dicom_import_job(datastoreId=datastore_id, jobId=job_id)
        (image_set,) = healthimaging.jobs[job_id].manifest["jobSummary"]["imageSetsSummary"]
        versions.append((image_set["imageSetId"], image_set["imageSetVersion"]))
    assert versions[0][0] == versions[1][0]
    assert [v for _, v in versions] == [1, 2]


def test_the_same_client_token_returns_the_same_job_and_never_starts_a_second(
    aws_env: AwsEnv, healthimaging: HealthImagingEmulator, medical_imaging: Any
) -> None:
    datastore_id, _ = healthimaging.create_datastore("ds")
    stage(aws_env, "x/", {"ct.dcm": CT_SMALL})
    first = start_job(medical_imaging, datastore_id, "x/", "same-token")
    again = start_job(medical_imaging, datastore_id, "x/", "same-token")
    assert again["jobId"] == first["jobId"]
    assert len(healthimaging.jobs) == 1
    assert [op for op, _ in healthimaging.requests].count("StartDICOMImportJob") == 2

    with pytest.raises(ClientError) as error:
        start_job(medical_imaging, datastore_id, "other/", "same-token")
    assert error.value.response["Error"]["Code"] == "ConflictException"
    assert len(healthimaging.jobs) == 1
    other = start_job(medical_imaging, datastore_id, "x/", "another-token")
    assert other["jobId"] != first["jobId"]


@pytest.mark.parametrize(
    ("member", "value", "rule"),
    [
        ("inputS3Uri", "s3://Bad_Bucket/x/", "regular expression pattern: s3://"),
        ("outputS3Uri", "https://bucket/x/", "regular expression pattern: s3://"),
        ("dataAccessRoleArn", "arn:aws:iam::12345:role/x-long-enough", "regular expression pattern: arn:aws"),
        ("jobName", "x" * 65, "length less than or equal to 64"),
        ("clientToken", "has space", "regular expression pattern: [A-Za-z0-9._-]+"),
        ("inputOwnerAccountId", "12345678901x", r"regular expression pattern: \d+"),
    ],
)
def test_a_value_that_breaks_the_model_is_a_validation_error_naming_the_member(
    aws_env: AwsEnv, healthimaging: HealthImagingEmulator, medical_imaging: Any, member: str, value: str, rule: str
) -> None:
    datastore_id, _ = healthimaging.create_datastore("ds")
    args = {
        "datastoreId": datastore_id,
        "jobName": "ok",
        "clientToken": "ok",
        "dataAccessRoleArn": ROLE_ARN,
        "inputS3Uri": "s3://in-bucket/x/",
        "outputS3Uri": "s3://out-bucket/x/",
        "inputOwnerAccountId": MOTO_ACCOUNT_ID,
        member: value,
    }
    with pytest.raises(ClientError) as error:
        medical_imaging.start_dicom_import_job(**args)
    response = error.value.response
    assert response["Error"]["Code"] == "ValidationException"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert f"at '{member}'" in response["Error"]["Message"]
    assert rule in response["Error"]["Message"]
    assert healthimaging.jobs == {}


def test_validation_covers_uri_labels_query_strings_and_required_members_on_the_wire(
    aws_env: AwsEnv, healthimaging: HealthImagingEmulator, medical_imaging: Any
) -> None:
    datastore_id, _ = healthimaging.create_datastore("ds")
    with pytest.raises(ClientError) as error:
        medical_imaging.list_dicom_import_jobs(datastoreId=datastore_id, maxResults=51)
    assert "Value '51' at 'maxResults'" in error.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as error:
        medical_imaging.get_datastore(datastoreId="NOT-AN-ID")
    assert "at 'datastoreId'" in error.value.response["Error"]["Message"]

    # botocore checks required members itself, so send one without them, signed, past the client.
    session = boto3.session.Session()
    request = AWSRequest(
        method="POST",
        url=f"{healthimaging.endpoint_url}/startDICOMImportJob/datastore/{datastore_id}",
        data=json.dumps({"clientToken": "t"}).encode(),
        headers={"Content-Type": "application/json"},
    )
    SigV4Auth(session.get_credentials(), "medical-imaging", "us-east-1").add_auth(request)
    raw = urllib.request.Request(request.url, data=request.body, headers=dict(request.headers), method="POST")
    with pytest.raises(urllib.error.HTTPError) as http_error:
        urllib.request.urlopen(raw, timeout=5)
    assert http_error.value.code == 400
    assert http_error.value.headers["X-Amzn-ErrorType"] == "ValidationException"
    message = json.loads(http_error.value.read())["message"]
    assert message.startswith("3 validation errors detected:")  # datastoreId is in the path
    for member in ("dataAccessRoleArn", "inputS3Uri", "outputS3Uri"):
        assert f"Value null at '{member}' failed to satisfy constraint: Member must not be null" in message


def test_throttling_and_quota_errors_are_injected_per_operation_and_then_stop(
    aws_env: AwsEnv, healthimaging: HealthImagingEmulator, medical_imaging: Any
) -> None:
    datastore_id, _ = healthimaging.create_datastore("ds")
    healthimaging.throttle("StartDICOMImportJob", times=1)
    healthimaging.quota_exceeded("StartDICOMImportJob", times=1)
    codes = []
    for _ in range(2):
        with pytest.raises(ClientError) as error:
            start_job(medical_imaging, datastore_id, "x/")
        codes.append(
            (error.value.response["Error"]["Code"], error.value.response["ResponseMetadata"]["HTTPStatusCode"])
        )
    assert codes == [("ThrottlingException", 429), ("ServiceQuotaExceededException", 402)]
    assert healthimaging.jobs == {}
    assert start_job(medical_imaging, datastore_id, "x/")["jobStatus"] == "SUBMITTED"

    # botocore's standard retry mode retries a throttled call by itself.
    healthimaging.throttle("ListDICOMImportJobs", times=1)
    retrying = aws_env.client("medical-imaging", max_attempts=3)
    assert len(retrying.list_dicom_import_jobs(datastoreId=datastore_id)["jobSummaries"]) == 1


def test_starts_beyond_the_concurrent_job_quota_are_refused_until_a_job_ends(
    aws_env: AwsEnv, healthimaging: HealthImagingEmulator, medical_imaging: Any
) -> None:
    healthimaging.max_concurrent_jobs = 2
    healthimaging.polls_until_done = 0
    datastore_id, _ = healthimaging.create_datastore("ds")
    stage(aws_env, "x/", {"ct.dcm": CT_SMALL})
    first = start_job(medical_imaging, datastore_id, "x/", "t1")
    start_job(medical_imaging, datastore_id, "x/", "t2")
    with pytest.raises(ClientError) as error:
        start_job(medical_imaging, datastore_id, "x/", "t3")
    assert error.value.response["Error"]["Code"] == "ServiceQuotaExceededException"
    assert "quota of concurrent import jobs is 2" in error.value.response["Error"]["Message"]
    # A repeated start of a running job is not a new job: it is answered even at the quota.
    assert start_job(medical_imaging, datastore_id, "x/", "t1")["jobId"] == first["jobId"]
    medical_imaging.get_dicom_import_job(datastoreId=datastore_id, jobId=first["jobId"])  # finishes it
    assert start_job(medical_imaging, datastore_id, "x/", "t3")["jobStatus"] == "SUBMITTED"


def test_the_documented_rate_limits_can_be_switched_on(
    aws_env: AwsEnv, healthimaging: HealthImagingEmulator, medical_imaging: Any
) -> None:
    healthimaging.rate_limits = dict(AWS_RATE_LIMITS)
    datastore_id, _ = healthimaging.create_datastore("ds")
    codes = []
    for token in ("t1", "t2", "t3"):
        try:
            start_job(medical_imaging, datastore_id, "x/", token)
            codes.append("ok")
        except ClientError as error:
            codes.append(error.response["Error"]["Code"])
    assert codes == ["ok", "ok", "ThrottlingException"]  # 1 per second, burst 2


def test_a_failed_job_says_why_and_writes_no_results(
    aws_env: AwsEnv, healthimaging: HealthImagingEmulator, medical_imaging: Any
) -> None:
    healthimaging.polls_until_done = 0
    healthimaging.fail_job_when(lambda job: "Simulated failure of the job" if "doomed" in job.input_s3_uri else None)
    datastore_id, _ = healthimaging.create_datastore("ds")
    s3 = stage(aws_env, "doomed/", {"ct.dcm": CT_SMALL})
    job_id = start_job(medical_imaging, datastore_id, "doomed/")["jobId"]
    properties = medical_imaging.get_dicom_import_job(datastoreId=datastore_id, jobId=job_id)["jobProperties"]
    assert (properties["jobStatus"], properties["message"]) == ("FAILED", "Simulated failure of the job")
    assert "endedAt" in properties
    assert s3.list_objects_v2(Bucket=OUTPUT_BUCKET).get("KeyCount") == 0
    # The job stays FAILED: polling again does not run it again.
    again = medical_imaging.get_dicom_import_job(datastoreId=datastore_id, jobId=job_id)["jobProperties"]
    assert again["jobStatus"] == "FAILED"

    missing = start_job(medical_imaging, datastore_id, "empty/", "t-empty")["jobId"]
    properties = medical_imaging.get_dicom_import_job(datastoreId=datastore_id, jobId=missing)["jobProperties"]
    assert properties["jobStatus"] == "FAILED"
    assert properties["message"] == f"No files found under s3://{INPUT_BUCKET}/empty/"

    healthimaging.max_files_per_job = 0
    over = start_job(medical_imaging, datastore_id, "doomed/", "t-over", jobName="over")["jobId"]
    healthimaging.complete_job(over)
    assert healthimaging.jobs[over].status == "FAILED"


def test_server_errors_and_warnings_per_file_land_in_the_manifest(
    aws_env: AwsEnv, healthimaging: HealthImagingEmulator, medical_imaging: Any
) -> None:
    healthimaging.polls_until_done = 0
    healthimaging.fail_file_when(lambda key: "Simulated server error" if key.endswith("mr.dcm") else None)
    healthimaging.warn_file_when(lambda key: "Simulated warning" if key.endswith("ct.dcm") else None)
    datastore_id, _ = healthimaging.create_datastore("ds")
    s3 = stage(aws_env, "w/", {"ct.dcm": CT_SMALL, "mr.dcm": MR_SMALL})
    job_id = start_job(medical_imaging, datastore_id, "w/")["jobId"]
    medical_imaging.get_dicom_import_job(datastoreId=datastore_id, jobId=job_id)
    folder_key = f"w/{datastore_id}-DicomImport-{job_id}/"
    summary = healthimaging.jobs[job_id].manifest["jobSummary"]
    assert (summary["numberOfImportedFiles"], summary["numberOfFilesWithServerError"]) == (1, 1)
    (warned,) = read_ndjson(s3, f"{folder_key}WARNING/warning.ndjson")
    assert (warned["inputFile"], warned["warnings"]) == (f"s3://{INPUT_BUCKET}/w/ct.dcm", ["Simulated warning"])
    (failed,) = read_ndjson(s3, f"{folder_key}FAILURE/failure.ndjson")
    assert failed["exception"] == {"exceptionType": "InternalServerException", "message": "Simulated server error"}


def test_the_manifest_can_appear_only_after_some_reads_have_missed_it(
    aws_env: AwsEnv, healthimaging: HealthImagingEmulator, medical_imaging: Any
) -> None:
    healthimaging.polls_until_done = 0
    healthimaging.manifest_delay_polls = 2
    datastore_id, _ = healthimaging.create_datastore("ds")
    s3 = stage(aws_env, "late/", {"ct.dcm": CT_SMALL})
    job_id = start_job(medical_imaging, datastore_id, "late/")["jobId"]
    status = medical_imaging.get_dicom_import_job(datastoreId=datastore_id, jobId=job_id)["jobProperties"]["jobStatus"]
    assert status == "COMPLETED"
    counts = [s3.list_objects_v2(Bucket=OUTPUT_BUCKET, Prefix="late/")["KeyCount"] for _ in range(3)]
    assert counts == [0, 0, 3]
    assert healthimaging.jobs[job_id].outputs_written


def test_a_job_can_also_finish_after_wall_time(
    aws_env: AwsEnv, healthimaging: HealthImagingEmulator, medical_imaging: Any
) -> None:
    healthimaging.polls_until_done = 1_000
    healthimaging.seconds_until_done = 2.0  # long enough that the first listing below is surely before it
    datastore_id, _ = healthimaging.create_datastore("ds")
    stage(aws_env, "t/", {"ct.dcm": CT_SMALL})
    job_id = start_job(medical_imaging, datastore_id, "t/")["jobId"]
    assert (
        medical_imaging.list_dicom_import_jobs(datastoreId=datastore_id)["jobSummaries"][0]["jobStatus"] == "SUBMITTED"
    )
    time.sleep(2.1)
    (summary,) = medical_imaging.list_dicom_import_jobs(datastoreId=datastore_id)["jobSummaries"]
    assert (summary["jobId"], summary["jobStatus"]) == (job_id, "COMPLETED")


def test_list_dicom_import_jobs_pages_newest_first_and_filters_by_status(
    aws_env: AwsEnv, healthimaging: HealthImagingEmulator, medical_imaging: Any
) -> None:
    datastore_id, _ = healthimaging.create_datastore("ds")
    started = [start_job(medical_imaging, datastore_id, "x/", f"t{i}")["jobId"] for i in range(7)]
    healthimaging.fail_job_when(lambda job: "Simulated failure" if job.job_id == started[0] else None)
    healthimaging.complete_job(started[0])

    pages = list(
        medical_imaging.get_paginator("list_dicom_import_jobs").paginate(
            datastoreId=datastore_id, PaginationConfig={"PageSize": 3}
        )
    )
    assert [len(page["jobSummaries"]) for page in pages] == [3, 3, 1]
    listed = [summary["jobId"] for page in pages for summary in page["jobSummaries"]]
    assert listed == started[::-1]
    failed = medical_imaging.list_dicom_import_jobs(datastoreId=datastore_id, jobStatus="FAILED")["jobSummaries"]
    assert [(s["jobId"], s["message"]) for s in failed] == [(started[0], "Simulated failure")]
    with pytest.raises(ClientError) as error:
        medical_imaging.list_dicom_import_jobs(datastoreId=datastore_id, nextToken="bm90LWEtdG9rZW4=")
    assert error.value.response["Error"]["Code"] == "ValidationException"


def test_data_stores_their_status_and_region_are_as_the_test_sets_them(
    aws_env: AwsEnv, healthimaging: HealthImagingEmulator, medical_imaging: Any
) -> None:
    key_arn = f"arn:aws:kms:us-east-1:{MOTO_ACCOUNT_ID}:key/11111111-2222-3333-4444-555555555555"
    datastore_id, arn = healthimaging.create_datastore("ds", kms_key_arn=key_arn, status="CREATING")
    properties = medical_imaging.get_datastore(datastoreId=datastore_id)["datastoreProperties"]
    assert (properties["datastoreArn"], properties["datastoreStatus"], properties["kmsKeyArn"]) == (
        arn,
        "CREATING",
        key_arn,
    )
    with pytest.raises(ClientError) as error:
        start_job(medical_imaging, datastore_id, "x/")
    assert error.value.response["Error"]["Code"] == "ConflictException"
    healthimaging.set_datastore_status(datastore_id, "ACTIVE")
    assert start_job(medical_imaging, datastore_id, "x/")["jobStatus"] == "SUBMITTED"
    summaries = medical_imaging.list_datastores(datastoreStatus="ACTIVE")["datastoreSummaries"]
    assert [s["datastoreId"] for s in summaries] == [datastore_id]

    elsewhere = aws_env.client("medical-imaging", region_name="eu-west-1")
    assert elsewhere.list_datastores()["datastoreSummaries"] == []
    with pytest.raises(ClientError) as error:
        elsewhere.get_datastore(datastoreId=datastore_id)
    assert error.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ValueError, match="DatastoreStatus"):
        healthimaging.set_datastore_status(datastore_id, "READY")


def test_an_operation_the_stand_in_does_not_implement_is_a_clear_400(
    aws_env: AwsEnv, healthimaging: HealthImagingEmulator, medical_imaging: Any
) -> None:
    with pytest.raises(ClientError) as error:
        medical_imaging.delete_datastore(datastoreId="0" * 32)
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "does not implement DeleteDatastore" in error.value.response["Error"]["Message"]
    assert healthimaging.requests[-1][0] == "DeleteDatastore"


# --- The IAM policy simulator stand-in ----------------------------------------------------------------------

READ_BUCKET_ARN = "arn:aws:s3:::readable-bucket"


def role_with_read_policy(iam: Any, *, deny_secret: bool = True) -> str:
    """A role allowed s3:GetObject on one bucket's objects when the bucket is this account's, denied one prefix."""
    role_arn = iam.create_role(
        RoleName="reader",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "medical-imaging.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )["Role"]["Arn"]
    statements: list[dict[str, Any]] = [
        {
            "Sid": "ReadOwnBucket",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": f"{READ_BUCKET_ARN}/*",
            "Condition": {"StringEquals": {"s3:ResourceAccount": MOTO_ACCOUNT_ID}},
        }
    ]
    if deny_secret:
        statements.append(
            {"Sid": "NeverSecrets", "Effect": "Deny", "Action": "s3:*", "Resource": f"{READ_BUCKET_ARN}/secret/*"}
        )
    iam.put_role_policy(
        RoleName="reader",
        PolicyName="Read",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}),
    )
    return role_arn


def same_account() -> list[dict[str, Any]]:
    return [{"ContextKeyName": "s3:ResourceAccount", "ContextKeyValues": [MOTO_ACCOUNT_ID], "ContextKeyType": "string"}]


def test_simulation_allows_with_the_context_entry_the_condition_needs(aws_env: AwsEnv) -> None:
    iam = aws_env.client("iam")
    role_arn = role_with_read_policy(iam)
    (result,) = iam.simulate_principal_policy(
        PolicySourceArn=role_arn,
        ActionNames=["s3:GetObject"],
        ResourceArns=[f"{READ_BUCKET_ARN}/study/1.dcm"],
        ContextEntries=same_account(),
    )["EvaluationResults"]
    assert result["EvalDecision"] == "allowed"
    assert result["EvalResourceName"] == "arn:${Partition}:s3:::${BucketName}/${ObjectName}"
    (specific,) = result["ResourceSpecificResults"]
    assert (specific["EvalResourceName"], specific["EvalResourceDecision"]) == (
        f"{READ_BUCKET_ARN}/study/1.dcm",
        "allowed",
    )
    assert specific["MatchedStatements"] == [{"SourcePolicyId": "Read", "SourcePolicyType": "role"}]
    assert result["MissingContextValues"] == []
    (simulation,) = aws_env.iam_simulator.simulations
    assert simulation.context == {"s3:ResourceAccount": [MOTO_ACCOUNT_ID]}


def test_simulation_without_the_context_entry_is_an_implicit_deny_naming_the_missing_key(aws_env: AwsEnv) -> None:
    iam = aws_env.client("iam")
    role_arn = role_with_read_policy(iam)
    (result,) = iam.simulate_principal_policy(
        PolicySourceArn=role_arn, ActionNames=["s3:GetObject"], ResourceArns=[f"{READ_BUCKET_ARN}/study/1.dcm"]
    )["EvaluationResults"]
    assert result["EvalDecision"] == "implicitDeny"
    assert result["MissingContextValues"] == ["s3:ResourceAccount"]
    assert result["ResourceSpecificResults"][0]["MissingContextValues"] == ["s3:ResourceAccount"]
    other_account = [
        {"ContextKeyName": "s3:ResourceAccount", "ContextKeyValues": ["999999999999"], "ContextKeyType": "string"}
    ]
    (result,) = iam.simulate_principal_policy(
        PolicySourceArn=role_arn,
        ActionNames=["s3:GetObject"],
        ResourceArns=[f"{READ_BUCKET_ARN}/study/1.dcm"],
        ContextEntries=other_account,
    )["EvaluationResults"]
    assert result["EvalDecision"] == "implicitDeny"


def test_an_explicit_deny_wins_and_the_top_decision_is_the_most_restrictive(aws_env: AwsEnv) -> None:
    iam = aws_env.client("iam")
    role_arn = role_with_read_policy(iam)
    resources = [f"{READ_BUCKET_ARN}/study/1.dcm", f"{READ_BUCKET_ARN}/secret/1.dcm", "arn:aws:s3:::other-bucket/1.dcm"]
    results = iam.simulate_principal_policy(
        PolicySourceArn=role_arn,
        ActionNames=["s3:GetObject", "s3:DeleteObject"],
        ResourceArns=resources,
        ContextEntries=same_account(),
    )["EvaluationResults"]
    by_action = {r["EvalActionName"]: r for r in results}
    get = by_action["s3:GetObject"]
    assert get["EvalDecision"] == "explicitDeny"
    assert get["MatchedStatements"] == [{"SourcePolicyId": "Read", "SourcePolicyType": "role"}]
    assert [(s["EvalResourceName"], s["EvalResourceDecision"]) for s in get["ResourceSpecificResults"]] == [
        (resources[0], "allowed"),
        (resources[1], "explicitDeny"),
        (resources[2], "implicitDeny"),
    ]
    assert [s["EvalResourceDecision"] for s in by_action["s3:DeleteObject"]["ResourceSpecificResults"]] == [
        "implicitDeny",
        "explicitDeny",
        "implicitDeny",
    ]

    aws_env.iam_simulator.result_form = "per-resource"
    results = iam.simulate_principal_policy(
        PolicySourceArn=role_arn, ActionNames=["s3:GetObject"], ResourceArns=resources, ContextEntries=same_account()
    )["EvaluationResults"]
    assert [(r["EvalResourceName"], r["EvalDecision"]) for r in results] == [
        (resources[0], "allowed"),
        (resources[1], "explicitDeny"),
        (resources[2], "implicitDeny"),
    ]


def test_attached_policies_and_the_permissions_boundary_count(aws_env: AwsEnv) -> None:
    iam = aws_env.client("iam")
    role_arn = role_with_read_policy(iam, deny_secret=False)
    allow_list = iam.create_policy(
        PolicyName="ListAll",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:List*", "Resource": "*"}]}
        ),
    )["Policy"]["Arn"]
    iam.attach_role_policy(RoleName="reader", PolicyArn=allow_list)

    def decision(action: str, resource: str) -> str:
        (result,) = iam.simulate_principal_policy(
            PolicySourceArn=role_arn, ActionNames=[action], ResourceArns=[resource], ContextEntries=same_account()
        )["EvaluationResults"]
        return str(result["EvalDecision"])

    assert decision("s3:ListBucket", READ_BUCKET_ARN) == "allowed"
    boundary = iam.create_policy(
        PolicyName="OnlyGet",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
        ),
    )["Policy"]["Arn"]
    iam.put_role_permissions_boundary(RoleName="reader", PermissionsBoundary=boundary)
    assert decision("s3:ListBucket", READ_BUCKET_ARN) == "implicitDeny"
    assert decision("s3:GetObject", f"{READ_BUCKET_ARN}/a") == "allowed"


def test_other_iam_calls_go_to_moto_and_errors_are_iams(aws_env: AwsEnv) -> None:
    iam = aws_env.client("iam")
    role_with_read_policy(iam)
    assert [r["RoleName"] for r in iam.list_roles()["Roles"]] == ["reader"]
    assert {"CreateRole", "PutRolePolicy", "ListRoles"} <= set(aws_env.iam_simulator.forwarded)
    with pytest.raises(ClientError) as error:
        iam.simulate_principal_policy(
            PolicySourceArn=f"arn:aws:iam::{MOTO_ACCOUNT_ID}:role/missing", ActionNames=["s3:GetObject"]
        )
    assert (error.value.response["Error"]["Code"], error.value.response["ResponseMetadata"]["HTTPStatusCode"]) == (
        "NoSuchEntity",
        404,
    )
    aws_env.iam_simulator.inject_error("SimulatePrincipalPolicy", "AccessDenied", 403)
    with pytest.raises(ClientError) as error:
        iam.simulate_principal_policy(
            PolicySourceArn=f"arn:aws:iam::{MOTO_ACCOUNT_ID}:role/reader", ActionNames=["s3:GetObject"]
        )
    assert error.value.response["Error"]["Code"] == "AccessDenied"


def test_a_condition_operator_the_evaluator_lacks_is_an_error_not_an_allow(aws_env: AwsEnv) -> None:
    iam = aws_env.client("iam")
    role_arn = role_with_read_policy(iam)
    unsupported = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "s3:*",
                "Resource": "*",
                "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
            }
        ],
    }
    with pytest.raises(ClientError) as error:
        iam.simulate_principal_policy(
            PolicySourceArn=role_arn, ActionNames=["s3:PutObject"], PolicyInputList=[json.dumps(unsupported)]
        )
    assert error.value.response["Error"]["Code"] == "PolicyEvaluation"
    assert "IpAddress" in error.value.response["Error"]["Message"]


@pytest.mark.parametrize(
    ("condition", "context", "holds"),
    [
        ({"StringEquals": {"aws:SourceAccount": "111122223333"}}, {"aws:SourceAccount": ["111122223333"]}, True),
        ({"StringEquals": {"aws:SourceAccount": "111122223333"}}, {}, False),
        ({"StringEqualsIfExists": {"aws:SourceAccount": "111122223333"}}, {}, True),
        ({"StringNotEquals": {"aws:SourceAccount": "111122223333"}}, {}, True),
        ({"ForAllValues:StringEquals": {"aws:SourceAccount": "111122223333"}}, {}, True),  # the guide's trap
        ({"ForAnyValue:StringEquals": {"aws:SourceAccount": "111122223333"}}, {}, False),
        (
            {"ArnEquals": {"aws:SourceArn": "arn:aws:medical-imaging:us-east-1:1:datastore/*"}},
            {"aws:SourceArn": ["arn:aws:medical-imaging:us-east-1:1:datastore/abc"]},
            True,
        ),
        ({"ArnLike": {"aws:SourceArn": "arn:aws:s3:::*"}}, {"aws:SourceArn": ["arn:aws:s3:::a:b"]}, True),
        ({"ArnLike": {"aws:SourceArn": "arn:aws:s3:*"}}, {"aws:SourceArn": ["not-an-arn"]}, False),
        ({"StringLike": {"s3:prefix": "study/?/*"}}, {"s3:prefix": ["study/1/x"]}, True),
        ({"Bool": {"aws:SecureTransport": "false"}}, {"aws:SecureTransport": ["FALSE"]}, True),
        ({"Bool": {"aws:SecureTransport": False}}, {"aws:SecureTransport": ["true"]}, False),
        ({"Null": {"aws:SourceArn": "true"}}, {}, True),
        ({"NumericLessThan": {"s3:TlsVersion": "1.2"}}, {"s3:TlsVersion": ["1.1"]}, True),
        (
            {"StringEquals": {"aws:PrincipalTag/team": "${aws:username}"}},
            {"aws:PrincipalTag/team": ["ann"], "aws:username": ["ann"]},
            True,
        ),
    ],
)
def test_the_evaluator_treats_conditions_and_absent_keys_as_iam_does(
    condition: dict[str, Any], context: dict[str, list[str]], holds: bool
) -> None:
    statement = {"Effect": "Allow", "Action": "x:Do", "Resource": "*", "Condition": condition}
    source = PolicySource("p", "none", {"Statement": [statement]})
    decision = evaluate([source], EvalRequest("x:do", "arn:aws:x:::thing", context))
    assert decision.decision == ("allowed" if holds else "implicitDeny")


def test_the_evaluator_matches_principals_actions_and_resources_with_wildcards() -> None:
    trust = PolicySource(
        "trust",
        "resource",
        {
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "medical-imaging.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                },
                {"Effect": "Deny", "Principal": "*", "NotAction": "sts:*"},
            ]
        },
    )
    assume = EvalRequest(
        "sts:AssumeRole", "arn:aws:iam::1:role/r", principal={"Service": "medical-imaging.amazonaws.com"}
    )
    assert evaluate([], assume, resource_policies=[trust]).decision == "allowed"
    other = EvalRequest("sts:AssumeRole", "arn:aws:iam::1:role/r", principal={"Service": "ec2.amazonaws.com"})
    assert evaluate([], other, resource_policies=[trust]).decision == "implicitDeny"
    delete = EvalRequest("s3:DeleteObject", "arn:aws:iam::1:role/r", principal={"AWS": "arn:aws:iam::1:role/x"})
    assert evaluate([], delete, resource_policies=[trust]).decision == "explicitDeny"
    identity = PolicySource(
        "i", "role", {"Statement": {"Effect": "Allow", "Action": "S3:Get*", "Resource": "arn:aws:s3:::b/in/*"}}
    )
    assert evaluate([identity], EvalRequest("s3:GetObject", "arn:aws:s3:::b/in/x/y.dcm")).decision == "allowed"
    assert evaluate([identity], EvalRequest("s3:GetObject", "arn:aws:s3:::b/out/y.dcm")).decision == "implicitDeny"


def test_the_stand_in_can_assume_the_data_access_role_as_healthimaging_would(
    aws_env: AwsEnv, healthimaging: HealthImagingEmulator, medical_imaging: Any
) -> None:
    healthimaging.polls_until_done = 0
    healthimaging.check_data_access_role = True
    datastore_id, datastore_arn = healthimaging.create_datastore("ds")
    stage(aws_env, "r/", {"ct.dcm": CT_SMALL, "private/mr.dcm": MR_SMALL})
    iam = aws_env.client("iam")

    def run(token: str) -> ImportJobRecord:
        job_id = start_job(medical_imaging, datastore_id, "r/", token)["jobId"]
        medical_imaging.get_dicom_import_job(datastoreId=datastore_id, jobId=job_id)
        return healthimaging.jobs[job_id]

    missing = run("no-role")
    assert (missing.status, missing.message) == ("FAILED", f"Could not assume {ROLE_ARN}: NoSuchEntity")

    other_datastore = datastore_arn[:-32] + "0" * 32
    iam.create_role(
        RoleName="ImportJobDataAccessRole",
        AssumeRolePolicyDocument=json.dumps(policies.import_role_trust_policy(MOTO_ACCOUNT_ID, other_datastore)),
    )
    wrong_trust = run("wrong-trust")
    assert wrong_trust.status == "FAILED"
    assert "trust policy" in (wrong_trust.message or "")

    iam.update_assume_role_policy(
        RoleName="ImportJobDataAccessRole",
        PolicyDocument=json.dumps(policies.import_role_trust_policy(MOTO_ACCOUNT_ID, datastore_arn)),
    )
    assert run("no-permissions").message == f"The data access role may not list bucket {INPUT_BUCKET}"

    permissions = policies.import_role_permission_policy(
        input_bucket_arn=f"arn:aws:s3:::{INPUT_BUCKET}",
        output_bucket_arn=f"arn:aws:s3:::{OUTPUT_BUCKET}",
        account_id=MOTO_ACCOUNT_ID,
        region="us-east-1",
    )
    permissions["Statement"].append(
        {"Effect": "Deny", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{INPUT_BUCKET}/r/private/*"}
    )
    iam.put_role_policy(
        RoleName="ImportJobDataAccessRole", PolicyName="ImportJobDataAccess", PolicyDocument=json.dumps(permissions)
    )
    job = run("allowed")
    assert job.status == "COMPLETED"
    assert [(f.key, f.exception_type) for f in sorted(job.files, key=lambda f: f.key)] == [
        ("r/ct.dcm", None),
        ("r/private/mr.dcm", "AccessDeniedException"),
    ]


# --- The deployed stack -------------------------------------------------------------------------------------


def exported_keys(*, conditional: bool = False) -> list[str]:
    """The keys ``__main__.py`` passes to ``pulumi.export``, read from its source: those it always exports, or
    (``conditional``) those it exports only under an ``if`` (the viewer's, with ``viewer`` on)."""
    tree = parse_source((PROJECT_DIR / "__main__.py").read_text())
    under_if = {id(node) for branch in ast.walk(tree) if isinstance(branch, ast.If) for node in ast.walk(branch)}
    return [
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "export"
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and (id(node) in under_if) == conditional
    ]


def test_the_outputs_file_has_every_key_the_program_exports_and_the_tool_reads_it(
    deployed_stack: DeployedStack,
) -> None:
    assert exported_keys(), "no pulumi.export(...) found in __main__.py"
    assert list(EXPORTED_KEYS) == exported_keys()
    assert exported_keys(conditional=True) == ["viewerUrl", "viewerUserPoolId"]  # not in a stack without the viewer
    written = json.loads(deployed_stack.outputs_path.read_text())
    assert sorted(written) == sorted(exported_keys())
    assert written == deployed_stack.outputs

    outputs = load_outputs_file(deployed_stack.outputs_path)
    assert (outputs.account_id, outputs.region) == (MOTO_ACCOUNT_ID, "us-east-1")
    assert (outputs.input_bucket_name, outputs.output_bucket_name, outputs.log_bucket_name) == (
        deployed_stack.input_bucket,
        deployed_stack.output_bucket,
        deployed_stack.log_bucket,
    )
    assert (outputs.datastore_id, outputs.datastore_arn) == (deployed_stack.datastore_id, deployed_stack.datastore_arn)
    assert outputs.bucket_kms_key_arn == deployed_stack.bucket_key_arn
    assert outputs.datastore_kms_key_arn == deployed_stack.datastore_key_arn
    assert outputs.import_role_arn == deployed_stack.import_role_arn
    assert deployed_stack.input_bucket in written["startImportJobCommand"]


def test_the_deployed_resources_carry_the_programs_controls(deployed_stack: DeployedStack) -> None:
    stack, s3 = deployed_stack, deployed_stack.s3
    for bucket in (stack.input_bucket, stack.output_bucket, stack.log_bucket):
        block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        assert block == dict.fromkeys(
            ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"), True
        )
        (ownership,) = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"]
        assert ownership == {"ObjectOwnership": "BucketOwnerEnforced"}
        assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    for bucket in (stack.input_bucket, stack.output_bucket):
        (rule,) = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
        assert rule["ApplyServerSideEncryptionByDefault"] == {
            "SSEAlgorithm": "aws:kms",
            "KMSMasterKeyID": stack.bucket_key_arn,
        }
        assert rule["BucketKeyEnabled"] is True
    (log_rule,) = s3.get_bucket_encryption(Bucket=stack.log_bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert log_rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}

    iam = stack.env.client("iam")
    role = iam.get_role(RoleName=stack.import_role_name)["Role"]
    assert role["AssumeRolePolicyDocument"] == policies.import_role_trust_policy(MOTO_ACCOUNT_ID, stack.datastore_arn)
    permissions = iam.get_role_policy(RoleName=stack.import_role_name, PolicyName="ImportJobDataAccess")
    assert {s["Sid"] for s in permissions["PolicyDocument"]["Statement"]} >= {
        "ListInputAndOutputBuckets",
        "ReadDicomFilesFromInputBucket",
        "WriteImportResultsToOutputBucket",
    }
    kms = stack.env.client("kms")
    key_policy = json.loads(kms.get_key_policy(KeyId=stack.datastore_key_arn, PolicyName="default")["Policy"])
    assert key_policy == policies.datastore_key_policy(MOTO_ACCOUNT_ID, stack.datastore_key_arn, stack.datastore_id)
    assert kms.get_key_rotation_status(KeyId=stack.bucket_key_arn)["KeyRotationEnabled"] is True
    datastore = stack.env.client("medical-imaging").get_datastore(datastoreId=stack.datastore_id)["datastoreProperties"]
    assert (datastore["datastoreStatus"], datastore["kmsKeyArn"]) == ("ACTIVE", stack.datastore_key_arn)


def test_an_import_runs_end_to_end_through_the_deployed_role(deployed_stack: DeployedStack) -> None:
    stack = deployed_stack
    stack.s3.put_object(Bucket=stack.input_bucket, Key="first-import/ct.dcm", Body=CT_SMALL.read_bytes())
    medical_imaging = stack.env.client("medical-imaging")
    job_id = medical_imaging.start_dicom_import_job(
        datastoreId=stack.datastore_id,
        clientToken="first-import",
        dataAccessRoleArn=stack.import_role_arn,
        inputS3Uri=f"s3://{stack.input_bucket}/first-import/",
        outputS3Uri=f"s3://{stack.output_bucket}/first-import/",
        inputOwnerAccountId=stack.account_id,
    )["jobId"]
    for _ in range(3):
        properties = medical_imaging.get_dicom_import_job(datastoreId=stack.datastore_id, jobId=job_id)["jobProperties"]
    assert (properties["jobStatus"], properties.get("message")) == ("COMPLETED", None)
    manifest_key = f"first-import/{stack.datastore_id}-DicomImport-{job_id}/job-output-manifest.json"
    written = stack.s3.get_object(Bucket=stack.output_bucket, Key=manifest_key)
    assert json.loads(written["Body"].read())["jobSummary"]["numberOfImportedFiles"] == 1
    assert written["ServerSideEncryption"] == "aws:kms"

    results = stack.env.client("iam").simulate_principal_policy(
        PolicySourceArn=stack.import_role_arn,
        ActionNames=["s3:GetObject", "s3:DeleteObject"],
        ResourceArns=[f"arn:aws:s3:::{stack.input_bucket}/first-import/ct.dcm"],
        ContextEntries=same_account(),
    )["EvaluationResults"]
    assert {r["EvalActionName"]: r["EvalDecision"] for r in results} == {
        "s3:GetObject": "allowed",
        "s3:DeleteObject": "implicitDeny",
    }


def test_every_bucket_carries_the_programs_tls_policy_and_the_loopback_counts_as_tls(
    deployed_stack: DeployedStack,
) -> None:
    stack, s3 = deployed_stack, deployed_stack.s3
    for bucket in (stack.input_bucket, stack.output_bucket, stack.log_bucket):
        policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
        sids = {statement.get("Sid") for statement in policy["Statement"]}
        assert {"DenyInsecureTransport", "DenyOutdatedTlsVersions"} <= sids
    # The sandbox judges the Deny with its condition, and its loopback stands in for TLS 1.3: the write goes through.
    s3.put_object(Bucket=stack.input_bucket, Key="x.dcm", Body=b"x")
    assert s3.get_object(Bucket=stack.input_bucket, Key="x.dcm")["Body"].read() == b"x"
