"""One Lambda function of this repository with what it needs to run safely: its own role, its log group, its key.

:class:`~components.import_alerts.ImportJobAlerts` and :class:`~components.auto_import.AutoImport` each run a function
written in this repository (:mod:`healthimaging_functions`). Both get the same parts, built here so that a hardening
reaches both at once:

- the arguments both read the same way (:func:`function_setup`): the account and region, the tags, ``protect_data``,
  the log group's retention, the role's path and permissions boundary, and the warnings about them
  (:func:`function_setup_warnings`);
- the component's customer managed key (:func:`function_key`), aliased as the component's names say;
- queues encrypted with that key whose policies refuse requests without TLS (:func:`encrypted_queue`), as a
  dead-letter queue or as the queues that feed the function;
- a log group with the component's retention, encrypted with the component's key;
- a role that only this function may assume (:func:`components.function_policies.function_trust_policy`), with the
  component's path and permissions boundary, and one inline least-privilege policy;
- the function: Python 3.12 on arm64, its environment encrypted with the same key, JSON logs into that log group
  (INFO from the code, WARN from the platform), reserved concurrency, and, for functions invoked asynchronously, a
  dead-letter queue. It is created after its role's policy and its log group, so its first run can log and work.

Logical names stay those of the components (``<name>-key``, ``<name>-<queue>``, ``<name>-<queue>-policy``,
``<name>-logs``, ``<name>-function-role``, ``<name>-function-permissions``, ``<name>-function``), so that the
resources' URNs do not depend on this module.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import pulumi
import pulumi_aws as aws

from . import validation
from ._arguments import tags_of, with_defaults
from ._resource_options import child_options
from .function_policies import function_arn, function_trust_policy
from .kms import customer_managed_key
from .lambda_package import function_archive
from .log_group_policies import log_group_arn
from .policies import PolicyDocument
from .validation import logs

#: Runtime and architecture of every function of this repository (the runtime provides boto3; see lambda_package).
RUNTIME = "python3.12"
ARCHITECTURE = "arm64"
#: How long SQS reuses a data key before asking KMS again (SQS's default, five minutes).
QUEUE_DATA_KEY_REUSE_SECONDS = 300
#: How long a queue keeps a message: SQS's longest (14 days), so that nothing expires before someone looks.
QUEUE_RETENTION_SECONDS = 14 * 24 * 3600


@dataclass(frozen=True)
class FunctionCode:
    """What a function runs and how much it may use: fixed by the component, not by its caller."""

    #: The function's package in this repository (archived with the ``ahiops`` modules it imports).
    package: Path
    #: ``<module>.<function>`` inside the archive, whose top level is the package (``import_alerts.handler.handle``).
    handler: str
    #: What the function does (the Lambda function's description).
    description: str
    #: Who assumes the role (the role's description).
    role_description: str
    memory_mb: int
    timeout_seconds: int
    #: Data files added to the archive beside the code: (archive name, text), such as an AWS API model.
    data_files: tuple[tuple[str, str], ...] = ()

    def archive(self) -> pulumi.AssetArchive:
        """The deployment package: the package and the modules it imports (:mod:`components.lambda_package`), and
        the data files."""
        code = function_archive(self.package, runtime=RUNTIME, architecture=ARCHITECTURE)
        if not self.data_files:
            return code
        return pulumi.AssetArchive(
            {**code.assets, **{name: pulumi.StringAsset(text) for name, text in self.data_files}}
        )


@dataclass(frozen=True)
class FunctionNames(ABC):
    """The physical names of a function-backed component's resources, from its name prefix. The component's names
    (:class:`~components.import_alerts.AlertNames`, :class:`~components.auto_import.AutoImportNames`) name the
    function, its role, the key's alias and whatever else the component creates; the log group is Lambda's own for
    the function."""

    prefix: str

    @property
    @abstractmethod
    def function(self) -> str: ...

    @property
    @abstractmethod
    def role(self) -> str: ...

    @property
    @abstractmethod
    def key_alias(self) -> str: ...

    @property
    def log_group(self) -> str:
        return f"/aws/lambda/{self.function}"


Names = TypeVar("Names", bound=FunctionNames)


@dataclass(frozen=True)
class FunctionSetup(Generic[Names]):
    """A function-backed component while it creates its resources: their parent and the start of their logical names,
    their physical names, and the arguments every such component reads the same way (:func:`function_setup`)."""

    owner: pulumi.ComponentResource
    #: The component's name: every logical name starts with it (``<name>-key``, ``<name>-function``, ...).
    name: str
    names: Names
    #: ``value(arg)``: the component's argument, else its default (:func:`components._arguments.with_defaults`).
    value: Callable[[str], Any]
    account_id: str
    region: str
    tags: dict[str, str] | None
    protect_data: bool
    log_retention_days: int
    role_path: str
    permissions_boundary_arn: str | None

    @property
    def function_arn(self) -> str:
        return function_arn(self.region, self.account_id, self.names.function)

    @property
    def log_group_arn(self) -> str:
        return log_group_arn(self.region, self.account_id, self.names.log_group)

    def options(self, *, depends_on: list[pulumi.Resource] | None = None) -> pulumi.ResourceOptions:
        """Options of a child resource of the component (:func:`components._resource_options.child_options`)."""
        return child_options(self.owner, depends_on=depends_on)


def function_setup(
    owner: pulumi.ComponentResource, name: str, args: Mapping[str, Any], defaults: Mapping[str, Any], names: Names
) -> FunctionSetup[Names]:
    """The setup of the component ``owner`` named ``name`` from its (validated) arguments and its ``*_DEFAULTS``."""
    value = with_defaults(args, defaults)
    return FunctionSetup(
        owner=owner,
        name=name,
        names=names,
        value=value,
        account_id=args["account_id"],
        region=args["region"],
        tags=tags_of(args),
        protect_data=bool(value("protect_data")),
        log_retention_days=validation.as_whole_number(value("log_retention_days")),
        role_path=value("path"),
        permissions_boundary_arn=args.get("permissions_boundary_arn"),
    )


def function_setup_warnings(
    args: Mapping[str, Any], defaults: Mapping[str, Any], *, function: str, key: str
) -> list[str]:
    """The warnings of the arguments :func:`function_setup` reads: logs kept less than the year an audit expects, and
    a key left unprotected. ``function`` and ``key`` name them in the sentences (``The alerts function``,
    ``the import alerts' key``)."""
    value = with_defaults(args, defaults)
    warnings: list[str] = []
    days = validation.whole_number(value("log_retention_days"))
    if days is not None and days < logs.AUDIT_LOG_RETENTION_DAYS:
        warnings.append(f"{function} keeps its logs {days} days only, less than the year an audit expects.")
    if not value("protect_data"):
        warnings.append(f"Data protection is OFF for {key}: `pulumi destroy` schedules its deletion.")
    return warnings


def function_key(setup: FunctionSetup[Names], *, description: str, policy: PolicyDocument) -> aws.kms.Key:
    """The component's customer managed key (``<name>-key``, aliased ``names.key_alias``), protected with
    ``protect_data``."""
    return customer_managed_key(
        f"{setup.name}-key",
        parent=setup.owner,
        description=description,
        policy=policy,
        alias=setup.names.key_alias,
        protect_data=setup.protect_data,
        tags=setup.tags,
    )


def encrypted_queue(
    setup: FunctionSetup[Names],
    label: str,
    *,
    name: str,
    key_arn: pulumi.Input[str],
    policy: PolicyDocument | Callable[[str], PolicyDocument],
    **queue_args: Any,
) -> aws.sqs.Queue:
    """A queue (``<name>-<label>``) encrypted with the component's key that keeps its messages as long as SQS allows,
    and its policy (``<name>-<label>-policy``): the document itself, or a function of the queue's ARN that builds it
    once the queue exists. ``queue_args`` are the queue's other settings (redrive, visibility)."""
    queue = aws.sqs.Queue(
        f"{setup.name}-{label}",
        name=name,
        kms_master_key_id=key_arn,
        kms_data_key_reuse_period_seconds=QUEUE_DATA_KEY_REUSE_SECONDS,
        message_retention_seconds=QUEUE_RETENTION_SECONDS,
        tags=setup.tags,
        opts=setup.options(),
        **queue_args,
    )
    aws.sqs.QueuePolicy(
        f"{setup.name}-{label}-policy",
        queue_url=queue.url,
        policy=queue.arn.apply(lambda arn: json.dumps(policy(arn))) if callable(policy) else json.dumps(policy),
        opts=setup.options(),
    )
    return queue


@dataclass(frozen=True)
class PythonFunction:
    """The parts created; ``permissions`` is the role's inline policy (what a caller orders after the role)."""

    log_group: aws.cloudwatch.LogGroup
    role: aws.iam.Role
    permissions: aws.iam.RolePolicy
    function: aws.lambda_.Function


def python_function(
    setup: FunctionSetup[Names],
    *,
    code: FunctionCode,
    permission_policy_name: str,
    permission_policy: pulumi.Input[str],
    key_arn: pulumi.Input[str],
    reserved_concurrency: int,
    environment: pulumi.Input[Mapping[str, pulumi.Input[str]]],
    dead_letter_arn: pulumi.Input[str] | None = None,
    publish: bool = False,
) -> PythonFunction:
    """Create the function's log group, role, inline policy and the function, as children of the component.
    ``publish``: publish a version with every change (for an alias with provisioned concurrency)."""
    names = setup.names
    log_group = aws.cloudwatch.LogGroup(
        f"{setup.name}-logs",
        name=names.log_group,
        retention_in_days=setup.log_retention_days,
        kms_key_id=key_arn,
        tags=setup.tags,
        opts=setup.options(),
    )
    role = aws.iam.Role(
        f"{setup.name}-function-role",
        name=names.role,
        path=setup.role_path,
        description=code.role_description,
        assume_role_policy=json.dumps(function_trust_policy(setup.account_id, setup.function_arn)),
        permissions_boundary=setup.permissions_boundary_arn or None,
        tags=setup.tags,
        opts=setup.options(),
    )
    permissions = aws.iam.RolePolicy(
        f"{setup.name}-function-permissions",
        name=permission_policy_name,
        role=role.id,
        policy=permission_policy,
        opts=setup.options(),
    )
    function = aws.lambda_.Function(
        f"{setup.name}-function",
        name=names.function,
        description=code.description,
        role=role.arn,
        runtime=RUNTIME,
        handler=code.handler,
        code=code.archive(),
        architectures=[ARCHITECTURE],
        memory_size=code.memory_mb,
        timeout=code.timeout_seconds,
        reserved_concurrent_executions=reserved_concurrency,
        kms_key_arn=key_arn,
        environment={"variables": environment},
        dead_letter_config={"target_arn": dead_letter_arn} if dead_letter_arn is not None else None,
        publish=True if publish else None,
        logging_config={
            "log_format": "JSON",
            "log_group": names.log_group,
            "application_log_level": "INFO",
            "system_log_level": "WARN",
        },
        tags=setup.tags,
        # The role's permissions and the log group exist before the function first runs.
        opts=setup.options(depends_on=[permissions, log_group]),
    )
    return PythonFunction(log_group=log_group, role=role, permissions=permissions, function=function)
