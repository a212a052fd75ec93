"""Security invariants that no scanner checks, asserted on the whole offline plan of each example stack.

Each invariant is a function that walks a plan document and returns the problems it finds. The tests
assert that the real plans of ``Pulumi.dev.yaml`` and ``Pulumi.prod.yaml`` have none, and that each
function does report a deliberately broken copy of the plan (so every invariant can fail).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ahictl import plan as plan_module
from ahictl import policy_export
from tests.helpers import PROJECT_DIR

STACKS = ("dev", "prod")
BUCKET = "aws:s3/bucket:Bucket"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
KMS_KEY = "aws:kms/key:Key"
DATASTORE = "aws-native:healthimaging:Datastore"
#: Condition keys that may carry several values in one request: the only ones where the set
#: operators ForAllValues:/ForAnyValue: are meaningful.
MULTI_VALUED_KEYS = frozenset(
    {
        "aws:TagKeys",
        "aws:CalledVia",
        "aws:PrincipalServiceNamesList",
        "aws:PrincipalOrgPaths",
        "kms:GrantOperations",
        "kms:EncryptionContextKeys",
    }
)

Plan = dict[str, Any]


@pytest.fixture(scope="module", params=STACKS)
def plan(request: pytest.FixtureRequest) -> Plan:
    return plan_module.plan_stack(PROJECT_DIR, request.param)


def _resources(plan: Plan, type_: str) -> list[dict[str, Any]]:
    return [r for r in plan["resources"] if r["type"] == type_]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _walk(value: Any) -> Iterator[tuple[str, Any]]:
    """Every (key, value) pair at any depth of a JSON value."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield key, item
            yield from _walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item)


# --- the invariants ---------------------------------------------------------------------------------


def tls_only_problems(plan: Plan) -> list[str]:
    """Every bucket has a bucket policy that denies requests without TLS and with TLS older than 1.2."""
    problems = []
    policies_by_bucket = {p["inputs"].get("bucket"): p for p in _resources(plan, BUCKET_POLICY)}
    for bucket in _resources(plan, BUCKET):
        name = bucket["inputs"]["bucket"]
        arns = {f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/*"}
        policy = policies_by_bucket.get(name)
        if policy is None:
            problems.append(f"{bucket['name']}: no bucket policy")
            continue
        if bucket["urn"] not in policy["propertyDependencies"].get("bucket", []):
            problems.append(f"{policy['name']}: its bucket input does not come from {bucket['name']}")
        statements = policy_export.iter_statements(policy["inputs"]["policy"])

        def denies(
            operator: str,
            key: str,
            accepted: set[str],
            statements: list[dict[str, Any]] = statements,
            arns: set[str] = arns,
        ) -> bool:
            return any(
                s.get("Effect") == "Deny"
                and s.get("Principal") in ("*", {"AWS": "*"})
                and "s3:*" in _as_list(s.get("Action"))
                and set(_as_list(s.get("Resource"))) >= arns
                and str(s.get("Condition", {}).get(operator, {}).get(key)) in accepted
                for s in statements
            )

        if not denies("Bool", "aws:SecureTransport", {"false", "False"}):
            problems.append(f"{policy['name']}: no Deny on aws:SecureTransport = false for the bucket and its objects")
        if not denies("NumericLessThan", "s3:TlsVersion", {"1.2"}):
            problems.append(f"{policy['name']}: no Deny on s3:TlsVersion < 1.2 for the bucket and its objects")
    return problems


def confused_deputy_problems(plan: Plan) -> list[str]:
    """Every statement that lets an AWS service act (trust policies, and bucket and key policies that name a
    service principal) conditions on this account (aws:SourceAccount) and on a source ARN (aws:SourceArn)."""
    problems = []
    for policy in policy_export.collect_policies(plan):
        for statement in policy_export.iter_statements(policy["document"]):
            principal = statement.get("Principal")
            if statement.get("Effect") != "Allow" or not (isinstance(principal, dict) and "Service" in principal):
                if policy["kind"] == "trust" and statement.get("Effect") == "Allow":
                    problems.append(f"{policy['resource']}: trust statement without a service principal: {statement}")
                continue
            condition = statement.get("Condition", {})
            account = condition.get("StringEquals", {}).get("aws:SourceAccount")
            source_arn = condition.get("ArnEquals", {}).get("aws:SourceArn") or condition.get("ArnLike", {}).get(
                "aws:SourceArn"
            )
            if account != plan["accountId"]:
                problems.append(f"{policy['resource']} {statement.get('Sid')}: no StringEquals aws:SourceAccount")
            if not source_arn:
                problems.append(f"{policy['resource']} {statement.get('Sid')}: no ArnEquals/ArnLike aws:SourceArn")
            if policy["kind"] == "trust" and "ArnEquals" not in condition:
                problems.append(f"{policy['resource']}: the trust policy must name the exact source ARN (ArnEquals)")
    return problems


def set_operator_problems(plan: Plan) -> list[str]:
    """No ForAllValues:/ForAnyValue: on a single-valued condition key, in any policy document of the plan."""
    problems = []
    for policy in policy_export.collect_policies(plan):
        for statement in policy_export.iter_statements(policy["document"]):
            for operator, keys in statement.get("Condition", {}).items():
                if not operator.startswith(("ForAllValues:", "ForAnyValue:")):
                    continue
                for key in keys:
                    if key not in MULTI_VALUED_KEYS and not key.startswith("aws:RequestTag/"):
                        problems.append(f"{policy['resource']} {statement.get('Sid')}: {operator} on {key}")
    return problems


def kms_key_problems(plan: Plan) -> list[str]:
    """Every KMS key rotates, waits 30 days before deletion and keeps the key-policy lockout check."""
    problems = []
    for key in _resources(plan, KMS_KEY):
        inputs = key["inputs"]
        if inputs.get("enableKeyRotation") is not True:
            problems.append(f"{key['name']}: key rotation is not on")
        if inputs.get("deletionWindowInDays") != 30:
            problems.append(f"{key['name']}: deletion window is {inputs.get('deletionWindowInDays')}, not 30 days")
        if inputs.get("bypassPolicyLockoutSafetyCheck", False) is not False:
            problems.append(f"{key['name']}: bypasses the key policy lockout safety check")
    return problems


def protection_problems(plan: Plan) -> list[str]:
    """protect and retainOnDelete on every data store, bucket and KMS key."""
    return [
        f"{r['type']} {r['name']}: protect={r['protect']} retainOnDelete={r['retainOnDelete']}"
        for r in plan["resources"]
        if r["type"] in (DATASTORE, BUCKET, KMS_KEY) and not (r["protect"] and r["retainOnDelete"])
    ]


def force_destroy_problems(plan: Plan) -> list[str]:
    """No resource has force_destroy (or forceDestroy) turned on, at any depth of its inputs."""
    return [
        f"{r['type']} {r['name']}: {key} = {value!r}"
        for r in plan["resources"]
        for key, value in _walk(r["inputs"])
        if key in ("forceDestroy", "force_destroy") and value not in (False, None)
    ]


INVARIANTS: dict[str, Callable[[Plan], list[str]]] = {
    "tls_only": tls_only_problems,
    "confused_deputy": confused_deputy_problems,
    "set_operators": set_operator_problems,
    "kms_keys": kms_key_problems,
    "protection": protection_problems,
    "force_destroy": force_destroy_problems,
}


# --- the real plans hold every invariant --------------------------------------------------------------


def test_plan_has_the_resources_the_invariants_are_about(plan: Plan) -> None:
    assert len(_resources(plan, BUCKET)) == 3
    assert len(_resources(plan, BUCKET_POLICY)) == 3
    assert len(_resources(plan, KMS_KEY)) == 2
    assert len(_resources(plan, DATASTORE)) == 1
    kinds = {p["kind"] for p in policy_export.collect_policies(plan)}
    assert kinds == {"identity", "trust", "resource"}


@pytest.mark.parametrize("invariant", sorted(INVARIANTS))
def test_plan_holds_invariant(plan: Plan, invariant: str) -> None:
    assert INVARIANTS[invariant](plan) == []


# --- each invariant reports a broken plan -------------------------------------------------------------


def _first(plan: Plan, type_: str) -> dict[str, Any]:
    return _resources(plan, type_)[0]


def _trust_policy(plan: Plan) -> dict[str, Any]:
    return _first(plan, "aws:iam/role:Role")["inputs"]["assumeRolePolicy"]


def _break_tls(plan: Plan) -> None:
    policy = _first(plan, BUCKET_POLICY)["inputs"]["policy"]
    policy["Statement"] = [s for s in policy["Statement"] if s.get("Sid") != "DenyOutdatedTlsVersions"]


def _break_confused_deputy(plan: Plan) -> None:
    del _trust_policy(plan)["Statement"][0]["Condition"]["ArnEquals"]


def _break_set_operators(plan: Plan) -> None:
    condition = _trust_policy(plan)["Statement"][0]["Condition"]
    condition["ForAllValues:StringEquals"] = condition.pop("StringEquals")


def _break_kms(plan: Plan) -> None:
    _first(plan, KMS_KEY)["inputs"]["deletionWindowInDays"] = 7


def _break_protection(plan: Plan) -> None:
    _first(plan, DATASTORE)["retainOnDelete"] = False


def _break_force_destroy(plan: Plan) -> None:
    _first(plan, BUCKET)["inputs"]["forceDestroy"] = True


BREAKERS: dict[str, Callable[[Plan], None]] = {
    "tls_only": _break_tls,
    "confused_deputy": _break_confused_deputy,
    "set_operators": _break_set_operators,
    "kms_keys": _break_kms,
    "protection": _break_protection,
    "force_destroy": _break_force_destroy,
}


@pytest.mark.parametrize("invariant", sorted(INVARIANTS))
def test_invariant_reports_a_broken_plan(plan: Plan, invariant: str) -> None:
    broken = copy.deepcopy(plan)
    BREAKERS[invariant](broken)
    assert INVARIANTS[invariant](broken) != []
    assert INVARIANTS[invariant](plan) == []


def test_trust_policy_with_for_all_values_is_also_a_confused_deputy() -> None:
    """The guide's ForAllValues:StringEquals form loses the plain StringEquals the invariant asks for."""
    broken = copy.deepcopy(plan_module.plan_stack(PROJECT_DIR, "dev"))
    _break_set_operators(broken)
    assert any("aws:SourceAccount" in p for p in confused_deputy_problems(broken))
