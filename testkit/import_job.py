"""One real import job in the sandbox: files staged in moto's S3 through boto3, StartDICOMImportJob on the
HealthImaging emulator, the job waited for to its end and its manifest read back."""

from __future__ import annotations

import json
from typing import Any

from sandbox.healthimaging import HealthImagingEmulator
from testkit.fakes import MOTO_ACCOUNT_ID
from testkit.fakes.environment import AwsEnv

INPUT_BUCKET = "runtime-input"
OUTPUT_BUCKET = "runtime-output"
ROLE_ARN = f"arn:aws:iam::{MOTO_ACCOUNT_ID}:role/ImportJobDataAccessRole"


def import_files(
    aws_env: AwsEnv, emulator: HealthImagingEmulator, datastore_id: str, files: dict[str, bytes]
) -> dict[str, Any]:
    """Stage ``files`` in moto, run one import job to its end through boto3; the job's manifest ``jobSummary``."""
    s3 = aws_env.client("s3")
    existing = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    for bucket in (INPUT_BUCKET, OUTPUT_BUCKET):
        if bucket not in existing:
            s3.create_bucket(Bucket=bucket)
    prefix = f"batch-{len(emulator.jobs)}/"
    for name, data in files.items():
        s3.put_object(Bucket=INPUT_BUCKET, Key=f"{prefix}{name}", Body=data)
    emulator.polls_until_done = 0
    client = aws_env.client("medical-imaging")
    job_id = client.start_dicom_import_job(
        datastoreId=datastore_id,
        clientToken=prefix.strip("/"),
        dataAccessRoleArn=ROLE_ARN,
        inputS3Uri=f"s3://{INPUT_BUCKET}/{prefix}",
        outputS3Uri=f"s3://{OUTPUT_BUCKET}/{prefix}",
    )["jobId"]
    properties = client.get_dicom_import_job(datastoreId=datastore_id, jobId=job_id)["jobProperties"]
    assert properties["jobStatus"] == "COMPLETED"
    folder = properties["outputS3Uri"].removeprefix(f"s3://{OUTPUT_BUCKET}/")
    manifest = json.loads(s3.get_object(Bucket=OUTPUT_BUCKET, Key=f"{folder}job-output-manifest.json")["Body"].read())
    failures = s3.get_object(Bucket=OUTPUT_BUCKET, Key=f"{folder}FAILURE/failure.ndjson")["Body"].read().decode()
    successes = s3.get_object(Bucket=OUTPUT_BUCKET, Key=f"{folder}SUCCESS/success.ndjson")["Body"].read().decode()
    return {
        **manifest["jobSummary"],
        "failures": [json.loads(line) for line in failures.splitlines()],
        "successes": [json.loads(line) for line in successes.splitlines()],
    }
