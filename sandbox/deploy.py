"""Deployment from the plan: the stack's program runs as ``ahictl plan`` runs it (the real ``__main__.py`` under
Pulumi's mocks, the stack's configuration from ``Pulumi.<stack>.yaml``), but each registration CREATES its resource
in the sandbox (moto, the HealthImaging emulator) and answers with the real ID and outputs, so later resources get
real references and the stack's outputs name real things. Not a second description of the stack.

What the sandbox creates is :data:`sandbox.deploy_resources.CREATORS`; the functions it runs in-process
(:mod:`sandbox.functions`: the DICOMweb authorizer, given to the data store that names it) are answered as the plan
answers them and reported as run in-process; any other resource type (CloudTrail, EventBridge, other Lambda
functions, SNS, ...) is answered as the offline plan answers it and reported as skipped, never dropped without a
word. Provider resources configure nothing in the sandbox and are neither.

The stack runs in the sandbox's account and region: its ``accountId`` and ``region`` settings (and the ``aws:`` /
``aws-native:`` keys that must agree with them) are overridden, and every override is reported. ``overrides``
change project settings for this deployment only, as ``ahictl plan --set KEY=VALUE`` does
(:func:`ahictl.plan.with_overrides`).
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from ahictl import mockrun
from ahictl.plan import program_path, with_overrides
from ahictl.stack_files import StackConfig, stack_config

from . import DUMMY_ACCESS_KEY_ID, DUMMY_SECRET_ACCESS_KEY
from .deploy_resources import CREATORS, READERS, Target
from .functions import FunctionSetupError, InProcessFunction, connect_authorizers, in_process_description
from .healthimaging import HealthImagingEmulator
from .sessions import new_session

#: Provider keys that must agree with the stack's account or region: key -> the setting it follows.
_FOLLOWING_KEYS = {
    "aws:region": "region",
    "aws-native:region": "region",
    "aws:allowedAccountIds": "accountIds",
    "aws-native:allowedAccountIds": "accountIds",
}
#: Provider keys that reach a real account (a profile, a role to assume): the sandbox takes its dummy credentials.
_DROPPED_KEYS = ("aws:profile", "aws-native:profile", "aws:assumeRole", "aws:assumeRoles", "aws-native:assumeRole")


class DeployError(Exception):
    """The deployment failed: which resource, and what the sandbox answered."""


@dataclass(frozen=True)
class SkippedResource:
    type: str
    name: str


@dataclass(frozen=True)
class CreatedResource:
    """One resource the deployment created: its type, logical name, the inputs it was created with, its ID and
    the outputs the sandbox answered with."""

    type: str
    name: str
    inputs: dict[str, Any]
    id: str
    outputs: dict[str, Any]


@dataclass
class Deployment:
    """What a deployment created, runs in-process and skipped, the stack's outputs, and the configuration overrides
    it made."""

    stack: str
    outputs: dict[str, Any]
    #: In the order of creation: each after everything it depends on.
    created: list[CreatedResource] = field(default_factory=list)
    skipped: list[SkippedResource] = field(default_factory=list)
    #: The functions the sandbox runs in-process (:mod:`sandbox.functions`), connected to what invokes them.
    in_process: list[InProcessFunction] = field(default_factory=list)
    overrides: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def outputs_json(self) -> str:
        """The outputs as ``pulumi stack output --json`` prints them: sorted by name, indented by two spaces."""
        return json.dumps(self.outputs, indent=2, sort_keys=True) + "\n"


def sandbox_config(config: StackConfig, account_id: str, region: str) -> tuple[dict[str, str], list[str]]:
    """The stack's configuration with the sandbox's account and region, and a line for each value changed."""
    values = dict(config.values)
    notes: list[str] = []

    def change(key: str, new: str, why: str) -> None:
        old = values.get(key)
        if old != new:
            values[key] = new
            notes.append(f"{key}: {old} -> {new} ({why})")

    change(f"{config.project}:accountId", account_id, "the sandbox's account")
    change(f"{config.project}:region", region, "the sandbox's region")
    for key, follows in _FOLLOWING_KEYS.items():
        if key in values:
            new = region if follows == "region" else json.dumps([account_id])
            change(key, new, f"must agree with {config.project}:{'region' if follows == 'region' else 'accountId'}")
    for key in _DROPPED_KEYS:
        if key in values:
            notes.append(f"{key}: left out (the sandbox takes its own dummy credentials)")
            del values[key]
    return values, notes


def plan_config(
    project_dir: Path, stack: str, account_id: str, region: str, overrides: Mapping[str, str] | None = None
) -> tuple[StackConfig, dict[str, str], list[str]]:
    """Read ``Pulumi.<stack>.yaml`` (a :class:`ahictl.stack_files.PlanError` for an unknown stack) with
    ``overrides`` (project settings, as ``ahictl plan --set`` gives them), and the sandbox's configuration of it."""
    config = with_overrides(stack_config(project_dir, stack), overrides)
    values, notes = sandbox_config(config, account_id, region)
    return config, values, notes


def check_plan(
    project_dir: Path, stack: str, account_id: str, region: str, overrides: Mapping[str, str] | None = None
) -> None:
    """Run the stack's program under the offline plan's mocks, creating nothing: an invalid configuration raises
    here (``InvalidInputError``, ``PlanError``) before the sandbox starts anything."""
    config, values, _ = plan_config(project_dir, stack, account_id, region, overrides)
    run_program(project_dir, stack, config, values, account_id=account_id, region=region)


def run_program(
    project_dir: Path,
    stack: str,
    config: StackConfig,
    values: Mapping[str, str],
    *,
    account_id: str,
    region: str,
    mocks: mockrun.PlanMocks | None = None,
) -> mockrun.ProgramRun:
    """The stack's program run with the sandbox's configuration of it (:func:`plan_config`) under ``mocks`` (the
    offline plan's when None)."""
    return mockrun.run(
        program_path(project_dir),
        config=values,
        project=config.project,
        stack=stack,
        account_id=account_id,
        region=region,
        mocks=mocks,
    )


class SandboxMocks(mockrun.PlanMocks):
    """Pulumi mocks whose ``new_resource`` creates the resource in the sandbox (:data:`CREATORS`) and answers with
    the real ID and outputs; a function the sandbox runs in-process is answered as the plan answers it and recorded
    in :attr:`in_process`; other types are answered as the offline plan answers them and recorded as skipped.
    The first failure is kept (:attr:`failure`): later registrations are answered as the plan would, creating
    nothing more."""

    def __init__(self, target: Target) -> None:
        super().__init__(target.account_id, target.region)
        self.target = target
        self.created: list[CreatedResource] = []
        self.skipped: list[SkippedResource] = []
        self.in_process: list[InProcessFunction] = []
        self.failure: DeployError | None = None
        self._lock = threading.Lock()

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        planned_id, state = super().new_resource(args)
        creator = CREATORS.get(args.typ)
        if args.custom is False or args.typ.startswith("pulumi:providers:"):
            return planned_id, state  # components and providers create nothing in AWS
        if args.resource_id and args.typ in READERS:
            # A read (``Resource.get``) of something created earlier in this deployment: never recorded, since a
            # replay renames what it read through the creation that made it.
            try:
                return args.resource_id, {**state, **READERS[args.typ](self.target, args.resource_id)}
            except KeyError as error:
                failure = DeployError(f"reading {args.typ} {args.name!r} failed: {_describe(error)}")
                with self._lock:
                    self.failure = self.failure or failure
                self.target.stopped.set()
                raise failure from error
        if creator is None:
            description = in_process_description(args.typ, args.inputs)
            with self._lock:
                if description is None:
                    self.skipped.append(SkippedResource(args.typ, args.name))
                else:
                    self.in_process.append(InProcessFunction(args.typ, args.name, dict(args.inputs), description))
            return planned_id, state
        with self._lock:
            if self.failure is not None:
                return planned_id, state
        inputs = dict(args.inputs)
        try:
            resource_id, outputs = creator(self.target, args.name, dict(inputs))
        except (ClientError, BotoCoreError, ValueError, KeyError) as error:
            failure = DeployError(f"creating {args.typ} {args.name!r} failed: {_describe(error)}")
            with self._lock:
                self.failure = self.failure or failure
            self.target.stopped.set()
            raise failure from error
        with self._lock:
            self.created.append(CreatedResource(args.typ, args.name, inputs, resource_id, outputs))
        return resource_id, {**state, **outputs, "id": resource_id}


def _describe(error: Exception) -> str:
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        return f"{details.get('Code', 'error')}: {details.get('Message', '')}"
    return f"{type(error).__name__}: {error}"


def sandbox_clients(endpoints: Mapping[str, str], region: str) -> dict[str, Any]:
    """boto3 clients for S3, KMS and IAM at the sandbox's endpoints, with its dummy credentials."""
    session = new_session(
        aws_access_key_id=DUMMY_ACCESS_KEY_ID, aws_secret_access_key=DUMMY_SECRET_ACCESS_KEY, region_name=region
    )
    config = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5, read_timeout=30)
    return {
        service: session.client(service, endpoint_url=endpoints[service.upper()], config=config)
        for service in ("s3", "kms", "iam")
    }


def deploy_stack(
    project_dir: Path,
    stack: str,
    endpoints: Mapping[str, str],
    healthimaging: HealthImagingEmulator,
    *,
    account_id: str,
    region: str,
    overrides: Mapping[str, str] | None = None,
    authorizer_jwks_uri: str | None = None,
) -> Deployment:
    """Run the stack's program with :class:`SandboxMocks` against ``endpoints`` ({"S3": url, "KMS": ..., "IAM":
    ...}) and ``healthimaging``; raises :class:`DeployError` when a resource cannot be created.

    ``overrides``: project settings changed for this deployment (``{"dicomwebOidc": "{...}"}``, values in the
    engine's string form, as ``ahictl plan --set`` passes them). ``authorizer_jwks_uri``: for tests, where the
    in-process DICOMweb authorizer fetches the issuer's keys instead of its ``OIDC_JWKS_URI`` (a key set served on
    loopback over plain http, which the stack's settings refuse); not a stack setting."""
    config, values, notes = plan_config(project_dir, stack, account_id, region, overrides)
    target = Target(sandbox_clients(endpoints, region), healthimaging, account_id, region)
    mocks = SandboxMocks(target)
    try:
        run = run_program(project_dir, stack, config, values, account_id=account_id, region=region, mocks=mocks)
    except Exception as error:
        # The run raises whichever failed registration it awaited first: report the first failure instead.
        if mocks.failure is not None and mocks.failure is not error:
            raise mocks.failure from error
        raise
    if mocks.failure is not None:
        raise mocks.failure
    outputs = {name: _plain(value) for name, value in run.outputs.items()}
    if "dicomwebUrl" in outputs and outputs.get("datastoreId"):
        outputs["dicomwebUrl"] = dicomweb_url(healthimaging, str(outputs["datastoreId"]))
    deployment = Deployment(
        stack=stack,
        outputs=outputs,
        created=mocks.created,
        skipped=mocks.skipped,
        overrides=notes,
        warnings=run.warnings,
    )
    return _run_in_process(deployment, mocks.in_process, healthimaging, account_id, region, authorizer_jwks_uri)


def _run_in_process(
    deployment: Deployment,
    functions: list[InProcessFunction],
    healthimaging: HealthImagingEmulator,
    account_id: str,
    region: str,
    jwks_uri: str | None,
) -> Deployment:
    """The deployment with its in-process functions connected to what invokes them; one that nothing invokes is
    listed as skipped."""
    try:
        connected, idle = connect_authorizers(
            functions, healthimaging, account_id=account_id, region=region, jwks_uri=jwks_uri
        )
    except FunctionSetupError as error:
        raise DeployError(str(error)) from error
    skipped = [*deployment.skipped, *(SkippedResource(f.type, f.name) for f in idle)]
    return dataclasses.replace(deployment, in_process=connected, skipped=skipped)


def replay_deployment(
    recorded: Deployment,
    endpoints: Mapping[str, str],
    healthimaging: HealthImagingEmulator,
    *,
    account_id: str,
    region: str,
    authorizer_jwks_uri: str | None = None,
) -> Deployment:
    """Create again what ``recorded`` (a :func:`deploy_stack` of the same account and region) created, without
    running the program again: each resource with its recorded inputs, in the recorded order, where every ID or ARN
    that came out different this time (a KMS key ID, a data store ID) replaces the recorded one in later inputs
    and in the outputs; the in-process functions are connected again (``authorizer_jwks_uri`` as for
    :func:`deploy_stack`). For the test fixtures, which deploy the same stack into a freshly reset sandbox per
    test."""
    target = Target(sandbox_clients(endpoints, region), healthimaging, account_id, region)
    renamed: dict[str, str] = {}
    created: list[CreatedResource] = []
    for resource in _replay_order(recorded.created):
        inputs = _renamed(resource.inputs, renamed)
        try:
            resource_id, outputs = CREATORS[resource.type](target, resource.name, dict(inputs))
        except (ClientError, BotoCoreError, ValueError, KeyError) as error:
            raise DeployError(f"creating {resource.type} {resource.name!r} failed: {_describe(error)}") from error
        for key, old in [("id", resource.id), *resource.outputs.items()]:
            new = resource_id if key == "id" else outputs.get(key)
            if isinstance(old, str) and isinstance(new, str) and old != new:
                renamed[old] = new
        created.append(CreatedResource(resource.type, resource.name, inputs, resource_id, outputs))
    outputs = _renamed(recorded.outputs, renamed)
    if "dicomwebUrl" in outputs and outputs.get("datastoreId"):
        outputs["dicomwebUrl"] = dicomweb_url(healthimaging, str(outputs["datastoreId"]))
    functions = [
        dataclasses.replace(function, inputs=_renamed(function.inputs, renamed)) for function in recorded.in_process
    ]
    replayed = dataclasses.replace(recorded, outputs=outputs, created=created, in_process=[])
    return _run_in_process(replayed, functions, healthimaging, account_id, region, authorizer_jwks_uri)


#: Types a replay creates after every other: the deployment creates resources concurrently, and a bucket logging waits
#: for its target bucket's policy, which may have been recorded after it. Nothing references them.
_REPLAYED_LAST = ("aws:s3/bucketLogging:BucketLogging",)


def _replay_order(created: list[CreatedResource]) -> list[CreatedResource]:
    """The recorded creations in the order a replay makes them: as recorded, :data:`_REPLAYED_LAST` types last."""
    return sorted(created, key=lambda resource: resource.type in _REPLAYED_LAST)


def _renamed(value: Any, renamed: Mapping[str, str]) -> Any:
    """``value`` with every recorded ID or ARN replaced by this deployment's (longest first, inside strings)."""
    if isinstance(value, str):
        for old in sorted(renamed, key=len, reverse=True):
            if old in value:
                value = value.replace(old, renamed[old])
        return value
    if isinstance(value, dict):
        return {key: _renamed(item, renamed) for key, item in value.items()}
    if isinstance(value, list):
        return [_renamed(item, renamed) for item in value]
    return value


def dicomweb_url(healthimaging: HealthImagingEmulator, datastore_id: str) -> str:
    """The data store's DICOMweb base URL in the sandbox (the emulator's own, when it serves DICOMweb)."""
    own = getattr(healthimaging, "dicomweb_url", None)
    if callable(own):
        return str(own(datastore_id))
    return f"{healthimaging.endpoint_url}/datastore/{datastore_id}"


def _plain(value: Any) -> Any:
    """An output value as JSON holds it (whole-number floats back to ints)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value
