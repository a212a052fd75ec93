"""A Python Pulumi program that uses the components as an installed package (``healthimaging_setup``).

The bucket pair, the data store and the import job role, wired together; ``requirements.txt`` installs the
package from a release tag of the repository.
"""

import pulumi
from healthimaging_setup import ImagingBucketPair, ImagingDatastore, ImportJobRole

config = pulumi.Config()
account_id = config.require("accountId")
region = config.get("region") or "us-east-1"

buckets = ImagingBucketPair(
    "buckets",
    {
        "account_id": account_id,
        "region": region,
        "name_prefix": "ahi-py",
        "noncurrent_version_expiration_days": 30,
        "tags": {"team": "imaging"},
    },
)
datastore = ImagingDatastore(
    "datastore",
    {
        "account_id": account_id,
        "region": region,
        "datastore_name": "ahi-py",
        "key_alias": "ahi-py-datastore-key",
        "tags": {"team": "imaging"},
    },
)
import_role = ImportJobRole(
    "import-role",
    {
        "account_id": account_id,
        "region": region,
        "role_name": "ahi-py-ImportJobDataAccessRole",
        "datastore_arn": datastore.datastore_arn,
        "input_bucket_arn": buckets.input_bucket_arn,
        "output_bucket_arn": buckets.output_bucket_arn,
        "input_kms_key_arn": buckets.kms_key_arn,
        "output_kms_key_arn": buckets.kms_key_arn,
    },
)

pulumi.export("inputBucketName", buckets.input_bucket_name)
pulumi.export("outputBucketName", buckets.output_bucket_name)
pulumi.export("datastoreId", datastore.datastore_id)
pulumi.export("importRoleArn", import_role.role_arn)
