"""A Terraform-plan-shaped JSON export of the offline plan, for scanners that read Terraform plans (checkov).

pulumi-aws is bridged from the Terraform AWS provider, so each of its resources is a Terraform resource
under another spelling: the type token ``aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock`` is
``aws_s3_bucket_public_access_block``, the input ``blockPublicAcls`` is ``block_public_acls``, and a
repeated nested block that Pulumi names in the plural (``rules``) is Terraform's singular block
(``rule``). Nested blocks become lists of one object, as in ``terraform show -json``.

What this export contains, in the layout of ``terraform show -json`` (format 1.2):

- ``planned_values.root_module.resources``: every pulumi-aws resource with ``address``, ``mode``,
  ``type``, ``name`` and its input ``values``; policy documents as JSON strings, as Terraform holds them.
- ``configuration.root_module.resources[].expressions``: each input that came from another resource
  carries ``references`` to it (``aws_s3_bucket.<name>.id``), taken from the inputs' recorded property
  dependencies. checkov's graph checks (a bucket and its public access block, versioning, encryption)
  follow these references.
- ``configuration.provider_config``: the explicit aws provider (region, allowed account IDs).
- ``resource_changes``: every resource with the action ``create``.

What it leaves out, listed under ``pulumi_skipped_resources``: aws-native resources (the HealthImaging
data store: Terraform's AWS provider has no such resource, so **no scanner checks the data store**; this
project's own tests do), component resources (they group resources and create nothing themselves) and
providers (their settings are under ``provider_config``).
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

#: Shape markers that checkov's Terraform plan parser requires; the export does not come from Terraform.
FORMAT_VERSION = "1.2"
TERRAFORM_VERSION = "1.9.8"
AWS_PROVIDER_NAME = "registry.terraform.io/hashicorp/aws"

#: Inputs whose value is a JSON policy document; Terraform holds them as JSON strings.
POLICY_ATTRIBUTES = frozenset({"policy", "assume_role_policy", "inline_policy"})
#: Map-typed attributes: their keys are data (tag names, environment variable names, metric dimensions), not
#: attribute names, so they are copied as they are.
MAP_ATTRIBUTES = frozenset({"tags", "tags_all", "variables", "dimensions"})
#: Pulumi's ``code`` archive of a function (described by the offline plan) is Terraform's ``filename`` (a zip file)
#: and ``source_code_hash``.
CODE_ATTRIBUTE = "code"
#: pulumi-aws modules whose Terraform types carry no module prefix (``aws:ec2/vpc:Vpc`` is ``aws_vpc``).
UNPREFIXED_MODULES = frozenset({"ec2"})
#: Type tokens whose Terraform type does not follow the ``aws_<module>_<resource>`` rule.
TYPE_OVERRIDES: dict[str, str] = {
    "aws:s3/bucketV2:BucketV2": "aws_s3_bucket",
    "aws:cloudtrail/trail:Trail": "aws_cloudtrail",
    "aws:ec2/securityGroup:SecurityGroup": "aws_security_group",
    "aws:s3/bucketObjectv2:BucketObjectv2": "aws_s3_object",
}
#: Plural names of repeated nested blocks whose singular is not the name without its trailing ``s``.
SINGULAR_OVERRIDES: dict[str, str] = {
    "policies": "policy",
    "entries": "entry",
    "statuses": "status",
    "addresses": "address",
    "accesses": "access",
}
#: Plural names of list attributes (not blocks) that Pulumi spells differently from Terraform.
LIST_NAME_OVERRIDES: dict[str, str] = {"starts_withs": "starts_with", "ends_withs": "ends_with"}
#: List-of-object attributes whose Terraform name is itself plural (not repeated blocks).
KEEP_PLURAL: frozenset[str] = frozenset({"blocked_encryption_types"})

_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def snake_case(name: str) -> str:
    """``blockPublicAcls`` -> ``block_public_acls``; ``kmsMasterKeyId`` -> ``kms_master_key_id``."""
    return _CAMEL_BOUNDARY.sub("_", name).lower()


def terraform_type(token: str) -> str | None:
    """The Terraform resource type of a pulumi-aws type token, or None for anything else.

    ``aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock`` -> ``aws_s3_bucket_public_access_block``.
    """
    if token in TYPE_OVERRIDES:
        return TYPE_OVERRIDES[token]
    parts = token.split(":")
    if len(parts) != 3 or parts[0] != "aws" or "/" not in parts[1]:
        return None
    module, member = parts[1].split("/", 1)
    resource = snake_case(member)
    if module in UNPREFIXED_MODULES or module == "index":
        return f"aws_{resource}"
    return f"aws_{snake_case(module)}_{resource}"


def singular(name: str) -> str:
    """Terraform's name of a repeated nested block that Pulumi pluralized: ``rules`` -> ``rule``."""
    if name in KEEP_PLURAL:
        return name
    if name in SINGULAR_OVERRIDES:
        return SINGULAR_OVERRIDES[name]
    if name.endswith("ies"):
        return name[:-3] + "y"
    if name.endswith("s") and not name.endswith("ss"):
        return name[:-1]
    return name


def _is_block_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(item, dict) for item in value)


def terraform_values(inputs: dict[str, Any]) -> dict[str, Any]:
    """Pulumi inputs (camelCase, flattened single blocks, plural block lists) as Terraform attribute values."""
    values: dict[str, Any] = {}
    for key, value in inputs.items():
        name = snake_case(key)
        if name == CODE_ATTRIBUTE and isinstance(value, dict):
            described = json.dumps(value, sort_keys=True)
            values["filename"] = "pulumi-asset-archive.zip"
            values["source_code_hash"] = hashlib.sha256(described.encode()).hexdigest()
        elif name in LIST_NAME_OVERRIDES and isinstance(value, list):
            values[LIST_NAME_OVERRIDES[name]] = value
        elif name in MAP_ATTRIBUTES:
            values[name] = value
        elif name in POLICY_ATTRIBUTES and isinstance(value, (dict, list)):
            values[name] = json.dumps(value, sort_keys=True)
        elif isinstance(value, dict):
            values[name] = [terraform_values(value)]
        elif _is_block_list(value):
            values[singular(name)] = [terraform_values(item) for item in value]
        else:
            values[name] = value
    return values


def _address(tf_type: str, name: str) -> str:
    return f"{tf_type}.{name}"


def _reference_attribute(tf_type: str, key: str, value: Any) -> str:
    """The attribute a Terraform configuration would most likely reference for this input."""
    if key.endswith("key_id") and tf_type == "aws_kms_key":
        return "key_id"
    if key in POLICY_ATTRIBUTES or not isinstance(value, str) or value.startswith("arn:"):
        return "arn"
    return "id"


def _input_key(tf_key: str, inputs: dict[str, Any]) -> str | None:
    for key in inputs:
        name = snake_case(key)
        if name == tf_key or (singular(name) == tf_key and _is_block_list(inputs[key])):
            return key
    return None


def build_tfplan(plan: dict[str, Any]) -> dict[str, Any]:
    """The Terraform-plan-shaped document of an offline plan (see the module docstring)."""
    addresses: dict[str, str] = {}
    skipped: list[dict[str, str]] = []
    for resource in plan["resources"]:
        tf_type = terraform_type(resource["type"])
        if tf_type is None or not resource["custom"]:
            if resource["type"].startswith("pulumi:providers:"):
                reason = "provider: its settings are under configuration.provider_config"
            elif not resource["custom"]:
                reason = "component resource: groups the resources below it and creates nothing itself"
            elif resource["type"].startswith("aws-native:"):
                reason = "aws-native resource: Terraform's AWS provider has no such type, so no scanner checks it"
            else:
                reason = "not a pulumi-aws resource"
            skipped.append({"urn": resource["urn"], "type": resource["type"], "reason": reason})
            continue
        new_address = _address(tf_type, resource["name"])
        if new_address in addresses.values():
            raise ValueError(f"two resources map to the Terraform address {new_address}: rename one of them")
        addresses[resource["urn"]] = new_address

    planned: list[dict[str, Any]] = []
    configured: list[dict[str, Any]] = []
    changes: list[dict[str, Any]] = []
    by_urn = {r["urn"]: r for r in plan["resources"]}
    for resource in plan["resources"]:
        if resource["urn"] not in addresses:
            continue
        address = addresses[resource["urn"]]
        tf_type, name = address.split(".", 1)
        values = terraform_values(resource["inputs"])
        expressions: dict[str, Any] = {}
        for tf_key, value in sorted(values.items()):
            input_key = _input_key(tf_key, resource["inputs"])
            dependencies = resource.get("propertyDependencies", {}).get(input_key or "", [])
            references: list[str] = []
            for urn in dependencies:
                target = addresses.get(urn)
                if target is None:
                    continue
                target_type = target.split(".", 1)[0]
                references += [f"{target}.{_reference_attribute(target_type, tf_key, value)}", target]
            if references:
                expressions[tf_key] = {"references": references}
            elif not isinstance(value, list) or not _is_block_list(value):
                expressions[tf_key] = {"constant_value": value}
        provider = resource.get("provider") or "aws"
        provider_key = "aws" if provider == "aws" else f"aws.{provider}"
        common = {"address": address, "mode": "managed", "type": tf_type, "name": name}
        planned.append({**common, "provider_name": AWS_PROVIDER_NAME, "schema_version": 0, "values": values})
        configured.append({**common, "provider_config_key": provider_key, "expressions": expressions})
        changes.append(
            {
                **common,
                "provider_name": AWS_PROVIDER_NAME,
                "change": {"actions": ["create"], "before": None, "after": values, "after_unknown": {}},
            }
        )

    provider_config: dict[str, Any] = {}
    for resource in plan["resources"]:
        if resource["type"] != "pulumi:providers:aws" or resource["urn"] not in by_urn:
            continue
        key = "aws" if resource["name"] == "aws" else f"aws.{resource['name']}"
        entry: dict[str, Any] = {
            "name": "aws",
            "full_name": AWS_PROVIDER_NAME,
            "expressions": {
                snake_case(k): {"constant_value": v}
                for k, v in sorted(resource["inputs"].items())
                if k in ("region", "allowedAccountIds")
            },
        }
        if key != "aws":
            entry["alias"] = resource["name"]
        provider_config[key] = entry

    return {
        "format_version": FORMAT_VERSION,
        "terraform_version": TERRAFORM_VERSION,
        "planned_values": {"root_module": {"resources": planned}},
        "resource_changes": changes,
        "configuration": {"provider_config": provider_config, "root_module": {"resources": configured}},
        "pulumi_skipped_resources": skipped,
        "pulumi_stack": {"project": plan["project"], "stack": plan["stack"], "region": plan["region"]},
    }


def to_json(document: dict[str, Any]) -> str:
    """Stable JSON (sorted keys, two-space indent, trailing newline)."""
    return json.dumps(document, indent=2, sort_keys=True) + "\n"
