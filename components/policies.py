"""IAM, bucket and key policy documents, built by pure functions.

Each function takes plain strings (ARNs, account ID, region) and returns a policy document as a
dict, so that the components, the tests, the offline plan and a reviewer all read the same JSON.
The components call them inside ``Output.apply`` once the ARNs are known.

Conditions use plain operators (``StringEquals``, ``ArnEquals``, ``ArnLike``) on single-valued keys
such as ``aws:SourceArn`` and ``aws:SourceAccount``. Never ``ForAllValues:``/``ForAnyValue:`` with
those keys: ``ForAllValues`` is true when the key is absent from the request, which is how the
setup guide's trust policy ends up trusting requests that carry no source at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

PolicyDocument = dict[str, Any]
Statement = dict[str, Any]

POLICY_VERSION = "2012-10-17"
HEALTHIMAGING_SERVICE_PRINCIPAL = "medical-imaging.amazonaws.com"
S3_LOG_DELIVERY_SERVICE_PRINCIPAL = "logging.s3.amazonaws.com"
#: Minimum TLS version accepted by the buckets' policy.
MINIMUM_TLS_VERSION = "1.2"


def document(statements: Sequence[Statement]) -> PolicyDocument:
    """Wrap statements in a policy document."""
    return {"Version": POLICY_VERSION, "Statement": list(statements)}


def bucket_arn(bucket_name: str) -> str:
    """The ARN of a general purpose bucket."""
    return f"arn:aws:s3:::{bucket_name}"


def datastore_arn(region: str, account_id: str, datastore_id: str) -> str:
    """The ARN of a HealthImaging data store."""
    return f"arn:aws:medical-imaging:{region}:{account_id}:datastore/{datastore_id}"


def account_root_arn(account_id: str) -> str:
    """The ARN that stands for the whole account in resource policies."""
    return f"arn:aws:iam::{account_id}:root"


# --- Bucket policies -------------------------------------------------------------------------------


def tls_only_statements(bucket_arn_: str) -> list[Statement]:
    """Deny every request to the bucket and its objects made without TLS, or with TLS older than 1.2.

    Security Hub S3.5 and CIS 2.1.1 (``aws:SecureTransport``); ``s3:TlsVersion`` for the version floor.
    """
    resources = [bucket_arn_, f"{bucket_arn_}/*"]
    return [
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": resources,
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
        {
            "Sid": "DenyOutdatedTlsVersions",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": resources,
            "Condition": {"NumericLessThan": {"s3:TlsVersion": MINIMUM_TLS_VERSION}},
        },
    ]


def access_log_delivery_statement(log_bucket_arn: str, source_bucket_arns: Sequence[str], account_id: str) -> Statement:
    """Let S3's log delivery service write server access logs for the given source buckets only.

    The ``aws:SourceAccount``/``aws:SourceArn`` conditions stop another account's buckets from using
    this bucket as their log target (confused deputy).
    """
    return {
        "Sid": "AllowServerAccessLogDelivery",
        "Effect": "Allow",
        "Principal": {"Service": S3_LOG_DELIVERY_SERVICE_PRINCIPAL},
        "Action": "s3:PutObject",
        "Resource": f"{log_bucket_arn}/*",
        "Condition": {
            "StringEquals": {"aws:SourceAccount": account_id},
            "ArnLike": {"aws:SourceArn": sorted(source_bucket_arns)},
        },
    }


def bucket_policy(
    bucket_arn_: str, *, require_tls: bool, extra_statements: Sequence[Statement] = ()
) -> PolicyDocument | None:
    """The bucket's policy: TLS-only statements (unless opted out) plus any extra statements.

    Returns None when there is nothing to say, so that no empty policy is attached.
    """
    statements = (tls_only_statements(bucket_arn_) if require_tls else []) + list(extra_statements)
    return document(statements) if statements else None


# --- KMS key policies ------------------------------------------------------------------------------


def account_administration_statement(account_id: str) -> Statement:
    """The account keeps full control of the key; IAM policies then decide who may use it.

    Without this statement a key can become unmanageable (the key-policy lockout that KMS's safety
    check protects against).
    """
    return {
        "Sid": "EnableAccountControlThroughIam",
        "Effect": "Allow",
        "Principal": {"AWS": account_root_arn(account_id)},
        "Action": "kms:*",
        "Resource": "*",
    }


def bucket_key_policy(account_id: str) -> PolicyDocument:
    """Key policy of the customer managed key that encrypts the input and output buckets.

    S3 uses the key on behalf of the caller, so the caller's IAM permissions (for the import job: the
    import role's ``kms:ViaService``-scoped statements) decide use; the key policy delegates to IAM.
    """
    return document([account_administration_statement(account_id)])


def datastore_key_policy(account_id: str, region: str) -> PolicyDocument:
    """Key policy of the customer managed key that encrypts the HealthImaging data store.

    HealthImaging itself needs CreateGrant, DescribeKey, GenerateDataKey, Decrypt and ReEncrypt*.
    The condition limits that to data stores of this account and region. AWS's example conditions on
    ``kms:EncryptionContext:aws:medical-imaging:datastoreId``, which is unknown until the data store
    exists and would create a dependency cycle, so the ARN pattern is used instead.
    The identity that creates or deletes the data store needs CreateGrant, RetireGrant,
    GenerateDataKey, Decrypt and DescribeKey through its IAM policy (allowed by the first statement).
    """
    return document(
        [
            account_administration_statement(account_id),
            {
                "Sid": "AllowHealthImagingToUseTheKey",
                "Effect": "Allow",
                "Principal": {"Service": HEALTHIMAGING_SERVICE_PRINCIPAL},
                "Action": [
                    "kms:CreateGrant",
                    "kms:Decrypt",
                    "kms:DescribeKey",
                    "kms:GenerateDataKey",
                    "kms:ReEncrypt*",
                ],
                "Resource": "*",
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": account_id},
                    "ArnLike": {"aws:SourceArn": datastore_arn(region, account_id, "*")},
                },
            },
        ]
    )


# --- The import job role ---------------------------------------------------------------------------


def import_role_trust_policy(account_id: str, datastore_arn_: str) -> PolicyDocument:
    """Trust policy of the import role: only HealthImaging, only for this account's one data store.

    This is the setup guide's trust policy with its ``ForAllValues:`` operators replaced by plain
    ``StringEquals``/``ArnEquals``: the guide's form also matches requests that carry no
    ``aws:SourceArn`` at all (IAM Access Analyzer: FORALLVALUES_WITH_SINGLE_VALUED_KEY).
    """
    return document(
        [
            {
                "Sid": "AllowHealthImagingImportJobsForThisDatastore",
                "Effect": "Allow",
                "Principal": {"Service": HEALTHIMAGING_SERVICE_PRINCIPAL},
                "Action": "sts:AssumeRole",
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": account_id},
                    "ArnEquals": {"aws:SourceArn": datastore_arn_},
                },
            }
        ]
    )


def import_role_permission_policy(
    *,
    input_bucket_arn: str,
    output_bucket_arn: str,
    account_id: str,
    region: str,
    input_key_arn: str | None = None,
    output_key_arn: str | None = None,
) -> PolicyDocument:
    """Permission policy of the import role: the setup guide's three S3 statements, plus KMS.

    - ``s3:ListBucket`` on both buckets, ``s3:GetObject`` on the input objects, ``s3:PutObject`` on
      the output objects, each limited to buckets owned by this account (``s3:ResourceAccount``), so a
      bucket of the same name in another account can never feed or receive an import.
    - With customer managed keys: ``kms:Decrypt`` on the input bucket's key, and
      ``kms:GenerateDataKey`` + ``kms:Decrypt`` on the output bucket's key (multipart uploads need
      Decrypt), only when S3 in this region makes the call (``kms:ViaService``). S3 never calls
      ``kms:Encrypt``.
    """
    same_account = {"StringEquals": {"s3:ResourceAccount": account_id}}
    statements: list[Statement] = [
        {
            "Sid": "ListInputAndOutputBuckets",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": [input_bucket_arn, output_bucket_arn],
            "Condition": same_account,
        },
        {
            "Sid": "ReadDicomFilesFromInputBucket",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": f"{input_bucket_arn}/*",
            "Condition": same_account,
        },
        {
            "Sid": "WriteImportResultsToOutputBucket",
            "Effect": "Allow",
            "Action": "s3:PutObject",
            "Resource": f"{output_bucket_arn}/*",
            "Condition": same_account,
        },
    ]
    via_s3 = {"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}}
    if input_key_arn:
        statements.append(
            {
                "Sid": "DecryptInputObjectsThroughS3",
                "Effect": "Allow",
                "Action": "kms:Decrypt",
                "Resource": input_key_arn,
                "Condition": via_s3,
            }
        )
    if output_key_arn:
        statements.append(
            {
                "Sid": "EncryptOutputObjectsThroughS3",
                "Effect": "Allow",
                "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                "Resource": output_key_arn,
                "Condition": via_s3,
            }
        )
    return document(statements)
