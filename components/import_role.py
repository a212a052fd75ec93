"""The IAM role that HealthImaging assumes to run DICOM import jobs (the guide's ImportJobDataAccessRole)."""

import json
from collections.abc import Mapping
from typing import Any, NotRequired, Optional, TypedDict

import pulumi
import pulumi_aws as aws

from . import policies, validation
from ._arguments import shown_as, tags_of, with_defaults
from ._resource_options import PACKAGE, child_options, remember_caller_options

#: Name of the inline permission policy on the role.
PERMISSION_POLICY_NAME = "ImportJobDataAccess"


def generated_role_name(name_prefix: str) -> str:
    """The role's name when none is chosen: the guide's ``ImportJobDataAccessRole``, prefixed."""
    return f"{name_prefix}-ImportJobDataAccessRole"


#: Default of every optional argument of :class:`ImportJobRole` (the one place each default lives).
IMPORT_ROLE_DEFAULTS: dict[str, Any] = {"path": "/"}


class ImportJobRoleArgs(TypedDict):
    """Arguments of :class:`ImportJobRole`."""

    account_id: str
    """The 12-digit AWS account of the data store and the buckets (trust and permission conditions)."""
    region: str
    """The region of the buckets: KMS use is limited to S3 in this region (``kms:ViaService``)."""
    datastore_arn: pulumi.Input[str]
    """ARN of the one data store allowed to use the role (``aws:SourceArn`` in the trust policy)."""
    input_bucket_arn: pulumi.Input[str]
    """ARN of the bucket the import jobs read DICOM P10 files from."""
    output_bucket_arn: pulumi.Input[str]
    """ARN of the bucket the import jobs write results to."""
    input_kms_key_arn: NotRequired[pulumi.Input[Optional[str]]]
    """Default: none. The input bucket's KMS key; the role gets ``kms:Decrypt`` on it through S3."""
    output_kms_key_arn: NotRequired[pulumi.Input[Optional[str]]]
    """Default: none. The output bucket's KMS key; the role gets ``kms:GenerateDataKey`` and ``kms:Decrypt``."""
    role_name: str
    """Name of the role, at most 64 characters, for example ``ahi-dev-ImportJobDataAccessRole``."""
    path: NotRequired[str]
    """Default: ``/``. IAM path of the role."""
    permissions_boundary_arn: NotRequired[str]
    """Default: none. Managed policy ARN to set as the role's permissions boundary, where an organisation requires one."""
    tags: NotRequired[Mapping[str, str]]
    """Default: none. Tags of the role."""


def validate_import_role_args(args: Mapping[str, Any], names: Mapping[str, str] | None = None) -> list[str]:
    """Every problem with the plain-valued arguments (empty when valid).

    ``names`` maps argument names to the names a person set (stack configuration keys).
    """

    n = shown_as(names)
    value = with_defaults(args, IMPORT_ROLE_DEFAULTS)

    problems: list[str] = []
    problems += validation.account_id_problems(n("account_id"), args.get("account_id"))
    problems += validation.region_problems(n("region"), args.get("region", ""), allow_unlisted=True)
    problems += validation.iam_name_problems(n("role_name"), args.get("role_name", ""))
    problems += validation.iam_settings_problems(args, value("path"), names)
    return problems


class ImportJobRole(pulumi.ComponentResource):
    """The role passed as ``dataAccessRoleArn`` to StartDICOMImportJob: HealthImaging may assume it only
    for this account's one data store, and it may only list the two buckets, read the input objects
    and write the output objects (plus the matching KMS use through S3)."""

    role_arn: pulumi.Output[str]
    """ARN of the role, passed as ``--data-access-role-arn`` when starting an import job."""
    role_name: pulumi.Output[str]
    """Name of the role."""

    def __init__(self, name: str, args: ImportJobRoleArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        validation.raise_if_problems(f"ImportJobRole {name!r}", validate_import_role_args(args))
        super().__init__(f"{PACKAGE}:index:ImportJobRole", name, None, opts)
        remember_caller_options(self, opts)
        value = with_defaults(args, IMPORT_ROLE_DEFAULTS)
        account_id, region = args["account_id"], args["region"]

        trust_policy = pulumi.Output.from_input(args["datastore_arn"]).apply(
            lambda arn: json.dumps(policies.import_role_trust_policy(account_id, arn))
        )
        role = aws.iam.Role(
            name,
            name=args["role_name"],
            path=value("path"),
            description="Assumed by AWS HealthImaging to read DICOM P10 files and write import results",
            assume_role_policy=trust_policy,
            permissions_boundary=args.get("permissions_boundary_arn"),
            tags=tags_of(args),
            opts=child_options(self),
        )
        permission_policy = pulumi.Output.all(
            args["input_bucket_arn"],
            args["output_bucket_arn"],
            args.get("input_kms_key_arn"),
            args.get("output_kms_key_arn"),
        ).apply(
            lambda values: json.dumps(
                policies.import_role_permission_policy(
                    input_bucket_arn=values[0],
                    output_bucket_arn=values[1],
                    account_id=account_id,
                    region=region,
                    input_key_arn=values[2],
                    output_key_arn=values[3],
                )
            )
        )
        aws.iam.RolePolicy(
            f"{name}-permissions",
            name=PERMISSION_POLICY_NAME,
            role=role.id,
            policy=permission_policy,
            opts=child_options(self),
        )

        self.role_arn = role.arn
        self.role_name = role.name
        self.register_outputs({"role_arn": self.role_arn, "role_name": self.role_name})
