"""Verify checks of the buckets: Block Public Access, ownership, default encryption, versioning, TLS-only policy.

Every call passes ``ExpectedBucketOwner`` = the stack's account, so a bucket of the same name owned by
another account is never mistaken for the stack's.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .verify_context import Outcome, VerifyContext, failed, passed

BLOCK_PUBLIC_ACCESS_SETTINGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")


@dataclass(frozen=True)
class BucketExpectation:
    """One of the stack's buckets and the default encryption it should have."""

    role: str  # "input", "output" or "log"
    name: str
    #: None: SSE-S3 (AES256); else SSE-KMS with this key.
    kms_key_arn: str | None


def stack_buckets(ctx: VerifyContext) -> list[BucketExpectation]:
    """The stack's buckets: input and output (with the stack's bucket key, if any), and the log bucket (SSE-S3:
    S3 delivers access logs only to SSE-S3 buckets)."""
    outputs = ctx.outputs
    buckets = [
        BucketExpectation("input", outputs.input_bucket_name, outputs.bucket_kms_key_arn),
        BucketExpectation("output", outputs.output_bucket_name, outputs.bucket_kms_key_arn),
    ]
    if outputs.log_bucket_name:
        buckets.append(BucketExpectation("log", outputs.log_bucket_name, None))
    return buckets


def _get(ctx: VerifyContext, method: str, bucket: BucketExpectation, *absent: str) -> dict[str, Any] | None:
    return ctx.call(
        "s3",
        method,
        about=f"s3://{bucket.name}",
        absent=absent,
        Bucket=bucket.name,
        ExpectedBucketOwner=ctx.outputs.account_id,
    )


def check_block_public_access(ctx: VerifyContext, bucket: BucketExpectation) -> Outcome:
    response = _get(ctx, "get_public_access_block", bucket, "NoSuchPublicAccessBlockConfiguration")
    if response is None:
        return failed(f"{bucket.name} has no Block Public Access configuration; all four settings must be on")
    configuration = response.get("PublicAccessBlockConfiguration", {})
    off = [setting for setting in BLOCK_PUBLIC_ACCESS_SETTINGS if configuration.get(setting) is not True]
    if off:
        return failed(f"{bucket.name}: Block Public Access is off for {', '.join(off)}; all four must be on")
    return passed(f"{bucket.name}: all four Block Public Access settings are on")


def check_ownership(ctx: VerifyContext, bucket: BucketExpectation) -> Outcome:
    response = _get(ctx, "get_bucket_ownership_controls", bucket, "OwnershipControlsNotFoundError")
    rules = (response or {}).get("OwnershipControls", {}).get("Rules", [])
    ownership = [rule.get("ObjectOwnership") for rule in rules]
    if ownership != ["BucketOwnerEnforced"]:
        found = ", ".join(str(value) for value in ownership) or "no ownership controls"
        return failed(f"{bucket.name}: object ownership is {found}, not BucketOwnerEnforced (ACLs disabled)")
    return passed(f"{bucket.name}: object ownership BucketOwnerEnforced (ACLs disabled)")


def _same_key(configured: str, expected_arn: str) -> bool:
    """Whether a bucket's KMSMasterKeyID (an ARN or a bare key id) names the expected key ARN."""
    return configured == expected_arn or configured == expected_arn.rsplit("/", 1)[-1]


def check_encryption(ctx: VerifyContext, bucket: BucketExpectation) -> Outcome:
    response = _get(ctx, "get_bucket_encryption", bucket, "ServerSideEncryptionConfigurationNotFoundError")
    rules = (response or {}).get("ServerSideEncryptionConfiguration", {}).get("Rules", [])
    if not rules:
        return failed(f"{bucket.name} has no default encryption configuration")
    default = rules[0].get("ApplyServerSideEncryptionByDefault", {})
    algorithm = default.get("SSEAlgorithm")
    key = default.get("KMSMasterKeyID")
    if bucket.kms_key_arn is None:
        if algorithm != "AES256":
            return failed(f"{bucket.name}: default encryption is {algorithm} (key {key}), not SSE-S3 (AES256)")
        return passed(f"{bucket.name}: default encryption SSE-S3 (AES256)")
    if algorithm != "aws:kms":
        return failed(f"{bucket.name}: default encryption is {algorithm}, not SSE-KMS with {bucket.kms_key_arn}")
    if not key or not _same_key(key, bucket.kms_key_arn):
        return failed(
            f"{bucket.name}: default encryption uses key {key or '(aws/s3)'}, not the stack's {bucket.kms_key_arn}"
        )
    bucket_key = "on" if rules[0].get("BucketKeyEnabled") else "off"
    return passed(f"{bucket.name}: default encryption SSE-KMS with the stack's key (bucket key {bucket_key})")


def check_versioning(ctx: VerifyContext, bucket: BucketExpectation) -> Outcome:
    response = _get(ctx, "get_bucket_versioning", bucket)
    status = (response or {}).get("Status") or "never enabled"
    if status != "Enabled":
        return failed(
            f"{bucket.name}: versioning is {status}, not Enabled (an overwritten file could not be recovered)"
        )
    return passed(f"{bucket.name}: versioning Enabled")


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _is_everyone(principal: Any) -> bool:
    if principal == "*":
        return True
    return isinstance(principal, dict) and set(principal) == {"AWS"} and _as_list(principal["AWS"]) == ["*"]


def tls_deny_statement(policy: dict[str, Any], bucket_name: str) -> str | None:
    """The Sid (or "unnamed") of a statement that denies every request made without TLS to the bucket and its
    objects: Deny, Principal *, s3:* (or *), both resources, ``Bool aws:SecureTransport = false``. None when none."""
    arn = f"arn:aws:s3:::{bucket_name}"
    for statement in _as_list(policy.get("Statement", [])):
        if not isinstance(statement, dict) or statement.get("Effect") != "Deny":
            continue
        if not _is_everyone(statement.get("Principal")):
            continue
        if not {"s3:*", "*"} & set(_as_list(statement.get("Action", []))):
            continue
        resources = set(_as_list(statement.get("Resource", [])))
        if not ({arn, "*", "arn:aws:s3:::*"} & resources and {f"{arn}/*", "*", "arn:aws:s3:::*"} & resources):
            continue
        condition = statement.get("Condition", {})
        bool_condition = {key.lower(): value for key, value in condition.get("Bool", {}).items()}
        values = [str(value).lower() for value in _as_list(bool_condition.get("aws:securetransport", []))]
        if values == ["false"]:
            return str(statement.get("Sid") or "unnamed")
    return None


def check_tls_policy(ctx: VerifyContext, bucket: BucketExpectation) -> Outcome:
    response = _get(ctx, "get_bucket_policy", bucket, "NoSuchBucketPolicy")
    if response is None:
        return failed(f"{bucket.name} has no bucket policy, so requests without TLS are not denied")
    try:
        policy = json.loads(response["Policy"])
    except (KeyError, TypeError, json.JSONDecodeError) as error:
        return failed(f"{bucket.name}: the bucket policy cannot be read as JSON ({error})")
    sid = tls_deny_statement(policy, bucket.name)
    if sid is None:
        return failed(
            f"{bucket.name}: no bucket policy statement denies requests without TLS (Deny, Principal *, s3:*, "
            "the bucket and its objects, Bool aws:SecureTransport false)"
        )
    return passed(f"{bucket.name}: the bucket policy denies requests without TLS (statement {sid})")


#: Check name -> function, in the order they are reported for each bucket.
BUCKET_CHECKS: dict[str, Callable[[VerifyContext, BucketExpectation], Outcome]] = {
    "block-public-access": check_block_public_access,
    "ownership": check_ownership,
    "encryption": check_encryption,
    "versioning": check_versioning,
    "tls-policy": check_tls_policy,
}
