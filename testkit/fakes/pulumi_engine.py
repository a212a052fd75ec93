"""A stand-in for the Pulumi engine's two gRPC services a provider plugin calls back: Engine and ResourceMonitor.

Both run in the test process, on 127.0.0.1 and a free port, in one gRPC server that the test stops. The
monitor records every registration and answers with the deterministic outputs of the project's mocks
(``ahictl.mockrun.PlanMocks``), so a component constructed by the real plugin process gets realistic
outputs (ARNs, names, IDs); the engine records the log messages (the components' warnings).
"""

from __future__ import annotations

import threading
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime import MockResourceArgs
from pulumi.runtime.proto import engine_pb2, engine_pb2_grpc, resource_pb2, resource_pb2_grpc

from ahictl.mockrun import PlanMocks


@dataclass
class Registration:
    """One RegisterResource request, as the monitor received it."""

    urn: str
    type: str
    name: str
    parent: str
    custom: bool
    protect: bool
    inputs: dict[str, Any]
    dependencies: list[str]


@dataclass
class EngineRecord:
    registrations: list[Registration] = field(default_factory=list)
    logs: list[tuple[int, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def warnings(self) -> list[str]:
        return [message for severity, message in self.logs if severity == engine_pb2.WARNING]


class FakeResourceMonitor(resource_pb2_grpc.ResourceMonitorServicer):
    """Registers resources the way the engine would, answering with the mocks' outputs."""

    def __init__(self, record: EngineRecord, *, project: str, stack: str, account_id: str, region: str) -> None:
        self.record = record
        self.project, self.stack = project, stack
        self.mocks = PlanMocks(account_id, region)

    def _urn(self, parent: str, type_: str, name: str) -> str:
        qualified = type_
        if parent:
            parent_type = parent.split("::")[2]
            qualified = f"{parent_type}${type_}"
        return f"urn:pulumi:{self.stack}::{self.project}::{qualified}::{name}"

    def GetDeploymentInfo(self, request: Any, context: Any) -> Any:
        return resource_pb2.DeploymentInfo(
            supportedFeatures=[
                resource_pb2.RESOURCE_MONITOR_FEATURE_SECRETS,
                resource_pb2.RESOURCE_MONITOR_FEATURE_RESOURCE_REFERENCES,
                resource_pb2.RESOURCE_MONITOR_FEATURE_DELETED_WITH,
                resource_pb2.RESOURCE_MONITOR_FEATURE_ALIAS_SPECS,
            ]
        )

    def SupportsFeature(self, request: Any, context: Any) -> Any:
        return resource_pb2.SupportsFeatureResponse(hasSupport=request.id in {"secrets", "resourceReferences"})

    def RegisterResource(self, request: Any, context: Any) -> Any:
        urn = self._urn(request.parent, request.type, request.name)
        inputs = json_format.MessageToDict(request.object)
        resource_id, outputs = "", dict(inputs)
        if request.custom:
            mocked_id, outputs = self.mocks.new_resource(MockResourceArgs(request.type, request.name, inputs))
            resource_id = mocked_id or f"{request.name}-id"
        with self.record.lock:
            self.record.registrations.append(
                Registration(
                    urn=urn,
                    type=request.type,
                    name=request.name,
                    parent=request.parent,
                    custom=bool(request.custom),
                    protect=bool(request.protect),
                    inputs=inputs,
                    dependencies=list(request.dependencies),
                )
            )
        state = struct_pb2.Struct()
        state.update(outputs)
        return resource_pb2.RegisterResourceResponse(urn=urn, id=resource_id, object=state)

    def RegisterResourceOutputs(self, request: Any, context: Any) -> Any:
        return empty_pb2.Empty()

    def Invoke(self, request: Any, context: Any) -> Any:
        return resource_pb2.ResourceInvokeResponse(**{"return": struct_pb2.Struct()})

    def RegisterPackage(self, request: Any, context: Any) -> Any:
        return resource_pb2.RegisterPackageResponse(ref=f"{request.name}-{request.version}")

    def SignalAndWaitForShutdown(self, request: Any, context: Any) -> Any:
        return empty_pb2.Empty()


class FakeEngine(engine_pb2_grpc.EngineServicer):
    """Records log messages; holds the root resource."""

    def __init__(self, record: EngineRecord) -> None:
        self.record = record
        self.root = ""

    def Log(self, request: Any, context: Any) -> Any:
        with self.record.lock:
            self.record.logs.append((request.severity, request.message))
        return empty_pb2.Empty()

    def GetRootResource(self, request: Any, context: Any) -> Any:
        return engine_pb2.GetRootResourceResponse(urn=self.root)

    def SetRootResource(self, request: Any, context: Any) -> Any:
        self.root = request.urn
        return engine_pb2.SetRootResourceResponse()


class FakePulumiEngine:
    """Engine and monitor on 127.0.0.1; ``address`` is what the plugin is started with and what a
    ConstructRequest names as ``monitorEndpoint``."""

    def __init__(self, *, project: str, stack: str, account_id: str, region: str) -> None:
        self.record = EngineRecord()
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        engine_pb2_grpc.add_EngineServicer_to_server(FakeEngine(self.record), self._server)
        resource_pb2_grpc.add_ResourceMonitorServicer_to_server(
            FakeResourceMonitor(self.record, project=project, stack=stack, account_id=account_id, region=region),
            self._server,
        )
        port = self._server.add_insecure_port("127.0.0.1:0")
        self.address = f"127.0.0.1:{port}"

    def start(self) -> None:
        self._server.start()

    def stop(self) -> None:
        self._server.stop(grace=None).wait(timeout=10)
