"""Access for people: one customer managed policy per persona, and the routes by which people get it.

The routes, each switched on by a plain value:

- IAM groups: one group per persona with the persona's policy attached; people's IAM users join them.
- IAM roles: one role per persona whose trust policy names the principals that may assume it
  (MFA required by default).
- IAM Identity Center permission sets: one per persona in an existing Identity Center instance, with the
  persona's policy attached as a *customer managed policy reference* (see :class:`HealthImagingAccess`).
- The setup guide's single administrator: an IAM user that joins the admin group. Nothing else: the
  program never creates access keys, passwords or login profiles, so none can reach Pulumi state.
"""

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NotRequired, Optional, TypedDict

import pulumi
import pulumi_aws as aws

from . import access_policies, validation
from ._arguments import shown_as, tags_of, with_defaults
from ._resource_options import PACKAGE, child_options, remember_caller_options
from .access_policies import DEFAULT_PERSONAS, PERSONA_ADMIN, PERSONAS, AccessScope

#: Longest session, in hours, that both IAM roles and permission sets accept.
MAX_SESSION_HOURS = 12

#: Default of every optional argument of :class:`HealthImagingAccess` (the one place each default lives).
ACCESS_DEFAULTS: dict[str, Any] = {
    "personas": list(DEFAULT_PERSONAS),
    "groups": True,
    "roles_require_mfa": True,
    "session_hours": 1,
    "path": "/",
}


class HealthImagingAccessArgs(TypedDict):
    """Arguments of :class:`HealthImagingAccess`."""

    account_id: str
    """The 12-digit AWS account of the data store and buckets."""
    region: str
    """The region of the data store and buckets."""
    name_prefix: str
    """Names are ``<name_prefix>-<persona>`` for policies, groups, roles and permission sets."""
    datastore_arn: pulumi.Input[str]
    """ARN of the data store the personas work on."""
    input_bucket_arn: pulumi.Input[str]
    """ARN of the bucket the importer uploads DICOM P10 files to."""
    output_bucket_arn: pulumi.Input[str]
    """ARN of the bucket the importer reads import results from."""
    import_role_arn: pulumi.Input[str]
    """ARN of the import job role: the only role the admin and importer may pass (to HealthImaging only)."""
    input_kms_key_arn: NotRequired[pulumi.Input[Optional[str]]]
    """Default: none. The input bucket's KMS key: the importer may use it through S3 to upload."""
    output_kms_key_arn: NotRequired[pulumi.Input[Optional[str]]]
    """Default: none. The output bucket's KMS key: the importer may decrypt through S3 to read results."""
    datastore_kms_key_arn: NotRequired[pulumi.Input[Optional[str]]]
    """Default: none. The data store's KMS key: break-glass may use it through HealthImaging to delete the data store."""
    personas: NotRequired[Sequence[str]]
    """Default: ``["admin", "importer", "reader"]``. One customer managed policy per persona. ``break-glass``
    (admin plus DeleteDatastore, DeleteImageSet, UpdateImageSetMetadata) exists only when listed here."""
    groups: NotRequired[bool]
    """Default: True. One IAM group per persona with the persona's policy attached (CIS 1.15: permissions
    through groups, never on users)."""
    role_principals: NotRequired[Mapping[str, Sequence[str]]]
    """Default: none. Persona name to the principals (IAM user or role ARNs, or 12-digit account IDs) that may
    assume a ``<name_prefix>-<persona>`` role. A persona without an entry gets no role."""
    roles_require_mfa: NotRequired[bool]
    """Default: True. The roles' trust policies require ``aws:MultiFactorAuthPresent``: only IAM users signed in
    with MFA can assume them. Turn off only when the principals are roles whose own sign-in enforces MFA."""
    identity_center_instance_arn: NotRequired[str]
    """Default: none (no permission sets). An existing IAM Identity Center instance
    (``arn:aws:sso:::instance/ssoins-...``) to create one permission set per persona in."""
    session_hours: NotRequired[int]
    """Default: 1. Session length of the roles (maximum) and permission sets, 1 to 12 hours."""
    admin_user_name: NotRequired[str]
    """Default: none. The setup guide's administrator (for example ``ahiadmin``): an IAM user that joins the admin
    group. Needs ``admin`` in ``personas`` and ``groups`` on. The person creates their own credentials."""
    path: NotRequired[str]
    """Default: ``/``. IAM path of the policies, groups, roles and user."""
    permissions_boundary_arn: NotRequired[str]
    """Default: none. Permissions boundary set on the persona roles."""
    tags: NotRequired[Mapping[str, str]]
    """Default: none. Tags of the policies, roles, user and permission sets."""


def resource_name(name_prefix: str, persona: str) -> str:
    """The IAM and Identity Center name of a persona's policy, group, role and permission set."""
    return f"{name_prefix}-{persona}"


def validate_access_args(args: Mapping[str, Any], names: Mapping[str, str] | None = None) -> list[str]:
    """Every problem with the plain-valued arguments, as sentences naming the argument (empty when valid).

    ``names`` maps argument names to the names a person set (stack configuration keys), so that the
    program's messages name ``accessPersonas`` where the component's name ``personas``.
    """

    n = shown_as(names)
    value = with_defaults(args, ACCESS_DEFAULTS)

    problems: list[str] = []
    # A caller that checks the account and region itself (the stack settings) leaves them out.
    if "account_id" in args:
        problems += validation.account_id_problems(n("account_id"), args.get("account_id"))
    if "region" in args:
        problems += validation.region_problems(n("region"), args.get("region", ""), allow_unlisted=True)
    personas = value("personas")
    persona_problems = validation.persona_names_problems(n("personas"), personas, PERSONAS)
    problems += persona_problems
    listed = personas if isinstance(personas, Sequence) and not isinstance(personas, str) else []
    known = [p for p in listed if p in PERSONAS]
    prefix = args.get("name_prefix", "")
    instance_arn = args.get("identity_center_instance_arn") or ""
    if not isinstance(prefix, str) or not prefix:
        problems.append(
            f"{n('name_prefix')} = {prefix!r}: a non-empty prefix is needed to name the personas' resources."
        )
    elif validation.iam_name_problems(n("name_prefix"), prefix):
        problems += validation.iam_name_problems(n("name_prefix"), prefix)
    else:
        limits = [("IAM", 64)] + ([("IAM Identity Center permission set", 32)] if instance_arn else [])
        for kind, limit in limits:
            too_long = [resource_name(prefix, p) for p in known if len(resource_name(prefix, p)) > limit]
            if too_long:
                room = limit - max(len(p) for p in known) - 1
                problems.append(
                    f"{n('name_prefix')} = {prefix!r} makes the {kind} names {', '.join(map(repr, too_long))} longer "
                    f"than the {limit} characters allowed; use a prefix of at most {room} characters."
                )
    problems += validation.iam_settings_problems(args, value("path"), names)
    problems += validation.whole_number_problems(n("session_hours"), value("session_hours"), 1, MAX_SESSION_HOURS)

    role_principals = args.get("role_principals") or {}
    if not isinstance(role_principals, Mapping):
        problems.append(
            f"{n('role_principals')} = {role_principals!r}: give a mapping of persona to a list of principals, "
            "for example {reader: ['arn:aws:iam::111122223333:user/alice']}."
        )
        role_principals = {}
    for persona, principals in role_principals.items():
        setting = f"{n('role_principals')}.{persona}"
        if persona not in PERSONAS:
            problems += validation.persona_names_problems(n("role_principals"), [persona], PERSONAS)
            continue
        if persona not in known and not persona_problems:
            problems.append(
                f"{setting} names principals for the persona {persona!r}, which is not in {n('personas')} "
                f"({', '.join(known) or 'none'}): add it to {n('personas')} or remove the entry."
            )
        if isinstance(principals, (str, int)) or not isinstance(principals, Sequence) or not principals:
            problems.append(
                f"{setting} = {principals!r}: give a non-empty list of principals, for example "
                "['arn:aws:iam::111122223333:user/alice'], or remove the entry to create no role."
            )
            continue
        for principal in principals:
            problems += validation.iam_principal_problems(setting, principal)

    if instance_arn:
        problems += validation.identity_center_instance_arn_problems(n("identity_center_instance_arn"), instance_arn)

    admin_user = args.get("admin_user_name") or ""
    if admin_user:
        problems += validation.iam_name_problems(n("admin_user_name"), admin_user)
        if PERSONA_ADMIN not in known or not value("groups"):
            problems.append(
                f"{n('admin_user_name')} = {admin_user!r} needs the admin persona and its group ('admin' in "
                f"{n('personas')}, {n('groups')} true): the user gets its permissions only through the admin group."
            )
    return problems


class HealthImagingAccess(pulumi.ComponentResource):
    """Customer managed policies for the HealthImaging personas of one data store, and the groups, roles,
    IAM Identity Center permission sets and administrator user through which people get them.

    Permission sets reference the persona's policy by name and path (a customer managed policy reference)
    rather than copying it inline: the reference is resolved in each account the permission set is
    assigned to, and this stack creates the policy in its own account only, so the permission sets are
    for this account. Assigning one to another account fails to provision (loudly) instead of granting a
    copy that names resources the other account does not have. The permission sets are created in the
    stack's account and region, which must therefore be the Identity Center instance's management or
    delegated administrator account and home region.
    """

    policy_arns: pulumi.Output[dict[str, str]]
    """Persona name to the ARN of its customer managed policy."""
    group_names: pulumi.Output[dict[str, str]]
    """Persona name to its IAM group's name (empty without groups)."""
    role_arns: pulumi.Output[dict[str, str]]
    """Persona name to the ARN of its assumable role (only personas with principals)."""
    permission_set_arns: pulumi.Output[dict[str, str]]
    """Persona name to the ARN of its IAM Identity Center permission set (empty without an instance)."""
    admin_user_name: pulumi.Output[Optional[str]]
    """Name of the administrator IAM user, or None."""

    def __init__(self, name: str, args: HealthImagingAccessArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        validation.raise_if_problems(f"HealthImagingAccess {name!r}", validate_access_args(args))
        super().__init__(f"{PACKAGE}:index:HealthImagingAccess", name, None, opts)
        remember_caller_options(self, opts)

        value = with_defaults(args, ACCESS_DEFAULTS)
        account_id, region, prefix = args["account_id"], args["region"], args["name_prefix"]
        personas = list(value("personas"))
        path = value("path")
        tags = tags_of(args)
        # Validated above; a whole float (how other languages send numbers) becomes an int: PT4H, never PT4.0H.
        session_hours = validation.as_whole_number(value("session_hours"))
        session_seconds = session_hours * 3600
        instance_arn = args.get("identity_center_instance_arn") or ""
        role_principals = args.get("role_principals") or {}

        scope = pulumi.Output.all(
            args["datastore_arn"],
            args["input_bucket_arn"],
            args["output_bucket_arn"],
            args["import_role_arn"],
            args.get("input_kms_key_arn"),
            args.get("output_kms_key_arn"),
            args.get("datastore_kms_key_arn"),
        ).apply(
            lambda v: AccessScope(
                account_id=account_id,
                region=region,
                datastore_arn=v[0],
                input_bucket_arn=v[1],
                output_bucket_arn=v[2],
                import_role_arn=v[3],
                input_key_arn=v[4],
                output_key_arn=v[5],
                datastore_key_arn=v[6],
            )
        )

        policy_arns: dict[str, pulumi.Output[str]] = {}
        group_names: dict[str, pulumi.Output[str]] = {}
        role_arns: dict[str, pulumi.Output[str]] = {}
        permission_set_arns: dict[str, pulumi.Output[str]] = {}
        groups: dict[str, aws.iam.Group] = {}

        for persona in personas:
            iam_name = resource_name(prefix, persona)
            description = access_policies.PERSONA_DESCRIPTIONS[persona]
            policy = aws.iam.Policy(
                f"{name}-{persona}-policy",
                name=iam_name,
                path=path,
                description=description,
                policy=scope.apply(_policy_json(persona)),
                tags=tags,
                opts=child_options(self),
            )
            policy_arns[persona] = policy.arn

            if value("groups"):
                group = aws.iam.Group(f"{name}-{persona}-group", name=iam_name, path=path, opts=child_options(self))
                aws.iam.GroupPolicyAttachment(
                    f"{name}-{persona}-group-policy", group=group.name, policy_arn=policy.arn, opts=child_options(self)
                )
                groups[persona] = group
                group_names[persona] = group.name

            if persona in role_principals:
                trust = access_policies.people_trust_policy(
                    [validation.principal_arn(p) for p in role_principals[persona]],
                    require_mfa=value("roles_require_mfa"),
                )
                role = aws.iam.Role(
                    f"{name}-{persona}-role",
                    name=iam_name,
                    path=path,
                    description=description,
                    assume_role_policy=json.dumps(trust),
                    max_session_duration=session_seconds,
                    permissions_boundary=args.get("permissions_boundary_arn") or None,
                    tags=tags,
                    opts=child_options(self),
                )
                aws.iam.RolePolicyAttachment(
                    f"{name}-{persona}-role-policy", role=role.name, policy_arn=policy.arn, opts=child_options(self)
                )
                role_arns[persona] = role.arn

            if instance_arn:
                permission_set = aws.ssoadmin.PermissionSet(
                    f"{name}-{persona}-permission-set",
                    instance_arn=instance_arn,
                    name=iam_name,
                    description=description,
                    session_duration=f"PT{session_hours}H",
                    tags=tags,
                    opts=child_options(self),
                )
                # The reference names the policy by name and path; it must exist before provisioning.
                aws.ssoadmin.CustomerManagedPolicyAttachment(
                    f"{name}-{persona}-permission-set-policy",
                    instance_arn=instance_arn,
                    permission_set_arn=permission_set.arn,
                    customer_managed_policy_reference={"name": policy.name, "path": path},
                    opts=child_options(self, depends_on=[policy]),
                )
                permission_set_arns[persona] = permission_set.arn

        admin_user: pulumi.Output[Optional[str]] = pulumi.Output.from_input(None)
        if args.get("admin_user_name"):
            # The user only: the person creates their own access key (or console password) and MFA device
            # outside this program. force_destroy stays off, so removing the user never deletes their keys
            # silently: `pulumi destroy` stops until the person's credentials are removed by hand.
            user = aws.iam.User(
                f"{name}-admin-user",
                name=args["admin_user_name"],
                path=path,
                force_destroy=False,
                tags=tags,
                opts=child_options(self),
            )
            # UserGroupMembership adds this user to the group without managing the group's other members
            # (aws.iam.GroupMembership would remove everyone else).
            aws.iam.UserGroupMembership(
                f"{name}-admin-user-groups",
                user=user.name,
                groups=[groups[PERSONA_ADMIN].name],
                opts=child_options(self),
            )
            admin_user = user.name

        self.policy_arns = _output_dict(policy_arns)
        self.group_names = _output_dict(group_names)
        self.role_arns = _output_dict(role_arns)
        self.permission_set_arns = _output_dict(permission_set_arns)
        self.admin_user_name = admin_user
        self.register_outputs(
            {
                "policy_arns": self.policy_arns,
                "group_names": self.group_names,
                "role_arns": self.role_arns,
                "permission_set_arns": self.permission_set_arns,
                "admin_user_name": self.admin_user_name,
            }
        )


def _policy_json(persona: str) -> Callable[[AccessScope], str]:
    """The function that renders one persona's policy document once the scope's ARNs are known."""

    def render(scope: AccessScope) -> str:
        return json.dumps(access_policies.persona_policy(persona, scope))

    return render


def _output_dict(values: Mapping[str, pulumi.Output[str]]) -> pulumi.Output[dict[str, str]]:
    if not values:
        return pulumi.Output.from_input({})
    return pulumi.Output.all(**values).apply(dict)
