"""One real import job in the sandbox: files staged in moto's S3 through boto3, StartDICOMImportJob on the
HealthImaging emulator, the job waited for to its end and its manifest read back."""

from __future__ import annotations

import json
from typing import Any

from sandbox.healthimaging import HealthImagingEmulator
from testkit.fakes import MOTO_ACCOUNT_ID
from testkit.fakes.deployed_stack import DeployedStack
from testkit.fakes.environment import AwsEnv

INPUT_BUCKET = "runtime-input"
OUTPUT_BUCKET = "runtime-output"
ROLE_ARN = f"arn:aws:iam::{MOTO_ACCOUNT_ID}:role/ImportJobDataAccessRole"


def import_files(
    aws_env: AwsEnv,
    emulator: HealthImagingEmulator,
    datastore_id: str,
    files: dict[str, bytes],
    *,
    stack: DeployedStack | None = None,
) -> dict[str, Any]:
    """Stage ``files`` in moto, run one import job to its end through boto3; the job's manifest ``jobSummary``.

    With ``stack`` (deployed from the plan), the job uses its input and output buckets and its import role, as
    ``ahictl import`` does; without, buckets and a role name of its own (the emulator then checks no role)."""
    s3 = aws_env.client("s3")
    input_bucket, output_bucket, role_arn = (
        (stack.input_bucket, stack.output_bucket, stack.import_role_arn)
        if stack is not None
        else (INPUT_BUCKET, OUTPUT_BUCKET, ROLE_ARN)
    )
    existing = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    for bucket in (input_bucket, output_bucket):
        if bucket not in existing:
            s3.create_bucket(Bucket=bucket)
    prefix = f"batch-{len(emulator.jobs)}/"
    for name, data in files.items():
        s3.put_object(Bucket=input_bucket, Key=f"{prefix}{name}", Body=data)
    emulator.polls_until_done = 0
    client = aws_env.client("medical-imaging")
    job_id = client.start_dicom_import_job(
        datastoreId=datastore_id,
        clientToken=prefix.strip("/"),
        dataAccessRoleArn=role_arn,
        inputS3Uri=f"s3://{input_bucket}/{prefix}",
        outputS3Uri=f"s3://{output_bucket}/{prefix}",
    )["jobId"]
    properties = client.get_dicom_import_job(datastoreId=datastore_id, jobId=job_id)["jobProperties"]
    assert properties["jobStatus"] == "COMPLETED", properties
    folder = properties["outputS3Uri"].removeprefix(f"s3://{output_bucket}/")
    manifest = json.loads(s3.get_object(Bucket=output_bucket, Key=f"{folder}job-output-manifest.json")["Body"].read())
    failures = s3.get_object(Bucket=output_bucket, Key=f"{folder}FAILURE/failure.ndjson")["Body"].read().decode()
    successes = s3.get_object(Bucket=output_bucket, Key=f"{folder}SUCCESS/success.ndjson")["Body"].read().decode()
    return {
        **manifest["jobSummary"],
        "failures": [json.loads(line) for line in failures.splitlines()],
        "successes": [json.loads(line) for line in successes.splitlines()],
    }
