"""The input and output buckets of HealthImaging import jobs, secured for medical images."""

from collections.abc import Mapping, Sequence
from typing import Any, NotRequired, Optional, TypedDict

import pulumi
import pulumi_aws as aws

from . import policies, validation
from ._arguments import shown_as, tags_of, with_defaults
from ._resource_options import PACKAGE, child_options, remember_caller_options
from .kms import supplied_or_created_key_arn
from .secure_bucket import SECURE_BUCKET_DEFAULTS, SecureBucket, SecureBucketArgs

#: Bucket naming schemes used when no explicit bucket names are given.
NAMING_ACCOUNT_REGIONAL = "account-regional"
NAMING_GENERATED = "generated"
BUCKET_NAMING_SCHEMES = (NAMING_ACCOUNT_REGIONAL, NAMING_GENERATED)
#: Default encryption choices.
ENCRYPTION_KMS = "kms"
ENCRYPTION_SSE_S3 = "sse-s3"
BUCKET_ENCRYPTION_CHOICES = (ENCRYPTION_KMS, ENCRYPTION_SSE_S3)

#: Default of every optional argument of :class:`ImagingBucketPair` (the one place each default lives; the
#: bucket controls take theirs from :class:`~components.secure_bucket.SecureBucket`).
BUCKET_PAIR_DEFAULTS: dict[str, Any] = {
    "naming": NAMING_ACCOUNT_REGIONAL,
    "encryption": ENCRYPTION_KMS,
    "allow_cross_account_key": False,
    "access_logging": True,
    "input_eventbridge_notifications": SECURE_BUCKET_DEFAULTS["eventbridge_notifications"],
    "log_delivery_prefixes": [],
    **{
        key: SECURE_BUCKET_DEFAULTS[key]
        for key in (
            "block_public_access",
            "enforce_bucket_owner",
            "versioning",
            "require_tls",
            "noncurrent_version_expiration_days",
            "current_version_expiration_days",
            "force_destroy",
            "protect_data",
        )
    },
}


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
    allow_cross_account_key: NotRequired[bool]
    """Default: False. Accept a ``kms_key_arn`` of another account (whose key policy grants this one access)."""
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
    extra_access_log_sources: NotRequired[Sequence[pulumi.Input[str]]]
    """Default: none. ARNs (or ``ArnLike`` patterns such as ``arn:aws:s3:::ahi-dev-audit-*``) of other buckets of this
    account whose server access logs the log bucket also accepts, for example the audit trail's bucket (CIS 3.6)."""
    input_eventbridge_notifications: NotRequired[bool]
    """Default: False. True sends the input bucket's object events to Amazon EventBridge (S3.11), where
    :class:`~components.auto_import.AutoImport` picks up the batches written into it."""
    noncurrent_version_expiration_days: NotRequired[int]
    """Default: 90. Days after which noncurrent object versions expire."""
    current_version_expiration_days: NotRequired[Optional[int]]
    """Default: 0: current versions never expire (None means the same). A positive number of days deletes
    objects that old (logs a warning)."""
    force_destroy: NotRequired[bool]
    """Default: False. True lets ``pulumi destroy`` delete non-empty buckets (logs a warning)."""
    log_delivery_prefixes: NotRequired[Sequence[str]]
    """Default: ``[]``. Prefixes of the log bucket under which CloudWatch Logs' delivery service may write this
    account's CloudFront access logs (standard logging v2), for example the viewer's ``cloudfront/viewer/``."""
    protect_data: NotRequired[bool]
    """Default: True. ``protect`` and ``retain_on_delete`` on the buckets and the key."""
    tags: NotRequired[Mapping[str, str]]
    """Default: none. Tags for the buckets and the key."""


def _explicit_name(args: Mapping[str, Any], role: str) -> str:
    """The explicit name given for the ``input``, ``output`` or ``log`` bucket ('' when none)."""
    return str(args.get(f"{role}_bucket_name") or "")


#: The buckets of the pair, by role.
BUCKET_ROLES = ("input", "output", "log")


def generated_bucket_name(prefix: str, role: str, account_id: str, region: str) -> str:
    """The account-regional name of the ``role`` bucket: ``<prefix>-<role>-<account>-<region>-an``."""
    return validation.account_regional_bucket_name(f"{prefix}-{role}", account_id, region)


def validate_bucket_pair_args(args: Mapping[str, Any], names: Mapping[str, str] | None = None) -> list[str]:
    """Every problem with the arguments, as sentences naming the argument (empty when valid).

    ``names`` maps argument names to the names a person set (stack configuration keys), so that the
    program's messages name ``outputBucketName`` where the component's name ``output_bucket_name``.
    """

    n = shown_as(names)
    value = with_defaults(args, BUCKET_PAIR_DEFAULTS)

    problems: list[str] = []
    problems += validation.placement_problems(args, names)
    naming = value("naming")
    encryption = value("encryption")
    problems += validation.choice_problems(n("naming"), naming, BUCKET_NAMING_SCHEMES)
    problems += validation.choice_problems(n("encryption"), encryption, BUCKET_ENCRYPTION_CHOICES)
    explicit = {role: _explicit_name(args, role) for role in BUCKET_ROLES if _explicit_name(args, role)}
    for role, name in explicit.items():
        problems += validation.bucket_name_problems(n(f"{role}_bucket_name"), name)
    basics_ok = not problems

    # The final names, explicit or generated, must all differ: HealthImaging reads from the input bucket and
    # writes to the output bucket, and logs need a bucket of their own.
    logged = value("access_logging")
    roles = [role for role in BUCKET_ROLES if role != "log" or logged or role in explicit]
    final: dict[str, str] = dict(explicit)
    if basics_ok and naming == NAMING_ACCOUNT_REGIONAL:
        generated = [role for role in roles if role not in explicit]
        if generated:
            problems += validation.account_regional_prefix_problems(
                n("name_prefix"), args["name_prefix"], max(generated, key=len), args["account_id"], args["region"]
            )
        for role in generated:
            final[role] = generated_bucket_name(args["name_prefix"], role, args["account_id"], args["region"])
    seen: dict[str, str] = {}
    for role in roles:
        if role not in final:
            continue
        name = final[role]
        if name in seen:
            first = seen[name]
            how = {r: "set" if r in explicit else "generated" for r in (first, role)}
            problems.append(
                f"{n(f'{first}_bucket_name')} ({how[first]}) and {n(f'{role}_bucket_name')} ({how[role]}) are both "
                f"{name!r}: the input, output and log buckets must be different buckets. "
                f"Choose another {n(f'{role}_bucket_name') if role in explicit else n(f'{first}_bucket_name')}."
            )
        else:
            seen[name] = role

    key_arn = args.get("kms_key_arn")
    if key_arn:
        if encryption != ENCRYPTION_KMS:
            problems.append(
                f"{n('kms_key_arn')} is set but {n('encryption')} is {encryption!r}; remove one of the two, "
                f"or set {n('encryption')} to {ENCRYPTION_KMS!r}."
            )
        elif basics_ok:
            problems += validation.kms_key_arn_problems(
                n("kms_key_arn"),
                key_arn,
                region=args["region"],
                account_id=args["account_id"],
                allow_cross_account=value("allow_cross_account_key"),
                allow_cross_account_setting=n("allow_cross_account_key"),
            )
    problems += validation.positive_days_problems(
        n("noncurrent_version_expiration_days"),
        value("noncurrent_version_expiration_days"),
    )
    current_days = value("current_version_expiration_days")
    if current_days not in (None, 0):  # None or 0: current versions never expire
        problems += validation.positive_days_problems(n("current_version_expiration_days"), current_days)
    if args.get("tags"):
        problems += validation.tags_problems(n("tags"), args["tags"])
    return problems


def bucket_pair_warnings(args: ImagingBucketPairArgs) -> list[str]:
    """One warning per security control or data-safety default that the arguments switch off."""
    value = with_defaults(args, BUCKET_PAIR_DEFAULTS)
    warnings: list[str] = validation.foreign_key_warnings(
        "kms_key_arn", args.get("kms_key_arn"), args.get("account_id")
    )
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
        if value(key) is False:
            warnings.append(message)
    if value("encryption") == ENCRYPTION_SSE_S3:
        warnings.append("Encryption with a customer managed KMS key (S3.17) is OFF: the buckets use SSE-S3.")
    current_days = value("current_version_expiration_days")
    if current_days:
        warnings.append(
            f"Current object versions EXPIRE after {validation.as_whole_number(current_days)} days: "
            "S3 deletes DICOM files and import results that old."
        )
    if value("force_destroy"):
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

        value = with_defaults(args, BUCKET_PAIR_DEFAULTS)
        protect_data = value("protect_data")
        account_id, region, prefix = args["account_id"], args["region"], args["name_prefix"]
        tags = tags_of(args)
        # Validated above; a whole float (how other languages send numbers) becomes an int here.
        noncurrent_days = validation.as_whole_number(value("noncurrent_version_expiration_days"))
        current_days = validation.as_whole_number(value("current_version_expiration_days") or 0)  # None: never

        key_arn: Optional[pulumi.Input[str]] = None
        if value("encryption") == ENCRYPTION_KMS:
            key_arn = supplied_or_created_key_arn(
                f"{name}-key",
                parent=self,
                supplied_arn=args.get("kms_key_arn"),
                description=f"Encrypts the HealthImaging input and output buckets of {prefix}",
                policy=policies.bucket_key_policy(account_id),
                alias=f"{prefix}-import-buckets",
                protect_data=protect_data,
                tags=tags,
            )

        def bucket_args(role: str) -> SecureBucketArgs:
            common: SecureBucketArgs = {
                "account_id": account_id,
                "block_public_access": value("block_public_access"),
                "enforce_bucket_owner": value("enforce_bucket_owner"),
                "versioning": value("versioning"),
                "require_tls": value("require_tls"),
                "noncurrent_version_expiration_days": noncurrent_days,
                "current_version_expiration_days": current_days,
                "force_destroy": value("force_destroy"),
                "protect_data": protect_data,
                "tags": {**(tags or {}), "healthimaging:bucket-role": role},
            }
            explicit = _explicit_name(args, role)
            if explicit:
                common["bucket_name"] = explicit
            elif value("naming") == NAMING_ACCOUNT_REGIONAL:
                common["bucket_name"] = validation.account_regional_bucket_name(f"{prefix}-{role}", account_id, region)
                common["account_regional"] = True
            else:
                common["bucket_prefix"] = f"{prefix}-{role}-"
            return common

        events = value("input_eventbridge_notifications")
        self._input = SecureBucket(
            f"{name}-input",
            {**bucket_args("input"), "kms_key_arn": key_arn, "eventbridge_notifications": bool(events)},
            pulumi.ResourceOptions(parent=self),
        )
        self._output = SecureBucket(
            f"{name}-output", {**bucket_args("output"), "kms_key_arn": key_arn}, pulumi.ResourceOptions(parent=self)
        )

        log_bucket_name: pulumi.Output[Optional[str]] = pulumi.Output.from_input(None)
        if value("access_logging"):
            log = SecureBucket(
                f"{name}-logs",
                {
                    **bucket_args("log"),
                    # S3 delivers server access logs only to buckets with SSE-S3 default encryption.
                    "kms_key_arn": None,
                    "accept_access_logs_from": [
                        self._input.bucket_arn,
                        self._output.bucket_arn,
                        *(args.get("extra_access_log_sources") or []),
                    ],
                    "accept_log_deliveries_under": list(value("log_delivery_prefixes")),
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
