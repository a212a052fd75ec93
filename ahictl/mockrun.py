"""Run the real Pulumi program (or any function that declares resources) under Pulumi's mocks.

No Pulumi CLI, provider plugin, AWS account or network is involved: the SDK sends every resource
registration to an in-process monitor that records it (type, name, parent, resource options and
inputs) and answers with deterministic outputs, the way AWS would shape them. The offline plan and
the tests both read that record, so what they show is what the program really declares.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import runpy
import sys
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pulumi.runtime
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.config import CONFIG
from pulumi.runtime.mocks import MockMonitor
from pulumi.runtime.stack import wait_for_rpcs
from pulumi.runtime.sync_await import _ensure_event_loop, _sync_await

#: Account and region the mocks use when the configuration does not give them.
DEFAULT_ACCOUNT_ID = "111122223333"
DEFAULT_REGION = "us-east-1"


@dataclass
class PlannedResource:
    """One resource the program registered, with its options and inputs (camelCase keys)."""

    urn: str
    type: str
    name: str
    parent_urn: str
    custom: bool
    protect: bool
    retain_on_delete: bool
    provider: str
    ignore_changes: list[str]
    depends_on: list[str]
    property_dependencies: dict[str, list[str]]
    inputs: dict[str, Any]
    outputs: dict[str, Any] = field(default_factory=dict)
    id: str = ""
    replace_on_changes: list[str] = field(default_factory=list)

    @property
    def parent_name(self) -> str:
        """The name part of the parent's URN ('' for the stack itself)."""
        return self.parent_urn.rsplit("::", 1)[-1] if self.parent_urn else ""

    @property
    def provider_name(self) -> str:
        """Name of the explicit provider resource the resource uses ('' when it uses a default provider)."""
        if not self.provider:
            return ""
        urn = (
            self.provider.split("::" + self.provider.rsplit("::", 1)[-1])[0] if "::" in self.provider else self.provider
        )
        return urn.rsplit("::", 1)[-1]


@dataclass
class ProgramRun:
    """Everything one run of a program under mocks declared."""

    project: str
    stack: str
    resources: list[PlannedResource]
    outputs: dict[str, Any]
    warnings: list[str]
    #: Existing resources the program read (``<Resource>.get``): type, name, ``id`` and the state the mocks answered.
    reads: list[PlannedResource] = field(default_factory=list)

    def by_type(self, type_: str) -> list[PlannedResource]:
        """Resources of one type token, in registration order."""
        return [r for r in self.resources if r.type == type_]

    def one(self, type_: str, name: str | None = None) -> PlannedResource:
        """The single resource of that type (and name, if given); fails loudly otherwise."""
        found = [r for r in self.by_type(type_) if name is None or r.name == name]
        if len(found) != 1:
            names = [r.name for r in self.by_type(type_)]
            raise LookupError(f"expected one {type_} named {name!r}, found {len(found)} among {names}")
        return found[0]

    def named(self, name: str) -> PlannedResource:
        """The resource with this logical name."""
        found = [r for r in self.resources if r.name == name]
        if len(found) != 1:
            raise LookupError(f"expected one resource named {name!r}, found {len(found)}")
        return found[0]

    def children_of(self, parent: PlannedResource) -> list[PlannedResource]:
        """Direct children of a resource."""
        return [r for r in self.resources if r.parent_urn == parent.urn]


#: IAM resources named by ``name`` and ``path``: type token -> (ARN resource kind, whether AWS's ID is the ARN).
_IAM_NAMED_TYPES: dict[str, tuple[str, bool]] = {
    "aws:iam/role:Role": ("role", False),
    "aws:iam/policy:Policy": ("policy", True),
    "aws:iam/group:Group": ("group", False),
    "aws:iam/user:User": ("user", False),
}


#: Resources whose ARN is built from their name: type token -> (ARN service, ARN resource part before the name).
_NAMED_ARN_TYPES: dict[str, tuple[str, str]] = {
    "aws:sns/topic:Topic": ("sns", ""),
    "aws:sqs/queue:Queue": ("sqs", ""),
    "aws:dynamodb/table:Table": ("dynamodb", "table/"),
    "aws:lambda/function:Function": ("lambda", "function:"),
    "aws:cloudwatch/logGroup:LogGroup": ("logs", "log-group:"),
    "aws:cloudwatch/eventRule:EventRule": ("events", "rule/"),
    "aws:cloudwatch/metricAlarm:MetricAlarm": ("cloudwatch", "alarm:"),
    "aws:cloudtrail/trail:Trail": ("cloudtrail", "trail/"),
}


def _short_hash(text: str, length: int = 8) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


_LOG_DELIVERY_TYPES = {
    "aws:cloudwatch/logDeliverySource:LogDeliverySource": "delivery-source",
    "aws:cloudwatch/logDeliveryDestination:LogDeliveryDestination": "delivery-destination",
}
#: CloudFront resources whose mock ARN is built from their kind and name.
_CLOUDFRONT_POLICY_TYPES = {
    "aws:cloudfront/function:Function": "function",
    "aws:cloudfront/originAccessControl:OriginAccessControl": "origin-access-control",
    "aws:cloudfront/cachePolicy:CachePolicy": "cache-policy",
    "aws:cloudfront/responseHeadersPolicy:ResponseHeadersPolicy": "response-headers-policy",
}


class PlanMocks(pulumi.runtime.Mocks):
    """Deterministic stand-ins for what AWS would return: same inputs, same outputs, every run."""

    def __init__(self, account_id: str, region: str) -> None:
        self.account_id = account_id
        self.region = region

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        inputs = dict(args.inputs)
        name, account, region = args.name, self.account_id, self.region
        state: dict[str, Any] = dict(inputs)
        rid = f"{name}-id"
        if args.typ == "aws:s3/bucket:Bucket":
            bucket = inputs.get("bucket") or f"{inputs.get('bucketPrefix', name + '-')}{_short_hash(name)}"
            state.update(bucket=bucket, arn=f"arn:aws:s3:::{bucket}", region=region, id=bucket)
            rid = bucket
        elif args.typ == "aws:kms/key:Key":
            key_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{account}/{region}/{name}"))
            state.update(keyId=key_id, arn=f"arn:aws:kms:{region}:{account}:key/{key_id}")
            rid = key_id
        elif args.typ in _IAM_NAMED_TYPES:
            kind, id_is_arn = _IAM_NAMED_TYPES[args.typ]
            iam_name = inputs.get("name", name)
            state.update(name=iam_name, arn=f"arn:aws:iam::{account}:{kind}{inputs.get('path', '/')}{iam_name}")
            rid = state["arn"] if id_is_arn else iam_name
        elif args.typ == "aws-native:healthimaging:Datastore":
            # A read (Datastore.get) names the data store by its ID; a registration gets one from its name.
            datastore_id = args.resource_id or _short_hash(f"{account}/{region}/{name}", 32)
            state.update(
                datastoreId=datastore_id,
                datastoreArn=f"arn:aws:medical-imaging:{region}:{account}:datastore/{datastore_id}",
                datastoreStatus="ACTIVE",
            )
            rid = datastore_id
        elif args.typ == "aws:lambda/invocation:Invocation":
            # The data store creator's answer (healthimaging_functions/datastore_creator): a data store per input.
            datastore_id = _short_hash(f"{account}/{region}/{inputs.get('input', name)}", 32)
            state["result"] = json.dumps(
                {
                    "datastoreId": datastore_id,
                    "datastoreArn": f"arn:aws:medical-imaging:{region}:{account}:datastore/{datastore_id}",
                    "datastoreStatus": "ACTIVE",
                }
            )
        elif args.typ in _NAMED_ARN_TYPES:
            # Resources whose ARN is built from their name (SNS, SQS, DynamoDB, Lambda, CloudWatch, CloudTrail).
            service, kind = _NAMED_ARN_TYPES[args.typ]
            own_name = inputs.get("name", name)
            state["name"] = own_name
            state["arn"] = f"arn:aws:{service}:{region}:{account}:{kind}{own_name}"
            if args.typ == "aws:lambda/function:Function":
                # Lambda numbers published versions from 1; an unpublished function answers $LATEST.
                state["version"] = "1" if inputs.get("publish") else "$LATEST"
            if args.typ == "aws:sqs/queue:Queue":
                state["url"] = f"https://sqs.{region}.amazonaws.com/{account}/{own_name}"
                rid = state["url"]
            elif args.typ == "aws:sns/topic:Topic":
                rid = state["arn"]
            else:
                rid = own_name
        elif args.typ == "aws:cloudfront/distribution:Distribution":
            distribution_id = "E" + _short_hash(f"{account}/{name}", 13).upper()
            state.update(
                arn=f"arn:aws:cloudfront::{account}:distribution/{distribution_id}",
                domainName=f"d{_short_hash(name, 13)}.cloudfront.net",
                hostedZoneId="Z2FDTNDATAQYW2",
            )
            rid = distribution_id
        elif args.typ in _CLOUDFRONT_POLICY_TYPES:
            rid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{account}/{args.typ}/{name}"))
            state["arn"] = (
                f"arn:aws:cloudfront::{account}:{_CLOUDFRONT_POLICY_TYPES[args.typ]}/{inputs.get('name', name)}"
            )
        elif args.typ in _LOG_DELIVERY_TYPES:
            # CloudWatch Logs delivery sources and destinations: named, in the region they name (CloudFront's: us-east-1).
            own_name = inputs.get("name", name)
            kind = _LOG_DELIVERY_TYPES[args.typ]
            state.update(name=own_name, arn=f"arn:aws:logs:{inputs.get('region', region)}:{account}:{kind}:{own_name}")
            rid = own_name
        elif args.typ == "aws:cognito/userPool:UserPool":
            pool_id = f"{region}_{_short_hash(f'{account}/{name}', 9)}"
            state.update(
                arn=f"arn:aws:cognito-idp:{region}:{account}:userpool/{pool_id}",
                endpoint=f"cognito-idp.{region}.amazonaws.com/{pool_id}",
            )
            rid = pool_id
        elif args.typ == "aws:cognito/userPoolClient:UserPoolClient":
            rid = _short_hash(f"{account}/{name}", 26)
        elif args.typ == "aws:ssoadmin/permissionSet:PermissionSet":
            instance = inputs.get("instanceArn", "arn:aws:sso:::instance/ssoins-0000000000000000")
            ps_id = f"ps-{_short_hash(name, 16)}"
            state.update(arn=f"{instance.replace(':instance/', ':permissionSet/')}/{ps_id}")
            rid = f"{state['arn']},{instance}"
        return rid, state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":  # noqa: S105 - a function token, not a secret
            return {
                "accountId": self.account_id,
                "arn": f"arn:aws:iam::{self.account_id}:user/mock",
                "userId": "MOCK",
            }, None
        if args.token == "aws:index/getRegion:getRegion":  # noqa: S105 - a function token, not a secret
            return {"name": self.region, "region": self.region}, None
        if args.token == "aws:index/getPartition:getPartition":  # noqa: S105 - a function token, not a secret
            return {"partition": "aws", "dnsSuffix": "amazonaws.com"}, None
        return {}, None


class RecordingMonitor(MockMonitor):
    """A mock monitor that also records each registration's resource options, which
    ``MockResourceArgs`` does not carry."""

    def __init__(self, mocks: PlanMocks, recorded: list[PlannedResource] | None = None) -> None:
        super().__init__(mocks)
        self.recorded: list[PlannedResource] = [] if recorded is None else recorded
        self.reads: list[PlannedResource] = []

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            return response
        from pulumi.runtime import rpc

        inputs = _sync_await(_deserialize(rpc, request.object))
        registration = self.resources.get(response.urn)
        self.recorded.append(
            PlannedResource(
                urn=response.urn,
                type=request.type,
                name=request.name,
                parent_urn=request.parent,
                custom=bool(request.custom),
                protect=bool(request.protect),
                retain_on_delete=bool(request.retainOnDelete),
                provider=request.provider,
                ignore_changes=list(request.ignoreChanges),
                depends_on=list(request.dependencies),
                property_dependencies={k: list(v.urns) for k, v in request.propertyDependencies.items()},
                inputs=inputs,
                outputs=dict(registration.state) if registration else {},
                id=registration.id if registration else "",
                replace_on_changes=list(request.replaceOnChanges),
            )
        )
        return response

    def ReadResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        response = super().ReadResource(request)
        registration = self.resources.get(response.urn)
        self.reads.append(
            PlannedResource(
                urn=response.urn,
                type=request.type,
                name=request.name,
                parent_urn=request.parent,
                custom=True,
                protect=False,
                retain_on_delete=False,
                provider=request.provider,
                ignore_changes=[],
                depends_on=list(request.dependencies),
                property_dependencies={},
                inputs={},
                outputs=dict(registration.state) if registration else {},
                id=request.id,
            )
        )
        return response


async def _deserialize(rpc: Any, struct: Any) -> dict[str, Any]:
    return dict(rpc.deserialize_properties(struct))


class _WarningCollector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _resolve(value: Any) -> Any:
    if isinstance(value, pulumi.Output):
        return _sync_await(value.future())
    return value


def close_event_loop() -> None:
    """Close the event loop the SDK ran on, so that interpreter exit stays quiet."""
    with contextlib.suppress(RuntimeError):
        loop = asyncio.get_event_loop()
        if not loop.is_closed():
            loop.close()


#: What asyncio reports about a future whose failure nobody awaited.
_UNRETRIEVED = frozenset({"Future exception was never retrieved", "Task exception was never retrieved"})


def _skip_failures_already_raised(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """The event loop's handler of errors nobody awaited. A failed run raises its first failure to the caller; the
    registrations that depended on it fail with the same cause, and nobody awaits them. asyncio would report each
    one whenever the garbage collector reaches it, at any later moment: a traceback on stderr per resource and, on
    CPython 3.11, a parse of the failing line in the middle of whatever runs then (an ``ast.parse`` interrupted that
    way fails or loses part of its tree). Those reports are dropped; everything else goes to asyncio's default."""
    if context.get("message") in _UNRETRIEVED:
        return
    loop.default_exception_handler(context)


def run(
    program: Path | Callable[[], None],
    *,
    config: Mapping[str, str] | None = None,
    project: str = "healthimaging-setup",
    stack: str = "dev",
    account_id: str = DEFAULT_ACCOUNT_ID,
    region: str = DEFAULT_REGION,
    recorded: list[PlannedResource] | None = None,
    mocks: PlanMocks | None = None,
) -> ProgramRun:
    """Run ``program`` (a ``__main__.py`` path or a function) under mocks and return what it declared.

    ``mocks`` answers each registration (default: :class:`PlanMocks` for ``account_id`` and ``region``); the
    sandbox passes mocks that create each resource and answer with what was created.

    ``config`` holds fully qualified keys (``<project>:<key>``) with string values, as the engine passes
    them. Exceptions the program raises (such as invalid configuration) propagate unchanged; pass a
    list as ``recorded`` to see what was registered before the exception (it should be nothing).
    """
    runtime_settings.ROOT.set(None)
    CONFIG.set({})
    _ensure_event_loop().set_exception_handler(_skip_failures_already_raised)
    mocks = mocks or PlanMocks(account_id, region)
    monitor = RecordingMonitor(mocks, recorded)
    collector = _WarningCollector()
    logger = logging.getLogger(f"ahictl.mockrun.{id(collector)}")
    logger.propagate = False
    logger.addHandler(collector)
    pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=False, logger=logger, monitor=monitor)
    pulumi.runtime.set_all_config(dict(config or {}))
    settings = runtime_settings.SETTINGS
    settings.rpc_manager.clear()
    settings.outputs.clear()

    try:
        if callable(program):
            program()
        else:
            program_dir = str(Path(program).resolve().parent)
            if program_dir not in sys.path:
                sys.path.insert(0, program_dir)
            runpy.run_path(str(program), run_name="__main__")
    except BaseException:
        # Let registrations already queued (the stack itself, at least) finish, then re-raise.
        with contextlib.suppress(Exception):
            _sync_await(wait_for_rpcs())
        logger.removeHandler(collector)
        raise
    _sync_await(wait_for_rpcs())

    root = runtime_settings.get_root_resource()
    outputs = {name: _resolve(value) for name, value in getattr(root, "outputs", {}).items()}
    _sync_await(wait_for_rpcs())
    logger.removeHandler(collector)
    return ProgramRun(
        project=project,
        stack=stack,
        resources=monitor.recorded,
        outputs=outputs,
        warnings=collector.messages,
        reads=monitor.reads,
    )
