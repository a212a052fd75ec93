"""The data store created by a function of the stack, for the creation-time options CloudFormation cannot set.

``aws-native:healthimaging:Datastore`` (CloudFormation's ``AWS::HealthImaging::Datastore``) takes a name, a key and
tags only. With ``JPEG_2000_LOSSLESS`` or an authorizer, :class:`~components.datastore.ImagingDatastore` creates the
data store here instead:

- the data store creator (``healthimaging_functions/datastore_creator``), a function of this stack with its own role
  (:func:`components.datastore_creator_policies.creator_permission_policy`), log group and key, like the other
  functions (:mod:`components.python_function`); its archive carries botocore's ``medical-imaging`` model, which
  ``AWS_DATA_PATH`` points at, because the Lambda runtime's botocore may predate the two options;
- an ``aws.lambda_.Invocation`` with the CRUD lifecycle that runs it: a create calls CreateDatastore and waits for
  ACTIVE (a failure fails ``pulumi up`` with HealthImaging's message); a delete leaves the data store in the account.
  It is a plain pulumi-aws resource, so the component works unchanged when the provider plugin constructs it for
  TypeScript, YAML, Go or .NET programs;
- a read of the created data store (``aws_native.healthimaging.Datastore.get``), from which the outputs come, so that
  a deleted or different data store shows on every preview and refresh;
- with ``dicomweb_oidc``, the :class:`~components.dicomweb_authorizer.DicomwebAuthorizer`: its function's ARN goes
  into CreateDatastore, and its persona roles and resource policy get the data store's ARN through a deferred output
  resolved with the read's ARN (function -> data store -> roles: no cycle).

Changing an option replaces the invocation, which creates a new, empty data store, only under ``allow_replacement``;
otherwise the change is ignored with a warning, as for the aws-native resource's create-only properties.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pulumi
import pulumi_aws as aws
import pulumi_aws_native as aws_native

from . import datastore_creator_policies as creator_policies
from . import validation
from ._documents import json_when_known
from ._resource_options import child_options
from .datastore_options import (
    CREATE_ONLY_LABELS,
    DICOMWEB_OIDC_DEFAULTS,
    FORMAT_HTJ2K,
    create_only_drift_warning,
)
from .deferred import deferred
from .dicomweb_authorizer import DicomwebAuthorizer, DicomwebAuthorizerArgs
from .function_constants import literal_constants
from .lambda_package import FUNCTIONS_DIR
from .python_function import FunctionCode, FunctionNames, FunctionSetup, function_key, function_setup, python_function

#: The function's names shared with its code: the lifecycle key, the input members, the model's directory.
creator_request = literal_constants("healthimaging_functions.datastore_creator.request")

FUNCTION_PACKAGE = FUNCTIONS_DIR / "datastore_creator"
#: Where the Lambda runtime unpacks the archive (``LAMBDA_TASK_ROOT``).
LAMBDA_TASK_ROOT = "/var/task"
#: The medical-imaging API version whose model the archive carries.
MODEL_API_VERSION = "2023-07-19"
#: Reserved concurrency: a create and the delete of a replaced invocation never need more.
RESERVED_CONCURRENCY = 2


@dataclass(frozen=True)
class CreatorNames(FunctionNames):
    """The AWS names of the creator's resources, from the name prefix."""

    @property
    def function(self) -> str:
        return f"{self.prefix}-datastore-creator"

    @property
    def role(self) -> str:
        return f"{self.prefix}-DatastoreCreatorFunction"

    @property
    def key_alias(self) -> str:
        return f"{self.prefix}-datastore-creator"


def installed_model_path() -> Path:
    """The installed botocore's ``medical-imaging`` service model (gzip-compressed in botocore's wheel)."""
    # Located without importing botocore: the program never calls AWS itself.
    spec = importlib.util.find_spec("botocore")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("botocore is not installed beside the components: reinstall healthimaging-setup")
    directory = Path(next(iter(spec.submodule_search_locations))) / "data" / "medical-imaging" / MODEL_API_VERSION
    for name in ("service-2.json", "service-2.json.gz"):
        if (directory / name).is_file():
            return directory / name
    raise FileNotFoundError(f"botocore has no medical-imaging model in {directory}: reinstall botocore")


def model_files() -> tuple[tuple[str, str], ...]:
    """The model as the archive carries it, uncompressed (older botocore reads only ``.json``):
    ``botocore_data/medical-imaging/<version>/service-2.json``."""
    path = installed_model_path()
    text = gzip.decompress(path.read_bytes()).decode() if path.suffix == ".gz" else path.read_text()
    name = f"{creator_request.MODEL_DIRECTORY}/medical-imaging/{MODEL_API_VERSION}/service-2.json"
    return ((name, text),)


def creator_code() -> FunctionCode:
    return FunctionCode(
        package=FUNCTION_PACKAGE,
        handler="datastore_creator.handler.handle",
        description="Creates the HealthImaging data store with its creation-time options; never deletes it",
        role_description="Assumed by the HealthImaging data store creator function only",
        memory_mb=256,
        # Lambda's longest: creation is asynchronous and the function waits for ACTIVE.
        timeout_seconds=900,
        data_files=model_files(),
    )


def creator_environment() -> dict[str, str]:
    """The function's environment: where botocore finds the bundled model (the function polls at its default pace)."""
    return {creator_request.DATA_PATH_VARIABLE: f"{LAMBDA_TASK_ROOT}/{creator_request.MODEL_DIRECTORY}"}


def invocation_input(
    *,
    identity: str,
    datastore_name: str,
    kms_key_arn: str | None,
    tags: Mapping[str, str] | None,
    lossless_storage_format: str,
    lambda_authorizer_arn: str | None,
) -> dict[str, Any]:
    """The invocation's input: CreateDatastore's members that are set, in one canonical form (the default format is
    left out, so that writing it or not is the same data store) and the resource's identity (the client token)."""
    document: dict[str, Any] = {creator_request.IDENTITY_MEMBER: identity, "datastoreName": datastore_name}
    if kms_key_arn:
        document["kmsKeyArn"] = kms_key_arn
    if tags:
        document["tags"] = dict(tags)
    if lossless_storage_format != FORMAT_HTJ2K:
        document["losslessStorageFormat"] = lossless_storage_format
    if lambda_authorizer_arn:
        document["lambdaAuthorizerArn"] = lambda_authorizer_arn
    return document


def created_drift_warnings(desired: Mapping[str, Any], deployed: Mapping[str, Any]) -> list[str]:
    """Warnings for the creation-time members whose desired value differs from the deployed invocation's."""
    defaults = {"losslessStorageFormat": FORMAT_HTJ2K}
    warnings = []
    for member in CREATE_ONLY_LABELS:
        want = desired.get(member, defaults.get(member))
        have = deployed.get(member, defaults.get(member))
        if want != have:
            warnings.append(create_only_drift_warning(member, have, want))
    return warnings


@dataclass(frozen=True)
class CreatedDatastore:
    """What the created path gives the component's outputs."""

    datastore_id: pulumi.Output[str]
    datastore_arn: pulumi.Output[str]
    datastore_status: pulumi.Output[str]
    authorizer_function_arn: pulumi.Output[Any]
    persona_role_arns: pulumi.Output[Any]


def create_datastore(
    owner: pulumi.ComponentResource,
    name: str,
    args: Mapping[str, Any],
    defaults: Mapping[str, Any],
    *,
    key_arn: pulumi.Input[str] | None,
    protect_data: bool,
    allow_replacement: bool,
) -> CreatedDatastore:
    """Create the creator function, the authorizer (with ``dicomweb_oidc``), the invocation and the read (see the
    module docstring), as children of ``owner``."""
    setup = function_setup(owner, f"{name}-creator", args, defaults, CreatorNames(args["name_prefix"]))
    authorizer_arn: pulumi.Input[str] | None = args.get("lambda_authorizer_arn") or None
    authorizer = None
    # The authorizer's function needs the data store's ARN, known once the data store is read back below.
    with deferred(str, f"the ARN of the data store {name!r}") as datastore_arn:
        if args.get("dicomweb_oidc"):
            authorizer = _authorizer(owner, name, args, defaults, datastore_arn.output)
            authorizer_arn = authorizer.function_arn

        invocation = _invocation(
            owner,
            name,
            args,
            function=_creator_function(setup, key_arn),
            key_arn=key_arn,
            authorizer_arn=authorizer_arn,
            protect_data=protect_data,
            allow_replacement=allow_replacement,
        )
        created_id = invocation.result.apply(lambda result: str(json.loads(result)["datastoreId"]))
        read = aws_native.healthimaging.Datastore.get(
            f"{name}-read", id=created_id, opts=pulumi.ResourceOptions(parent=owner, depends_on=[invocation])
        )
        datastore_arn.resolve(read.datastore_arn)
    return CreatedDatastore(
        datastore_id=read.datastore_id,
        datastore_arn=read.datastore_arn,
        # The read's status is the SDK's enum (a str subclass): its value is the status HealthImaging gives.
        datastore_status=read.datastore_status.apply(lambda status: str(getattr(status, "value", status) or "")),
        authorizer_function_arn=pulumi.Output.from_input(authorizer_arn),
        persona_role_arns=authorizer.persona_role_arns if authorizer is not None else pulumi.Output.from_input({}),
    )


def _creator_function(setup: FunctionSetup[CreatorNames], datastore_key_arn: pulumi.Input[str] | None) -> Any:
    key = function_key(
        setup,
        description=f"Encrypts the HealthImaging data store creator of {setup.names.prefix} (logs, environment)",
        policy=creator_policies.creator_key_policy(setup.account_id, setup.region, setup.log_group_arn),
    )
    permission_policy = json_when_known(
        creator_policies.creator_permission_policy,
        account_id=setup.account_id,
        region=setup.region,
        log_group_arn=setup.log_group_arn,
        creator_key_arn=key.arn,
        datastore_key_arn=datastore_key_arn,
    )
    return python_function(
        setup,
        code=creator_code(),
        permission_policy_name=creator_policies.PERMISSION_POLICY_NAME,
        permission_policy=permission_policy,
        key_arn=key.arn,
        reserved_concurrency=RESERVED_CONCURRENCY,
        environment=creator_environment(),
    ).function


def _invocation(
    owner: pulumi.ComponentResource,
    name: str,
    args: Mapping[str, Any],
    *,
    function: aws.lambda_.Function,
    key_arn: pulumi.Input[str] | None,
    authorizer_arn: pulumi.Input[str] | None,
    protect_data: bool,
    allow_replacement: bool,
) -> aws.lambda_.Invocation:
    """The invocation of the creator function that creates the data store (CRUD lifecycle: see the module docstring);
    without ``allow_replacement`` a changed input is kept from replacing it and reported as drift."""
    identity = f"{pulumi.get_project()}/{pulumi.get_stack()}/{name}"
    desired = json_when_known(
        invocation_input,
        identity=identity,
        datastore_name=args["datastore_name"],
        kms_key_arn=key_arn,
        tags=dict(args["tags"]) if args.get("tags") else None,
        lossless_storage_format=args.get("lossless_storage_format", FORMAT_HTJ2K),
        lambda_authorizer_arn=authorizer_arn,
    )
    options = child_options(
        owner,
        # Replacement needs an unprotected invocation; retain_on_delete then skips the delete call altogether.
        protect_data=protect_data and not allow_replacement,
        retain_on_delete=protect_data,
        ignore_changes=None if allow_replacement else ["input"],
    )
    if allow_replacement:
        options = pulumi.ResourceOptions.merge(options, pulumi.ResourceOptions(replace_on_changes=["input"]))
    invocation = aws.lambda_.Invocation(
        f"{name}-creation",
        function_name=function.name,
        input=desired,
        lifecycle_scope="CRUD",
        terraform_key=creator_request.LIFECYCLE_KEY,
        opts=options,
    )
    if not allow_replacement:

        def report_drift(values: list[Any]) -> None:
            for message in created_drift_warnings(json.loads(values[0]), json.loads(values[1])):
                pulumi.log.warn(message, resource=owner)

        pulumi.Output.all(desired, invocation.input).apply(report_drift)

    return invocation


def _authorizer(
    owner: pulumi.ComponentResource,
    name: str,
    args: Mapping[str, Any],
    defaults: Mapping[str, Any],
    datastore_arn: pulumi.Output[str],
) -> DicomwebAuthorizer:
    """The DicomwebAuthorizer built from ``dicomweb_oidc``, given the data store's ARN (an output resolved later)."""

    oidc = args["dicomweb_oidc"]
    authorizer_args: dict[str, Any] = {
        "account_id": args["account_id"],
        "region": args["region"],
        "name_prefix": args["name_prefix"],
        "issuer": oidc["issuer"],
        # An output (the viewer's client ID) passes as it is.
        "audiences": oidc["audiences"] if isinstance(oidc["audiences"], pulumi.Output) else list(oidc["audiences"]),
        "personas": {persona: list(groups) for persona, groups in oidc["personas"].items()},
        "datastore_arn": datastore_arn,
        # Another language's whole numbers arrive as floats (30.0): the authorizer gets an int.
        "provisioned_concurrency": validation.as_whole_number(
            oidc.get("provisioned_concurrency", DICOMWEB_OIDC_DEFAULTS["provisioned_concurrency"])
        ),
        "path": args.get("path", defaults["path"]),
        "protect_data": args.get("protect_data", defaults["protect_data"]),
        "log_retention_days": validation.as_whole_number(
            args.get("log_retention_days", defaults["log_retention_days"])
        ),
    }
    for field in ("jwks_uri", "groups_claim"):
        if oidc.get(field):
            authorizer_args[field] = oidc[field]
    if args.get("permissions_boundary_arn"):
        authorizer_args["permissions_boundary_arn"] = args["permissions_boundary_arn"]
    if args.get("tags"):
        authorizer_args["tags"] = dict(args["tags"])
    authorizer = DicomwebAuthorizer(
        f"{name}-authorizer", cast(DicomwebAuthorizerArgs, authorizer_args), opts=pulumi.ResourceOptions(parent=owner)
    )
    return authorizer
