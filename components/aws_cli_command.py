"""The AWS CLI command that starts the first DICOM import job of a deployed setup."""

from __future__ import annotations

import shlex

#: Key prefix, in both buckets, of the first import: upload DICOM P10 files under it.
FIRST_IMPORT_PREFIX = "first-import/"


def start_dicom_import_job_command(
    *,
    region: str,
    account_id: str,
    datastore_id: str,
    role_arn: str,
    input_bucket: str,
    output_bucket: str,
    prefix: str = FIRST_IMPORT_PREFIX,
    client_token: str = "first-import",  # noqa: S107 - an idempotency token, not a credential
) -> str:
    """``aws medical-imaging start-dicom-import-job ...`` for files under ``s3://<input>/<prefix>``.

    The client token makes a repeated start return the same job instead of importing twice;
    ``--input-owner-account-id`` makes HealthImaging refuse an input bucket owned by another account.
    """
    args = [
        "aws",
        "medical-imaging",
        "start-dicom-import-job",
        "--region",
        region,
        "--datastore-id",
        datastore_id,
        "--data-access-role-arn",
        role_arn,
        "--input-s3-uri",
        f"s3://{input_bucket}/{prefix}",
        "--output-s3-uri",
        f"s3://{output_bucket}/{prefix}",
        "--input-owner-account-id",
        account_id,
        "--job-name",
        client_token,
        "--client-token",
        client_token,
    ]
    return " ".join(shlex.quote(arg) for arg in args)
