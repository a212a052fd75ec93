"""HealthImagingAccess under mocks, on its own and in the program: each access route on and off, the
settings that drive it, and bad input refused before anything is created."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from ahictl import mockrun
from ahictl.mockrun import PlannedResource, ProgramRun
from components import HealthImagingAccess, HealthImagingAccessArgs, InvalidInputError
from components.access import validate_access_args
from program.settings import read_settings
from testkit.mock_runs import PROJECT, PROJECT_DIR, dev_config, policy_of, run_component, run_program

ACCOUNT = "111122223333"
REGION = "us-east-1"
DATASTORE = f"arn:aws:medical-imaging:{REGION}:{ACCOUNT}:datastore/0123456789abcdef0123456789abcdef"
INSTANCE = "arn:aws:sso:::instance/ssoins-0123456789abcdef"
ALICE = f"arn:aws:iam::{ACCOUNT}:user/alice"
BOB = f"arn:aws:iam::{ACCOUNT}:user/bob"

FORBIDDEN_TYPES = {"aws:iam/accessKey:AccessKey", "aws:iam/userLoginProfile:UserLoginProfile"}
POLICY = "aws:iam/policy:Policy"
GROUP = "aws:iam/group:Group"
GROUP_ATTACHMENT = "aws:iam/groupPolicyAttachment:GroupPolicyAttachment"
ROLE = "aws:iam/role:Role"
ROLE_ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
PERMISSION_SET = "aws:ssoadmin/permissionSet:PermissionSet"
PERMISSION_SET_POLICY = "aws:ssoadmin/customerManagedPolicyAttachment:CustomerManagedPolicyAttachment"
USER = "aws:iam/user:User"
MEMBERSHIP = "aws:iam/userGroupMembership:UserGroupMembership"


def base_args(**overrides: Any) -> HealthImagingAccessArgs:
    args: dict[str, Any] = {
        "account_id": ACCOUNT,
        "region": REGION,
        "name_prefix": "ahi-test",
        "datastore_arn": DATASTORE,
        "input_bucket_arn": "arn:aws:s3:::ahi-test-input",
        "output_bucket_arn": "arn:aws:s3:::ahi-test-output",
        "import_role_arn": f"arn:aws:iam::{ACCOUNT}:role/ahi-test-ImportJobDataAccessRole",
        **overrides,
    }
    return args  # type: ignore[return-value]


def build(**overrides: Any) -> ProgramRun:
    args = base_args(**overrides)
    return run_component(lambda: HealthImagingAccess("access", args) and None)


def names(run: ProgramRun, type_: str) -> list[str]:
    """The physical names of the resources of one type, sorted (registration order is not fixed)."""
    return sorted(r.inputs.get("name", r.name) for r in run.by_type(type_))


def access_resources(run: ProgramRun) -> list[PlannedResource]:
    component = run.one("healthimaging:index:HealthImagingAccess")
    return run.children_of(component)


# --- Defaults ---------------------------------------------------------------------------------------


def test_defaults_create_a_policy_and_a_group_per_everyday_persona_and_nothing_else() -> None:
    run = build()
    assert names(run, POLICY) == ["ahi-test-admin", "ahi-test-importer", "ahi-test-reader"]
    assert names(run, GROUP) == ["ahi-test-admin", "ahi-test-importer", "ahi-test-reader"]
    assert len(run.by_type(GROUP_ATTACHMENT)) == 3
    for type_ in (ROLE, PERMISSION_SET, PERMISSION_SET_POLICY, USER, MEMBERSHIP):
        assert run.by_type(type_) == []
    assert {r.type for r in access_resources(run)} == {POLICY, GROUP, GROUP_ATTACHMENT}


def test_each_group_gets_its_own_personas_policy() -> None:
    run = build()
    for persona in ("admin", "importer", "reader"):
        attachment = run.named(f"access-{persona}-group-policy")
        policy = run.named(f"access-{persona}-policy")
        assert attachment.inputs == {"group": f"ahi-test-{persona}", "policyArn": policy.outputs["arn"]}


def test_policies_are_the_persona_documents_for_the_given_arns() -> None:
    run = build(path="/healthimaging/")
    admin = run.named("access-admin-policy")
    assert admin.inputs["path"] == "/healthimaging/"
    document = policy_of(admin)
    assert document["Statement"][0]["Resource"] == DATASTORE
    assert document["Statement"][3]["Resource"] == f"arn:aws:iam::{ACCOUNT}:role/ahi-test-ImportJobDataAccessRole"
    reader = policy_of(run.named("access-reader-policy"))
    assert [s["Sid"] for s in reader["Statement"]] == [
        "ReadThisDatastore",
        "ReadImageSetsOfThisDatastore",
        "ListDatastores",
    ]


def test_outputs_map_personas_to_identifiers() -> None:
    run = build()
    component = run.one("healthimaging:index:HealthImagingAccess")
    assert component.type == "healthimaging:index:HealthImagingAccess"
    program = run_program()
    assert program.outputs["accessPolicyArns"] == {
        p: f"arn:aws:iam::{ACCOUNT}:policy/ahi-dev-{p}" for p in ("admin", "importer", "reader")
    }
    assert program.outputs["accessGroupNames"] == {p: f"ahi-dev-{p}" for p in ("admin", "importer", "reader")}
    assert program.outputs["accessRoleArns"] == {}
    assert program.outputs["accessPermissionSetArns"] == {}
    assert program.outputs["accessAdminUserName"] is None


# --- Routes -----------------------------------------------------------------------------------------


def test_no_groups_and_no_personas() -> None:
    assert build(groups=False).by_type(GROUP) == []
    run = build(personas=[])
    assert access_resources(run) == []


def test_break_glass_only_when_listed() -> None:
    run = build(personas=["admin", "break-glass"])
    assert names(run, POLICY) == ["ahi-test-admin", "ahi-test-break-glass"]
    actions = {a for s in policy_of(run.named("access-break-glass-policy"))["Statement"] for a in s["Action"]}
    assert "medical-imaging:DeleteDatastore" in actions


def test_roles_trust_the_named_principals_with_mfa() -> None:
    run = build(role_principals={"reader": [BOB, ALICE], "admin": ["444455556666"]}, session_hours=4)
    assert names(run, ROLE) == ["ahi-test-admin", "ahi-test-reader"]
    reader = run.named("access-reader-role")
    assert reader.inputs["maxSessionDuration"] == 4 * 3600
    assert policy_of(reader, "assumeRolePolicy") == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AllowNamedPrincipalsWithMfa",
                "Effect": "Allow",
                "Principal": {"AWS": [ALICE, BOB]},
                "Action": "sts:AssumeRole",
                "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}},
            }
        ],
    }
    admin_trust = policy_of(run.named("access-admin-role"), "assumeRolePolicy")
    assert admin_trust["Statement"][0]["Principal"] == {"AWS": ["arn:aws:iam::444455556666:root"]}
    attachment = run.named("access-reader-role-policy")
    assert attachment.inputs == {
        "role": "ahi-test-reader",
        "policyArn": run.named("access-reader-policy").outputs["arn"],
    }


def test_roles_without_mfa_and_with_a_permissions_boundary() -> None:
    boundary = f"arn:aws:iam::{ACCOUNT}:policy/Boundary"
    run = build(role_principals={"importer": [ALICE]}, roles_require_mfa=False, permissions_boundary_arn=boundary)
    role = run.named("access-importer-role")
    assert "Condition" not in policy_of(role, "assumeRolePolicy")["Statement"][0]
    assert role.inputs["permissionsBoundary"] == boundary


def test_identity_center_permission_sets_reference_the_customer_managed_policies() -> None:
    run = build(identity_center_instance_arn=INSTANCE, session_hours=8)
    assert names(run, PERMISSION_SET) == ["ahi-test-admin", "ahi-test-importer", "ahi-test-reader"]
    permission_set = run.named("access-reader-permission-set")
    assert permission_set.inputs["instanceArn"] == INSTANCE
    assert permission_set.inputs["sessionDuration"] == "PT8H"
    attachment = run.named("access-reader-permission-set-policy")
    assert attachment.inputs == {
        "instanceArn": INSTANCE,
        "permissionSetArn": permission_set.outputs["arn"],
        "customerManagedPolicyReference": {"name": "ahi-test-reader", "path": "/"},
    }
    # The reference is by name: the policy must exist before the permission set is provisioned.
    assert run.named("access-reader-policy").urn in attachment.depends_on


def test_admin_user_joins_the_admin_group_and_gets_nothing_else() -> None:
    run = build(admin_user_name="ahiadmin")
    user = run.one(USER)
    assert user.inputs == {"name": "ahiadmin", "path": "/", "forceDestroy": False}
    membership = run.one(MEMBERSHIP)
    assert membership.inputs == {"user": "ahiadmin", "groups": ["ahi-test-admin"]}
    # No policy is attached to the user directly (CIS 1.15).
    user_policy_types = {"aws:iam/userPolicy:UserPolicy", "aws:iam/userPolicyAttachment:UserPolicyAttachment"}
    assert not [r for r in run.resources if r.type in user_policy_types]


ROUTE_OPTIONS: dict[str, list[Any]] = {
    "personas": [["admin", "importer", "reader"], ["admin", "importer", "reader", "break-glass"], []],
    "groups": [True, False],
    "role_principals": [{}, {"admin": [ALICE], "reader": ["444455556666"]}],
    "identity_center_instance_arn": ["", INSTANCE],
    "admin_user_name": ["", "ahiadmin"],
}


def _configurations() -> list[dict[str, Any]]:
    keys = list(ROUTE_OPTIONS)
    combos = []
    for values in itertools.product(*(ROUTE_OPTIONS[k] for k in keys)):
        config = dict(zip(keys, values, strict=True))
        if config["admin_user_name"] and ("admin" not in config["personas"] or not config["groups"]):
            continue
        if config["role_principals"] and not config["personas"]:
            continue
        combos.append(config)
    return combos


@pytest.mark.parametrize("config", _configurations(), ids=lambda c: "-".join(str(v)[:12] for v in c.values()))
def test_no_access_keys_or_login_profiles_in_any_configuration(config: dict[str, Any]) -> None:
    run = build(**config)
    assert {r.type for r in run.resources} & FORBIDDEN_TYPES == set()
    for resource in run.resources:
        for key in resource.inputs:
            assert "password" not in key.lower(), (resource.name, key)
            assert "secret" not in key.lower(), (resource.name, key)
    expected_users = 1 if config["admin_user_name"] else 0
    assert len(run.by_type(USER)) == expected_users


def test_no_access_keys_or_login_profiles_in_the_dev_program() -> None:
    run = run_program(accessAdminUserName="ahiadmin", accessRolePrincipals={"reader": [ALICE]})
    assert {r.type for r in run.resources} & FORBIDDEN_TYPES == set()
    assert run.one(USER).inputs["name"] == "ahiadmin"


# --- The program's settings -------------------------------------------------------------------------


def test_program_passes_every_access_setting_through() -> None:
    run = run_program(
        accessPersonas=["reader", "break-glass"],
        accessGroups=False,
        accessRolePrincipals={"break-glass": [ALICE]},
        accessRolesRequireMfa=True,
        accessIdentityCenterInstanceArn=INSTANCE,
        accessSessionHours=2,
        accessNamePrefix="radiology",
        iamPath="/imaging/",
    )
    assert names(run, POLICY) == ["radiology-break-glass", "radiology-reader"]
    assert run.by_type(GROUP) == []
    role = run.one(ROLE, "access-break-glass-role")
    assert role.inputs["name"] == "radiology-break-glass"
    assert role.inputs["path"] == "/imaging/"
    assert role.inputs["maxSessionDuration"] == 7200
    assert names(run, PERMISSION_SET) == ["radiology-break-glass", "radiology-reader"]
    # Break-glass deletes a data store encrypted with the stack's key: it may use that key through HealthImaging.
    key_statement = policy_of(run.named("access-break-glass-policy"))["Statement"][-1]
    assert key_statement["Resource"] == run.outputs["datastoreKmsKeyArn"]
    # The importer's bucket statements name the stack's own buckets and key.
    assert run.outputs["accessRoleArns"] == {
        "break-glass": f"arn:aws:iam::{ACCOUNT}:role/imaging/radiology-break-glass"
    }


def test_program_importer_policy_names_the_stacks_buckets_key_and_import_role() -> None:
    run = run_program()
    document = policy_of(run.named("access-importer-policy"))
    by_sid = {s["Sid"]: s for s in document["Statement"]}
    assert by_sid["UploadDicomFilesToInputBucket"]["Resource"] == f"{run.outputs['inputBucketArn']}/*"
    assert by_sid["ReadImportResultsFromOutputBucket"]["Resource"] == f"{run.outputs['outputBucketArn']}/*"
    assert by_sid["UseBucketKeyThroughS3"]["Resource"] == run.outputs["bucketKmsKeyArn"]
    assert by_sid["PassImportRoleToHealthImaging"]["Resource"] == run.outputs["importRoleArn"]
    assert by_sid["RunImportJobsOnThisDatastore"]["Resource"] == run.outputs["datastoreArn"]


def test_access_resources_use_the_stacks_provider() -> None:
    run = run_program(accessIdentityCenterInstanceArn=INSTANCE, accessAdminUserName="ahiadmin")
    component = run.one("healthimaging:index:HealthImagingAccess")
    for child in run.children_of(component):
        assert child.provider_name == "aws", child.name


# --- Bad input --------------------------------------------------------------------------------------


def settings_problems(**values: Any) -> list[str]:
    import json

    raw = {"accountId": ACCOUNT, "region": REGION}
    for key, value in values.items():
        raw[key] = (
            json.dumps(value)
            if isinstance(value, (list, dict))
            else str(value).lower()
            if isinstance(value, bool)
            else str(value)
        )
    return read_settings("healthimaging-setup", "dev", raw.get)[1]


BAD_SETTINGS: list[tuple[dict[str, Any], str]] = [
    (
        {"accessPersonas": ["admin", "auditor"]},
        "accessPersonas names the persona 'auditor', which does not exist; the personas are 'admin', 'importer', "
        "'reader', 'break-glass'. Correct the spelling or remove it.",
    ),
    (
        {"accessPersonas": ["reader", "reader"]},
        "accessPersonas lists 'reader' more than once; list each persona once.",
    ),
    (
        {"accessPersonas": "admin"},
        "accessPersonas = 'admin': expected a list, for example [admin, reader].",
    ),
    (
        {"accessRolePrincipals": {"reader": ["alice"]}},
        "accessRolePrincipals.reader = 'alice' is neither an IAM user or role ARN (arn:aws:iam::<12-digit account>:"
        "user/<name>, :role/<name> or :root, without wildcards) nor a quoted 12-digit account ID.",
    ),
    (
        {"accessRolePrincipals": {"reader": ["arn:aws:iam::111122223333:user/*"]}},
        "accessRolePrincipals.reader = 'arn:aws:iam::111122223333:user/*' is neither an IAM user or role ARN "
        "(arn:aws:iam::<12-digit account>:user/<name>, :role/<name> or :root, without wildcards) nor a quoted "
        "12-digit account ID.",
    ),
    (
        {"accessRolePrincipals": {"reader": ["arn:aws:iam::111122223333:group/radiologists"]}},
        "accessRolePrincipals.reader = 'arn:aws:iam::111122223333:group/radiologists' is an IAM group, and a group "
        "cannot assume a role. Name the users (or their account ID), or use accessGroups to give the group the "
        "persona's policy.",
    ),
    (
        {"accessRolePrincipals": {"reader": ["arn:aws:sts::111122223333:assumed-role/Admin/alice"]}},
        "accessRolePrincipals.reader = 'arn:aws:sts::111122223333:assumed-role/Admin/alice' is a role session, "
        "which changes with every sign-in. Name the role itself: arn:aws:iam::<account>:role/<name>.",
    ),
    (
        {"accessRolePrincipals": {"reader": [11122223333]}},
        "accessRolePrincipals.reader = 11122223333 has 11 digits; an AWS account ID has exactly 12. If the real ID "
        'starts with 0, YAML read it as a number and dropped the leading zeros: quote it, for example "011122223333".',
    ),
    (
        {"accessRolePrincipals": {"reader": []}},
        "accessRolePrincipals.reader = []: give a non-empty list of principals, for example "
        "['arn:aws:iam::111122223333:user/alice'], or remove the entry to create no role.",
    ),
    (
        {"accessRolePrincipals": {"importer": [ALICE]}, "accessPersonas": ["reader"]},
        "accessRolePrincipals.importer names principals for the persona 'importer', which is not in accessPersonas "
        "(reader): add it to accessPersonas or remove the entry.",
    ),
    (
        {"accessRolePrincipals": {"auditor": [ALICE]}},
        "accessRolePrincipals names the persona 'auditor', which does not exist; the personas are 'admin', "
        "'importer', 'reader', 'break-glass'. Correct the spelling or remove it.",
    ),
    (
        {"accessIdentityCenterInstanceArn": "arn:aws:sso:::instance/ssoins-12345"},
        "accessIdentityCenterInstanceArn = 'arn:aws:sso:::instance/ssoins-12345' is not an IAM Identity Center "
        "instance ARN: it must look like arn:aws:sso:::instance/ssoins-0123456789abcdef (16 hexadecimal digits). "
        "`aws sso-admin list-instances` prints it.",
    ),
    (
        {"accessNamePrefix": "radiology-department-imaging", "accessIdentityCenterInstanceArn": INSTANCE},
        "accessNamePrefix = 'radiology-department-imaging' makes the IAM Identity Center permission set names "
        "'radiology-department-imaging-admin', 'radiology-department-imaging-importer', "
        "'radiology-department-imaging-reader' longer than the 32 characters allowed; use a prefix of at most "
        "23 characters.",
    ),
    (
        {"accessNamePrefix": "x" * 60},
        f"accessNamePrefix = '{'x' * 60}' makes the IAM names '{'x' * 60}-admin', '{'x' * 60}-importer', "
        f"'{'x' * 60}-reader' longer than the 64 characters allowed; use a prefix of at most 55 characters.",
    ),
    (
        {"accessNamePrefix": "radiology team"},
        "accessNamePrefix = 'radiology team' contains characters IAM does not accept; use letters, digits and "
        "+ = , . @ _ -",
    ),
    (
        {"accessAdminUserName": "ahi admin"},
        "accessAdminUserName = 'ahi admin' contains characters IAM does not accept; use letters, digits and "
        "+ = , . @ _ -",
    ),
    (
        {"accessAdminUserName": "ahiadmin", "accessGroups": False},
        "accessAdminUserName = 'ahiadmin' needs the admin persona and its group ('admin' in accessPersonas, "
        "accessGroups true): the user gets its permissions only through the admin group.",
    ),
    (
        {"accessAdminUserName": "ahiadmin", "accessPersonas": ["reader"]},
        "accessAdminUserName = 'ahiadmin' needs the admin persona and its group ('admin' in accessPersonas, "
        "accessGroups true): the user gets its permissions only through the admin group.",
    ),
    (
        {"accessSessionHours": 13},
        "accessSessionHours = 13: expected a whole number from 1 to 12.",
    ),
    (
        {"accessRolePrincipals": ["alice"]},
        "accessRolePrincipals = '[\"alice\"]': expected a mapping of key: value, for example {team: imaging}.",
    ),
]


@pytest.mark.parametrize(("values", "message"), BAD_SETTINGS, ids=[str(v)[:60] for v, _ in BAD_SETTINGS])
def test_bad_access_setting_is_explained(values: dict[str, Any], message: str) -> None:
    assert settings_problems(**values) == [message]


def test_long_name_prefix_default_is_named_as_such() -> None:
    problems = settings_problems(namePrefix="radiology-imaging-dev-01", accessIdentityCenterInstanceArn=INSTANCE)
    assert problems == [
        "accessNamePrefix (empty, so namePrefix) = 'radiology-imaging-dev-01' makes the IAM Identity Center "
        "permission set names 'radiology-imaging-dev-01-importer' longer than the 32 characters allowed; use a prefix of at most "
        "23 characters."
    ]


def test_good_access_settings_have_no_problems() -> None:
    assert (
        settings_problems(
            accessPersonas=["admin", "importer", "reader", "break-glass"],
            accessRolePrincipals={"break-glass": [ALICE, "444455556666"], "reader": [f"arn:aws:iam::{ACCOUNT}:role/x"]},
            accessIdentityCenterInstanceArn=INSTANCE,
            accessAdminUserName="ahiadmin",
            accessSessionHours=12,
        )
        == []
    )


def test_invalid_access_settings_stop_the_program_before_any_resource() -> None:
    recorded: list[PlannedResource] = []
    config = dev_config(accessPersonas=["auditor"], accessIdentityCenterInstanceArn="ssoins-1")
    with pytest.raises(InvalidInputError) as raised:
        mockrun.run(PROJECT_DIR / "__main__.py", config=config, project=PROJECT, recorded=recorded)
    assert len(raised.value.problems) == 2
    assert "accessPersonas names the persona 'auditor'" in raised.value.problems[0]
    assert "accessIdentityCenterInstanceArn = 'ssoins-1'" in raised.value.problems[1]
    assert [r for r in recorded if r.custom] == []


def test_component_refuses_bad_arguments_before_creating_anything() -> None:
    with pytest.raises(InvalidInputError) as raised:
        build(personas=["admin", "superuser"], role_principals={"admin": ["*"]}, admin_user_name="x" * 65)
    assert raised.value.problems == [
        "personas names the persona 'superuser', which does not exist; the personas are 'admin', 'importer', "
        "'reader', 'break-glass'. Correct the spelling or remove it.",
        "role_principals.admin = '*' is neither an IAM user or role ARN (arn:aws:iam::<12-digit account>:user/<name>, "
        ":role/<name> or :root, without wildcards) nor a quoted 12-digit account ID.",
        f"admin_user_name = '{'x' * 65}' is 65 characters long; IAM allows at most 64.",
    ]
    assert str(raised.value).startswith("HealthImagingAccess 'access': 3 problems found; nothing was created.")


def test_validation_of_the_component_arguments_is_clean_for_good_input() -> None:
    assert validate_access_args(base_args(role_principals={"reader": [ALICE]}, admin_user_name="ahiadmin")) == []
