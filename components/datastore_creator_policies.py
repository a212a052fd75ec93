"""The data store creator's policy documents, built by pure functions of plain strings like :mod:`components.policies`.

The creator (``healthimaging_functions/datastore_creator``) calls CreateDatastore, GetDatastore and ListDatastores
(an update re-reads by name), tags the data store as it is created, and, with a customer managed key, needs the key
permissions HealthImaging uses on the creator's behalf at creation (usable through HealthImaging only:
``kms:ViaService``). CreateDatastore and ListDatastores take no resource ARN in IAM; GetDatastore and TagResource are
scoped to this account's data stores in this region (the data store's ID is not known before it exists).
"""

from __future__ import annotations

from .function_policies import service_endpoint, write_own_logs_statement
from .log_group_policies import log_group_key_statement
from .policies import (
    PolicyDocument,
    Statement,
    account_administration_statement,
    datastore_key_creator_statement,
    document,
)

#: Name of the inline policy on the creator's role.
PERMISSION_POLICY_NAME = "DatastoreCreatorFunction"


def datastores_arn(region: str, account_id: str) -> str:
    """Every data store of the account in the region (the resource of GetDatastore and TagResource)."""
    return f"arn:aws:medical-imaging:{region}:{account_id}:datastore/*"


def creator_permission_policy(
    *, account_id: str, region: str, log_group_arn: str, creator_key_arn: str, datastore_key_arn: str | None
) -> PolicyDocument:
    """What the creator function may do (see the module docstring)."""
    statements: list[Statement] = [
        {
            "Sid": "CreateAndListDatastores",
            "Effect": "Allow",
            "Action": ["medical-imaging:CreateDatastore", "medical-imaging:ListDatastores"],
            "Resource": "*",
        },
        {
            "Sid": "ReadAndTagDatastoresAsTheyAreCreated",
            "Effect": "Allow",
            "Action": ["medical-imaging:GetDatastore", "medical-imaging:TagResource"],
            "Resource": datastores_arn(region, account_id),
        },
        {
            "Sid": "UseTheCreatorKeyThroughLambdaOnly",
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": creator_key_arn,
            "Condition": {"StringEquals": {"kms:ViaService": service_endpoint("lambda", region)}},
        },
        write_own_logs_statement(log_group_arn),
    ]
    if datastore_key_arn:
        statements.insert(2, datastore_key_creator_statement(datastore_key_arn, region))
    return document(statements)


def creator_key_policy(account_id: str, region: str, log_group_arn: str) -> PolicyDocument:
    """Policy of the creator's key, which encrypts its log group and its environment: the account administers it,
    CloudWatch Logs uses it for that log group only."""
    return document([account_administration_statement(account_id), log_group_key_statement(region, log_group_arn)])
