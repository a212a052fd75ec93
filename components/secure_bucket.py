"""One S3 bucket with its security controls: the building block of the bucket pair and the log bucket."""

import json
from collections.abc import Mapping, Sequence
from typing import Any, NotRequired, Optional, TypedDict

import pulumi
import pulumi_aws as aws

from . import audit_policies, policies
from ._arguments import tags_of, with_defaults
from ._resource_options import PACKAGE, child_options, remember_caller_options
from .validation import as_whole_number

#: Days after which S3 aborts an incomplete multipart upload and frees its parts.
ABORT_INCOMPLETE_MULTIPART_UPLOAD_DAYS = 7
#: Days a noncurrent (overwritten or deleted) object version is kept before it expires.
DEFAULT_NONCURRENT_VERSION_EXPIRATION_DAYS = 90

#: Default of every optional argument of :class:`SecureBucket` (the one place each default lives: the
#: docstrings, the bucket pair and the stack settings take them from here, and a test checks the docstrings).
SECURE_BUCKET_DEFAULTS: dict[str, Any] = {
    "account_regional": False,
    "bucket_key_enabled": True,
    "block_public_access": True,
    "enforce_bucket_owner": True,
    "versioning": True,
    "require_tls": True,
    "noncurrent_version_expiration_days": DEFAULT_NONCURRENT_VERSION_EXPIRATION_DAYS,
    "current_version_expiration_days": 0,
    "object_lock_retention_days": None,
    "eventbridge_notifications": False,
    "force_destroy": False,
    "protect_data": True,
}


class SecureBucketArgs(TypedDict):
    """Arguments of :class:`SecureBucket`. Every control is on unless switched off here.

    This component applies exactly what it is given; :class:`~components.bucket_pair.ImagingBucketPair`
    validates the arguments and warns about every control that is switched off.
    """

    account_id: str
    """The 12-digit account that owns the bucket. Used in the log-delivery policy conditions."""
    bucket_name: NotRequired[str]
    """Exact bucket name. Default: none; then ``bucket_prefix`` gives a generated name."""
    bucket_prefix: NotRequired[str]
    """Prefix for a generated, globally unique name (at most 37 characters). Used without ``bucket_name``."""
    account_regional: NotRequired[bool]
    """Default: False. True creates the bucket in the account-regional namespace; ``bucket_name`` must then
    end in ``-<account>-<region>-an``. Such names cannot be taken by another account."""
    kms_key_arn: NotRequired[Optional[pulumi.Input[str]]]
    """Default: none, which means SSE-S3. A KMS key ARN turns on SSE-KMS with that key (Security Hub S3.17)."""
    bucket_key_enabled: NotRequired[bool]
    """Default: True. S3 Bucket Keys cut KMS requests (and cost) for SSE-KMS."""
    block_public_access: NotRequired[bool]
    """Default: True. All four Block Public Access settings (S3.1/S3.8)."""
    enforce_bucket_owner: NotRequired[bool]
    """Default: True. Object ownership BucketOwnerEnforced: ACLs are disabled (S3.12)."""
    versioning: NotRequired[bool]
    """Default: True. Keeps every version of every object (S3.14)."""
    require_tls: NotRequired[bool]
    """Default: True. Bucket policy denies requests without TLS or with TLS older than 1.2 (S3.5)."""
    noncurrent_version_expiration_days: NotRequired[int]
    """Default: 90. Noncurrent object versions expire this many days after they stop being current."""
    current_version_expiration_days: NotRequired[Optional[int]]
    """Default: 0: current object versions never expire (None means the same). A positive number of days
    expires them (data loss)."""
    accept_access_logs_from: NotRequired[Sequence[pulumi.Input[str]]]
    """Default: none. ARNs of buckets whose server access logs this bucket accepts (makes it a log bucket)."""
    accept_log_deliveries_under: NotRequired[Sequence[str]]
    """Default: none. Prefixes under which CloudWatch Logs' delivery service may write this account's CloudFront
    access logs (standard logging v2): :func:`components.policies.vended_log_delivery_statement`."""
    accept_cloudtrail_logs_from: NotRequired[Sequence[str]]
    """Default: none. ARNs of CloudTrail trails of ``account_id`` that may write their log files to this bucket (under
    ``AWSLogs/<account>/``, with the bucket owner in full control): :func:`components.audit_policies.trail_bucket_statements`."""
    object_lock_retention_days: NotRequired[Optional[int]]
    """Default: none: no Object Lock. A number of days creates the bucket with S3 Object Lock and a default retention of
    that many days in GOVERNANCE mode (S3.15): no object version can be deleted or overwritten sooner, except by an
    identity allowed ``s3:BypassGovernanceRetention``. Object Lock can only be chosen when the bucket is created, and
    never turned off; COMPLIANCE mode (which nobody can bypass) is not offered."""
    eventbridge_notifications: NotRequired[bool]
    """Default: False. True sends the bucket's object events (``Object Created``, ...) to Amazon EventBridge's default
    bus (S3.11), where rules route them, for example :class:`~components.auto_import.AutoImport`'s. This is the bucket's
    one notification configuration: add other destinations as EventBridge rules, not as a second configuration."""
    force_destroy: NotRequired[bool]
    """Default: False. True lets ``pulumi destroy`` delete the bucket with every object in it."""
    protect_data: NotRequired[bool]
    """Default: True. ``protect`` and ``retain_on_delete`` on the bucket; ``retain_on_delete`` on its
    controls, so that a destroy never leaves a retained bucket without encryption or public access block."""
    tags: NotRequired[Mapping[str, str]]
    """Default: none. Tags for the bucket."""


class SecureBucket(pulumi.ComponentResource):
    """An S3 bucket with Block Public Access, ACLs disabled, default encryption, versioning,
    lifecycle rules and a TLS-only bucket policy. Server access logging is wired by the caller
    (:class:`~components.bucket_pair.ImagingBucketPair`), which knows the log bucket."""

    bucket_name: pulumi.Output[str]
    """The bucket's name."""
    bucket_arn: pulumi.Output[str]
    """The bucket's ARN."""

    def __init__(self, name: str, args: SecureBucketArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__(f"{PACKAGE}:index:SecureBucket", name, None, opts)
        remember_caller_options(self, opts)
        value = with_defaults(args, SECURE_BUCKET_DEFAULTS)
        protect_data = value("protect_data")
        kms_key_arn = args.get("kms_key_arn")
        versioning = value("versioning")
        raw_lock_days = value("object_lock_retention_days")
        lock_days = None if raw_lock_days is None else as_whole_number(raw_lock_days)

        bucket = aws.s3.Bucket(
            name,
            bucket=args.get("bucket_name"),
            bucket_prefix=None if args.get("bucket_name") else args.get("bucket_prefix"),
            bucket_namespace="account-regional" if value("account_regional") else None,
            force_destroy=value("force_destroy"),
            object_lock_enabled=True if lock_days is not None else None,
            tags=tags_of(args),
            opts=child_options(self, protect_data=protect_data),
        )
        # The controls below are retained on delete with the bucket: a `pulumi destroy` that keeps the
        # bucket must not strip it of its public access block, encryption or policy first.
        control_opts = child_options(self, retain_on_delete=protect_data)
        controls: list[pulumi.Resource] = []

        if value("block_public_access"):
            controls.append(
                aws.s3.BucketPublicAccessBlock(
                    f"{name}-public-access-block",
                    bucket=bucket.id,
                    block_public_acls=True,
                    block_public_policy=True,
                    ignore_public_acls=True,
                    restrict_public_buckets=True,
                    opts=control_opts,
                )
            )
        if value("enforce_bucket_owner"):
            controls.append(
                aws.s3.BucketOwnershipControls(
                    f"{name}-ownership-controls",
                    bucket=bucket.id,
                    rule={"object_ownership": "BucketOwnerEnforced"},
                    opts=control_opts,
                )
            )

        if kms_key_arn is not None:
            default_encryption: aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgsDict = {
                "sse_algorithm": "aws:kms",
                "kms_master_key_id": kms_key_arn,
            }
        else:
            default_encryption = {"sse_algorithm": "AES256"}
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=bucket.id,
            rules=[
                {
                    "apply_server_side_encryption_by_default": default_encryption,
                    "bucket_key_enabled": kms_key_arn is not None and value("bucket_key_enabled"),
                    # Objects encrypted with keys the account does not hold (SSE-C) are refused.
                    "blocked_encryption_types": ["SSE-C"],
                }
            ],
            opts=control_opts,
        )

        versioning_resource = aws.s3.BucketVersioning(
            f"{name}-versioning",
            bucket=bucket.id,
            versioning_configuration={"status": "Enabled" if versioning else "Suspended"},
            opts=control_opts,
        )

        if lock_days is not None:
            aws.s3.BucketObjectLockConfiguration(
                f"{name}-object-lock",
                bucket=bucket.id,
                rule={"default_retention": {"mode": "GOVERNANCE", "days": lock_days}},
                opts=child_options(self, retain_on_delete=protect_data, depends_on=[versioning_resource]),
            )

        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            bucket=bucket.id,
            rules=lifecycle_rules(
                # Whole floats (how other languages send numbers) become ints; anything else is refused.
                noncurrent_version_expiration_days=as_whole_number(value("noncurrent_version_expiration_days")),
                current_version_expiration_days=as_whole_number(value("current_version_expiration_days") or 0),
            ),
            opts=child_options(self, retain_on_delete=protect_data, depends_on=[versioning_resource]),
        )

        log_sources = list(args.get("accept_access_logs_from") or [])
        trails = list(args.get("accept_cloudtrail_logs_from") or [])
        deliveries = list(args.get("accept_log_deliveries_under") or [])
        if value("require_tls") or log_sources or trails or deliveries:
            policy_json = pulumi.Output.all(bucket.arn, *log_sources).apply(
                lambda values: json.dumps(
                    policies.bucket_policy(
                        values[0],
                        require_tls=value("require_tls"),
                        extra_statements=(
                            [policies.access_log_delivery_statement(values[0], values[1:], args["account_id"])]
                            if values[1:]
                            else []
                        )
                        + (
                            audit_policies.trail_bucket_statements(values[0], args["account_id"], trails)
                            if trails
                            else []
                        )
                        + (
                            [policies.vended_log_delivery_statement(values[0], deliveries, args["account_id"])]
                            if deliveries
                            else []
                        ),
                    )
                )
            )
            aws.s3.BucketPolicy(
                f"{name}-policy",
                bucket=bucket.id,
                policy=policy_json,
                # S3 refuses policies while Block Public Access is being applied; order them.
                opts=child_options(self, retain_on_delete=protect_data, depends_on=controls),
            )

        if value("eventbridge_notifications"):
            aws.s3.BucketNotification(f"{name}-notifications", bucket=bucket.id, eventbridge=True, opts=control_opts)

        self.bucket_name = bucket.bucket
        self.bucket_arn = bucket.arn
        self.register_outputs({"bucket_name": self.bucket_name, "bucket_arn": self.bucket_arn})


def lifecycle_rules(
    *, noncurrent_version_expiration_days: int, current_version_expiration_days: int | None = 0
) -> list[aws.s3.BucketLifecycleConfigurationRuleArgsDict]:
    """Lifecycle rules: abort stale multipart uploads, expire old noncurrent versions and, only when
    asked for, current versions. Each rule applies to the whole bucket (empty prefix filter)."""
    whole_bucket: aws.s3.BucketLifecycleConfigurationRuleFilterArgsDict = {"prefix": ""}
    rules: list[aws.s3.BucketLifecycleConfigurationRuleArgsDict] = [
        {
            "id": "abort-incomplete-multipart-uploads",
            "status": "Enabled",
            "filter": whole_bucket,
            "abort_incomplete_multipart_upload": {"days_after_initiation": ABORT_INCOMPLETE_MULTIPART_UPLOAD_DAYS},
        },
        {
            "id": "expire-noncurrent-versions",
            "status": "Enabled",
            "filter": whole_bucket,
            "noncurrent_version_expiration": {"noncurrent_days": noncurrent_version_expiration_days},
        },
    ]
    if current_version_expiration_days:
        rules.append(
            {
                "id": "expire-current-versions",
                "status": "Enabled",
                "filter": whole_bucket,
                "expiration": {"days": current_version_expiration_days},
            }
        )
    return rules
