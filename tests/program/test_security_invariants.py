"""Security invariants that no scanner checks, asserted on the whole offline plan of each example stack.

Each invariant is a function that walks a plan document and returns the problems it finds. The tests
assert that the real plans of ``Pulumi.dev.yaml`` and ``Pulumi.prod.yaml`` have none, and that each
function does report a deliberately broken copy of the plan (so every invariant can fail).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ahictl import plan as plan_module
from ahictl import policy_export
from testkit.mock_runs import DEV_ACCOUNT, DEV_REGION, PROJECT_DIR, run_program

STACKS = ("dev", "prod")
BUCKET = "aws:s3/bucket:Bucket"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
KMS_KEY = "aws:kms/key:Key"
KMS_KEY_POLICY = "aws:kms/keyPolicy:KeyPolicy"
#: Resource types whose ``policy`` input is a KMS key policy.
KEY_POLICY_TYPES = (KMS_KEY, KMS_KEY_POLICY)
DATASTORE = "aws-native:healthimaging:Datastore"
HEALTHIMAGING = "medical-imaging.amazonaws.com"
#: AWS HealthImaging developer guide, "Data encryption": the service-principal statement of the data store's key.
DATASTORE_KEY_SERVICE_ACTIONS = {"kms:Decrypt", "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext"}
KMS_ARN_CONTEXT = "kms:EncryptionContext:kms-arn"
DATASTORE_ID_CONTEXT = "kms:EncryptionContext:aws:medical-imaging:datastoreId"
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
    """Every statement that lets an AWS service act (trust policies, and bucket policies that name a service
    principal) conditions on this account (aws:SourceAccount) and on a source ARN (aws:SourceArn).

    KMS key policies are not held to this: AWS documents the encryption context, not aws:SourceArn, for the
    data store's key (see :func:`datastore_key_policy_problems`)."""
    problems = []
    for policy in policy_export.collect_policies(plan):
        if policy["type"] in KEY_POLICY_TYPES:
            continue
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


def _condition_values(statement: dict[str, Any], operator: str, key: str) -> list[Any]:
    return _as_list(statement.get("Condition", {}).get(operator, {}).get(key, []))


def datastore_key_policy_problems(plan: Plan) -> list[str]:
    """The data store's key policy has AWS's documented form (HealthImaging developer guide, "Data encryption").

    - No statement of the data store key's policy conditions on aws:SourceArn or aws:SourceAccount (documented
      for the import role's trust policy, not for HealthImaging's use of KMS). Other keys may: CloudTrail, for
      one, documents aws:SourceArn for the key that encrypts a trail's logs.
    - A key the program creates for the data store gets an aws.kms.KeyPolicy that waits for the data store
      (its policy input comes from the data store) and holds the account statement plus the service statement:
      principal medical-imaging.amazonaws.com; Decrypt, GenerateDataKey, GenerateDataKeyWithoutPlaintext;
      StringEquals on the encryption context's kms-arn (this key's ARN) and datastoreId (this data store's ID).
    - That key ignores changes to its own policy input, so the two never overwrite each other.
    """
    problems = []
    datastore_keys = {
        u for store in _resources(plan, DATASTORE) for u in store["propertyDependencies"].get("kmsKeyArn", [])
    }
    for resource in plan["resources"]:
        if resource["type"] not in KEY_POLICY_TYPES or not isinstance(resource["inputs"].get("policy"), dict):
            continue
        key_urns = (
            {resource["urn"]} if resource["type"] == KMS_KEY else set(resource["propertyDependencies"].get("keyId", []))
        )
        if not key_urns & datastore_keys:
            continue
        for statement in policy_export.iter_statements(resource["inputs"]["policy"]):
            for operator, keys in statement.get("Condition", {}).items():
                for key in keys:
                    if key in ("aws:SourceArn", "aws:SourceAccount"):
                        problems.append(f"{resource['name']} {statement.get('Sid')}: {operator} on {key}")
    keys_by_urn = {k["urn"]: k for k in _resources(plan, KMS_KEY)}
    key_policies = _resources(plan, KMS_KEY_POLICY)
    datastore_id = plan["outputs"].get("datastoreId")
    for store in _resources(plan, DATASTORE):
        created = [keys_by_urn[u] for u in store["propertyDependencies"].get("kmsKeyArn", []) if u in keys_by_urn]
        for key in created:
            key_arn = store["inputs"]["kmsKeyArn"]
            if "policy" not in key["ignoreChanges"]:
                problems.append(f"{key['name']}: its policy is owned by a KeyPolicy but the key does not ignore it")
            mine = [p for p in key_policies if key["urn"] in p["propertyDependencies"].get("keyId", [])]
            if len(mine) != 1:
                problems.append(f"{key['name']}: {len(mine)} aws.kms.KeyPolicy resources, expected 1")
                continue
            key_policy = mine[0]
            if store["urn"] not in key_policy["propertyDependencies"].get("policy", []):
                problems.append(f"{key_policy['name']}: its policy does not wait for the data store {store['name']}")
            statements = policy_export.iter_statements(key_policy["inputs"]["policy"])
            account_statements = [
                s
                for s in statements
                if s.get("Principal") == {"AWS": f"arn:aws:iam::{plan['accountId']}:root"} and not s.get("Condition")
            ]
            if len(account_statements) != 1:
                problems.append(f"{key_policy['name']}: no account statement delegating to IAM")
            service = [s for s in statements if s.get("Principal") == {"Service": HEALTHIMAGING}]
            if len(service) != 1:
                problems.append(f"{key_policy['name']}: {len(service)} statements for {HEALTHIMAGING}, expected 1")
                continue
            (statement,) = service
            if set(_as_list(statement.get("Action"))) != DATASTORE_KEY_SERVICE_ACTIONS:
                problems.append(
                    f"{key_policy['name']}: HealthImaging's actions are {sorted(_as_list(statement.get('Action')))}, "
                    f"not {sorted(DATASTORE_KEY_SERVICE_ACTIONS)}"
                )
            if _condition_values(statement, "StringEquals", KMS_ARN_CONTEXT) != [key_arn]:
                problems.append(f"{key_policy['name']}: no StringEquals {KMS_ARN_CONTEXT} = {key_arn}")
            ids = _condition_values(statement, "StringEquals", DATASTORE_ID_CONTEXT)
            if not ids or ids[0] != datastore_id:
                problems.append(f"{key_policy['name']}: no StringEquals {DATASTORE_ID_CONTEXT} = {datastore_id}")
            # Beside it, only replaced and retained data stores, each by its literal ID (never a pattern).
            for retained in ids[1:]:
                if not re.fullmatch(r"[0-9a-z]{32}", str(retained)):
                    problems.append(
                        f"{key_policy['name']}: {DATASTORE_ID_CONTEXT} = {retained!r} is not a data store ID"
                    )
            if (
                set(statement.get("Condition", {})) != {"StringEquals"}
                or len(statement["Condition"]["StringEquals"]) != 2
            ):
                problems.append(
                    f"{key_policy['name']}: conditions other than the documented two: {statement['Condition']}"
                )
    return problems


def datastore_key_via_service_problems(plan: Plan) -> list[str]:
    """Identities use the data store's key only through HealthImaging: every identity statement that names the
    key conditions on StringEquals kms:ViaService = medical-imaging.<region>.amazonaws.com."""
    problems = []
    key_arns = {s["inputs"]["kmsKeyArn"] for s in _resources(plan, DATASTORE) if s["inputs"].get("kmsKeyArn")}
    via = f"medical-imaging.{plan['region']}.amazonaws.com"
    for policy in policy_export.collect_policies(plan):
        if policy["kind"] != "identity":
            continue
        for statement in policy_export.iter_statements(policy["document"]):
            resources = set(_as_list(statement.get("Resource"))) | set(_as_list(statement.get("NotResource")))
            if (
                statement.get("Effect") == "Allow"
                and resources & (key_arns | {"*"})
                and any(str(a).startswith("kms:") for a in _as_list(statement.get("Action")))
            ) and _condition_values(statement, "StringEquals", "kms:ViaService") != [via]:
                problems.append(
                    f"{policy['resource']} {statement.get('Sid')}: data store key without kms:ViaService {via}"
                )
    return problems


def kms_key_problems(plan: Plan) -> list[str]:
    """Every KMS key rotates, waits 30 days before deletion and keeps the key-policy lockout check, and no key
    policy bypasses that check."""
    problems = [
        f"{p['name']}: bypasses the key policy lockout safety check"
        for p in _resources(plan, KMS_KEY_POLICY)
        if p["inputs"].get("bypassPolicyLockoutSafetyCheck", False) is not False
    ]
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
    """protect and retainOnDelete on every data store, bucket, KMS key and key policy."""
    return [
        f"{r['type']} {r['name']}: protect={r['protect']} retainOnDelete={r['retainOnDelete']}"
        for r in plan["resources"]
        if r["type"] in (DATASTORE, BUCKET, KMS_KEY, KMS_KEY_POLICY) and not (r["protect"] and r["retainOnDelete"])
    ]


def force_destroy_problems(plan: Plan) -> list[str]:
    """No resource has force_destroy (or forceDestroy) turned on, at any depth of its inputs."""
    return [
        f"{r['type']} {r['name']}: {key} = {value!r}"
        for r in plan["resources"]
        for key, value in _walk(r["inputs"])
        if key in ("forceDestroy", "force_destroy") and value not in (False, None)
    ]


#: Resources that hold data at rest, and the input that names their customer managed key.
ENCRYPTED_AT_REST = {
    "aws:sns/topic:Topic": ("kmsMasterKeyId",),
    "aws:sqs/queue:Queue": ("kmsMasterKeyId",),
    "aws:dynamodb/table:Table": ("serverSideEncryption", "kmsKeyArn"),
    "aws:cloudwatch/logGroup:LogGroup": ("kmsKeyId",),
    "aws:lambda/function:Function": ("kmsKeyArn",),
    "aws:cloudtrail/trail:Trail": ("kmsKeyId",),
}


def _dig(inputs: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = inputs
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def customer_managed_encryption_problems(plan: Plan) -> list[str]:
    """Topics, queues, tables, log groups, function environments and trails are encrypted with a customer managed key
    (SNS.1, SQS.1, CloudWatch.16, Lambda env vars, CloudTrail.2): a key ARN, never an alias or an AWS managed key."""
    problems = []
    for type_, path in ENCRYPTED_AT_REST.items():
        for resource in _resources(plan, type_):
            key = _dig(resource["inputs"], path)
            if not (isinstance(key, str) and ":key/" in key and key.startswith("arn:aws:kms:")):
                problems.append(f"{resource['name']}: {'.'.join(path)} = {key!r} is not a customer managed key ARN")
            if (
                type_ == "aws:dynamodb/table:Table"
                and resource["inputs"].get("serverSideEncryption", {}).get("enabled") is not True
            ):
                problems.append(f"{resource['name']}: server-side encryption with the key is not enabled")
    return problems


def log_retention_problems(plan: Plan) -> list[str]:
    """Every log group keeps its logs for at least a year, and not forever (CloudWatch.16)."""
    return [
        f"{r['name']}: retentionInDays = {r['inputs'].get('retentionInDays')!r}"
        for r in _resources(plan, "aws:cloudwatch/logGroup:LogGroup")
        if not isinstance(r["inputs"].get("retentionInDays"), int) or r["inputs"]["retentionInDays"] < 365
    ]


def function_bounds_problems(plan: Plan) -> list[str]:
    """Every function has a dead-letter queue and reserved concurrency, and no service may invoke it from any source
    but one of this account's rules (Lambda.1-3)."""
    problems = []
    for function in _resources(plan, "aws:lambda/function:Function"):
        if not str(_dig(function["inputs"], ("deadLetterConfig", "targetArn")) or "").startswith("arn:aws:sqs:"):
            problems.append(f"{function['name']}: no dead-letter queue")
        if not isinstance(function["inputs"].get("reservedConcurrentExecutions"), int) or not (
            1 <= function["inputs"]["reservedConcurrentExecutions"] <= 20
        ):
            problems.append(f"{function['name']}: reserved concurrency is not bounded")
    for permission in _resources(plan, "aws:lambda/permission:Permission"):
        inputs = permission["inputs"]
        if inputs.get("sourceAccount") != plan["accountId"] or not str(inputs.get("sourceArn", "")).startswith(
            f"arn:aws:events:{plan['region']}:{plan['accountId']}:rule/"
        ):
            problems.append(f"{permission['name']}: invocation not limited to a rule of this account")
    return problems


def audit_trail_problems(plan: Plan) -> list[str]:
    """The trail validates its log files, records the data events of exactly this stack's buckets (objects), data store
    and image sets, and management events."""
    problems = []
    outputs = plan["outputs"]
    trails = _resources(plan, "aws:cloudtrail/trail:Trail")
    if len(trails) != 1:
        return [f"{len(trails)} trails, expected 1"]
    (trail,) = trails
    if trail["inputs"].get("enableLogFileValidation") is not True:
        problems.append(f"{trail['name']}: log file validation is off")
    recorded: dict[str, list[str]] = {}
    categories = set()
    for selector in trail["inputs"].get("advancedEventSelectors", []):
        fields = {f["field"]: f for f in selector["fieldSelectors"]}
        categories.update(fields["eventCategory"]["equals"])
        if "resources.type" in fields:
            arn = fields.get("resources.ARN", {})
            recorded[fields["resources.type"]["equals"][0]] = arn.get("equals", []) + arn.get("startsWiths", [])
    expected = {
        "AWS::S3::Object": [f"{outputs['inputBucketArn']}/", f"{outputs['outputBucketArn']}/"],
        "AWS::MedicalImaging::Datastore": [outputs["datastoreArn"]],
        "AWS::MedicalImaging::Imageset": [f"{outputs['datastoreArn']}/imageset/"],
    }
    if recorded != expected:
        problems.append(f"{trail['name']}: data events recorded {recorded}, expected {expected}")
    if categories != {"Management", "Data"}:
        problems.append(f"{trail['name']}: event categories {sorted(categories)}")
    return problems


INVARIANTS: dict[str, Callable[[Plan], list[str]]] = {
    "tls_only": tls_only_problems,
    "confused_deputy": confused_deputy_problems,
    "set_operators": set_operator_problems,
    "kms_keys": kms_key_problems,
    "datastore_key_policy": datastore_key_policy_problems,
    "datastore_key_via_service": datastore_key_via_service_problems,
    "protection": protection_problems,
    "force_destroy": force_destroy_problems,
    "customer_managed_encryption": customer_managed_encryption_problems,
    "log_retention": log_retention_problems,
    "function_bounds": function_bounds_problems,
    "audit_trail": audit_trail_problems,
}


# --- the real plans hold every invariant --------------------------------------------------------------


def test_plan_has_the_resources_the_invariants_are_about(plan: Plan) -> None:
    # The input, output, log and audit buckets; the keys of the buckets, data store, import alerts and audit trail.
    assert len(_resources(plan, BUCKET)) == 4
    assert len(_resources(plan, BUCKET_POLICY)) == 4
    assert len(_resources(plan, KMS_KEY)) == 4
    for type_ in ENCRYPTED_AT_REST:
        assert _resources(plan, type_), type_
    assert len(_resources(plan, KMS_KEY_POLICY)) == 1
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


def _datastore_key_service_statement(plan: Plan) -> dict[str, Any]:
    statements = _first(plan, KMS_KEY_POLICY)["inputs"]["policy"]["Statement"]
    return next(s for s in statements if s.get("Principal") == {"Service": HEALTHIMAGING})


def _break_datastore_key_policy(plan: Plan) -> None:
    # The form this project used before: an aws:SourceArn pattern instead of the documented encryption context.
    _datastore_key_service_statement(plan)["Condition"] = {
        "ArnLike": {"aws:SourceArn": f"arn:aws:medical-imaging:{plan['region']}:{plan['accountId']}:datastore/*"}
    }


def _break_datastore_key_via_service(plan: Plan) -> None:
    key_arn = _first(plan, DATASTORE)["inputs"]["kmsKeyArn"]
    policy = _first(plan, "aws:iam/policy:Policy")["inputs"]["policy"]
    policy["Statement"].append(
        {"Sid": "UseTheKeyDirectly", "Effect": "Allow", "Action": "kms:Decrypt", "Resource": key_arn}
    )


def _break_protection(plan: Plan) -> None:
    _first(plan, DATASTORE)["retainOnDelete"] = False


def _break_force_destroy(plan: Plan) -> None:
    _first(plan, BUCKET)["inputs"]["forceDestroy"] = True


def _break_customer_managed_encryption(plan: Plan) -> None:
    del _first(plan, "aws:sns/topic:Topic")["inputs"]["kmsMasterKeyId"]


def _break_log_retention(plan: Plan) -> None:
    _first(plan, "aws:cloudwatch/logGroup:LogGroup")["inputs"]["retentionInDays"] = 30


def _break_function_bounds(plan: Plan) -> None:
    del _first(plan, "aws:lambda/function:Function")["inputs"]["reservedConcurrentExecutions"]


def _break_audit_trail(plan: Plan) -> None:
    selectors = _first(plan, "aws:cloudtrail/trail:Trail")["inputs"]["advancedEventSelectors"]
    selectors[:] = [s for s in selectors if "image sets" not in s["name"]]


BREAKERS: dict[str, Callable[[Plan], None]] = {
    "tls_only": _break_tls,
    "confused_deputy": _break_confused_deputy,
    "set_operators": _break_set_operators,
    "kms_keys": _break_kms,
    "datastore_key_policy": _break_datastore_key_policy,
    "datastore_key_via_service": _break_datastore_key_via_service,
    "protection": _break_protection,
    "force_destroy": _break_force_destroy,
    "customer_managed_encryption": _break_customer_managed_encryption,
    "log_retention": _break_log_retention,
    "function_bounds": _break_function_bounds,
    "audit_trail": _break_audit_trail,
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


# --- the data store key policy, case by case (each fails on the form with aws:SourceArn) --------------


@pytest.mark.parametrize(
    ("breaker", "expected"),
    [
        (
            lambda p: _datastore_key_service_statement(p)["Action"].remove("kms:GenerateDataKeyWithoutPlaintext"),
            "HealthImaging's actions are",
        ),
        (
            lambda p: _datastore_key_service_statement(p)["Condition"]["StringEquals"].pop(DATASTORE_ID_CONTEXT),
            f"no StringEquals {DATASTORE_ID_CONTEXT}",
        ),
        (
            lambda p: _datastore_key_service_statement(p)["Condition"]["StringEquals"].pop(KMS_ARN_CONTEXT),
            f"no StringEquals {KMS_ARN_CONTEXT}",
        ),
        (
            lambda p: _datastore_key_service_statement(p)["Condition"].update(
                {
                    "StringEquals": {
                        **_datastore_key_service_statement(p)["Condition"]["StringEquals"],
                        "aws:SourceAccount": p["accountId"],
                    }
                }
            ),
            "StringEquals on aws:SourceAccount",
        ),
        (lambda p: _first(p, KMS_KEY_POLICY)["propertyDependencies"].pop("policy"), "does not wait for the data store"),
        (lambda p: _key_of_datastore(p)["ignoreChanges"].clear(), "does not ignore it"),
        (lambda p: p["resources"].remove(_first(p, KMS_KEY_POLICY)), "0 aws.kms.KeyPolicy resources"),
    ],
)
def test_datastore_key_policy_invariant_names_what_is_wrong(
    plan: Plan, breaker: Callable[[Plan], Any], expected: str
) -> None:
    broken = copy.deepcopy(plan)
    breaker(broken)
    assert any(expected in problem for problem in datastore_key_policy_problems(broken)), datastore_key_policy_problems(
        broken
    )


def _key_of_datastore(plan: Plan) -> dict[str, Any]:
    (urn,) = _first(plan, DATASTORE)["propertyDependencies"]["kmsKeyArn"]
    return next(r for r in plan["resources"] if r["urn"] == urn)


def test_the_data_store_key_service_statement_names_this_key_and_this_data_store(plan: Plan) -> None:
    statement = _datastore_key_service_statement(plan)
    assert statement["Condition"]["StringEquals"] == {
        KMS_ARN_CONTEXT: _first(plan, DATASTORE)["inputs"]["kmsKeyArn"],
        DATASTORE_ID_CONTEXT: plan["outputs"]["datastoreId"],
    }
    assert "kms:GenerateDataKeyWithoutPlaintext" in statement["Action"]


def test_retained_data_stores_keep_the_documented_statement_by_their_literal_ids() -> None:
    retained = "0123456789abcdef0123456789abcdef"
    run = run_program(allowDatastoreReplacement=True, retainedDatastoreIds=[retained])
    replaced = plan_module.build_plan(run, account_id=DEV_ACCOUNT, region=DEV_REGION)
    assert datastore_key_policy_problems(replaced) == []
    statement = _datastore_key_service_statement(replaced)
    assert statement["Condition"]["StringEquals"][DATASTORE_ID_CONTEXT] == [
        replaced["outputs"]["datastoreId"],
        retained,
    ]
    statement["Condition"]["StringEquals"][DATASTORE_ID_CONTEXT][1] = "*"
    assert any("'*' is not a data store ID" in p for p in datastore_key_policy_problems(replaced))


def test_break_glass_uses_the_data_store_key_through_healthimaging_only() -> None:
    """The only persona that names the data store's key (deleting the data store needs it)."""
    run = run_program(accessPersonas=["admin", "importer", "reader", "break-glass"])
    broken_glass = plan_module.build_plan(run, account_id=DEV_ACCOUNT, region=DEV_REGION)
    key_arn = _first(broken_glass, DATASTORE)["inputs"]["kmsKeyArn"]
    break_glass = next(
        p for p in policy_export.collect_policies(broken_glass) if p["resource"] == "access-break-glass-policy"
    )
    assert key_arn in json.dumps(break_glass["document"])
    assert datastore_key_via_service_problems(broken_glass) == []
