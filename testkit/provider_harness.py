"""Drive the component provider the way the Pulumi engine does, in-process and offline.

A Construct request is built as another language's SDK sends it (camelCase keys, every number a float,
output values with dependencies and secrets), turned into inputs and options by the SDK's own
``ProviderServicer`` code, and constructed by the provider that ``provider/__main__.py`` builds, under the
project's recording mocks (``ahictl.mockrun``). Only the servicer's connection to a real engine is left out;
``tests/provider/test_provider_grpc.py`` covers that part over gRPC.
"""

from __future__ import annotations

import functools
import runpy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pulumi
from google.protobuf import struct_pb2
from pulumi.provider.server import ProviderServicer
from pulumi.runtime import proto, rpc
from pulumi.runtime.sync_await import _sync_await

from ahictl import mockrun
from ahictl.plan import describe_asset
from testkit.mock_runs import PROJECT, PROJECT_DIR

PLUGIN_MAIN = PROJECT_DIR / "provider" / "__main__.py"
#: URN prefix of the resources a consumer's program "owns" (the dependencies the requests name).
CONSUMER_URN = f"urn:pulumi:test::{PROJECT}::"


@functools.cache
def plugin() -> dict[str, Any]:
    """The namespace of ``provider/__main__.py``, loaded as a module (not run as a host)."""
    return runpy.run_path(str(PLUGIN_MAIN), run_name="healthimaging_provider")


def build_provider() -> Any:
    """A fresh provider, exactly as the plugin builds it."""
    return plugin()["build_provider"]()


def consumer_urn(type_token: str, name: str) -> str:
    """The URN of a resource in the consumer's program, named as a dependency of an input."""
    return f"{CONSUMER_URN}{type_token}::{name}"


def output_value(value: Any, *, dependencies: list[str] | None = None, secret: bool = False) -> dict[str, Any]:
    """An output value as the engine sends it to a provider that accepts outputs."""
    wrapped: dict[str, Any] = {rpc._special_sig_key: rpc._special_output_value_sig, "value": value}
    if secret:
        wrapped["secret"] = True
    if dependencies:
        wrapped["dependencies"] = list(dependencies)
    return wrapped


def secret_value(value: Any) -> dict[str, Any]:
    """A secret as the engine sends it."""
    return {rpc._special_sig_key: rpc._special_secret_sig, "value": value}


def construct_request(
    type_token: str,
    name: str,
    inputs: Mapping[str, Any],
    input_dependencies: Mapping[str, list[str]] | None = None,
) -> proto.ConstructRequest:
    """A ConstructRequest: ``inputs`` go through a protobuf ``Struct``, so every number becomes a float."""
    struct = struct_pb2.Struct()
    struct.update(dict(inputs))
    request = proto.ConstructRequest(type=type_token, name=name, inputs=struct, project=PROJECT, stack="test")
    for key, urns in (input_dependencies or {}).items():
        request.inputDependencies[key].urns.extend(urns)
    return request


def construct(provider: Any, request: proto.ConstructRequest, state: dict[str, Any] | None = None) -> None:
    """What ``ProviderServicer.Construct`` does once connected: deserialize, construct, serialize the state.

    Call inside a mock run. The component's state (camelCase, resolved, secrets unwrapped) goes into ``state``.
    """
    inputs = _sync_await(ProviderServicer._construct_inputs(request.inputs, request.inputDependencies))
    options = ProviderServicer._construct_options(request)
    result = provider.construct(request.name, request.type, inputs, options)
    if state is not None:
        for key, value in result.state.items():
            state[key] = _sync_await(pulumi.Output.from_input(value).future())


def run_construct(
    request: proto.ConstructRequest, recorded: list[mockrun.PlannedResource] | None = None
) -> tuple[mockrun.ProgramRun, dict[str, Any]]:
    """Construct ``request`` with the plugin's provider under the recording mocks."""
    provider = build_provider()
    state: dict[str, Any] = {}
    run = mockrun.run(lambda: construct(provider, request, state), project=PROJECT, stack="test", recorded=recorded)
    return run, state


def run_in_process(build: Any) -> mockrun.ProgramRun:
    """Run a function that constructs components directly, under the same mocks."""
    return mockrun.run(build, project=PROJECT, stack="test")


def unwrap_secrets(value: Any, path: str = "", secrets: set[str] | None = None) -> Any:
    """``value`` with every secret replaced by what it holds; the paths of the secrets go into ``secrets``."""
    if rpc.is_rpc_secret(value):
        if secrets is not None:
            secrets.add(path)
        return unwrap_secrets(rpc.unwrap_rpc_secret(value), path, secrets)
    if isinstance(value, dict):
        return {k: unwrap_secrets(v, f"{path}.{k}" if path else k, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap_secrets(v, f"{path}[{i}]", secrets) for i, v in enumerate(value)]
    if isinstance(value, (pulumi.Asset, pulumi.Archive)):
        return describe_asset(value)  # a function's code, by file and content (assets compare by identity)
    return value


def registrations(run: mockrun.ProgramRun, external_prefix: str = CONSUMER_URN) -> list[dict[str, Any]]:
    """What each registration says, comparable across routes: type, name, parent, options, inputs (secrets
    unwrapped) and the dependencies among the component's own resources (the consumer's ones left out).
    Sorted by type and name: a resource whose inputs wait for an output registers later than in another route."""

    def own(urns: list[str]) -> list[str]:
        return sorted(u for u in urns if not _is_external(u, external_prefix))

    described = [
        {
            "type": r.type,
            "name": r.name,
            "parent": r.parent_name,
            "custom": r.custom,
            "protect": r.protect,
            "retain_on_delete": r.retain_on_delete,
            "ignore_changes": sorted(r.ignore_changes),
            "depends_on": own(r.depends_on),
            "inputs": unwrap_secrets(r.inputs),
        }
        for r in run.resources
    ]
    return sorted(described, key=lambda d: (d["type"], d["name"]))


def _is_external(urn: str, prefix: str) -> bool:
    # The consumer's resources are top-level (no parent type in the URN) and of types this package never creates.
    return urn.startswith(prefix) and "$" not in urn and "::consumer-" in urn


def schema_camel_case(python_args: Mapping[str, Any], provider: Any, component: str) -> dict[str, Any]:
    """A component's Python arguments under their schema names (as another language names them)."""
    mapping = provider._component_defs[component].inputs_mapping
    to_schema = {python: schema for schema, python in mapping.items()}
    return {to_schema[key]: value for key, value in python_args.items()}


def project_path(*parts: str) -> Path:
    return PROJECT_DIR.joinpath(*parts)
