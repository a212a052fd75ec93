"""Policy documents, ARNs and event selectors of the audit trail (:mod:`components.audit_trail`), built by pure
functions of plain strings, like :mod:`components.policies`.

The statements follow the CloudTrail user guide ("Amazon S3 bucket policy for CloudTrail", "Configure AWS KMS key
policies for CloudTrail", "Sending events to CloudWatch Logs"), each limited to this stack's one trail with
``aws:SourceAccount`` and ``aws:SourceArn`` (``ArnEquals`` on the exact trail ARN, which is known before the trail
exists). The guide's key statement that lets every principal of the account decrypt log files (``Principal: *``
with ``kms:CallerAccount``) is left out: the account statement delegates to IAM, so whoever may read the logs is
decided by IAM policies.
"""

from __future__ import annotations

from typing import Any

from .log_group_policies import log_group_key_statement
from .policies import PolicyDocument, Statement, account_administration_statement, document

CLOUDTRAIL_SERVICE_PRINCIPAL = "cloudtrail.amazonaws.com"
#: The encryption context key CloudTrail puts in its requests to KMS: the trail's ARN.
CLOUDTRAIL_CONTEXT_KEY = "kms:EncryptionContext:aws:cloudtrail:arn"
#: CloudTrail resource types of the data events recorded for this stack.
S3_OBJECT_TYPE = "AWS::S3::Object"
DATASTORE_TYPE = "AWS::MedicalImaging::Datastore"
IMAGESET_TYPE = "AWS::MedicalImaging::Imageset"


def trail_arn(region: str, account_id: str, trail_name: str) -> str:
    return f"arn:aws:cloudtrail:{region}:{account_id}:trail/{trail_name}"


def _this_trail(account_id: str, trail_arn_: str) -> dict[str, Any]:
    return {"StringEquals": {"aws:SourceAccount": account_id}, "ArnEquals": {"aws:SourceArn": trail_arn_}}


# --- The trail's key --------------------------------------------------------------------------------------------


def trail_key_policy(
    account_id: str, trail_arn_: str, *, region: str, log_group_arn: str | None = None
) -> PolicyDocument:
    """The account statement; CloudTrail may generate data keys for this trail's log files (the encryption context
    names the trail) and describe the key; with CloudWatch Logs delivery, CloudWatch Logs may use the key for the
    trail's log group only."""
    statements: list[Statement] = [
        account_administration_statement(account_id),
        {
            "Sid": "AllowThisTrailToEncryptLogFiles",
            "Effect": "Allow",
            "Principal": {"Service": CLOUDTRAIL_SERVICE_PRINCIPAL},
            "Action": "kms:GenerateDataKey*",
            "Resource": "*",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": account_id, CLOUDTRAIL_CONTEXT_KEY: trail_arn_},
                "ArnEquals": {"aws:SourceArn": trail_arn_},
            },
        },
        {
            "Sid": "AllowThisTrailToDescribeTheKey",
            "Effect": "Allow",
            "Principal": {"Service": CLOUDTRAIL_SERVICE_PRINCIPAL},
            "Action": "kms:DescribeKey",
            "Resource": "*",
            "Condition": _this_trail(account_id, trail_arn_),
        },
    ]
    if log_group_arn:
        statements.append(log_group_key_statement(region, log_group_arn))
    return document(statements)


# --- The trail's bucket -----------------------------------------------------------------------------------------


def trail_bucket_statements(bucket_arn: str, account_id: str, trail_arns: list[str]) -> list[Statement]:
    """What CloudTrail needs on its bucket, for these trails of this account only: read the bucket's ACL, and write
    log files under ``AWSLogs/<account>/`` with the bucket owner in full control."""
    condition: dict[str, Any] = {
        "StringEquals": {"aws:SourceAccount": account_id},
        "ArnEquals": {"aws:SourceArn": trail_arns[0] if len(trail_arns) == 1 else sorted(trail_arns)},
    }
    return [
        {
            "Sid": "AllowCloudTrailAclCheck",
            "Effect": "Allow",
            "Principal": {"Service": CLOUDTRAIL_SERVICE_PRINCIPAL},
            "Action": "s3:GetBucketAcl",
            "Resource": bucket_arn,
            "Condition": condition,
        },
        {
            "Sid": "AllowCloudTrailToWriteLogFiles",
            "Effect": "Allow",
            "Principal": {"Service": CLOUDTRAIL_SERVICE_PRINCIPAL},
            "Action": "s3:PutObject",
            "Resource": f"{bucket_arn}/AWSLogs/{account_id}/*",
            "Condition": {
                **condition,
                "StringEquals": {**condition["StringEquals"], "s3:x-amz-acl": "bucket-owner-full-control"},
            },
        },
    ]


# --- CloudWatch Logs delivery (optional) -------------------------------------------------------------------------


def log_delivery_trust_policy(account_id: str, trail_arn_: str) -> PolicyDocument:
    """CloudTrail may assume the delivery role for this trail of this account only."""
    return document(
        [
            {
                "Sid": "AllowThisTrailOnly",
                "Effect": "Allow",
                "Principal": {"Service": CLOUDTRAIL_SERVICE_PRINCIPAL},
                "Action": "sts:AssumeRole",
                "Condition": _this_trail(account_id, trail_arn_),
            }
        ]
    )


def log_delivery_policy(log_group_arn: str) -> PolicyDocument:
    """The delivery role writes log streams of the trail's log group, nothing else."""
    return document(
        [
            {
                "Sid": "WriteTheTrailsLogGroup",
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": f"{log_group_arn}:log-stream:*",
            }
        ]
    )


# --- What the trail records ---------------------------------------------------------------------------------------


def _selector(name: str, *field_selectors: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "field_selectors": list(field_selectors)}


def advanced_event_selectors(
    *, input_bucket_arn: str, output_bucket_arn: str, datastore_arn: str, management_events: bool
) -> list[dict[str, Any]]:
    """The trail's advanced event selectors (pulumi-aws spelling): every read and write of an object in exactly the
    input and output buckets (``AWS::S3::Object`` by ARN prefix), every data event of exactly this data store and of
    its image sets, and, unless switched off, management events."""
    data = {"field": "eventCategory", "equals": ["Data"]}
    selectors = [
        _selector(
            "Objects of the input and output buckets",
            data,
            {"field": "resources.type", "equals": [S3_OBJECT_TYPE]},
            {"field": "resources.ARN", "starts_withs": [f"{input_bucket_arn}/", f"{output_bucket_arn}/"]},
        ),
        _selector(
            "The HealthImaging data store",
            data,
            {"field": "resources.type", "equals": [DATASTORE_TYPE]},
            {"field": "resources.ARN", "equals": [datastore_arn]},
        ),
        _selector(
            "The data store's image sets",
            data,
            {"field": "resources.type", "equals": [IMAGESET_TYPE]},
            {"field": "resources.ARN", "starts_withs": [f"{datastore_arn}/imageset/"]},
        ),
    ]
    if management_events:
        selectors.insert(0, _selector("Management events", {"field": "eventCategory", "equals": ["Management"]}))
    return selectors
