"""The stack's configuration, read and validated in one place.

``load_settings()`` reads every key of the project namespace once, parses it, checks every rule and
returns one frozen :class:`StackSettings`. Problems in several keys are reported together, before
any resource is registered, as a :class:`components.validation.InvalidInputError` (a
``pulumi.RunError``: the CLI shows the message without a traceback).

``SETTINGS_SPEC`` is the list of keys with their type, default and description; ``Pulumi.yaml``
declares the same keys (a test keeps the two identical).
"""

from __future__ import annotations

import dataclasses
import difflib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from components import validation
from components.access import validate_access_args
from components.access_policies import DEFAULT_PERSONAS
from components.bucket_pair import BUCKET_ENCRYPTION_CHOICES, BUCKET_NAMING_SCHEMES
from components.datastore import DATASTORE_ENCRYPTION_CHOICES
from provider_keys import ProviderKeys, judge_provider_keys


@dataclass(frozen=True)
class Setting:
    """One configuration key of the project."""

    key: str
    type: str  # "string" | "boolean" | "integer" | "object" | "array" (of strings)
    default: Any
    description: str


SETTINGS_SPEC: tuple[Setting, ...] = (
    Setting(
        "accountId",
        "string",
        None,
        "Required. The 12-digit AWS account to deploy into, quoted. Both providers refuse any other account.",
    ),
    Setting(
        "region",
        "string",
        None,
        "Required. A region where AWS HealthImaging runs: us-east-1, us-west-2, eu-west-1, eu-west-2, ap-southeast-2.",
    ),
    Setting(
        "allowUnlistedRegion",
        "boolean",
        False,
        "Allow a region that is not in the list above, for regions AWS has added since.",
    ),
    Setting(
        "namePrefix",
        "string",
        "",
        "Prefix of generated names (buckets, data store, role, key aliases). Empty: 'ahi-<stack>'.",
    ),
    Setting(
        "tags",
        "object",
        {},
        "Tags for every resource, as key: value. They reach the data store only when it is created.",
    ),
    Setting(
        "disposableStack",
        "boolean",
        False,
        "For throwaway development stacks only: turn off protect and retainOnDelete on the data store, buckets and keys.",
    ),
    Setting("inputBucketName", "string", "", "Exact name of the input bucket (DICOM P10 files). Empty: generated."),
    Setting("outputBucketName", "string", "", "Exact name of the output bucket (import results). Empty: generated."),
    Setting("logBucketName", "string", "", "Exact name of the access-log bucket. Empty: generated."),
    Setting(
        "bucketNaming",
        "string",
        "account-regional",
        "How bucket names are generated: 'account-regional' (<prefix>-input-<account>-<region>-an, cannot be taken by another account) or 'generated' (random suffix, global namespace).",
    ),
    Setting(
        "bucketEncryption",
        "string",
        "kms",
        "Default encryption of the buckets: 'kms' (customer managed key, bucket keys on) or 'sse-s3' (logs a warning).",
    ),
    Setting(
        "bucketKmsKeyArn",
        "string",
        "",
        "ARN of an existing customer managed key for the buckets. Empty: a key is created.",
    ),
    Setting(
        "blockPublicAccess", "boolean", True, "Block Public Access, all four settings, on every bucket (S3.1/S3.8)."
    ),
    Setting("enforceBucketOwner", "boolean", True, "Object ownership BucketOwnerEnforced: ACLs disabled (S3.12)."),
    Setting("versioning", "boolean", True, "Versioning on the buckets (S3.14)."),
    Setting(
        "requireTls", "boolean", True, "Bucket policies deny requests without TLS or with TLS older than 1.2 (S3.5)."
    ),
    Setting(
        "accessLogging",
        "boolean",
        True,
        "Server access logs of the input and output buckets go to a separate log bucket (S3.9).",
    ),
    Setting("noncurrentVersionExpirationDays", "integer", 90, "Days after which noncurrent object versions expire."),
    Setting(
        "currentVersionExpirationDays",
        "integer",
        0,
        "0: current object versions never expire. A positive number deletes objects that old (logs a warning).",
    ),
    Setting(
        "forceDestroyBuckets",
        "boolean",
        False,
        "Let `pulumi destroy` delete non-empty buckets. Only with disposableStack.",
    ),
    Setting("datastoreName", "string", "", "Name of the data store. Empty: '<prefix>-datastore'. Create-only."),
    Setting(
        "datastoreEncryption",
        "string",
        "customer-managed-key",
        "'customer-managed-key' (a key is created unless datastoreKmsKeyArn is set) or 'aws-owned-key' (logs a warning). Create-only.",
    ),
    Setting(
        "datastoreKmsKeyArn",
        "string",
        "",
        "ARN of an existing customer managed key for the data store. Empty: a key is created. Create-only.",
    ),
    Setting(
        "allowDatastoreReplacement",
        "boolean",
        False,
        "Apply changes of the data store's name, key or tags by replacing it: the data store is then not protected, a new empty one is created and the old one is retained in the account (logs a warning). Off: such changes are ignored with a warning.",
    ),
    Setting(
        "allowCrossAccountKeys",
        "boolean",
        False,
        "Accept KMS key ARNs of another account in bucketKmsKeyArn and datastoreKmsKeyArn.",
    ),
    Setting("importRoleName", "string", "", "Name of the import job role. Empty: '<prefix>-ImportJobDataAccessRole'."),
    Setting("iamPath", "string", "/", "IAM path of the roles and policies this program creates."),
    Setting(
        "permissionsBoundaryArn",
        "string",
        "",
        "Managed policy ARN set as permissions boundary on the roles this program creates. Empty: none.",
    ),
    # Access for people (README 'Access for people').
    Setting(
        "accessPersonas",
        "array",
        list(DEFAULT_PERSONAS),
        "Personas that get a customer managed policy scoped to this stack: admin, importer, reader, and break-glass (admin plus deletions and metadata updates; only when listed). Empty list: no access resources.",
    ),
    Setting(
        "accessGroups",
        "boolean",
        True,
        "One IAM group per persona, named '<accessNamePrefix>-<persona>', with the persona's policy attached.",
    ),
    Setting(
        "accessRolePrincipals",
        "object",
        {},
        "Persona: list of IAM user or role ARNs or 12-digit account IDs that may assume a '<accessNamePrefix>-<persona>' role. Empty: no roles.",
    ),
    Setting(
        "accessRolesRequireMfa",
        "boolean",
        True,
        "The persona roles can be assumed only with MFA (aws:MultiFactorAuthPresent). Turn off only for principals that are roles whose sign-in enforces MFA.",
    ),
    Setting(
        "accessIdentityCenterInstanceArn",
        "string",
        "",
        "An existing IAM Identity Center instance (arn:aws:sso:::instance/ssoins-...) managed from this account and region: one permission set per persona. Empty: none.",
    ),
    Setting(
        "accessSessionHours",
        "integer",
        1,
        "Session length, 1 to 12 hours, of the persona roles (maximum) and permission sets.",
    ),
    Setting(
        "accessAdminUserName",
        "string",
        "",
        "Name of the setup guide's administrator IAM user (for example 'ahiadmin'), added to the admin group. No keys or password are created. Empty: no user.",
    ),
    Setting(
        "accessNamePrefix",
        "string",
        "",
        "Prefix of the access policies, groups, roles and permission sets. Empty: namePrefix.",
    ),
)

SPEC_BY_KEY: dict[str, Setting] = {s.key: s for s in SETTINGS_SPEC}


@dataclass(frozen=True)
class StackSettings:
    """The validated configuration of one stack."""

    project: str
    stack: str
    account_id: str
    region: str
    name_prefix: str
    allow_unlisted_region: bool = False
    tags: dict[str, str] = field(default_factory=dict)
    disposable_stack: bool = False
    input_bucket_name: str = ""
    output_bucket_name: str = ""
    log_bucket_name: str = ""
    bucket_naming: str = "account-regional"
    bucket_encryption: str = "kms"
    bucket_kms_key_arn: str = ""
    block_public_access: bool = True
    enforce_bucket_owner: bool = True
    versioning: bool = True
    require_tls: bool = True
    access_logging: bool = True
    noncurrent_version_expiration_days: int = 90
    current_version_expiration_days: int = 0
    force_destroy_buckets: bool = False
    datastore_name: str = ""
    datastore_encryption: str = "customer-managed-key"
    datastore_kms_key_arn: str = ""
    allow_datastore_replacement: bool = False
    allow_cross_account_keys: bool = False
    import_role_name: str = ""
    iam_path: str = "/"
    permissions_boundary_arn: str = ""
    access_personas: list[str] = field(default_factory=lambda: list(DEFAULT_PERSONAS))
    access_groups: bool = True
    access_role_principals: dict[str, list[str]] = field(default_factory=dict)
    access_roles_require_mfa: bool = True
    access_identity_center_instance_arn: str = ""
    access_session_hours: int = 1
    access_admin_user_name: str = ""
    access_name_prefix: str = ""
    provider_keys: ProviderKeys = field(default_factory=ProviderKeys)
    """What Pulumi's own ``aws:`` / ``aws-native:`` stack keys add to the providers (:mod:`provider_keys`)."""

    @property
    def protect_data(self) -> bool:
        """Whether the data store, buckets and keys are protected and retained on delete."""
        return not self.disposable_stack


def _snake(key: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in key)


def _parse(setting: Setting, raw: str, problems: list[str]) -> Any:
    """Turn the engine's string form of a value into the declared type."""
    if setting.type == "string":
        return raw
    if setting.type == "boolean":
        if raw.lower() in ("true", "false"):
            return raw.lower() == "true"
        problems.append(f"{setting.key} = {raw!r}: expected true or false.")
        return setting.default
    if setting.type == "integer":
        try:
            return int(raw)
        except ValueError:
            problems.append(f"{setting.key} = {raw!r}: expected a whole number.")
            return setting.default
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = None
    if setting.type == "array":
        if not isinstance(value, list):
            problems.append(f"{setting.key} = {raw!r}: expected a list, for example [admin, reader].")
            return list(setting.default)
        return value
    if not isinstance(value, dict):
        problems.append(f"{setting.key} = {raw!r}: expected a mapping of key: value, for example {{team: imaging}}.")
        return dict(setting.default)
    return value


def read_settings(project: str, stack: str, get: Callable[[str], str | None]) -> tuple[StackSettings, list[str]]:
    """Build settings from raw values; return them with every problem found (empty when valid).

    ``get(key)`` returns the raw string value of a project key, or None when it is not set.
    """
    problems: list[str] = []
    values: dict[str, Any] = {}
    for setting in SETTINGS_SPEC:
        raw = get(setting.key)
        if raw is None:
            if setting.default is None:
                problems.append(
                    f"{setting.key} is not set: {setting.description.removeprefix('Required. ')} "
                    f"Set it with `pulumi config set {setting.key} <value>`."
                )
                values[_snake(setting.key)] = ""
            else:
                values[_snake(setting.key)] = setting.default
            continue
        values[_snake(setting.key)] = _parse(setting, raw, problems)

    if not values["name_prefix"]:
        values["name_prefix"] = f"ahi-{stack}".lower()
    settings = StackSettings(project=project, stack=stack, **values)
    if not problems:
        problems += validate_settings(settings)
    return settings, problems


def validate_settings(s: StackSettings) -> list[str]:
    """Every rule the configuration must follow, as sentences that name the key (empty when valid)."""
    problems: list[str] = []
    problems += validation.account_id_problems("accountId", s.account_id)
    problems += validation.region_problems("region", s.region, allow_unlisted=s.allow_unlisted_region)
    problems += validation.name_prefix_problems("namePrefix", s.name_prefix)
    problems += validation.tags_problems("tags", s.tags)
    problems += validation.choice_problems("bucketNaming", s.bucket_naming, BUCKET_NAMING_SCHEMES)
    problems += validation.choice_problems("bucketEncryption", s.bucket_encryption, BUCKET_ENCRYPTION_CHOICES)
    problems += validation.choice_problems("datastoreEncryption", s.datastore_encryption, DATASTORE_ENCRYPTION_CHOICES)

    names = {
        "inputBucketName": s.input_bucket_name,
        "outputBucketName": s.output_bucket_name,
        "logBucketName": s.log_bucket_name,
    }
    for key, name in names.items():
        if name:
            problems += validation.bucket_name_problems(key, name)
    given = [name for name in names.values() if name]
    if len(given) != len(set(given)):
        problems.append(
            f"inputBucketName, outputBucketName and logBucketName must all differ (got {s.input_bucket_name!r}, "
            f"{s.output_bucket_name!r}, {s.log_bucket_name!r}): HealthImaging reads from the input bucket and writes "
            "results to the output bucket, and logs need a bucket of their own."
        )
    account_ok = not validation.account_id_problems("accountId", s.account_id)
    region_ok = not validation.region_problems("region", s.region, allow_unlisted=s.allow_unlisted_region)
    prefix_ok = not validation.name_prefix_problems("namePrefix", s.name_prefix)
    generated_roles = [
        role for role, name in (("input", s.input_bucket_name), ("output", s.output_bucket_name)) if not name
    ]
    if s.access_logging and not s.log_bucket_name:
        generated_roles.append("log")
    if s.bucket_naming == "account-regional" and generated_roles and account_ok and region_ok and prefix_ok:
        longest = max(generated_roles, key=len)
        problems += validation.account_regional_prefix_problems(
            "namePrefix", s.name_prefix, longest, s.account_id, s.region
        )

    if s.bucket_kms_key_arn and s.bucket_encryption != "kms":
        problems.append("bucketKmsKeyArn is set but bucketEncryption is 'sse-s3': remove bucketKmsKeyArn or use 'kms'.")
    if s.datastore_kms_key_arn and s.datastore_encryption != "customer-managed-key":
        problems.append("datastoreKmsKeyArn is set but datastoreEncryption is 'aws-owned-key': remove one of them.")
    if account_ok and region_ok:
        for key, arn in (("bucketKmsKeyArn", s.bucket_kms_key_arn), ("datastoreKmsKeyArn", s.datastore_kms_key_arn)):
            if arn:
                problems += validation.kms_key_arn_problems(
                    key, arn, region=s.region, account_id=s.account_id, allow_cross_account=s.allow_cross_account_keys
                )

    problems += validation.positive_days_problems(
        "noncurrentVersionExpirationDays", s.noncurrent_version_expiration_days
    )
    if s.current_version_expiration_days != 0:
        problems += validation.positive_days_problems("currentVersionExpirationDays", s.current_version_expiration_days)
    if s.force_destroy_buckets and not s.disposable_stack:
        problems.append(
            "forceDestroyBuckets = true needs disposableStack = true: deleting buckets full of medical images is "
            "only allowed on a stack declared throwaway."
        )
    if s.datastore_name:
        problems += validation.datastore_name_problems("datastoreName", s.datastore_name)
    if s.import_role_name:
        problems += validation.iam_name_problems("importRoleName", s.import_role_name)
    problems += validation.iam_path_problems("iamPath", s.iam_path)
    if s.permissions_boundary_arn:
        problems += validation.iam_policy_arn_problems("permissionsBoundaryArn", s.permissions_boundary_arn)
    problems += access_problems(s)
    return problems


#: Stack configuration keys of the HealthImagingAccess arguments, for messages that name what a person set.
ACCESS_SETTING_NAMES = {
    "personas": "accessPersonas",
    "groups": "accessGroups",
    "role_principals": "accessRolePrincipals",
    "roles_require_mfa": "accessRolesRequireMfa",
    "identity_center_instance_arn": "accessIdentityCenterInstanceArn",
    "session_hours": "accessSessionHours",
    "admin_user_name": "accessAdminUserName",
    "name_prefix": "accessNamePrefix",
    "path": "iamPath",
    "permissions_boundary_arn": "permissionsBoundaryArn",
}


def access_settings_args(s: StackSettings) -> dict[str, Any]:
    """The plain-valued arguments of :class:`components.HealthImagingAccess` that come from access settings."""
    return {
        "name_prefix": s.access_name_prefix or s.name_prefix,
        "personas": s.access_personas,
        "groups": s.access_groups,
        "role_principals": s.access_role_principals,
        "roles_require_mfa": s.access_roles_require_mfa,
        "identity_center_instance_arn": s.access_identity_center_instance_arn,
        "session_hours": s.access_session_hours,
        "admin_user_name": s.access_admin_user_name,
    }


def access_problems(s: StackSettings) -> list[str]:
    """The access settings' rules (those of :func:`components.access.validate_access_args`), naming the keys."""
    # accountId, region, iamPath and permissionsBoundaryArn have their own checks above.
    args = access_settings_args(s)
    names = dict(ACCESS_SETTING_NAMES)
    if not s.access_name_prefix:
        names["name_prefix"] = "accessNamePrefix (empty, so namePrefix)"
    return validate_access_args(args, names)


def load_settings() -> StackSettings:
    """Read and validate the current stack's configuration; raise on any problem."""
    import pulumi
    from pulumi.runtime.config import CONFIG, get_config_env

    config = pulumi.Config()
    settings, problems = read_settings(pulumi.get_project(), pulumi.get_stack(), config.get)
    all_values = {**get_config_env(), **CONFIG.get()}
    problems += unknown_key_problems(pulumi.get_project(), all_values)
    provider_keys, provider_problems = judge_provider_keys(
        {key: str(value) for key, value in all_values.items()},
        account_id=settings.account_id,
        region=settings.region,
    )
    problems += provider_problems
    validation.raise_if_problems(f"Configuration of stack {pulumi.get_stack()!r}", problems)
    return dataclasses.replace(settings, provider_keys=provider_keys)


def unknown_key_problems(project: str, keys: Iterable[str]) -> list[str]:
    """Keys of the project's namespace that the program does not know: usually a typo, which would
    otherwise leave a setting at its default without a word."""
    problems = []
    for full_key in sorted(set(keys)):
        namespace, _, key = full_key.partition(":")
        if namespace != project or key in SPEC_BY_KEY:
            continue
        close = difflib.get_close_matches(key, SPEC_BY_KEY, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else " See Pulumi.yaml for the keys this program reads."
        problems.append(f"{key} is not a setting of this program, so it would be ignored.{hint}")
    return problems


def as_raw_config(values: Mapping[str, Any]) -> dict[str, str]:
    """Turn typed values (as in a stack file) into the engine's string form, as the Pulumi CLI does."""
    raw = {}
    for key, value in values.items():
        if isinstance(value, bool):
            raw[key] = "true" if value else "false"
        elif isinstance(value, (dict, list)):
            raw[key] = json.dumps(value)
        else:
            raw[key] = str(value)
    return raw
