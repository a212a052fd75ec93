"""Stack outputs that the program builds from several components' outputs (the others are exported as they are)."""

from __future__ import annotations

import pulumi

from components import ImagingBucketPair, ImagingDatastore, ImportJobRole
from components.aws_cli_command import start_dicom_import_job_command
from program.settings_spec import StackSettings


def start_import_job_command(
    s: StackSettings, buckets: ImagingBucketPair, datastore: ImagingDatastore, import_role: ImportJobRole
) -> pulumi.Output[str]:
    """``startImportJobCommand``: the AWS CLI command that starts an import job of this stack, ready to run."""
    return pulumi.Output.all(
        datastore.datastore_id, import_role.role_arn, buckets.input_bucket_name, buckets.output_bucket_name
    ).apply(
        lambda v: start_dicom_import_job_command(
            region=s.region,
            account_id=s.account_id,
            datastore_id=v[0],
            role_arn=v[1],
            input_bucket=v[2],
            output_bucket=v[3],
        )
    )
