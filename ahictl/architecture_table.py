"""The table of the architecture view (:mod:`ahictl.architecture`): how each resource type appears in it.

A type is a node of its own (a bucket, a key, a function), or folded into the node one of its inputs refers to
(a bucket's versioning into the bucket, with the tag "versioned"), or a join that folds one node into another
(a group attached to a persona's policy becomes a route of that persona). Each input that refers to another
resource is drawn as :class:`Reference` says. Adding a type is one entry in :data:`SHAPES`; a type that means
something else inside one component gets an entry in :data:`COMPONENT_SHAPES`. A type in neither is still drawn:
the view folds it into its component's "other resources" node.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

Inputs = Mapping[str, Any]
TagFunction = Callable[[Inputs], list[str]]

#: Type token prefix of this project's components.
COMPONENT_PREFIX = "healthimaging:index:"


@dataclass(frozen=True)
class Reference:
    """How a reference through one input is drawn: ``label`` on an arrow from this resource's node to the
    referenced node (``reverse``: from the referenced node to this one); ``dotted`` for what is not a flow of data
    (encryption); ``by_type``: how a reference to a resource of one of these types is drawn instead."""

    label: str
    reverse: bool = False
    dotted: bool = False
    by_type: Mapping[str, Reference] = field(default_factory=dict)

    def to(self, type_token: str) -> Reference:
        """How a reference to a resource of ``type_token`` is drawn."""
        return self.by_type.get(type_token, self)


#: An input whose references are not drawn (a resource policy naming the buckets it protects, say).
NOT_DRAWN = None
ENCRYPTS = Reference("encrypts", reverse=True, dotted=True)


def _no_tags(_inputs: Inputs) -> list[str]:
    return []


@dataclass(frozen=True)
class Shape:
    """How one resource type appears in the architecture view.

    A type with ``host`` is folded into the node its ``host`` input refers to (the first of them that refers
    to a resource), adding ``tags`` to that node's label; without ``host`` it is a node of its own, whose
    label has ``tags``. ``joins`` names an input whose resource (a group, a role) is folded into the host too:
    the host's label gets that resource's ``route`` text. References through ``policies`` inputs are drawn from
    the statements of those identity policies; through ``trust`` inputs as "assumes"; through every other input
    as ``references`` says, and an input missing there as an arrow labelled with the input's name. Tags of
    folded types appear in the order of :data:`SHAPES`.

    ``absorbs`` names inputs whose resource is folded into this node together with what only that resource uses
    (a function with its role, key and log group: the resources it reaches through references, in the same
    component, that nothing else refers to); it stays a node of its own when anything else refers to it.
    ``named`` gives the node's name when no single input holds it.
    """

    noun: str
    icon: str
    host: tuple[str, ...] = ()
    joins: str = ""
    tags: TagFunction = _no_tags
    names: tuple[str, ...] = ("name",)
    title: Callable[[Inputs, str], str] | None = None
    route: Callable[[Inputs], str] | None = None
    policies: tuple[str, ...] = ()
    trust: tuple[str, ...] = ()
    references: Mapping[str, Reference | None] = field(default_factory=dict)
    names_host: bool = False  # its first ``names`` input names a host that has no name of its own (an alias)
    absorbs: tuple[str, ...] = ()
    named: Callable[[Inputs], str] | None = None

    @property
    def is_node(self) -> bool:
        return not self.host


def _get(inputs: Inputs, *path: str) -> Any:
    value: Any = inputs
    for key in path:
        if isinstance(value, list):
            value = value[0] if value else None
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def statements(document: Any) -> list[Mapping[str, Any]]:
    if not isinstance(document, Mapping):
        return []
    statements = document.get("Statement", [])
    if isinstance(statements, Mapping):
        statements = [statements]
    return [s for s in statements if isinstance(s, Mapping)]


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _creation_input(inputs: Inputs) -> Mapping[str, Any]:
    """The data store creator's input (a JSON string in the plan)."""
    value = inputs.get("input")
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return {}
    return value if isinstance(value, Mapping) else {}


def _creation_tags(document: Mapping[str, Any]) -> list[str]:
    tags = [str(document.get("losslessStorageFormat", "HTJ2K"))]
    if document.get("lambdaAuthorizerArn"):
        tags.append("OIDC authorizer")
    tags.append("created by a function (creation-time options)")
    return tags


def _public_access_block(inputs: Inputs) -> list[str]:
    flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    on = sum(bool(inputs.get(flag)) for flag in flags)
    return ["BPA"] if on == len(flags) else [f"BPA {on}/{len(flags)}"]


def _ownership(inputs: Inputs) -> list[str]:
    ownership = _get(inputs, "rule", "objectOwnership")
    return ["ACLs off"] if ownership == "BucketOwnerEnforced" else [f"ownership {ownership}"]


def _bucket_encryption(inputs: Inputs) -> list[str]:
    algorithm = _get(inputs, "rules", "applyServerSideEncryptionByDefault", "sseAlgorithm")
    names = {"aws:kms": "SSE-KMS", "aws:kms:dsse": "DSSE-KMS", "AES256": "SSE-S3"}
    return [names.get(str(algorithm), f"SSE {algorithm}")]


def _versioning(inputs: Inputs) -> list[str]:
    status = _get(inputs, "versioningConfiguration", "status")
    return ["versioned"] if status == "Enabled" else [f"versioning {str(status).lower()}"]


def _lifecycle(inputs: Inputs) -> list[str]:
    for rule in as_list(inputs.get("rules")):
        days = _get(rule, "noncurrentVersionExpiration", "noncurrentDays")
        if days and rule.get("status") == "Enabled":
            return [f"old versions {days} d"]
    return ["lifecycle"]


def _bucket_policy(inputs: Inputs) -> list[str]:
    for statement in statements(inputs.get("policy")):
        if statement.get("Effect") == "Deny" and _get(statement, "Condition", "Bool", "aws:SecureTransport") in (
            "false",
            False,
        ):
            return ["TLS-only"]
    return ["bucket policy"]


def _key(inputs: Inputs) -> list[str]:
    return ["rotation on"] if inputs.get("enableKeyRotation") else ["rotation off"]


def _bucket_title(inputs: Inputs, _local: str) -> str:
    role = _get(inputs, "tags", "healthimaging:bucket-role")
    return f"{str(role).capitalize()} bucket" if role else "S3 bucket"


def _humanized(local: str) -> str:
    return local.replace("-", " ").replace("_", " ").capitalize()


def _role_title(_inputs: Inputs, local: str) -> str:
    title = _humanized(local)
    return title if "role" in title.lower() else f"{title} role"


def _persona_title(_inputs: Inputs, local: str) -> str:
    return f"{local.removesuffix('-policy')} persona"


def _principals(document: Any) -> list[str]:
    found: list[str] = []
    for statement in statements(document):
        principal = statement.get("Principal")
        if isinstance(principal, Mapping):
            found.extend(str(p) for p in as_list(principal.get("AWS")))
    return found


def _requires_mfa(document: Any) -> bool:
    return "aws:MultiFactorAuthPresent" in repr(document)


def _role_route(inputs: Inputs) -> str:
    document = inputs.get("assumeRolePolicy")
    people = len(_principals(document))
    if not people:
        return "IAM role"
    return f"IAM role ({people} principal{'s' if people != 1 else ''}{', MFA' if _requires_mfa(document) else ''})"


def _trail(inputs: Inputs) -> list[str]:
    tags = ["log file validation" if inputs.get("enableLogFileValidation") else "no log file validation"]
    if inputs.get("isMultiRegionTrail"):
        tags.append("all regions")
    return tags


def _function(inputs: Inputs) -> list[str]:
    tags = []
    if inputs.get("runtime"):
        tags.append(str(inputs["runtime"]))
    if inputs.get("reservedConcurrentExecutions") not in (None, -1):
        tags.append(f"concurrency {inputs['reservedConcurrentExecutions']}")
    return tags


def _subscription(inputs: Inputs) -> list[str]:
    return [f"{inputs.get('protocol', '?')} subscription"]


def _retention(inputs: Inputs) -> list[str]:
    days = inputs.get("retentionInDays")
    return [f"kept {days} d"] if days else []


def _managed_policy(inputs: Inputs) -> list[str]:
    arn = inputs.get("policyArn")
    return [f"policy {str(arn).rsplit('/', 1)[-1]}"] if isinstance(arn, str) and arn.startswith("arn:") else []


_BUCKET = ("bucket",)
_IDENTITY_POLICY = ("policy",)


def _distribution(inputs: Inputs) -> list[str]:
    tags = ["HTTPS only", str(inputs.get("httpVersion", ""))]
    certificate = inputs.get("viewerCertificate") or {}
    if certificate.get("minimumProtocolVersion"):
        tags.append(f"custom domain, {certificate['minimumProtocolVersion']}")
    if inputs.get("webAclId"):
        tags.append("WAF")
    return [tag for tag in tags if tag]


def _user_pool(inputs: Inputs) -> list[str]:
    tags = []
    if inputs.get("mfaConfiguration") == "ON":
        tags.append("MFA required")
    if _get(inputs, "adminCreateUserConfig", "allowAdminCreateUserOnly"):
        tags.append("no self sign-up")
    return tags


#: Resource type -> how it appears. New types: one entry here.
SHAPES: dict[str, Shape] = {
    # Storage and keys
    "aws:s3/bucket:Bucket": Shape("S3 bucket", "bucket", names=("bucket",), title=_bucket_title),
    "aws:s3/bucketV2:BucketV2": Shape("S3 bucket", "bucket", names=("bucket",), title=_bucket_title),
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": Shape(
        "public access block", "bucket", host=_BUCKET, tags=_public_access_block
    ),
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": Shape(
        "ownership controls", "bucket", host=_BUCKET, tags=_ownership
    ),
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": Shape(
        "default encryption", "bucket", host=_BUCKET, tags=_bucket_encryption, references={"rules": ENCRYPTS}
    ),
    "aws:s3/bucketVersioning:BucketVersioning": Shape("versioning", "bucket", host=_BUCKET, tags=_versioning),
    "aws:s3/bucketPolicy:BucketPolicy": Shape(
        "bucket policy", "bucket", host=_BUCKET, tags=_bucket_policy, references={"policy": NOT_DRAWN}
    ),
    "aws:s3/bucketLogging:BucketLogging": Shape(
        "access logging",
        "bucket",
        host=_BUCKET,
        tags=lambda _i: ["logged"],
        references={"targetBucket": Reference("access logs")},
    ),
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": Shape(
        "lifecycle", "bucket", host=_BUCKET, tags=_lifecycle
    ),
    "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration": Shape(
        "object lock", "bucket", host=_BUCKET, tags=lambda _i: ["object lock"]
    ),
    "aws:s3/bucketNotification:BucketNotification": Shape(
        "event notifications",
        "bucket",
        host=_BUCKET,
        tags=lambda i: ["events to EventBridge"] if i.get("eventbridge") else ["event notifications"],
        references={
            "queues": Reference("object events"),
            "topics": Reference("object events"),
            "lambdaFunctions": Reference("object events"),
        },
    ),
    "aws:kms/key:Key": Shape("KMS key", "key", names=(), tags=_key, references={"policy": NOT_DRAWN}),
    "aws:kms/alias:Alias": Shape("key alias", "key", host=("targetKeyId",), names_host=True),
    "aws:kms/keyPolicy:KeyPolicy": Shape(
        "key policy", "key", host=("keyId",), tags=lambda _i: ["key policy"], references={"policy": NOT_DRAWN}
    ),
    # HealthImaging
    "aws-native:healthimaging:Datastore": Shape(
        "HealthImaging data store", "datastore", names=("datastoreName",), references={"kmsKeyArn": ENCRYPTS}
    ),
    # The data store with creation-time options: created by the creator function's invocation
    # (components/created_datastore.py), drawn as the data store it makes, with the creator (its function, role,
    # key and log group) folded in.
    "aws:lambda/invocation:Invocation": Shape(
        "HealthImaging data store",
        "datastore",
        names=(),
        named=lambda inputs: str(_creation_input(inputs).get("datastoreName", "")),
        tags=lambda inputs: _creation_tags(_creation_input(inputs)),
        absorbs=("functionName",),
        references={
            "functionName": Reference("created by"),
            "input": Reference("set at creation", reverse=True, dotted=True, by_type={"aws:kms/key:Key": ENCRYPTS}),
        },
    ),
    # IAM and IAM Identity Center (routes of a persona are listed in this order)
    "aws:iam/group:Group": Shape("IAM group", "group", route=lambda _i: "IAM group"),
    "aws:iam/role:Role": Shape(
        "IAM role",
        "role",
        title=_role_title,
        route=_role_route,
        policies=("inlinePolicies",),
        trust=("assumeRolePolicy",),
        references={"permissionsBoundary": NOT_DRAWN},
    ),
    "aws:iam/rolePolicy:RolePolicy": Shape("inline policy", "role", host=("role",), policies=_IDENTITY_POLICY),
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": Shape(
        "policy attachment", "role", host=("policyArn", "role"), joins="role", tags=_managed_policy
    ),
    "aws:iam/policy:Policy": Shape("IAM policy", "policy", policies=_IDENTITY_POLICY),
    "aws:iam/groupPolicyAttachment:GroupPolicyAttachment": Shape(
        "policy attachment", "group", host=("policyArn", "group"), joins="group", tags=_managed_policy
    ),
    "aws:iam/user:User": Shape("IAM user", "user", route=lambda i: f"IAM user {i.get('name', '')}".strip()),
    "aws:iam/userGroupMembership:UserGroupMembership": Shape(
        "group membership", "user", host=("groups", "user"), joins="user"
    ),
    "aws:ssoadmin/permissionSet:PermissionSet": Shape(
        "permission set", "permission-set", route=lambda _i: "Identity Center permission set"
    ),
    "aws:ssoadmin/customerManagedPolicyAttachment:CustomerManagedPolicyAttachment": Shape(
        "policy attachment",
        "permission-set",
        host=("customerManagedPolicyReference", "permissionSetArn"),
        joins="permissionSetArn",
    ),
    "aws:ssoadmin/managedPolicyAttachment:ManagedPolicyAttachment": Shape(
        "policy attachment",
        "permission-set",
        host=("permissionSetArn",),
        tags=lambda i: _managed_policy({"policyArn": i.get("managedPolicyArn")}),
    ),
    "aws:ssoadmin/permissionSetInlinePolicy:PermissionSetInlinePolicy": Shape(
        "inline policy", "permission-set", host=("permissionSetArn",), policies=("inlinePolicy",)
    ),
    # Events, messages, functions (import alerts, auto-import)
    "aws:cloudwatch/eventRule:EventRule": Shape(
        "EventBridge rule",
        "event-rule",
        tags=lambda i: [str(i["scheduleExpression"])] if i.get("scheduleExpression") else [],
        references={"eventPattern": Reference("events", reverse=True)},
    ),
    "aws:cloudwatch/eventTarget:EventTarget": Shape(
        "rule target",
        "event-rule",
        host=("rule",),
        references={
            "arn": Reference("triggers"),
            "roleArn": Reference("assumes"),
            "deadLetterConfig": Reference("failed events"),
        },
    ),
    "aws:scheduler/schedule:Schedule": Shape(
        "EventBridge schedule",
        "schedule",
        tags=lambda i: [str(i["scheduleExpression"])] if i.get("scheduleExpression") else [],
        references={"target": Reference("triggers")},
    ),
    "aws:lambda/function:Function": Shape(
        "Lambda function",
        "function",
        tags=_function,
        references={
            "role": Reference("runs as"),
            "deadLetterConfig": Reference("failed events"),
            "kmsKeyArn": ENCRYPTS,
            "environment": NOT_DRAWN,  # what it may reach is drawn from its role's policies
            "loggingConfig": Reference("logs"),
        },
    ),
    "aws:lambda/permission:Permission": Shape(
        "invoke permission", "function", host=("function",), references={"sourceArn": NOT_DRAWN}
    ),
    "aws:lambda/alias:Alias": Shape(
        "function alias",
        "function",
        host=("functionName",),
        tags=lambda i: [f"alias {i['name']}"] if i.get("name") else [],
        references={"functionVersion": NOT_DRAWN},
    ),
    "aws:lambda/provisionedConcurrencyConfig:ProvisionedConcurrencyConfig": Shape(
        "provisioned concurrency",
        "function",
        host=("functionName",),
        tags=lambda i: [f"provisioned concurrency {i.get('provisionedConcurrentExecutions', '?')}"],
        references={"qualifier": NOT_DRAWN},
    ),
    "aws:lambda/eventSourceMapping:EventSourceMapping": Shape(
        "event source mapping",
        "function",
        host=("functionName",),
        references={"eventSourceArn": Reference("triggers", reverse=True)},
    ),
    "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig": Shape(
        "invoke config",
        "function",
        host=("functionName",),
        references={"destinationConfig": Reference("results")},
    ),
    "aws:sns/topic:Topic": Shape("SNS topic", "topic", references={"kmsMasterKeyId": ENCRYPTS, "policy": NOT_DRAWN}),
    "aws:sns/topicPolicy:TopicPolicy": Shape(
        "topic policy", "topic", host=("arn",), tags=lambda _i: ["topic policy"], references={"policy": NOT_DRAWN}
    ),
    "aws:sns/topicSubscription:TopicSubscription": Shape(
        "subscription", "topic", host=("topic",), tags=_subscription, references={"endpoint": Reference("delivers")}
    ),
    "aws:sqs/queue:Queue": Shape(
        "SQS queue",
        "queue",
        references={
            "kmsMasterKeyId": ENCRYPTS,
            "redrivePolicy": Reference("dead letters"),
            "policy": NOT_DRAWN,
        },
    ),
    "aws:sqs/queuePolicy:QueuePolicy": Shape(
        "queue policy", "queue", host=("queueUrl",), tags=lambda _i: ["queue policy"], references={"policy": NOT_DRAWN}
    ),
    "aws:sqs/redrivePolicy:RedrivePolicy": Shape(
        "redrive policy", "queue", host=("queueUrl",), references={"redrivePolicy": Reference("dead letters")}
    ),
    "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy": Shape(
        "redrive allow policy", "queue", host=("queueUrl",), references={"redriveAllowPolicy": NOT_DRAWN}
    ),
    "aws:dynamodb/table:Table": Shape("DynamoDB table", "table", references={"serverSideEncryption": ENCRYPTS}),
    # Audit and monitoring
    "aws:cloudtrail/trail:Trail": Shape(
        "CloudTrail trail",
        "trail",
        tags=_trail,
        references={
            "s3BucketName": Reference("writes logs"),
            "kmsKeyId": ENCRYPTS,
            "cloudWatchLogsGroupArn": Reference("sends logs"),
            "cloudWatchLogsRoleArn": Reference("assumes"),
            "snsTopicName": Reference("notifies"),
            "advancedEventSelectors": Reference("data events", reverse=True, dotted=True),
            "eventSelectors": Reference("data events", reverse=True, dotted=True),
        },
    ),
    "aws:cloudwatch/logGroup:LogGroup": Shape(
        "log group", "log-group", tags=_retention, references={"kmsKeyId": ENCRYPTS}
    ),
    # The team's viewer (ImagingViewer)
    "aws:cloudfront/distribution:Distribution": Shape(
        "CloudFront distribution",
        "distribution",
        names=("comment",),
        tags=_distribution,
        references={
            "origins": Reference("reads (origin access control)"),
            "defaultCacheBehavior": NOT_DRAWN,  # its policies and function: in the tags
            "webAclId": NOT_DRAWN,
        },
    ),
    "aws:cloudwatch/logDeliverySource:LogDeliverySource": Shape(
        "access logs", "distribution", host=("resourceArn",), tags=lambda _i: ["access logs (v2)"]
    ),
    "aws:cloudwatch/logDeliveryDestination:LogDeliveryDestination": Shape(
        "log delivery",
        "log-group",
        references={"deliveryDestinationConfiguration": Reference("writes logs")},
    ),
    "aws:s3/bucketObjectv2:BucketObjectv2": Shape(
        "app file",
        "bucket",
        host=("bucket",),
        tags=lambda _i: ["the viewer's app"],
        references={"content": Reference("named in app-config.js", reverse=True, dotted=True)},
    ),
    "aws:cognito/userPool:UserPool": Shape("Cognito user pool", "user-pool", tags=_user_pool),
    "aws:cognito/userGroup:UserGroup": Shape(
        "user group", "user-pool", host=("userPoolId",), tags=lambda i: [f"group {i.get('name', '')}"]
    ),
    "aws:cognito/userPoolDomain:UserPoolDomain": Shape(
        "hosted sign-in", "user-pool", host=("userPoolId",), tags=lambda _i: ["hosted sign-in"]
    ),
    "aws:cognito/userPoolClient:UserPoolClient": Shape(
        "app client",
        "user-pool",
        host=("userPoolId",),
        tags=lambda i: ["public client, code + PKCE" if not i.get("generateSecret") else "client with secret"],
        references={"callbackUrls": NOT_DRAWN, "logoutUrls": NOT_DRAWN},
    ),
    "aws:cloudwatch/metricAlarm:MetricAlarm": Shape(
        "CloudWatch alarm",
        "alarm",
        names=("name",),
        references={
            "alarmActions": Reference("alarms"),
            "okActions": Reference("alarms"),
            "insufficientDataActions": Reference("alarms"),
            "dimensions": Reference("watched by", reverse=True, dotted=True),
            "metricQueries": Reference("watched by", reverse=True, dotted=True),
        },
    ),
}

#: Log groups that AWS writes to by a naming convention, not by a reference: name prefix -> the writer's type
#: (Lambda writes to ``/aws/lambda/<function name>``). Drawn as "logs" from the writer to the log group.
CONVENTIONAL_LOG_GROUPS: dict[str, str] = {"/aws/lambda/": "aws:lambda/function:Function"}

#: (component type, resource type) -> how the type appears inside that component.
COMPONENT_SHAPES: dict[tuple[str, str], Shape] = {
    (f"{COMPONENT_PREFIX}HealthImagingAccess", "aws:iam/policy:Policy"): Shape(
        "persona", "persona", title=_persona_title, policies=_IDENTITY_POLICY
    ),
    # HealthImaging invokes the authorizer for the data store its resource policy names.
    (f"{COMPONENT_PREFIX}DicomwebAuthorizer", "aws:lambda/permission:Permission"): Shape(
        "invoke permission",
        "function",
        host=("function",),
        references={"sourceArn": Reference("invokes", reverse=True), "qualifier": NOT_DRAWN},
    ),
}


@dataclass(frozen=True)
class Supporting:
    """A component that supports the guide's architecture: one node of the overview, drawn in full on its own
    (``ahictl plan --format mermaid --detail <detail>``). ``noun`` titles its node, ``icon`` draws it in a picture,
    and ``setting`` is the stack key that switches it on: a boolean, unless ``switch_on`` says how to set it."""

    detail: str
    noun: str
    icon: str
    setting: str
    switch_on: str = ""

    @property
    def how_to_switch_on(self) -> str:
        """What to set for a stack to have the component."""
        return self.switch_on or (
            f"set {self.setting}: true in the stack's file, or plan with --set {self.setting}=true"
        )


#: Component type -> how it appears as one node. The others (buckets, keys, data store, import role, personas: the
#: guide's architecture) are drawn in full in the overview.
SUPPORTING_COMPONENTS: dict[str, Supporting] = {
    f"{COMPONENT_PREFIX}ImportJobAlerts": Supporting("import-alerts", "Import job alerts", "topic", "importAlerts"),
    f"{COMPONENT_PREFIX}AuditTrail": Supporting("audit-trail", "Audit trail", "trail", "auditTrail"),
    f"{COMPONENT_PREFIX}AutoImport": Supporting("auto-import", "Import on upload", "function", "autoImport"),
    f"{COMPONENT_PREFIX}ImagingViewer": Supporting(
        "viewer", "Team viewer (OHIF on CloudFront)", "distribution", "viewer"
    ),
    f"{COMPONENT_PREFIX}DicomwebAuthorizer": Supporting(
        "dicomweb-authorizer",
        "DICOMweb authorizer",
        "function",
        "dicomwebOidc",
        switch_on=(
            "set dicomwebOidc to an OIDC provider (issuer, audiences, personas) in the stack's file, or viewer: true "
            "(the authorizer then trusts the viewer's user pool), or plan with --set viewer=true"
        ),
    ),
}
