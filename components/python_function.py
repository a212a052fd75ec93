"""One Lambda function of this repository with what it needs to run safely: its own role, its log group, its key.

:class:`~components.import_alerts.ImportJobAlerts` and :class:`~components.auto_import.AutoImport` each run a function
written in this repository (:mod:`healthimaging_functions`). Both get the same parts, built here so that a hardening
reaches both at once:

- a log group with the component's retention, encrypted with the component's customer managed key;
- a role that only this function may assume (the component's trust policy), with the component's path and permissions
  boundary, and one inline least-privilege policy;
- the function: Python 3.12 on arm64, its environment encrypted with the same key, JSON logs into that log group
  (INFO from the code, WARN from the platform), reserved concurrency, and, for functions invoked asynchronously, a
  dead-letter queue. It is created after its role's policy and its log group, so its first run can log and work.

Logical names stay those of the components (``<name>-logs``, ``<name>-function-role``,
``<name>-function-permissions``, ``<name>-function``), so that the resources' URNs do not depend on this module.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws

from ._resource_options import child_options
from .lambda_package import function_archive

#: Runtime and architecture of every function of this repository (the runtime provides boto3; see lambda_package).
RUNTIME = "python3.12"
ARCHITECTURE = "arm64"


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


@dataclass(frozen=True)
class FunctionNames:
    """The physical names of the function's parts."""

    function: str
    role: str
    log_group: str


@dataclass(frozen=True)
class PythonFunction:
    """The parts created; ``permissions`` is the role's inline policy (what a caller orders after the role)."""

    log_group: aws.cloudwatch.LogGroup
    role: aws.iam.Role
    permissions: aws.iam.RolePolicy
    function: aws.lambda_.Function


def python_function(
    owner: pulumi.ComponentResource,
    name: str,
    *,
    code: FunctionCode,
    names: FunctionNames,
    trust_policy: Mapping[str, Any],
    permission_policy_name: str,
    permission_policy: pulumi.Input[str],
    key_arn: pulumi.Input[str],
    log_retention_days: int,
    reserved_concurrency: int,
    environment: pulumi.Input[Mapping[str, pulumi.Input[str]]],
    role_path: str,
    permissions_boundary_arn: str | None,
    tags: Mapping[str, str] | None,
    dead_letter_arn: pulumi.Input[str] | None = None,
) -> PythonFunction:
    """Create the function's log group, role, inline policy and the function, as children of ``owner``."""
    log_group = aws.cloudwatch.LogGroup(
        f"{name}-logs",
        name=names.log_group,
        retention_in_days=log_retention_days,
        kms_key_id=key_arn,
        tags=tags,
        opts=child_options(owner),
    )
    role = aws.iam.Role(
        f"{name}-function-role",
        name=names.role,
        path=role_path,
        description=code.role_description,
        assume_role_policy=json.dumps(trust_policy),
        permissions_boundary=permissions_boundary_arn or None,
        tags=tags,
        opts=child_options(owner),
    )
    permissions = aws.iam.RolePolicy(
        f"{name}-function-permissions",
        name=permission_policy_name,
        role=role.id,
        policy=permission_policy,
        opts=child_options(owner),
    )
    function = aws.lambda_.Function(
        f"{name}-function",
        name=names.function,
        description=code.description,
        role=role.arn,
        runtime=RUNTIME,
        handler=code.handler,
        code=function_archive(code.package),
        architectures=[ARCHITECTURE],
        memory_size=code.memory_mb,
        timeout=code.timeout_seconds,
        reserved_concurrent_executions=reserved_concurrency,
        kms_key_arn=key_arn,
        environment={"variables": environment},
        dead_letter_config={"target_arn": dead_letter_arn} if dead_letter_arn is not None else None,
        logging_config={
            "log_format": "JSON",
            "log_group": names.log_group,
            "application_log_level": "INFO",
            "system_log_level": "WARN",
        },
        tags=tags,
        # The role's permissions and the log group exist before the function first runs.
        opts=child_options(owner, depends_on=[permissions, log_group]),
    )
    return PythonFunction(log_group=log_group, role=role, permissions=permissions, function=function)
