"""Every IAM-language policy document in the offline plan, ready for a policy linter.

Walks every pulumi-aws resource of the plan and takes each input that holds a policy document
(``policy``, ``assumeRolePolicy``, ``inlinePolicy``), whatever the resource type: role, role policy,
managed policy, group policy, IAM Identity Center permission set, bucket policy, key policy. So a new
resource that carries a policy is linted without changes here.

Each entry says what kind of policy it is:

- ``identity``: attached to a role, group, user or permission set (``Resource`` names what it grants).
- ``trust``: a role's trust policy. It has no ``Resource``; linters such as parliament need one, so
  ``lint_document`` holds a copy with the role's own ARN as ``Resource`` (what ``sts:AssumeRole`` acts on).
- ``resource``: a policy on a resource (bucket policy, key policy), with ``Principal`` elements.
"""

from __future__ import annotations

import copy
import json
from typing import Any

#: Inputs (camelCase, as recorded) whose value is a policy document.
POLICY_INPUTS = ("policy", "assumeRolePolicy", "inlinePolicy")
#: Resource types whose ``policy`` input is a resource-based policy (it names principals).
RESOURCE_POLICY_TYPES = frozenset(
    {
        "aws:s3/bucketPolicy:BucketPolicy",
        "aws:kms/key:Key",
        "aws:kms/keyPolicy:KeyPolicy",
        "aws:sqs/queuePolicy:QueuePolicy",
        "aws:sns/topicPolicy:TopicPolicy",
    }
)


def _document(value: Any) -> dict[str, Any] | None:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return None
    return value if isinstance(value, dict) and "Statement" in value else None


def _role_arn(resource: dict[str, Any], account_id: str) -> str:
    inputs = resource["inputs"]
    path = inputs.get("path") or "/"
    name = inputs.get("name") or resource["name"]
    return f"arn:aws:iam::{account_id}:role{path}{name}"


def collect_policies(plan: dict[str, Any]) -> list[dict[str, Any]]:
    """One entry per policy document in the plan, in plan order (stable)."""
    found: list[dict[str, Any]] = []
    for resource in plan["resources"]:
        if not resource["custom"] or not resource["type"].startswith("aws:"):
            continue
        for key in POLICY_INPUTS:
            document = _document(resource["inputs"].get(key))
            if document is None:
                continue
            if key == "assumeRolePolicy":
                kind = "trust"
            elif resource["type"] in RESOURCE_POLICY_TYPES:
                kind = "resource"
            else:
                kind = "identity"
            lint_document = copy.deepcopy(document)
            if kind == "trust":
                role_arn = _role_arn(resource, plan["accountId"])
                for statement in lint_document.get("Statement", []):
                    if isinstance(statement, dict) and "Resource" not in statement and "NotResource" not in statement:
                        statement["Resource"] = role_arn
            found.append(
                {
                    "resource": resource["name"],
                    "type": resource["type"],
                    "urn": resource["urn"],
                    "input": key,
                    "kind": kind,
                    "document": document,
                    "lint_document": lint_document,
                }
            )
    return found


def iter_statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The statements of a policy document (a single statement object counts as a list of one)."""
    statements = document.get("Statement", [])
    if isinstance(statements, dict):
        return [statements]
    return [s for s in statements if isinstance(s, dict)]


def to_json(policies: list[dict[str, Any]]) -> str:
    """Stable JSON (sorted keys, two-space indent, trailing newline)."""
    return json.dumps(policies, indent=2, sort_keys=True) + "\n"
