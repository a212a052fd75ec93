"""Verify checks of the import role: its trust policy, and what IAM's policy simulator says it may do.

The trust policy must let only HealthImaging assume the role, and only for this account's data store:
``StringEquals aws:SourceAccount`` and ``ArnEquals aws:SourceArn`` (plain operators). The setup guide's
``ForAllValues:`` form is reported as a failure: ``ForAllValues`` is true when the key is absent from the request.

The permission checks ask ``SimulatePrincipalPolicy`` about the role's own policies, with the context keys
those policies condition on (``s3:ResourceAccount``, ``kms:ViaService``), so a condition that never matches
shows up as a denial.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from .verify_context import CheckNotRunError, FailedCheckError, Outcome, VerifyContext, failed, passed

HEALTHIMAGING_SERVICE_PRINCIPAL = "medical-imaging.amazonaws.com"
#: An account that is not the stack's, to ask about a same-named bucket owned by someone else.
OTHER_ACCOUNT_ID = "000000000000"
_SET_OPERATOR_PREFIXES = ("ForAllValues:", "ForAnyValue:")
_ACCOUNT_OPERATORS = ("StringEquals",)
_ARN_OPERATORS = ("ArnEquals", "StringEquals", "ArnLike", "StringLike")


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _condition_entries(condition: dict[str, Any], key: str) -> list[tuple[str, list[str]]]:
    """(operator, values) of every condition on ``key`` (condition keys are case-insensitive)."""
    entries = []
    for operator, clauses in condition.items():
        if not isinstance(clauses, dict):
            continue
        for clause_key, values in clauses.items():
            if clause_key.lower() == key.lower():
                entries.append((operator, [str(value) for value in _as_list(values)]))
    return entries


def _key_problem(
    label: str, condition: dict[str, Any], key: str, expected: str, operators: tuple[str, ...]
) -> str | None:
    entries = _condition_entries(condition, key)
    if not entries:
        return f"{label} has no {key} condition, so it does not limit which {_KEY_MEANING[key]} may use the role"
    for operator, values in entries:
        if operator.startswith(_SET_OPERATOR_PREFIXES):
            return (
                f"{label} uses {operator} on {key} (the setup guide's form): a set operator on a single-valued key, "
                "and ForAllValues is true when the key is absent from the request, so a request without "
                f"{key} is trusted; use {operators[0]} (IAM Access Analyzer: FORALLVALUES_WITH_SINGLE_VALUED_KEY)"
            )
        if operator.endswith("IfExists"):
            return f"{label} uses {operator} on {key}, which is true when the key is absent; use {operators[0]}"
        if operator not in operators:
            return f"{label} uses {operator} on {key}; expected {operators[0]} {expected}"
        if values != [expected]:
            return f"{label}: {key} is {', '.join(values)}, expected exactly {expected}"
    return None


_KEY_MEANING = {"aws:SourceAccount": "account", "aws:SourceArn": "data store"}


def trust_policy_problems(document: dict[str, Any], account_id: str, datastore_arn: str) -> list[str]:
    """Why a trust policy does not allow exactly HealthImaging for this account's one data store (empty: it does)."""
    problems: list[str] = []
    allows = [s for s in _as_list(document.get("Statement", [])) if isinstance(s, dict) and s.get("Effect") == "Allow"]
    if not allows:
        return ["the trust policy allows nobody to assume the role, so import jobs cannot use it"]
    trusts_healthimaging = False
    for index, statement in enumerate(allows, 1):
        label = f"trust statement {statement.get('Sid') or index}"
        for negation in ("NotPrincipal", "NotAction"):
            if negation in statement:
                problems.append(f"{label} uses {negation}, which trusts more than HealthImaging")
        principal = statement.get("Principal", {})
        services = _as_list(principal.get("Service", [])) if isinstance(principal, dict) else []
        others = {k: v for k, v in principal.items() if k != "Service"} if isinstance(principal, dict) else principal
        if others or services != [HEALTHIMAGING_SERVICE_PRINCIPAL]:
            problems.append(
                f"{label} trusts {principal!r}; only {HEALTHIMAGING_SERVICE_PRINCIPAL!r} may assume the role"
            )
            continue
        trusts_healthimaging = True
        actions = _as_list(statement.get("Action", []))
        if actions != ["sts:AssumeRole"]:
            problems.append(f"{label} allows {', '.join(map(str, actions))}; only sts:AssumeRole is needed")
        condition = statement.get("Condition", {})
        if not isinstance(condition, dict):
            condition = {}
        for key, expected, operators in (
            ("aws:SourceAccount", account_id, _ACCOUNT_OPERATORS),
            ("aws:SourceArn", datastore_arn, _ARN_OPERATORS),
        ):
            problem = _key_problem(label, condition, key, expected, operators)
            if problem:
                problems.append(problem)
    if not trusts_healthimaging and not problems:
        problems.append(f"the trust policy does not trust {HEALTHIMAGING_SERVICE_PRINCIPAL}")
    return problems


def role_name(role_arn: str) -> str:
    """The role's name: the last segment of its ARN (after any path)."""
    return role_arn.rsplit("/", 1)[-1]


def check_trust_policy(ctx: VerifyContext) -> Outcome:
    outputs = ctx.outputs
    try:
        response = ctx.call(
            "iam", "get_role", about=role_name(outputs.import_role_arn), RoleName=role_name(outputs.import_role_arn)
        )
    except FailedCheckError:
        raise FailedCheckError(
            f"the import role {outputs.import_role_arn} does not exist in account {outputs.account_id}; "
            "deploy the stack again (`pulumi up`) or use the outputs of the deployed stack"
        ) from None
    assert response is not None
    role = response["Role"]
    if role.get("Arn") != outputs.import_role_arn:
        return failed(
            f"the role named {role.get('RoleName')} is {role.get('Arn')}, not the stack's {outputs.import_role_arn}"
        )
    document = role.get("AssumeRolePolicyDocument", {})
    if isinstance(document, str):
        document = json.loads(unquote(document))
    problems = trust_policy_problems(document, outputs.account_id, outputs.datastore_arn)
    if problems:
        return failed("; ".join(problems))
    return passed(
        f"only {HEALTHIMAGING_SERVICE_PRINCIPAL} may assume the role, with aws:SourceAccount {outputs.account_id} and "
        f"aws:SourceArn {outputs.datastore_arn}"
    )


# --- SimulatePrincipalPolicy ----------------------------------------------------------------------


@dataclass(frozen=True)
class Simulation:
    """One question for IAM's policy simulator about the import role, and the answer the stack means."""

    check_id: str
    description: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    allowed: bool
    context: dict[str, str] = field(default_factory=dict)


def simulations(ctx: VerifyContext) -> list[Simulation]:
    """The questions for the simulator: what the role must be allowed, and what it must be denied."""
    outputs = ctx.outputs
    input_arn = f"arn:aws:s3:::{outputs.input_bucket_name}"
    output_arn = f"arn:aws:s3:::{outputs.output_bucket_name}"
    same_account = {"s3:ResourceAccount": outputs.account_id}
    other_bucket = f"arn:aws:s3:::{outputs.input_bucket_name[:40]}-not-in-stack"
    result = [
        Simulation(
            "import-role.may-list-buckets",
            "list both buckets",
            ("s3:ListBucket",),
            (input_arn, output_arn),
            True,
            same_account,
        ),
        Simulation(
            "import-role.may-read-input",
            "read input objects",
            ("s3:GetObject",),
            (f"{input_arn}/*",),
            True,
            same_account,
        ),
        Simulation(
            "import-role.may-write-output",
            "write output objects",
            ("s3:PutObject",),
            (f"{output_arn}/*",),
            True,
            same_account,
        ),
    ]
    if outputs.bucket_kms_key_arn:
        via_s3 = {"kms:ViaService": f"s3.{ctx.region}.amazonaws.com"}
        result.append(
            Simulation(
                "import-role.may-use-bucket-key",
                "decrypt and generate data keys with the bucket key through S3",
                ("kms:Decrypt", "kms:GenerateDataKey"),
                (outputs.bucket_kms_key_arn,),
                True,
                via_s3,
            )
        )
    result += [
        Simulation(
            "import-role.may-not-delete",
            "delete objects or object versions",
            ("s3:DeleteObject", "s3:DeleteObjectVersion"),
            (f"{input_arn}/*", f"{output_arn}/*"),
            False,
            same_account,
        ),
        Simulation(
            "import-role.may-not-write-input",
            "write to the input bucket",
            ("s3:PutObject",),
            (f"{input_arn}/*",),
            False,
            same_account,
        ),
        Simulation(
            "import-role.may-not-read-other-bucket",
            "read a bucket that is not the stack's",
            ("s3:GetObject", "s3:ListBucket"),
            (f"{other_bucket}/*", other_bucket),
            False,
            same_account,
        ),
        Simulation(
            "import-role.may-not-read-other-account",
            f"read a bucket named {outputs.input_bucket_name} owned by another account",
            ("s3:GetObject",),
            (f"{input_arn}/*",),
            False,
            {"s3:ResourceAccount": OTHER_ACCOUNT_ID},
        ),
    ]
    return result


def _simulate(ctx: VerifyContext, simulation: Simulation) -> list[dict[str, Any]]:
    if ctx.blocked:
        raise CheckNotRunError(ctx.blocked)
    entries = [
        {"ContextKeyName": key, "ContextKeyValues": [value], "ContextKeyType": "string"}
        for key, value in simulation.context.items()
    ]
    results: list[dict[str, Any]] = []
    marker: str | None = None
    while True:
        params: dict[str, Any] = {
            "PolicySourceArn": ctx.outputs.import_role_arn,
            "ActionNames": list(simulation.actions),
            "ResourceArns": list(simulation.resources),
            "ContextEntries": entries,
        }
        if marker:
            params["Marker"] = marker
        response = ctx.call(
            "iam", "simulate_principal_policy", about=f"for {role_name(ctx.outputs.import_role_arn)}", **params
        )
        assert response is not None
        results += response.get("EvaluationResults", [])
        if not response.get("IsTruncated"):
            return results
        marker = response["Marker"]


def _decisions(results: list[dict[str, Any]]) -> list[tuple[str, str, str, list[str]]]:
    """(action, resource, decision, missing context keys) for every action/resource pair."""
    decisions = []
    for result in results:
        action = result.get("EvalActionName", "")
        missing = list(result.get("MissingContextValues", []))
        per_resource = result.get("ResourceSpecificResults") or []
        if per_resource:
            for item in per_resource:
                decisions.append(
                    (
                        action,
                        item.get("EvalResourceName", ""),
                        item.get("EvalResourceDecision", ""),
                        missing + list(item.get("MissingContextValues", [])),
                    )
                )
        else:
            decisions.append((action, result.get("EvalResourceName", ""), result.get("EvalDecision", ""), missing))
    return decisions


def check_simulation(ctx: VerifyContext, simulation: Simulation) -> Outcome:
    decisions = _decisions(_simulate(ctx, simulation))
    if not decisions:
        raise FailedCheckError(f"the policy simulator returned no result for {simulation.description}")
    context = ", ".join(f"{key}={value}" for key, value in simulation.context.items()) or "no context keys"
    wrong = [d for d in decisions if (d[2] == "allowed") != simulation.allowed]
    if wrong:
        shown = "; ".join(
            f"{action} on {resource}: {decision}" + (f" (missing context: {', '.join(missing)})" if missing else "")
            for action, resource, decision, missing in wrong
        )
        verb = "must be allowed to" if simulation.allowed else "must not be allowed to"
        return failed(
            f"the import role {verb} {simulation.description}, but the policy simulator says {shown} [{context}]"
        )
    verb = "may" if simulation.allowed else "may not"
    pairs = f"{len(decisions)} action/resource pair{'' if len(decisions) == 1 else 's'}"
    return passed(f"the import role {verb} {simulation.description} ({pairs}; {context})")
