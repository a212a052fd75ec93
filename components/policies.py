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


#: CloudWatch Logs' delivery service, which writes vended logs (CloudFront standard logging v2) to S3.
VENDED_LOG_DELIVERY_SERVICE_PRINCIPAL = "delivery.logs.amazonaws.com"
#: CloudFront's log delivery sources live in this region, whatever the stack's.
CLOUDFRONT_LOG_DELIVERY_REGION = "us-east-1"


def vended_log_delivery_statement(log_bucket_arn: str, prefixes: Sequence[str], account_id: str) -> Statement:
    """Let CloudWatch Logs' delivery service write this account's CloudFront access logs (standard logging v2) under
    the given prefixes only, as objects the bucket owner owns; only delivery sources of this account may use it."""
    return {
        "Sid": "AllowCloudFrontLogDelivery",
        "Effect": "Allow",
        "Principal": {"Service": VENDED_LOG_DELIVERY_SERVICE_PRINCIPAL},
        "Action": "s3:PutObject",
        "Resource": [f"{log_bucket_arn}/{prefix.strip('/')}/AWSLogs/{account_id}/*" for prefix in sorted(prefixes)],
        "Condition": {
            "StringEquals": {"aws:SourceAccount": account_id, "s3:x-amz-acl": "bucket-owner-full-control"},
            "ArnLike": {
                "aws:SourceArn": f"arn:aws:logs:{CLOUDFRONT_LOG_DELIVERY_REGION}:{account_id}:delivery-source:*"
            },
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


# The data store's key follows AWS's documented form (HealthImaging developer guide, page "Data encryption"):
#
# - The identities that create, use and delete the data store use the key through IAM: the key policy's
#   account statement delegates to IAM, and their IAM statements are limited to calls HealthImaging makes on
#   their behalf (``kms:ViaService = medical-imaging.<region>.amazonaws.com``; CloudTrail shows the caller's
#   identity with ``invokedBy: medical-imaging.amazonaws.com``). At creation HealthImaging creates its grants
#   on the key with the creator's permissions, so the key needs nothing else to create the data store.
# - The page's service-principal statement lets ``medical-imaging.amazonaws.com`` itself Decrypt,
#   GenerateDataKey and GenerateDataKeyWithoutPlaintext, conditioned on the encryption context: the key's
#   own ARN (``kms-arn``) and the data store's ID (``aws:medical-imaging:datastoreId``). The ID exists only
#   once the data store does, so that statement is attached after the data store is created (the key, then
#   the data store, then the full key policy: no dependency cycle).
# - ``aws:SourceArn``/``aws:SourceAccount`` are what AWS documents for the import role's trust policy, not for
#   this key: no statement of the key policy conditions on them.
# - A data store that was replaced and retained (it keeps its image sets, encrypted with this key) keeps the
#   service statement: its ID stays in the ``datastoreId`` condition beside the current one (``StringEquals``
#   with several values matches any of them).

#: What the documented service-principal statement allows HealthImaging to do with the data store's key.
DATASTORE_KEY_SERVICE_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext")
#: Encryption context keys HealthImaging puts in its requests to KMS for a data store.
KMS_ARN_CONTEXT_KEY = "kms:EncryptionContext:kms-arn"
DATASTORE_ID_CONTEXT_KEY = "kms:EncryptionContext:aws:medical-imaging:datastoreId"
#: What the identity that creates or deletes a data store needs on its key, through HealthImaging only
#: (the guide's IAM statement for the creator, ``kms:ReEncrypt*`` spelt out, plus DescribeKey).
DATASTORE_KEY_CREATOR_ACTIONS = (
    "kms:CreateGrant",
    "kms:Decrypt",
    "kms:DescribeKey",
    "kms:GenerateDataKey",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:RetireGrant",
)


def healthimaging_endpoint(region: str) -> str:
    """The value of ``kms:ViaService`` when HealthImaging calls KMS on a caller's behalf."""
    return f"medical-imaging.{region}.amazonaws.com"


def datastore_key_initial_policy(account_id: str) -> PolicyDocument:
    """Key policy of the data store's key when the key is created: the account statement only.

    Creating the data store needs no more: HealthImaging creates its grants with the permissions of the
    identity that creates the data store (see :func:`datastore_key_creator_statement`). The full policy,
    with the service statement for the new data store, is :func:`datastore_key_policy`.
    """
    return document([account_administration_statement(account_id)])


def datastore_key_service_statement(
    key_arn: str, datastore_id: str, retained_datastore_ids: Sequence[str] = ()
) -> Statement:
    """AWS's documented statement that lets HealthImaging use a customer managed key for one data store.

    Add it to the policy of a key you supply (``datastoreKmsKeyArn``) once the data store exists: its ID is
    the ``datastoreId`` stack output. Only requests whose encryption context names this key's ARN and this
    data store's ID match. ``retained_datastore_ids`` are data stores that use the same key and stay in the
    account (replaced and retained ones): the condition then lists every ID, the current one first.
    """
    ids = list(dict.fromkeys([datastore_id, *retained_datastore_ids]))
    return {
        "Sid": "AllowHealthImagingToUseTheKeyForThisDatastore",
        "Effect": "Allow",
        "Principal": {"Service": HEALTHIMAGING_SERVICE_PRINCIPAL},
        "Action": list(DATASTORE_KEY_SERVICE_ACTIONS),
        "Resource": "*",
        "Condition": {
            "StringEquals": {
                KMS_ARN_CONTEXT_KEY: key_arn,
                DATASTORE_ID_CONTEXT_KEY: ids[0] if len(ids) == 1 else ids,
            }
        },
    }


def datastore_key_policy(
    account_id: str, key_arn: str, datastore_id: str, retained_datastore_ids: Sequence[str] = ()
) -> PolicyDocument:
    """The data store key's full policy once the data store exists: the account statement plus
    :func:`datastore_key_service_statement`."""
    return document(
        [
            account_administration_statement(account_id),
            datastore_key_service_statement(key_arn, datastore_id, retained_datastore_ids),
        ]
    )


def datastore_key_creator_statement(key_arn: str, region: str) -> Statement:
    """The IAM statement an identity needs to create or delete a data store encrypted with ``key_arn``.

    The guide's creator permissions, usable only in requests HealthImaging makes on the identity's behalf.
    """
    return {
        "Sid": "UseDatastoreKeyThroughHealthImaging",
        "Effect": "Allow",
        "Action": list(DATASTORE_KEY_CREATOR_ACTIONS),
        "Resource": key_arn,
        "Condition": {"StringEquals": {"kms:ViaService": healthimaging_endpoint(region)}},
    }


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
