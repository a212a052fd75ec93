"""Verify checks of the data store's creation-time options and of its DICOMweb authorizer.

- The data store's ``losslessStorageFormat`` and ``lambdaAuthorizerArn`` (GetDatastore returns both) are the ones
  the stack outputs say (``datastoreLosslessStorageFormat``, ``datastoreLambdaAuthorizerArn``; an outputs file of an
  older stack lacks them: HTJ2K and no authorizer).
- With an authorizer: the function exists, and its resource policy (Lambda GetPolicy) lets only HealthImaging invoke
  it (``lambda:InvokeFunction``), for this account (``AWS:SourceAccount``) and this data store (``AWS:SourceArn``).
- Each persona role of the built authorizer (``dicomwebPersonaRoleArns``) trusts HealthImaging only for this data
  store (the same rules as the import role's trust policy, :func:`ahiops.checks_import_role.trust_policy_problems`).

The rules are pure functions of the documents (:func:`authorizer_policy_problems`), so they are tested on recorded
answers as well as against moto.
"""

from __future__ import annotations

import json
from typing import Any

from .checks_datastore import datastore_properties
from .checks_import_role import (
    _ACCOUNT_OPERATORS,
    _ARN_OPERATORS,
    HEALTHIMAGING_SERVICE_PRINCIPAL,
    _key_problem,
    role_name,
    trust_policy_problems,
)
from .verify_context import FailedCheckError, Outcome, VerifyContext, failed, passed

#: The format HealthImaging uses when CreateDatastore names none.
DEFAULT_FORMAT = "HTJ2K"
INVOKE_ACTION = "lambda:InvokeFunction"


def healthimaging_invokers(region: str) -> tuple[str, ...]:
    """The service principals that stand for HealthImaging in a function's resource policy: the regional one
    (``medical-imaging.<region>.amazonaws.com``, which HealthImaging's guide names for authorizers) and the global
    one."""
    return (f"medical-imaging.{region}.amazonaws.com", HEALTHIMAGING_SERVICE_PRINCIPAL)


def check_lossless_storage_format(ctx: VerifyContext) -> Outcome:
    actual = datastore_properties(ctx).get("losslessStorageFormat") or DEFAULT_FORMAT
    expected = ctx.outputs.datastore_lossless_storage_format
    if actual != expected:
        return failed(
            f"the data store stores lossless frames as {actual}, but the stack says {expected}: the format is fixed at "
            "creation; this data store was not created by this stack's configuration (docs/security-and-data-safety.md, "
            "'Changing the data store')"
        )
    return passed(f"the data store stores lossless frames as {actual}, as the stack says")


def check_authorizer(ctx: VerifyContext) -> Outcome:
    actual = datastore_properties(ctx).get("lambdaAuthorizerArn") or None
    expected = ctx.outputs.datastore_lambda_authorizer_arn
    if actual == expected:
        return passed(
            f"the data store's authorizer is {actual}, as the stack says"
            if actual
            else "no authorizer, as the stack says"
        )
    return failed(
        f"the data store's authorizer is {actual or 'none'}, but the stack says {expected or 'none'}: the authorizer is "
        "fixed at creation"
    )


def authorizer_policy_problems(
    document: dict[str, Any], *, account_id: str, region: str, datastore_arn: str
) -> list[str]:
    """Why a function's resource policy does not let exactly HealthImaging invoke it for this account's one data
    store (empty: it does)."""
    statements = [s for s in document.get("Statement", []) if isinstance(s, dict)]
    allows = [s for s in statements if s.get("Effect") == "Allow"]
    if not allows:
        return ["the function's resource policy lets nobody invoke it, so HealthImaging cannot ask it about a token"]
    invokers = healthimaging_invokers(region)
    problems: list[str] = []
    for index, statement in enumerate(allows, 1):
        label = f"statement {statement.get('Sid') or index}"
        principal = statement.get("Principal")
        services = principal.get("Service") if isinstance(principal, dict) else None
        if not (isinstance(principal, dict) and set(principal) == {"Service"} and services in invokers):
            problems.append(f"{label} lets {principal!r} invoke the function; only HealthImaging ({invokers[0]}) may")
            continue
        actions = statement.get("Action")
        if (actions if isinstance(actions, list) else [actions]) != [INVOKE_ACTION]:
            problems.append(f"{label} allows {actions!r}; only {INVOKE_ACTION} is needed")
        raw_condition = statement.get("Condition")
        condition: dict[str, Any] = raw_condition if isinstance(raw_condition, dict) else {}
        for key, expected, operators in (
            ("aws:SourceAccount", account_id, _ACCOUNT_OPERATORS),
            ("aws:SourceArn", datastore_arn, _ARN_OPERATORS),
        ):
            problem = _key_problem(label, condition, key, expected, operators)
            if problem:
                problems.append(problem.replace("may use the role", "may invoke the function"))
    return problems


def _function_and_qualifier(arn: str) -> tuple[str, str | None]:
    """``arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]`` -> (unqualified ARN, qualifier)."""
    parts = arn.split(":")
    return ":".join(parts[:7]), parts[7] if len(parts) > 7 else None


def check_authorizer_policy(ctx: VerifyContext) -> Outcome:
    arn = ctx.outputs.datastore_lambda_authorizer_arn
    assert arn is not None  # planned only with an authorizer
    function, qualifier = _function_and_qualifier(arn)
    request: dict[str, Any] = {"FunctionName": function}
    if qualifier:
        request["Qualifier"] = qualifier
    try:
        response = ctx.call("lambda", "get_policy", about=arn, **request)
    except FailedCheckError as error:
        raise FailedCheckError(
            f"the authorizer {arn} has no resource policy or does not exist ({error}): HealthImaging cannot invoke it"
        ) from None
    assert response is not None
    document = json.loads(response["Policy"])
    problems = authorizer_policy_problems(
        document, account_id=ctx.outputs.account_id, region=ctx.region, datastore_arn=ctx.outputs.datastore_arn
    )
    if problems:
        return failed("; ".join(problems))
    return passed(f"only HealthImaging may invoke {arn}, for this account and data store")


def check_persona_role(ctx: VerifyContext, persona: str, role_arn: str) -> Outcome:
    name = role_name(role_arn)
    try:
        response = ctx.call("iam", "get_role", about=name, RoleName=name)
    except FailedCheckError:
        raise FailedCheckError(f"the {persona} persona's role {role_arn} does not exist") from None
    assert response is not None
    document = response["Role"]["AssumeRolePolicyDocument"]
    if isinstance(document, str):
        document = json.loads(document)
    problems = trust_policy_problems(document, ctx.outputs.account_id, ctx.outputs.datastore_arn)
    if problems:
        return failed(f"the {persona} persona's role {name}: " + "; ".join(problems))
    return passed(f"the {persona} persona's role {name} trusts only HealthImaging, for this data store")
