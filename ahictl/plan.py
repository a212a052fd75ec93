"""The offline plan: what ``pulumi up`` would create for a stack, from that stack's configuration.

``stack_config`` (:mod:`ahictl.stack_files`) reads ``Pulumi.yaml`` and ``Pulumi.<stack>.yaml`` the way the
Pulumi CLI passes them to a program; ``plan_stack`` runs the real ``__main__.py`` under mocks (:mod:`ahictl.mockrun`) and
``build_plan`` turns the record into a stable, JSON-ready document: resources in tree order, policy
documents parsed into JSON, no random values, so two plans can be diffed line by line.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pulumi
import yaml

from . import mockrun
from .repository import REPOSITORY_ROOT
from .stack_files import PlanError, StackConfig, available_stacks, stack_config

__all__ = ["PlanError", "StackConfig", "available_stacks", "build_plan", "plan_stack", "stack_config"]

#: Input properties whose string value is a JSON document (policies, provider settings).
JSON_INPUTS = frozenset({"policy", "assumeRolePolicy", "allowedAccountIds", "defaultTags", "inlinePolicy"})
PLAN_FORMAT_VERSION = 1
#: The repository the program lives in: file assets (a function's code) are shown relative to it.


def parse_overrides(items: Sequence[str]) -> dict[str, str]:
    """``--set KEY=VALUE`` arguments as {key: value}; raises PlanError for one without ``=`` or a key."""
    overrides: dict[str, str] = {}
    for item in items:
        key, equals, value = item.partition("=")
        if not equals or not key.strip() or ":" in key:
            raise PlanError(
                f"--set {item!r}: give KEY=VALUE with a project setting's name, for example --set autoImport=true."
            )
        overrides[key.strip()] = value
    return overrides


def with_overrides(config: StackConfig, overrides: Mapping[str, str] | None) -> StackConfig:
    """``config`` with ``overrides`` ({setting: value}, :func:`parse_overrides`) replacing project settings."""
    values = dict(config.values)
    for key, value in (overrides or {}).items():
        values[f"{config.project}:{key}"] = value
    return dataclasses.replace(config, values=values)


def plan_stack(project_dir: Path, stack: str, overrides: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Run the project's program for ``stack`` under mocks and return its plan document. ``overrides`` replace
    project settings (``{"autoImport": "true"}``, values in the engine's string form) for this plan only."""
    config = with_overrides(stack_config(project_dir, stack), overrides)
    account = config.project_value("accountId", mockrun.DEFAULT_ACCOUNT_ID)
    region = config.project_value("region", mockrun.DEFAULT_REGION)
    run = mockrun.run(
        program_path(project_dir),
        config=config.values,
        project=config.project,
        stack=stack,
        account_id=account,
        region=region,
    )
    return build_plan(run, account_id=account, region=region)


def program_path(project_dir: Path) -> Path:
    """The program the plan runs: ``__main__.py`` beside ``Pulumi.yaml``; a PlanError when there is none."""
    program = project_dir / "__main__.py"
    if program.is_file():
        return program
    message = (
        f"No __main__.py in {project_dir}: the offline plan runs the program in the directory of Pulumi.yaml. "
        "Pass --project-dir with the directory that holds Pulumi.yaml and __main__.py."
    )
    main = _declared_main(project_dir)
    if main:
        message += (
            f" Pulumi.yaml names `main: {main}`, which the offline plan does not follow: it runs only "
            "__main__.py beside Pulumi.yaml."
        )
    raise PlanError(message)


def _declared_main(project_dir: Path) -> str:
    """The ``main:`` entry point Pulumi.yaml names ('' when none or unreadable)."""
    with contextlib.suppress(OSError, yaml.YAMLError):
        document = yaml.safe_load((project_dir / "Pulumi.yaml").read_text())
        if isinstance(document, dict) and document.get("main"):
            return str(document["main"])
    return ""


def describe_asset(value: pulumi.Asset | pulumi.Archive) -> Any:
    """An asset or archive (a function's code) as JSON: each file by its path in the repository and the SHA-256 of its
    content, so that two plans differ exactly when the code does."""
    if isinstance(value, pulumi.AssetArchive):
        return {"assetArchive": {name: describe_asset(item) for name, item in sorted(value.assets.items())}}
    if isinstance(value, (pulumi.FileAsset, pulumi.FileArchive)):
        path = Path(value.path).resolve()
        shown = path.relative_to(REPOSITORY_ROOT).as_posix() if path.is_relative_to(REPOSITORY_ROOT) else str(path)
        kind = "file" if isinstance(value, pulumi.FileAsset) else "fileArchive"
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
        return {kind: shown, "sha256": digest}
    if isinstance(value, pulumi.StringAsset):
        return {"text": {"sha256": hashlib.sha256(value.text.encode()).hexdigest()}}
    return {"asset": type(value).__name__}


def _normalise(value: Any) -> Any:
    """Whole-number floats back to ints: the wire format carries every number as a double. Assets and archives as
    :func:`describe_asset` shows them."""
    if isinstance(value, (pulumi.Asset, pulumi.Archive)):
        return describe_asset(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _normalise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalise(v) for v in value]
    return value


def _parse_json_inputs(inputs: dict[str, Any]) -> dict[str, Any]:
    parsed = {}
    for key, value in _normalise(inputs).items():
        if key in JSON_INPUTS and isinstance(value, str):
            with contextlib.suppress(json.JSONDecodeError):
                value = json.loads(value)
        parsed[key] = value
    return parsed


def _tree_order(run: mockrun.ProgramRun) -> list[mockrun.PlannedResource]:
    """Depth-first by parent, children sorted by (type, name): stable whatever order the SDK registered in."""
    by_parent: dict[str, list[mockrun.PlannedResource]] = {}
    urns = {r.urn for r in run.resources}
    roots = []
    for resource in run.resources:
        if resource.parent_urn in urns:
            by_parent.setdefault(resource.parent_urn, []).append(resource)
        else:
            roots.append(resource)
    ordered: list[mockrun.PlannedResource] = []

    def visit(items: list[mockrun.PlannedResource]) -> None:
        for item in sorted(items, key=lambda r: (not r.type.startswith("pulumi:providers:"), r.name, r.type)):
            ordered.append(item)
            visit(by_parent.get(item.urn, []))

    visit(roots)
    return ordered


def build_plan(run: mockrun.ProgramRun, *, account_id: str, region: str) -> dict[str, Any]:
    """The plan document: JSON-ready, sorted, free of random values."""
    names_by_urn = {r.urn: r.name for r in run.resources}
    resources = []
    for r in _tree_order(run):
        resources.append(
            {
                "name": r.name,
                "type": r.type,
                "urn": r.urn,
                "parent": names_by_urn.get(r.parent_urn, ""),
                "parentUrn": r.parent_urn if r.parent_urn in names_by_urn else "",
                "custom": r.custom,
                "provider": r.provider_name,
                "protect": r.protect,
                "retainOnDelete": r.retain_on_delete,
                "ignoreChanges": sorted(r.ignore_changes),
                "dependsOn": sorted(names_by_urn.get(u, u) for u in r.depends_on),
                # Which resources each input came from (URNs): the references of the Terraform-shaped
                # export and the edges of the diagram.
                "propertyDependencies": {
                    key: sorted(set(urns)) for key, urns in sorted(r.property_dependencies.items()) if urns
                },
                "inputs": _parse_json_inputs(r.inputs),
            }
        )
    document: dict[str, Any] = {
        "formatVersion": PLAN_FORMAT_VERSION,
        "project": run.project,
        "stack": run.stack,
        "accountId": account_id,
        "region": region,
        "resources": resources,
        "outputs": dict(sorted(run.outputs.items())),
        "warnings": list(run.warnings),
    }
    if run.reads:
        # Existing resources the program reads on every preview and update (``<Resource>.get``), such as the data
        # store the creator function made.
        document["reads"] = [
            {
                "name": r.name,
                "type": r.type,
                "urn": r.urn,
                "parent": names_by_urn.get(r.parent_urn, ""),
                "id": r.id,
                "dependsOn": sorted(r.depends_on),
            }
            for r in run.reads
        ]
    return document


def to_json(plan: dict[str, Any]) -> str:
    """The plan as stable JSON (sorted keys, two-space indent, trailing newline)."""
    return json.dumps(plan, indent=2, sort_keys=True) + "\n"


def render_text(plan: dict[str, Any]) -> str:
    """A readable report: resource tree with options and settings, every policy as JSON, outputs, warnings."""
    out: list[str] = []
    out.append(
        f"Offline plan of stack '{plan['stack']}' (project {plan['project']}): account {plan['accountId']}, region {plan['region']}"
    )
    out.append("The real program ran under Pulumi's mocks: nothing contacted AWS, and IDs and ARNs are stand-ins.")
    out.append("")
    depth: dict[str, int] = {}
    out.append(f"Resources that `pulumi up` would create ({len(plan['resources'])}):")
    policies: list[tuple[str, str, Any]] = []
    for resource in plan["resources"]:
        level = depth[resource["parentUrn"]] + 1 if resource["parentUrn"] else 0
        depth[resource["urn"]] = level
        indent = "  " * (level + 1)
        flags = [
            flag
            for flag, on in (("protect", resource["protect"]), ("retainOnDelete", resource["retainOnDelete"]))
            if on
        ]
        if resource["ignoreChanges"]:
            flags.append("ignoreChanges=" + ",".join(resource["ignoreChanges"]))
        if resource["provider"]:
            flags.append(f"provider={resource['provider']}")
        out.append(f"{indent}+ {resource['type']}  {resource['name']}" + (f"  [{'; '.join(flags)}]" if flags else ""))
        for key, value in sorted(resource["inputs"].items()):
            if key in ("policy", "assumeRolePolicy") and isinstance(value, dict):
                policies.append((resource["name"], key, value))
                out.append(f"{indent}    {key}: (see Policies below)")
            else:
                out.append(f"{indent}    {key}: {json.dumps(value, sort_keys=True)}")
    if plan.get("reads"):
        out.append("")
        out.append(f"Existing resources read on every preview and update ({len(plan['reads'])}):")
        out.extend(f"  = {read['type']}  {read['name']}  id={read['id']}" for read in plan["reads"])
    out.append("")
    out.append(f"Policies ({len(policies)}):")
    for name, key, document in policies:
        out.append(f"  {name} {key}:")
        out.extend("    " + line for line in json.dumps(document, indent=2).splitlines())
    out.append("")
    out.append("Stack outputs:")
    for key, value in plan["outputs"].items():
        out.append(f"  {key}: {value if isinstance(value, str) else json.dumps(value)}")
    out.append("")
    if plan["warnings"]:
        out.append(f"Warnings ({len(plan['warnings'])}):")
        out.extend(f"  ! {warning}" for warning in plan["warnings"])
    else:
        out.append("Warnings: none. Every security and data-safety default is on.")
    return "\n".join(out) + "\n"
