"""The input and output buckets of HealthImaging import jobs, secured for medical images."""

from collections.abc import Mapping
from typing import NotRequired, Optional, TypedDict

import pulumi
import pulumi_aws as aws

from . import policies, validation
from ._resource_options import PACKAGE, child_options, remember_caller_options
from .kms import supplied_or_created_key_arn
from .secure_bucket import DEFAULT_NONCURRENT_VERSION_EXPIRATION_DAYS, SecureBucket, SecureBucketArgs

#: Bucket naming schemes used when no explicit bucket names are given.
NAMING_ACCOUNT_REGIONAL = "account-regional"
NAMING_GENERATED = "generated"
BUCKET_NAMING_SCHEMES = (NAMING_ACCOUNT_REGIONAL, NAMING_GENERATED)
#: Default encryption choices.
ENCRYPTION_KMS = "kms"
ENCRYPTION_SSE_S3 = "sse-s3"
BUCKET_ENCRYPTION_CHOICES = (ENCRYPTION_KMS, ENCRYPTION_SSE_S3)


class ImagingBucketPairArgs(TypedDict):
    """Arguments of :class:`ImagingBucketPair`. Secure by default: switching a control off logs a
    warning that names the control."""

    account_id: str
    """The 12-digit AWS account that owns the buckets (key policies, log delivery, account-regional names)."""
    region: str
    """The region of the buckets (account-regional names and KMS ``kms:ViaService`` scoping)."""
    name_prefix: str
    """Prefix of generated bucket names and of the KMS key alias, for example ``ahi-dev``."""
    input_bucket_name: NotRequired[str]
    """Default: generated. Exact name of the bucket that holds the DICOM P10 files to import. Fixed names in
    the global namespace can be claimed by another account first; prefer generated names."""
    output_bucket_name: NotRequired[str]
    """Default: generated. Exact name of the bucket that receives import job results."""
    log_bucket_name: NotRequired[str]
    """Default: generated. Exact name of the server access log bucket (only with ``access_logging``)."""
    naming: NotRequired[str]
    """Default: ``account-regional``: ``<prefix>-input-<account>-<region>-an`` in the account-regional
    namespace, which no other account can take. ``generated``: a random suffix in the global namespace.
    Applies to every bucket without an explicit name."""
    encryption: NotRequired[str]
    """Default: ``kms``: SSE-KMS with a customer managed key and S3 Bucket Keys (S3.17). ``sse-s3``
    switches to S3 managed keys (logs a warning)."""
    kms_key_arn: NotRequired[str]
    """Default: none, so the component creates a key (rotation on, 30-day deletion window). A key ARN of
    this account and region uses that key instead; its key policy must let this account use it."""
    block_public_access: NotRequired[bool]
    """Default: True. Block Public Access, all four settings (S3.1/S3.8). False logs a warning."""
    enforce_bucket_owner: NotRequired[bool]
    """Default: True. Object ownership BucketOwnerEnforced, ACLs disabled (S3.12). False logs a warning."""
    versioning: NotRequired[bool]
    """Default: True. Object versioning (S3.14). False suspends versioning and logs a warning."""
    require_tls: NotRequired[bool]
    """Default: True. Deny requests without TLS or with TLS older than 1.2 (S3.5). False logs a warning."""
    access_logging: NotRequired[bool]
    """Default: True. Server access logs of both buckets go to a separate log bucket (S3.9), secured the
    same way except that it uses SSE-S3: S3 cannot deliver access logs to an SSE-KMS bucket."""
    noncurrent_version_expiration_days: NotRequired[int]
    """Default: 90. Days after which noncurrent object versions expire."""
    current_version_expiration_days: NotRequired[Optional[int]]
    """Default: none: current versions never expire. A number of days deletes objects that old (logs a warning)."""
    force_destroy: NotRequired[bool]
    """Default: False. True lets ``pulumi destroy`` delete non-empty buckets (logs a warning)."""
    protect_data: NotRequired[bool]
    """Default: True. ``protect`` and ``retain_on_delete`` on the buckets and the key."""
    tags: NotRequired[Mapping[str, str]]
    """Default: none. Tags for the buckets and the key."""


def _explicit_name(args: ImagingBucketPairArgs, role: str) -> str:
    """The explicit name given for the ``input``, ``output`` or ``log`` bucket ('' when none)."""
    names = {
        "input": args.get("input_bucket_name", ""),
        "output": args.get("output_bucket_name", ""),
        "log": args.get("log_bucket_name", ""),
    }
    return names[role]


def validate_bucket_pair_args(args: ImagingBucketPairArgs) -> list[str]:
    """Every problem with the arguments, as sentences naming the argument (empty when valid)."""
    problems: list[str] = []
    problems += validation.account_id_problems("account_id", args.get("account_id"))
    problems += validation.region_problems("region", args.get("region", ""), allow_unlisted=True)
    problems += validation.name_prefix_problems("name_prefix", args.get("name_prefix"))
    naming = args.get("naming", NAMING_ACCOUNT_REGIONAL)
    problems += validation.choice_problems("naming", naming, BUCKET_NAMING_SCHEMES)
    problems += validation.choice_problems(
        "encryption", args.get("encryption", ENCRYPTION_KMS), BUCKET_ENCRYPTION_CHOICES
    )
    names = {}
    for role in ("input", "output", "log"):
        explicit = _explicit_name(args, role)
        if explicit:
            problems += validation.bucket_name_problems(f"{role}_bucket_name", explicit)
            names[role] = explicit
    if names.get("input") and names.get("input") == names.get("output"):
        problems.append(
            f"input_bucket_name and output_bucket_name are both {names['input']!r}: HealthImaging reads DICOM files "
            "from the input bucket and writes results to the output bucket, which must be different buckets."
        )
    if names.get("log") and names.get("log") in (names.get("input"), names.get("output")):
        problems.append(
            f"log_bucket_name = {names['log']!r} is also an input or output bucket; logs need a bucket of their own."
        )
    if not problems and naming == NAMING_ACCOUNT_REGIONAL:
        generated = [role for role in ("input", "output", "log") if role not in names]
        if generated:
            problems += validation.account_regional_prefix_problems(
                "name_prefix", args["name_prefix"], max(generated, key=len), args["account_id"], args["region"]
            )
    if args.get("kms_key_arn"):
        if args.get("encryption", ENCRYPTION_KMS) != ENCRYPTION_KMS:
            problems.append("kms_key_arn is set but encryption is 'sse-s3'; remove one of the two.")
        elif not problems:
            problems += validation.kms_key_arn_problems(
                "kms_key_arn",
                args["kms_key_arn"],
                region=args["region"],
                account_id=args["account_id"],
                allow_cross_account=True,
            )
    problems += validation.positive_days_problems(
        "noncurrent_version_expiration_days",
        args.get("noncurrent_version_expiration_days", DEFAULT_NONCURRENT_VERSION_EXPIRATION_DAYS),
    )
    if args.get("current_version_expiration_days") is not None:
        problems += validation.positive_days_problems(
            "current_version_expiration_days", args.get("current_version_expiration_days")
        )
    if args.get("tags"):
        problems += validation.tags_problems("tags", args["tags"])
    return problems


def bucket_pair_warnings(args: ImagingBucketPairArgs) -> list[str]:
    """One warning per security control or data-safety default that the arguments switch off."""
    warnings: list[str] = []
    switched_off = {
        "block_public_access": "Block Public Access (Security Hub S3.1/S3.8) is OFF: the buckets could be made public.",
        "enforce_bucket_owner": "Object ownership BucketOwnerEnforced (S3.12) is OFF: ACLs are enabled on the buckets.",
        "versioning": "Versioning (S3.14) is OFF: an overwritten or deleted DICOM file cannot be recovered.",
        "require_tls": "The TLS-only bucket policy (S3.5) is OFF: requests without TLS 1.2+ are accepted.",
        "access_logging": "Server access logging (S3.9) is OFF: requests to the buckets are not logged.",
        "protect_data": "Data protection is OFF: the buckets and their key are neither protected nor retained; "
        "`pulumi destroy` deletes them.",
    }
    for key, message in switched_off.items():
        if args.get(key, True) is False:
            warnings.append(message)
    if args.get("encryption", ENCRYPTION_KMS) == ENCRYPTION_SSE_S3:
        warnings.append("Encryption with a customer managed KMS key (S3.17) is OFF: the buckets use SSE-S3.")
    if args.get("current_version_expiration_days") is not None:
        warnings.append(
            f"Current object versions EXPIRE after {args['current_version_expiration_days']} days: "
            "S3 deletes DICOM files and import results that old."
        )
    if args.get("force_destroy", False):
        warnings.append("force_destroy is ON: `pulumi destroy` deletes the buckets with every object in them.")
    for role in ("input", "output", "log"):
        warnings += validation.bucket_name_warnings(f"{role}_bucket_name", _explicit_name(args, role))
    return warnings


class ImagingBucketPair(pulumi.ComponentResource):
    """The S3 input bucket (DICOM P10 files to import) and output bucket (import results), with a
    customer managed key and an optional access-log bucket."""

    input_bucket_name: pulumi.Output[str]
    """Name of the bucket that holds the DICOM P10 files to import."""
    input_bucket_arn: pulumi.Output[str]
    """ARN of the input bucket."""
    output_bucket_name: pulumi.Output[str]
    """Name of the bucket that receives import job results."""
    output_bucket_arn: pulumi.Output[str]
    """ARN of the output bucket."""
    log_bucket_name: pulumi.Output[Optional[str]]
    """Name of the server access log bucket, or None without access logging."""
    kms_key_arn: pulumi.Output[Optional[str]]
    """ARN of the KMS key that encrypts both buckets, or None with SSE-S3."""

    def __init__(self, name: str, args: ImagingBucketPairArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        validation.raise_if_problems(f"ImagingBucketPair {name!r}", validate_bucket_pair_args(args))
        super().__init__(f"{PACKAGE}:index:ImagingBucketPair", name, None, opts)
        remember_caller_options(self, opts)
        for warning in bucket_pair_warnings(args):
            pulumi.log.warn(warning, resource=self)

        protect_data = args.get("protect_data", True)
        account_id, region, prefix = args["account_id"], args["region"], args["name_prefix"]
        tags = dict(args.get("tags", {}))

        key_arn: Optional[pulumi.Input[str]] = None
        if args.get("encryption", ENCRYPTION_KMS) == ENCRYPTION_KMS:
            key_arn = supplied_or_created_key_arn(
                f"{name}-key",
                parent=self,
                supplied_arn=args.get("kms_key_arn"),
                description=f"Encrypts the HealthImaging input and output buckets of {prefix}",
                policy=policies.bucket_key_policy(account_id),
                alias=f"{prefix}-import-buckets",
                protect_data=protect_data,
                tags=tags or None,
            )

        def bucket_args(role: str) -> SecureBucketArgs:
            common: SecureBucketArgs = {
                "account_id": account_id,
                "block_public_access": args.get("block_public_access", True),
                "enforce_bucket_owner": args.get("enforce_bucket_owner", True),
                "versioning": args.get("versioning", True),
                "require_tls": args.get("require_tls", True),
                "noncurrent_version_expiration_days": args.get(
                    "noncurrent_version_expiration_days", DEFAULT_NONCURRENT_VERSION_EXPIRATION_DAYS
                ),
                "current_version_expiration_days": args.get("current_version_expiration_days"),
                "force_destroy": args.get("force_destroy", False),
                "protect_data": protect_data,
                "tags": {**tags, "healthimaging:bucket-role": role},
            }
            explicit = _explicit_name(args, role)
            if explicit:
                common["bucket_name"] = explicit
            elif args.get("naming", NAMING_ACCOUNT_REGIONAL) == NAMING_ACCOUNT_REGIONAL:
                common["bucket_name"] = validation.account_regional_bucket_name(f"{prefix}-{role}", account_id, region)
                common["account_regional"] = True
            else:
                common["bucket_prefix"] = f"{prefix}-{role}-"
            return common

        self._input = SecureBucket(
            f"{name}-input", {**bucket_args("input"), "kms_key_arn": key_arn}, pulumi.ResourceOptions(parent=self)
        )
        self._output = SecureBucket(
            f"{name}-output", {**bucket_args("output"), "kms_key_arn": key_arn}, pulumi.ResourceOptions(parent=self)
        )

        log_bucket_name: pulumi.Output[Optional[str]] = pulumi.Output.from_input(None)
        if args.get("access_logging", True):
            log = SecureBucket(
                f"{name}-logs",
                {
                    **bucket_args("log"),
                    # S3 delivers server access logs only to buckets with SSE-S3 default encryption.
                    "kms_key_arn": None,
                    "accept_access_logs_from": [self._input.bucket_arn, self._output.bucket_arn],
                },
                pulumi.ResourceOptions(parent=self),
            )
            log_bucket_name = log.bucket_name
            for source, role in ((self._input, "input"), (self._output, "output")):
                aws.s3.BucketLogging(
                    f"{name}-{role}-access-logging",
                    bucket=source.bucket_name,
                    target_bucket=log.bucket_name,
                    target_prefix=f"{role}/",
                    target_object_key_format={"partitioned_prefix": {"partition_date_source": "EventTime"}},
                    opts=child_options(source, retain_on_delete=protect_data, depends_on=[log]),
                )

        self.input_bucket_name = self._input.bucket_name
        self.input_bucket_arn = self._input.bucket_arn
        self.output_bucket_name = self._output.bucket_name
        self.output_bucket_arn = self._output.bucket_arn
        self.log_bucket_name = log_bucket_name
        self.kms_key_arn = pulumi.Output.from_input(key_arn)
        self.register_outputs(
            {
                "input_bucket_name": self.input_bucket_name,
                "input_bucket_arn": self.input_bucket_arn,
                "output_bucket_name": self.output_bucket_name,
                "output_bucket_arn": self.output_bucket_arn,
                "log_bucket_name": self.log_bucket_name,
                "kms_key_arn": self.kms_key_arn,
            }
        )
