"""Who read or changed the images: a CloudTrail trail that records this stack's data events.

S3 object access and HealthImaging image set access are CloudTrail *data* events, which no trail records unless
asked. This trail records, with advanced event selectors (:func:`components.audit_policies.advanced_event_selectors`):

- every read and write of an object in exactly this stack's input and output buckets (``AWS::S3::Object``);
- every data event of exactly this data store (``AWS::MedicalImaging::Datastore``) and of its image sets
  (``AWS::MedicalImaging::Imageset``): image frames and metadata read, DICOMweb reads, image set changes;
- management events (every HealthImaging API call, among others), unless switched off.

The log files are validated (digest files), encrypted with the component's customer managed key, and written to a
bucket of their own built with :class:`~components.secure_bucket.SecureBucket` (Block Public Access, ACLs disabled,
TLS-only policy, versioning, SSE-KMS) whose lifecycle keeps them for the retention (six years by default, HIPAA's
documentation retention) and, optionally, locks them (S3 Object Lock, GOVERNANCE mode) for that long. Delivery to
CloudWatch Logs is optional. One region, one stack: the trail is single-region unless asked otherwise.
"""

import json
from collections.abc import Mapping
from typing import Any, NotRequired, Optional, TypedDict, cast

import pulumi
import pulumi_aws as aws

from . import audit_policies, log_group_policies, validation
from ._arguments import shown_as, tags_of, with_defaults
from ._resource_options import PACKAGE, child_options, remember_caller_options
from .bucket_pair import BUCKET_NAMING_SCHEMES, NAMING_ACCOUNT_REGIONAL
from .kms import customer_managed_key
from .secure_bucket import SECURE_BUCKET_DEFAULTS, SecureBucket, SecureBucketArgs
from .validation import logs

#: HIPAA's documentation retention (45 CFR 164.316(b)(2)): six years, as days (with leap days).
HIPAA_RETENTION_DAYS = 2192
#: Days a deleted or overwritten log file (a noncurrent version) is kept when the log files are kept forever: a lifecycle
#: rule needs a number, and this is the most any days setting of the project accepts (a hundred years).
KEEP_FOREVER_DAYS = 36500
#: The role of the trail's bucket in generated names (``<prefix>-audit-<account>-<region>-an``).
BUCKET_ROLE = "audit"
#: Name of the inline policy of the CloudWatch Logs delivery role.
LOG_DELIVERY_POLICY_NAME = "AuditTrailToCloudWatchLogs"

#: Default of every optional argument of :class:`AuditTrail` (the one place each default lives).
AUDIT_TRAIL_DEFAULTS: dict[str, Any] = {
    "naming": NAMING_ACCOUNT_REGIONAL,
    "management_events": True,
    "multi_region": False,
    "retention_days": HIPAA_RETENTION_DAYS,
    "object_lock": False,
    "cloudwatch_logs": False,
    "cloudwatch_logs_retention_days": 365,
    "path": "/",
    "protect_data": True,
}


class AuditTrailArgs(TypedDict):
    """Arguments of :class:`AuditTrail`."""

    account_id: str
    """The 12-digit AWS account of the trail (ARNs and policy conditions)."""
    region: str
    """The trail's home region."""
    name_prefix: str
    """Prefix of the trail's name (``<prefix>-audit``), of its bucket's generated name, key alias and role."""
    input_bucket_arn: pulumi.Input[str]
    """ARN of the input bucket: every object read and write in it is recorded."""
    output_bucket_arn: pulumi.Input[str]
    """ARN of the output bucket: every object read and write in it is recorded."""
    datastore_arn: pulumi.Input[str]
    """ARN of the data store: its data events and its image sets' are recorded."""
    bucket_name: NotRequired[str]
    """Default: generated. Exact name of the bucket the trail writes its log files to."""
    naming: NotRequired[str]
    """Default: ``account-regional``: the bucket is ``<prefix>-audit-<account>-<region>-an`` in the account-regional
    namespace, which no other account can take. ``generated``: a random suffix in the global namespace."""
    management_events: NotRequired[bool]
    """Default: True. Also record management events (every control-plane call in the region, HealthImaging's among
    them). False records data events only, for an account whose organisation trail records management events."""
    multi_region: NotRequired[bool]
    """Default: False: one region, one stack; the data events are all in this region. True makes the trail
    multi-region (management events of every region)."""
    retention_days: NotRequired[Optional[int]]
    """Default: 2192. Days the log files are kept (six years: HIPAA's documentation retention); then they expire.
    None keeps them forever. Without ``object_lock``, a log file deleted or overwritten sooner is kept as a
    noncurrent version for as many days after that (a hundred years when kept forever), so no deletion shortens the
    retention; an expired log file is then gone for good between this many and twice this many days after it was
    written. With ``object_lock`` nothing can be deleted sooner, and noncurrent versions go after the buckets' 90
    days."""
    object_lock: NotRequired[bool]
    """Default: False. True creates the bucket with S3 Object Lock: every log file is locked for ``retention_days``
    in GOVERNANCE mode (only an identity allowed ``s3:BypassGovernanceRetention`` could delete it sooner). Chosen at
    creation only; it cannot be turned off."""
    cloudwatch_logs: NotRequired[bool]
    """Default: False. Also deliver the events to a CloudWatch Logs log group (encrypted with the trail's key), for
    metric filters and alarms; CloudWatch Logs charges for what it ingests and keeps."""
    cloudwatch_logs_retention_days: NotRequired[int]
    """Default: 365. Days the log group keeps the events (a value CloudWatch Logs accepts)."""
    access_log_bucket_name: NotRequired[pulumi.Input[Optional[str]]]
    """Default: none. A bucket that accepts this bucket's server access logs (CIS 3.6: access logging on the CloudTrail
    bucket), under ``audit/``; its policy must let S3's log delivery write for this bucket."""
    path: NotRequired[str]
    """Default: ``/``. IAM path of the CloudWatch Logs delivery role."""
    permissions_boundary_arn: NotRequired[str]
    """Default: none. Managed policy ARN set as the permissions boundary of the CloudWatch Logs delivery role."""
    protect_data: NotRequired[bool]
    """Default: True. ``protect`` and ``retain_on_delete`` on the trail, its bucket and its key: ``pulumi destroy``
    neither stops the audit trail nor deletes its log files."""
    tags: NotRequired[Mapping[str, str]]
    """Default: none. Tags of every resource of the component."""


def trail_name(name_prefix: str) -> str:
    return f"{name_prefix}-audit"


def generated_bucket_name(name_prefix: str, account_id: str, region: str) -> str:
    """The account-regional name of the trail's bucket."""
    return validation.account_regional_bucket_name(f"{name_prefix}-{BUCKET_ROLE}", account_id, region)


def bucket_arn_pattern(args: Mapping[str, Any]) -> str:
    """The ARN of the trail's bucket, or an ``ArnLike`` pattern of it when its name is generated at random: what a log
    bucket names to accept the trail bucket's server access logs before that bucket exists."""
    value = with_defaults(args, AUDIT_TRAIL_DEFAULTS)
    if args.get("bucket_name"):
        return f"arn:aws:s3:::{args['bucket_name']}"
    if value("naming") == NAMING_ACCOUNT_REGIONAL:
        return f"arn:aws:s3:::{generated_bucket_name(args['name_prefix'], args['account_id'], args['region'])}"
    return f"arn:aws:s3:::{args['name_prefix']}-{BUCKET_ROLE}-*"


def validate_audit_trail_args(args: Mapping[str, Any], names: Mapping[str, str] | None = None) -> list[str]:
    """Every problem with the plain-valued arguments (empty when valid).

    ``names`` maps argument names to the names a person set (stack configuration keys).
    """

    n = shown_as(names)
    value = with_defaults(args, AUDIT_TRAIL_DEFAULTS)

    problems: list[str] = []
    problems += validation.placement_problems(args, names)
    problems += validation.choice_problems(n("naming"), value("naming"), BUCKET_NAMING_SCHEMES)
    if args.get("bucket_name"):
        problems += validation.bucket_name_problems(n("bucket_name"), args["bucket_name"])
    elif not problems and value("naming") == NAMING_ACCOUNT_REGIONAL:
        problems += validation.account_regional_prefix_problems(
            n("name_prefix"), args["name_prefix"], BUCKET_ROLE, args["account_id"], args["region"]
        )
    retention = value("retention_days")
    if retention is not None:
        problems += validation.positive_days_problems(n("retention_days"), retention)
    elif value("object_lock"):
        problems.append(
            f"{n('object_lock')} is on but {n('retention_days')} keeps the log files forever: Object Lock needs a "
            f"retention in days (for example {HIPAA_RETENTION_DAYS}, six years)."
        )
    if value("cloudwatch_logs"):
        problems += logs.log_retention_problems(
            n("cloudwatch_logs_retention_days"), value("cloudwatch_logs_retention_days")
        )
    problems += validation.iam_settings_problems(args, value("path"), names)
    return problems


def audit_trail_warnings(args: AuditTrailArgs) -> list[str]:
    """One warning per default that the arguments switch off or weaken."""
    value = with_defaults(args, AUDIT_TRAIL_DEFAULTS)
    warnings: list[str] = []
    retention = value("retention_days")
    if retention is not None and validation.as_whole_number(retention) < HIPAA_RETENTION_DAYS:
        warnings.append(
            f"The audit trail's log files expire after {validation.as_whole_number(retention)} days, sooner than "
            "the six years HIPAA asks documentation to be kept."
        )
    if not value("management_events"):
        warnings.append(
            "The audit trail records data events only: management events (who created, changed or deleted the data "
            "store, the buckets, the keys and the roles) must then be recorded by another trail."
        )
    if not args.get("access_log_bucket_name"):
        warnings.append("Server access logging of the audit trail's bucket (CIS 3.6) is OFF.")
    if not value("protect_data"):
        warnings.append(
            "Data protection is OFF for the audit trail: `pulumi destroy` stops it and deletes its bucket and key."
        )
    for warning in validation.bucket_name_warnings("bucket_name", str(args.get("bucket_name") or "")):
        warnings.append(warning)
    return warnings


def audit_trail_off_warning() -> str:
    """What a stack that does not create the trail tells its user."""
    return (
        "The audit trail is OFF (auditTrail = false): this stack records no CloudTrail data events, so who read or "
        "wrote the DICOM files in the input and output buckets, and who read or changed image sets in the data "
        "store, is recorded only if an organisation trail has advanced event selectors for AWS::S3::Object (these "
        "two buckets) and AWS::MedicalImaging::Datastore and AWS::MedicalImaging::Imageset. Management events "
        "alone do not show it."
    )


class AuditTrail(pulumi.ComponentResource):
    """A CloudTrail trail of this stack's data events (bucket objects, the data store, its image sets) and management
    events, with validated, KMS-encrypted log files in a secure bucket kept for six years (see the module docstring)."""

    trail_arn: pulumi.Output[str]
    """ARN of the trail."""
    bucket_name: pulumi.Output[str]
    """Name of the bucket that holds the log files (under ``AWSLogs/<account>/CloudTrail/``)."""
    kms_key_arn: pulumi.Output[str]
    """ARN of the key that encrypts the log files (reading them needs ``kms:Decrypt`` on it)."""
    log_group_name: pulumi.Output[Optional[str]]
    """Name of the CloudWatch Logs log group the events are delivered to, or None without delivery."""

    def __init__(self, name: str, args: AuditTrailArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        validation.raise_if_problems(f"AuditTrail {name!r}", validate_audit_trail_args(args))
        super().__init__(f"{PACKAGE}:index:AuditTrail", name, None, opts)
        remember_caller_options(self, opts)
        for warning in audit_trail_warnings(args):
            pulumi.log.warn(warning, resource=self)

        value = with_defaults(args, AUDIT_TRAIL_DEFAULTS)

        account_id, region, prefix = args["account_id"], args["region"], args["name_prefix"]
        tags = tags_of(args)
        protect_data = bool(value("protect_data"))
        trail_name_ = trail_name(prefix)
        trail_arn = audit_policies.trail_arn(region, account_id, trail_name_)
        cloudwatch_logs = bool(value("cloudwatch_logs"))
        log_group_name = f"/aws/cloudtrail/{trail_name_}"
        log_group_arn = (
            log_group_policies.log_group_arn(region, account_id, log_group_name) if cloudwatch_logs else None
        )
        retention = value("retention_days")
        retention_days = None if retention is None else validation.as_whole_number(retention)

        key = customer_managed_key(
            f"{name}-key",
            parent=self,
            description=f"Encrypts the CloudTrail log files of {trail_name_} (the HealthImaging audit trail)",
            policy=audit_policies.trail_key_policy(account_id, trail_arn, region=region, log_group_arn=log_group_arn),
            alias=f"{prefix}-audit-trail",
            protect_data=protect_data,
            tags=tags,
        )

        bucket_args: SecureBucketArgs = {
            "account_id": account_id,
            "kms_key_arn": key.arn,
            "current_version_expiration_days": retention_days,
            # Without a lock, a deleted or overwritten log file stays (as a noncurrent version) as long as a current
            # one would; with one, nothing is deleted early and the buckets' default applies.
            "noncurrent_version_expiration_days": (
                SECURE_BUCKET_DEFAULTS["noncurrent_version_expiration_days"]
                if value("object_lock")
                else retention_days or KEEP_FOREVER_DAYS
            ),
            "object_lock_retention_days": retention_days if value("object_lock") else None,
            "accept_cloudtrail_logs_from": [trail_arn],
            "protect_data": protect_data,
            "tags": {**(tags or {}), "healthimaging:bucket-role": BUCKET_ROLE},
        }
        if args.get("bucket_name"):
            bucket_args["bucket_name"] = args["bucket_name"]
        elif value("naming") == NAMING_ACCOUNT_REGIONAL:
            bucket_args["bucket_name"] = generated_bucket_name(prefix, account_id, region)
            bucket_args["account_regional"] = True
        else:
            bucket_args["bucket_prefix"] = f"{prefix}-{BUCKET_ROLE}-"
        bucket = SecureBucket(f"{name}-bucket", bucket_args, pulumi.ResourceOptions(parent=self))

        if args.get("access_log_bucket_name"):
            aws.s3.BucketLogging(
                f"{name}-bucket-access-logging",
                bucket=bucket.bucket_name,
                target_bucket=args["access_log_bucket_name"],
                target_prefix=f"{BUCKET_ROLE}/",
                target_object_key_format={"partitioned_prefix": {"partition_date_source": "EventTime"}},
                opts=child_options(bucket, retain_on_delete=protect_data),
            )

        cloudwatch_args: dict[str, Any] = {}
        log_group_output: pulumi.Output[Optional[str]] = pulumi.Output.from_input(None)
        if cloudwatch_logs and log_group_arn:
            log_group = aws.cloudwatch.LogGroup(
                f"{name}-logs",
                name=log_group_name,
                retention_in_days=validation.as_whole_number(value("cloudwatch_logs_retention_days")),
                kms_key_id=key.arn,
                tags=tags,
                opts=child_options(self, retain_on_delete=protect_data),
            )
            role = aws.iam.Role(
                f"{name}-logs-role",
                name=f"{prefix}-AuditTrailToCloudWatchLogs",
                path=value("path"),
                description="Assumed by CloudTrail to deliver the audit trail's events to its log group",
                assume_role_policy=json.dumps(audit_policies.log_delivery_trust_policy(account_id, trail_arn)),
                permissions_boundary=args.get("permissions_boundary_arn") or None,
                tags=tags,
                opts=child_options(self),
            )
            delivery = aws.iam.RolePolicy(
                f"{name}-logs-permissions",
                name=LOG_DELIVERY_POLICY_NAME,
                role=role.id,
                policy=json.dumps(audit_policies.log_delivery_policy(log_group_arn)),
                opts=child_options(self),
            )
            cloudwatch_args = {
                "cloud_watch_logs_group_arn": log_group.arn.apply(lambda arn: f"{arn}:*"),
                "cloud_watch_logs_role_arn": role.arn,
            }
            log_group_output = log_group.name
            trail_dependencies: list[pulumi.Resource] = [bucket, delivery]
        else:
            trail_dependencies = [bucket]

        management_events = bool(value("management_events"))
        trail = aws.cloudtrail.Trail(
            name,
            name=trail_name_,
            s3_bucket_name=bucket.bucket_name,
            kms_key_id=key.arn,
            enable_log_file_validation=True,
            enable_logging=True,
            is_multi_region_trail=bool(value("multi_region")),
            include_global_service_events=True,
            advanced_event_selectors=pulumi.Output.all(
                args["input_bucket_arn"], args["output_bucket_arn"], args["datastore_arn"]
            ).apply(
                lambda v: cast(
                    "list[aws.cloudtrail.TrailAdvancedEventSelectorArgsDict]",
                    audit_policies.advanced_event_selectors(
                        input_bucket_arn=v[0],
                        output_bucket_arn=v[1],
                        datastore_arn=v[2],
                        management_events=management_events,
                    ),
                )
            ),
            tags=tags,
            # CloudTrail checks the bucket policy (and the delivery role) when the trail is created.
            opts=child_options(self, protect_data=protect_data, depends_on=trail_dependencies),
            **cloudwatch_args,
        )

        self.trail_arn = trail.arn
        self.bucket_name = bucket.bucket_name
        self.kms_key_arn = key.arn
        self.log_group_name = log_group_output
        self.register_outputs(
            {
                "trail_arn": self.trail_arn,
                "bucket_name": self.bucket_name,
                "kms_key_arn": self.kms_key_arn,
                "log_group_name": self.log_group_name,
            }
        )
