"""One measurement of the plan benchmark, in a fresh Python process: the program evaluated, or the same
registrations replayed.

Usage (from the project directory): ``python -m benchmarks.program_evaluation record FILE [--stack dev]``, then
``... evaluate`` or ``... replay FILE``; each prints the wall and CPU seconds it measured and the number of
registrations.

- ``record``: runs the program once under Pulumi's mocks and writes every registration it made (type, name,
  parent, provider, options, inputs) to FILE.
- ``evaluate``: the program under mocks, from its first import to the last registration: the components, the
  settings, their validation and the policies they build, the SDK modules of the resource types it uses, and the
  registrations.
- ``replay``: the same registrations without the program: the SDK modules of the same resource types are loaded
  and each recorded resource is registered with its recorded inputs and options, as generic resources.

Both start after the same imports (pulumi, pulumi_aws, pulumi_aws_native and the mock harness) and read the
stack's configuration before the clock starts; the difference is the program's own work.
"""

from __future__ import annotations

import argparse
import importlib
import pickle
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pulumi
import pulumi_aws  # noqa: F401 - imported before the clock starts, as in the program
import pulumi_aws_native  # noqa: F401 - imported before the clock starts, as in the program

from ahictl import mockrun
from ahictl import plan as plan_module
from ahictl.cli import close_leftover_event_loops
from ahictl.repository import REPOSITORY_ROOT

PROJECT_DIR = REPOSITORY_ROOT
#: Python package of each resource provider (``aws`` -> ``pulumi_aws``).
SDK_PACKAGES = {"aws": "pulumi_aws", "aws-native": "pulumi_aws_native"}


def sdk_class_path(type_token: str) -> tuple[str, str] | None:
    """Module and class of a resource type in its SDK (``aws:lambda/function:Function`` -> ``pulumi_aws.lambda_``,
    ``Function``); None for a component or a provider."""
    package, _, rest = type_token.partition(":")
    module, _, class_name = rest.rpartition(":")
    if package not in SDK_PACKAGES or not module or not class_name:
        return None
    name = module.split("/", 1)[0]
    # A module named like a Python keyword has a trailing underscore (``lambda_``).
    name = f"{name}_" if name in ("lambda",) else name
    return f"{SDK_PACKAGES[package]}.{name}", class_name


def replay_program(recorded: Sequence[mockrun.PlannedResource]) -> Callable[[], None]:
    """A program that registers ``recorded`` again: same types, names, parents, providers, options and inputs."""

    def program() -> None:
        for path in sorted({p for p in (sdk_class_path(r.type) for r in recorded) if p}):
            getattr(importlib.import_module(path[0]), path[1])  # loads the module, as using the class does
        made: dict[str, pulumi.Resource] = {}
        for resource in recorded:
            provider = made.get(resource.provider.rsplit("::", 1)[0]) if resource.provider else None
            options = pulumi.ResourceOptions(
                parent=made.get(resource.parent_urn),
                protect=resource.protect,
                retain_on_delete=resource.retain_on_delete,
                ignore_changes=resource.ignore_changes or None,
                provider=provider if isinstance(provider, pulumi.ProviderResource) else None,
            )
            registered: pulumi.Resource
            if resource.type.startswith("pulumi:providers:"):
                package = resource.type.removeprefix("pulumi:providers:")
                registered = pulumi.ProviderResource(package, resource.name, dict(resource.inputs), options)
            elif resource.custom:
                registered = pulumi.CustomResource(resource.type, resource.name, dict(resource.inputs), options)
            else:
                registered = pulumi.ComponentResource(resource.type, resource.name, None, options)
            made[resource.urn] = registered

    return program


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("record", "evaluate", "replay"))
    parser.add_argument("recording", nargs="?", type=Path, help="file of the registrations (record, replay)")
    parser.add_argument("--stack", default="dev", help="stack to evaluate (default: dev)")
    args = parser.parse_args(argv)
    if args.mode != "evaluate" and args.recording is None:
        parser.error(f"{args.mode} needs the file of the registrations")

    config = plan_module.stack_config(PROJECT_DIR, args.stack)
    options = {
        "config": config.values,
        "project": config.project,
        "stack": args.stack,
        "account_id": config.project_value("accountId", mockrun.DEFAULT_ACCOUNT_ID),
        "region": config.project_value("region", mockrun.DEFAULT_REGION),
    }
    program: Path | Callable[[], None] = plan_module.program_path(PROJECT_DIR)
    if args.mode == "replay":
        program = replay_program(pickle.loads(args.recording.read_bytes()))  # noqa: S301 - the file record wrote
    start, start_cpu = time.perf_counter(), time.process_time()
    run = mockrun.run(program, **options)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - start_cpu
    mockrun.close_event_loop()
    close_leftover_event_loops()
    if args.mode == "record":
        args.recording.write_bytes(pickle.dumps(run.resources))
    print(f"{seconds:.4f} {cpu_seconds:.4f} {len(run.resources)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
