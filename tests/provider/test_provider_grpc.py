"""Smoke test of the plugin as the Pulumi engine runs it: a real process, a real gRPC server, a real Construct.

``python provider <engine address>`` is started the way the language host starts it; it prints its port. The
test then calls GetPluginInfo, GetSchema and Construct with the generated gRPC stubs, and the plugin calls back
a stand-in engine and resource monitor in this process (``testkit/fakes/pulumi_engine.py``). Everything listens
on 127.0.0.1 and is stopped at the end; every call has a deadline.
"""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

from testkit.fakes.pulumi_engine import FakePulumiEngine
from testkit.mock_runs import PROJECT, PROJECT_DIR

# The plugin runs as a real process serving gRPC on loopback.
pytestmark = pytest.mark.server

ACCOUNT = "111122223333"
REGION = "us-east-1"
STACK = "grpc"
#: Seconds any one step may take (the plugin's start imports pulumi_aws, which takes a few seconds).
DEADLINE = 120


@pytest.fixture(scope="module")
def engine() -> Iterator[FakePulumiEngine]:
    fake = FakePulumiEngine(project=PROJECT, stack=STACK, account_id=ACCOUNT, region=REGION)
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


def _first_line(stream: Any, timeout: float) -> str:
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: lines.put(stream.readline()), daemon=True).start()
    try:
        return lines.get(timeout=timeout)
    except queue.Empty:
        return ""


@pytest.fixture(scope="module")
def plugin(engine: FakePulumiEngine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    stderr_path = tmp_path_factory.mktemp("plugin") / "stderr.txt"
    with stderr_path.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "provider", engine.address],
            cwd=PROJECT_DIR,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    try:
        port = _first_line(process.stdout, DEADLINE).strip()
        assert port.isdigit(), f"the plugin printed no port: {port!r}; stderr: {stderr_path.read_text()[-2000:]}"
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        grpc.channel_ready_future(channel).result(timeout=DEADLINE)
        try:
            yield provider_pb2_grpc.ResourceProviderStub(channel)
        finally:
            channel.close()
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _struct(values: dict[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(values)
    return struct


def _construct(engine: FakePulumiEngine, type_token: str, name: str, inputs: dict[str, Any]) -> Any:
    return provider_pb2.ConstructRequest(
        project=PROJECT,
        stack=STACK,
        type=type_token,
        name=name,
        inputs=_struct(inputs),
        monitorEndpoint=engine.address,
        dryRun=False,
    )


def test_get_plugin_info_serves_pyprojects_version(plugin: Any) -> None:
    version = tomllib.loads((PROJECT_DIR / "pyproject.toml").read_text())["project"]["version"]
    info = plugin.GetPluginInfo(empty_pb2.Empty(), timeout=DEADLINE)
    assert info.version == version


def test_get_schema_serves_the_committed_snapshot(plugin: Any) -> None:
    response = plugin.GetSchema(provider_pb2.GetSchemaRequest(version=0), timeout=DEADLINE)
    committed = json.loads(Path(PROJECT_DIR / "tests" / "snapshots" / "healthimaging-schema.json").read_text())
    assert json.loads(response.schema) == committed


def test_construct_builds_the_bucket_pair_from_camel_case_floats(plugin: Any, engine: FakePulumiEngine) -> None:
    request = _construct(
        engine,
        "healthimaging:index:ImagingBucketPair",
        "grpc-buckets",
        {
            "accountId": ACCOUNT,
            "region": REGION,
            "namePrefix": "ahi-grpc",
            "noncurrentVersionExpirationDays": 30,  # a protobuf number: 30.0 on the wire
            "currentVersionExpirationDays": 3650,
            "tags": {"team": "imaging"},
        },
    )
    assert request.inputs["noncurrentVersionExpirationDays"] == 30.0
    response = plugin.Construct(request, timeout=DEADLINE)

    assert response.urn == f"urn:pulumi:{STACK}::{PROJECT}::healthimaging:index:ImagingBucketPair::grpc-buckets"
    state = json_format.MessageToDict(response.state)
    assert state["inputBucketName"] == f"ahi-grpc-input-{ACCOUNT}-{REGION}-an"
    assert state["outputBucketArn"] == f"arn:aws:s3:::ahi-grpc-output-{ACCOUNT}-{REGION}-an"
    assert state["kmsKeyArn"].startswith(f"arn:aws:kms:{REGION}:{ACCOUNT}:key/")

    mine = [r for r in engine.record.registrations if r.name.startswith("grpc-buckets")]
    children = [r for r in mine if r.parent]
    assert len(children) >= 10
    lifecycle = [r for r in mine if r.type == "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"]
    assert len(lifecycle) == 3
    for resource in lifecycle:
        rules = {rule["id"]: rule for rule in resource.inputs["rules"]}
        assert rules["expire-noncurrent-versions"]["noncurrentVersionExpiration"]["noncurrentDays"] == 30
        assert rules["expire-current-versions"]["expiration"]["days"] == 3650
    assert any("EXPIRE after 3650 days" in w for w in engine.record.warnings())


def test_construct_refuses_a_missing_input_by_name(plugin: Any, engine: FakePulumiEngine) -> None:
    request = _construct(
        engine, "healthimaging:index:ImportJobRole", "grpc-role", {"accountId": ACCOUNT, "region": REGION}
    )
    with pytest.raises(grpc.RpcError) as caught:
        plugin.Construct(request, timeout=DEADLINE)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    details = caught.value.details()
    for name in ("datastoreArn", "inputBucketArn", "outputBucketArn", "roleName"):
        assert f"Missing required input '{name}' on 'ImportJobRole'" in details
    assert not [r for r in engine.record.registrations if r.name.startswith("grpc-role")]


def test_construct_refuses_a_fractional_integer_by_name(plugin: Any, engine: FakePulumiEngine) -> None:
    request = _construct(
        engine,
        "healthimaging:index:ImagingBucketPair",
        "grpc-fraction",
        {"accountId": ACCOUNT, "region": REGION, "namePrefix": "ahi-grpc", "noncurrentVersionExpirationDays": 30.5},
    )
    with pytest.raises(grpc.RpcError) as caught:
        plugin.Construct(request, timeout=DEADLINE)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "noncurrentVersionExpirationDays = 30.5" in caught.value.details()
    assert "Traceback" not in caught.value.details()
    assert not [r for r in engine.record.registrations if r.name.startswith("grpc-fraction")]
