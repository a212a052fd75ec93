"""The offline plan: what ``pulumi up`` would create for a stack, from that stack's configuration.

``stack_config`` reads ``Pulumi.yaml`` and ``Pulumi.<stack>.yaml`` the way the Pulumi CLI passes them
to a program; ``plan_stack`` runs the real ``__main__.py`` under mocks (:mod:`ahictl.mockrun`) and
``build_plan`` turns the record into a stable, JSON-ready document: resources in tree order, policy
documents parsed into JSON, no random values, so two plans can be diffed line by line.
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from . import mockrun

#: Input properties whose string value is a JSON document (policies, provider settings).
JSON_INPUTS = frozenset({"policy", "assumeRolePolicy", "allowedAccountIds", "defaultTags", "inlinePolicy"})
PLAN_FORMAT_VERSION = 1


class _Yaml12Loader(yaml.SafeLoader):
    """PyYAML reads YAML 1.1; the Pulumi CLI reads stack files as YAML 1.2 (core schema). Two differences
    matter for stack configuration, and this loader reads both the CLI's way:

    - booleans are only ``true`` and ``false`` (any case form YAML 1.2 lists): ``environment: no`` is the
      string ``'no'`` and ``versioning: yes`` the string ``'yes'`` (which the program refuses as a boolean);
    - ``012345678901`` is the integer 12345678901 (not a string, not octal), so the offline plan catches the
      unquoted account ID that loses its leading zero in a real deployment.
    """

    yaml_implicit_resolvers = {  # noqa: RUF012 - replaces the base class table, as PyYAML expects
        first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }


def _construct_yaml12_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    text = str(loader.construct_scalar(node)).replace("_", "")
    if text.lower().startswith(("0x", "0o")):
        return int(text, 0)
    return int(text, 10)


def _construct_yaml12_bool(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> bool:
    return str(loader.construct_scalar(node)).lower() == "true"


_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_Yaml12Loader.add_constructor("tag:yaml.org,2002:bool", _construct_yaml12_bool)
_Yaml12Loader.add_implicit_resolver("tag:yaml.org,2002:int", re.compile(r"^[-+]?[0-9]+$"), list("-+0123456789"))
_Yaml12Loader.add_constructor("tag:yaml.org,2002:int", _construct_yaml12_int)


class PlanError(Exception):
    """A problem with the project or stack files (not with the configuration values)."""


@dataclass(frozen=True)
class StackConfig:
    """A stack's configuration as the engine would pass it to the program."""

    project: str
    stack: str
    project_dir: Path
    values: dict[str, str]
    secret_keys: tuple[str, ...]

    def project_value(self, key: str, default: str) -> str:
        return self.values.get(f"{self.project}:{key}", default)


def available_stacks(project_dir: Path) -> list[str]:
    """Stack names with a ``Pulumi.<stack>.yaml`` beside ``Pulumi.yaml``."""
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in project_dir.glob("Pulumi.*.yaml"))


def _raw(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def stack_config(project_dir: Path, stack: str) -> StackConfig:
    """Read the project's defaults and the stack's values; namespace bare keys with the project name."""
    project_file = project_dir / "Pulumi.yaml"
    if not project_file.is_file():
        raise PlanError(
            f"No Pulumi.yaml in {project_dir}: run the command from the project's directory or pass --project-dir."
        )
    project_doc = yaml.load(project_file.read_text(), Loader=_Yaml12Loader) or {}  # noqa: S506 - a SafeLoader subclass
    project = project_doc["name"]
    stack_file = project_dir / f"Pulumi.{stack}.yaml"
    if not stack_file.is_file():
        known = ", ".join(available_stacks(project_dir)) or "none"
        raise PlanError(f"No stack file {stack_file.name} in {project_dir} (stacks here: {known}).")
    try:
        stack_doc = yaml.load(stack_file.read_text(), Loader=_Yaml12Loader) or {}  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as error:
        raise PlanError(f"{stack_file.name} is not valid YAML: {error}") from error

    values: dict[str, str] = {}
    for key, declaration in (project_doc.get("config") or {}).items():
        full_key = key if ":" in key else f"{project}:{key}"
        if isinstance(declaration, dict) and "default" in declaration:
            values[full_key] = _raw(declaration["default"])
        elif isinstance(declaration, dict) and "value" in declaration:
            values[full_key] = _raw(declaration["value"])
        elif not isinstance(declaration, dict):
            values[full_key] = _raw(declaration)
    secret_keys = []
    for key, value in (stack_doc.get("config") or {}).items():
        full_key = key if ":" in key else f"{project}:{key}"
        if isinstance(value, dict) and set(value) == {"secure"}:
            secret_keys.append(full_key)
            values[full_key] = "[secret]"
            continue
        values[full_key] = _raw(value)
    return StackConfig(project, stack, project_dir, values, tuple(secret_keys))


def plan_stack(project_dir: Path, stack: str) -> dict[str, Any]:
    """Run the project's program for ``stack`` under mocks and return its plan document."""
    config = stack_config(project_dir, stack)
    account = config.project_value("accountId", mockrun.DEFAULT_ACCOUNT_ID)
    region = config.project_value("region", mockrun.DEFAULT_REGION)
    run = mockrun.run(
        project_dir / "__main__.py",
        config=config.values,
        project=config.project,
        stack=stack,
        account_id=account,
        region=region,
    )
    return build_plan(run, account_id=account, region=region)


def _normalise(value: Any) -> Any:
    """Whole-number floats back to ints: the wire format carries every number as a double."""
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
    return {
        "formatVersion": PLAN_FORMAT_VERSION,
        "project": run.project,
        "stack": run.stack,
        "accountId": account_id,
        "region": region,
        "resources": resources,
        "outputs": dict(sorted(run.outputs.items())),
        "warnings": list(run.warnings),
    }


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
