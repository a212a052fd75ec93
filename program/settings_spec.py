"""The stack's keys, each described once: type, default, description and the component arguments it reaches.

``SETTINGS_SPEC`` is the one description of every key of the project's namespace. ``Pulumi.yaml``'s ``config:``
block and the configuration tables of the documentation are generated from it
(``scripts/generate_stack_docs.py``; a test fails when they differ). A key that feeds a component takes the
component's default (``*_DEFAULTS`` next to the component) unless it spells out its own. A description that shows a
limit, a list or a generated name that lives in code builds it from that code (an f-string on the constant or the
function), so that the generated files follow the code. ``StackSettings`` holds the values of one stack, one field
per key.

A key reaches component arguments in two ways, and each is declared (``<component>.<argument>``, the short names
of ``COMPONENT_DEFAULTS``):

- ``feeds``: the arguments that take the key's value as it is (``versioning`` -> ``bucket_pair.versioning``).
  The key takes the default of the first one, and the stack's rules name the key for them;
- ``derives``: the arguments computed from the key's value, which change when it changes but do not carry it as
  it is: a name built from it (``namePrefix`` -> ``datastore.datastore_name`` when ``datastoreName`` is empty),
  a fallback for another key left empty (``namePrefix`` -> ``access.name_prefix``), a value it decides
  (``disposableStack`` -> every ``protect_data``).

Together they are complete: setting any key changes no component argument that neither names (a test sets each
key in turn and compares every argument ``program/component_args.py`` produces). The tables show both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ahiops.batches import INCOMING_PREFIX
from ahiops.limits import (
    DEFAULT_MAX_CONCURRENT_JOBS,
    HEALTHIMAGING_REGIONS,
    MAX_CONCURRENT_JOBS_BY_REGION,
    MAX_FILES_PER_JOB,
)
from components.access import ACCESS_DEFAULTS, MAX_SESSION_HOURS, resource_name
from components.access_policies import DEFAULT_PERSONAS, PERSONA_ADMIN, PERSONA_BREAK_GLASS
from components.audit_trail import AUDIT_TRAIL_DEFAULTS, HIPAA_RETENTION_DAYS
from components.auto_import import AUTO_IMPORT_DEFAULTS, MAX_CONCURRENCY, MAX_QUIET_PERIOD_MINUTES
from components.bucket_pair import (
    BUCKET_PAIR_DEFAULTS,
    ENCRYPTION_KMS,
    ENCRYPTION_SSE_S3,
    NAMING_ACCOUNT_REGIONAL,
    NAMING_GENERATED,
    generated_bucket_name,
)
from components.created_datastore import CreatorNames
from components.datastore import (
    DATASTORE_DEFAULTS,
    ENCRYPTION_AWS_OWNED_KEY,
    ENCRYPTION_CUSTOMER_MANAGED_KEY,
    generated_datastore_name,
)
from components.datastore_options import (
    DICOMWEB_OIDC_DEFAULTS,
    DICOMWEB_PERSONAS,
    FORMAT_HTJ2K,
    FORMAT_JPEG_2000_LOSSLESS,
    MAX_PROVISIONED_CONCURRENCY,
    default_jwks_uri,
)
from components.import_alerts import IMPORT_ALERTS_DEFAULTS, MAX_SWEEP_LOOKBACK_HOURS
from components.import_role import IMPORT_ROLE_DEFAULTS, generated_role_name
from components.policies import MINIMUM_TLS_VERSION
from components.viewer_options import (
    CLOUDFRONT_CERTIFICATE_REGION,
    CUSTOM_DOMAIN_SECURITY_POLICY,
    MIN_PASSWORD_LENGTH,
    PRICE_CLASSES,
    VIEWER_DEFAULTS,
    user_pool_domain_prefix,
)
from program.provider_keys import ProviderKeys

#: The components the stack composes, by the short name settings use in ``feeds``: their defaults.
COMPONENT_DEFAULTS: dict[str, Mapping[str, Any]] = {
    "bucket_pair": BUCKET_PAIR_DEFAULTS,
    "datastore": DATASTORE_DEFAULTS,
    "import_role": IMPORT_ROLE_DEFAULTS,
    "access": ACCESS_DEFAULTS,
    "import_alerts": IMPORT_ALERTS_DEFAULTS,
    "audit_trail": AUDIT_TRAIL_DEFAULTS,
    "auto_import": AUTO_IMPORT_DEFAULTS,
    "viewer": VIEWER_DEFAULTS,
}


class _FromComponent:
    """The default of a setting is the default of the first component argument it feeds."""

    def __repr__(self) -> str:
        return "FROM_COMPONENT"


FROM_COMPONENT: Any = _FromComponent()


@dataclass(frozen=True)
class Setting:
    """One configuration key of the project."""

    key: str
    type: str  # "string" | "boolean" | "integer" | "object" | "array" (of strings)
    default: Any
    """The default value; None for a required key; FROM_COMPONENT for the fed component's default."""
    description: str
    feeds: tuple[str, ...] = ()
    """The component arguments (``<component>.<argument>``) this key gives its value to, as it is."""
    derives: tuple[str, ...] = ()
    """The component arguments computed from this key's value: they change with it but do not carry it as it is."""

    def __post_init__(self) -> None:
        if self.default is FROM_COMPONENT:
            component, _, argument = self.feeds[0].partition(".")
            default = COMPONENT_DEFAULTS[component][argument]
            object.__setattr__(self, "default", list(default) if isinstance(default, (list, tuple)) else default)


#: The fields of ``dicomwebOidc`` as the stack writes them -> ``ImagingDatastore``'s ``dicomweb_oidc`` fields.
DICOMWEB_OIDC_FIELDS = {
    "issuer": "issuer",
    "audiences": "audiences",
    "jwksUri": "jwks_uri",
    "groupsClaim": "groups_claim",
    "personas": "personas",
    "provisionedConcurrency": "provisioned_concurrency",
}
#: Where the built authorizer and the creator function live, as the descriptions show them.
CREATOR_FUNCTION_NAME = CreatorNames("<namePrefix>").function


def derived_name_prefix(stack: str) -> str:
    """The prefix used when ``namePrefix`` is not set: ``ahi-<stack>`` in lowercase."""
    return f"ahi-{stack}".lower()


#: The names of a persona's access resources, as the descriptions show them.
ACCESS_NAME_PATTERN = resource_name("<accessNamePrefix>", "<persona>")
#: The regions whose default quota of concurrent import jobs is lower, as the descriptions show them.
LOWER_CONCURRENT_JOB_QUOTAS = "; ".join(f"{jobs} in {region}" for region, jobs in MAX_CONCURRENT_JOBS_BY_REGION.items())


SETTINGS_SPEC: tuple[Setting, ...] = (
    Setting(
        "accountId",
        "string",
        None,
        "Required. The 12-digit AWS account to deploy into, quoted. Both providers refuse any other account.",
        feeds=(
            "bucket_pair.account_id",
            "datastore.account_id",
            "import_role.account_id",
            "access.account_id",
            "import_alerts.account_id",
            "audit_trail.account_id",
            "auto_import.account_id",
            "viewer.account_id",
        ),
        derives=("bucket_pair.extra_access_log_sources",),  # the audit trail's bucket, by its ARN
    ),
    Setting(
        "region",
        "string",
        None,
        f"Required. A region where AWS HealthImaging runs: {', '.join(HEALTHIMAGING_REGIONS)}.",
        feeds=(
            "bucket_pair.region",
            "datastore.region",
            "import_role.region",
            "access.region",
            "import_alerts.region",
            "audit_trail.region",
            "auto_import.region",
            "viewer.region",
        ),
        derives=(
            "bucket_pair.extra_access_log_sources",  # the audit trail's bucket, by its ARN
            "datastore.dicomweb_oidc",  # with viewer: the user pool's issuer
        ),
    ),
    Setting(
        "allowUnlistedRegion",
        "boolean",
        FROM_COMPONENT,
        "Allow a region that is not in the list above, for regions AWS has added since (partition aws only).",
        feeds=("datastore.allow_unlisted_region",),
    ),
    Setting(
        "namePrefix",
        "string",
        "",
        "Prefix of generated names (buckets, data store, roles, policies, key aliases): lowercase letters, digits and single '-', at most 24 characters. Must be unique per account, whatever the region: IAM names are account-wide and KMS aliases per region, so two stacks with one prefix in one account collide. Empty: '"
        + derived_name_prefix("<stack>")
        + "'.",
        feeds=(
            "bucket_pair.name_prefix",
            "import_alerts.name_prefix",
            "audit_trail.name_prefix",
            "auto_import.name_prefix",
            "datastore.name_prefix",
            "viewer.name_prefix",
        ),
        derives=(
            "datastore.datastore_name",  # when datastoreName is empty
            "datastore.key_alias",
            "import_role.role_name",  # when importRoleName is empty
            "access.name_prefix",  # when accessNamePrefix is empty
            "bucket_pair.extra_access_log_sources",  # the audit trail's bucket, by its ARN
        ),
    ),
    Setting(
        "tags",
        "object",
        {},
        "Tags for every resource, as key: value (the aws provider's default tags). They reach the data store only when it is created. Keys follow HealthImaging's rule, narrower than other services': ASCII letters, digits and _ . : / = + - (no spaces, @ or accented letters).",
        feeds=("datastore.tags",),
    ),
    Setting(
        "disposableStack",
        "boolean",
        False,
        "For throwaway development stacks only: turn off protect and retainOnDelete on the data store, buckets and keys (logs a warning).",
        derives=(
            "bucket_pair.protect_data",
            "datastore.protect_data",
            "import_alerts.protect_data",
            "audit_trail.protect_data",
            "auto_import.protect_data",
            "viewer.protect_data",
        ),
    ),
    Setting(
        "inputBucketName",
        "string",
        "",
        "Exact name of the input bucket (DICOM P10 files), checked against every S3 naming rule; the buckets must all differ. Empty: generated.",
        feeds=("bucket_pair.input_bucket_name",),
    ),
    Setting(
        "outputBucketName",
        "string",
        "",
        "Exact name of the output bucket (import results), checked against every S3 naming rule; the buckets must all differ. Empty: generated.",
        feeds=("bucket_pair.output_bucket_name",),
    ),
    Setting(
        "logBucketName",
        "string",
        "",
        "Exact name of the access-log bucket, checked against every S3 naming rule; the buckets must all differ. Empty: generated.",
        feeds=("bucket_pair.log_bucket_name",),
    ),
    Setting(
        "bucketNaming",
        "string",
        FROM_COMPONENT,
        f"How bucket names are generated: {NAMING_ACCOUNT_REGIONAL!r} "
        f"({generated_bucket_name('<prefix>', 'input', '<account>', '<region>')}, cannot be taken by another account) "
        f"or {NAMING_GENERATED!r} (random suffix, global namespace).",
        feeds=("bucket_pair.naming", "audit_trail.naming"),
        derives=("bucket_pair.extra_access_log_sources",),  # the audit trail's bucket, by its ARN
    ),
    Setting(
        "bucketEncryption",
        "string",
        FROM_COMPONENT,
        f"Default encryption of the buckets: {ENCRYPTION_KMS!r} (customer managed key, bucket keys on) or "
        f"{ENCRYPTION_SSE_S3!r} (logs a warning).",
        feeds=("bucket_pair.encryption",),
    ),
    Setting(
        "bucketKmsKeyArn",
        "string",
        "",
        "ARN of an existing customer managed key for the buckets (the full key ARN, not an alias). Empty: a key is created.",
        feeds=("bucket_pair.kms_key_arn",),
    ),
    Setting(
        "blockPublicAccess",
        "boolean",
        FROM_COMPONENT,
        "Block Public Access, all four settings, on every bucket (S3.1/S3.8). false logs a warning.",
        feeds=("bucket_pair.block_public_access",),
    ),
    Setting(
        "enforceBucketOwner",
        "boolean",
        FROM_COMPONENT,
        "Object ownership BucketOwnerEnforced: ACLs disabled (S3.12). false logs a warning.",
        feeds=("bucket_pair.enforce_bucket_owner",),
    ),
    Setting(
        "versioning",
        "boolean",
        FROM_COMPONENT,
        "Versioning on the buckets (S3.14). false logs a warning.",
        feeds=("bucket_pair.versioning",),
    ),
    Setting(
        "requireTls",
        "boolean",
        FROM_COMPONENT,
        f"Bucket policies deny requests without TLS or with TLS older than {MINIMUM_TLS_VERSION} (S3.5). "
        "false logs a warning.",
        feeds=("bucket_pair.require_tls",),
    ),
    Setting(
        "accessLogging",
        "boolean",
        FROM_COMPONENT,
        "Server access logs of the input and output buckets go to a separate log bucket (S3.9), and the viewer's "
        "CloudFront access logs too. false logs a warning.",
        feeds=("bucket_pair.access_logging",),
        derives=(
            "bucket_pair.extra_access_log_sources",  # the audit trail's bucket logs there too
            "bucket_pair.log_delivery_prefixes",  # the viewer's distribution logs there too
        ),
    ),
    Setting(
        "noncurrentVersionExpirationDays",
        "integer",
        FROM_COMPONENT,
        "Days after which overwritten or deleted (noncurrent) object versions expire.",
        feeds=("bucket_pair.noncurrent_version_expiration_days",),
    ),
    Setting(
        "currentVersionExpirationDays",
        "integer",
        FROM_COMPONENT,
        "0: current object versions never expire. A positive number deletes objects that old (logs a warning).",
        feeds=("bucket_pair.current_version_expiration_days",),
    ),
    Setting(
        "forceDestroyBuckets",
        "boolean",
        FROM_COMPONENT,
        "Let `pulumi destroy` delete non-empty buckets. Only with disposableStack.",
        feeds=("bucket_pair.force_destroy",),
    ),
    Setting(
        "datastoreName",
        "string",
        "",
        f"Name of the data store: 1 to 256 of A-Z a-z 0-9 . _ / # -. Empty: {generated_datastore_name('<prefix>')!r}. "
        "Create-only.",
        feeds=("datastore.datastore_name",),
    ),
    Setting(
        "datastoreEncryption",
        "string",
        FROM_COMPONENT,
        f"{ENCRYPTION_CUSTOMER_MANAGED_KEY!r} (a key is created unless datastoreKmsKeyArn is set) or "
        f"{ENCRYPTION_AWS_OWNED_KEY!r} (logs a warning). Create-only.",
        feeds=("datastore.encryption",),
    ),
    Setting(
        "datastoreKmsKeyArn",
        "string",
        "",
        "ARN of an existing single-Region customer managed key for the data store (HealthImaging refuses a multi-Region key/mrk-...; the buckets accept one). The program does not edit its key policy: add HealthImaging's statement once the data store exists (README 'What it creates, and why'). Empty: a key is created. Create-only.",
        feeds=("datastore.kms_key_arn",),
    ),
    Setting(
        "allowDatastoreReplacement",
        "boolean",
        FROM_COMPONENT,
        "Apply changes of the data store's name or tags by replacing it: the data store is then not protected, a new empty one is created and the old one is retained in the account (logs a warning); add the current datastoreId to retainedDatastoreIds first. Not for a key change: moving away from the key the program created removes that key and its policy, which are protected, so pulumi up fails (docs/security-and-data-safety.md, 'Changing the data store'). Off: such changes are ignored with a warning.",
        feeds=("datastore.allow_replacement",),
    ),
    Setting(
        "retainedDatastoreIds",
        "array",
        FROM_COMPONENT,
        "IDs of data stores this stack replaced and retained (allowDatastoreReplacement), which use the created data store key: its policy keeps HealthImaging's statement for them. Add the current datastoreId here before a replacement. Only with the key the program creates.",
        feeds=("datastore.retained_datastore_ids",),
    ),
    Setting(
        "datastoreLosslessStorageFormat",
        "string",
        FROM_COMPONENT,
        f"How HealthImaging stores lossless frames, fixed when the data store is created: {FORMAT_HTJ2K!r} "
        f"(HealthImaging's default) or {FORMAT_JPEG_2000_LOSSLESS!r} (for viewers and archives that want JPEG 2000). "
        f"{FORMAT_JPEG_2000_LOSSLESS!r} creates the data store with the function {CREATOR_FUNCTION_NAME!r} "
        "(CloudFormation cannot set it). Changing it later means a new, empty data store (allowDatastoreReplacement).",
        feeds=("datastore.lossless_storage_format",),
    ),
    Setting(
        "dicomwebOidc",
        "object",
        {},
        "Empty: no bearer tokens (DICOMweb with SigV4 only). An OIDC provider whose bearer tokens DICOMweb accepts, "
        "fixed when the data store is created; the program builds the authorizer function, one role per persona and "
        "the function's resource policy: {issuer: <https URL>, audiences: [<client id>, ...], personas: "
        f"{{<{'|'.join(DICOMWEB_PERSONAS)}>: [<group>, ...]}}}}, optional jwksUri (default "
        f"{default_jwks_uri('<issuer>')!r}), groupsClaim (default {DICOMWEB_OIDC_DEFAULTS['groups_claim']!r}), "
        f"provisionedConcurrency (default {DICOMWEB_OIDC_DEFAULTS['provisioned_concurrency']}, 0 to "
        f"{MAX_PROVISIONED_CONCURRENCY}; 0 logs a warning: HealthImaging waits one second at most). Not with "
        "datastoreLambdaAuthorizerArn. With viewer: issuer and audiences may be left out (the stack's user pool and "
        "the viewer's client are used), and personas name the user pool's groups.",
        feeds=("datastore.dicomweb_oidc",),
        derives=("viewer.personas", "viewer.oidc_issuer", "viewer.oidc_client_id"),
    ),
    Setting(
        "datastoreLambdaAuthorizerArn",
        "string",
        "",
        "An existing authorizer function of this account and region (arn:aws:lambda:<region>:<account>:function:"
        "<name>[:<alias>]) for DICOMweb bearer tokens, fixed when the data store is created; its resource policy must "
        "let medical-imaging.<region>.amazonaws.com invoke it for this data store. Not with dicomwebOidc. Empty: none.",
        feeds=("datastore.lambda_authorizer_arn",),
        derives=("datastore.dicomweb_oidc",),  # with viewer: the user pool is not wired in (and the rules refuse)
    ),
    Setting(
        "viewer",
        "boolean",
        False,
        "Deploy the OHIF Viewer for the team (README 'A viewer for the whole team'): the app in a private bucket "
        "behind CloudFront, its sign-in with OIDC, DICOMweb read straight from the data store with bearer tokens. "
        "Without dicomwebOidc.issuer a Cognito user pool of the stack is created (no self sign-up, MFA required, "
        f"passwords of at least {MIN_PASSWORD_LENGTH} characters, hosted sign-in domain "
        f"{user_pool_domain_prefix('<namePrefix>', '<accountId>')!r}, one group per group name of "
        "dicomwebOidc.personas, default reader, importer, admin) and becomes dicomwebOidc's issuer and audience; with "
        "dicomwebOidc.issuer, that provider signs users in and its first audience is the viewer's client ID. Needs the "
        "authorizer the data store is created with: not with datastoreLambdaAuthorizerArn.",
        derives=("datastore.dicomweb_oidc", "bucket_pair.log_delivery_prefixes"),
    ),
    Setting(
        "viewerCustomDomain",
        "string",
        "",
        "A host name of your own for the viewer (create its DNS record for the distribution yourself). Needs "
        f"viewerCertificateArn; TLS 1.2 or newer ({CUSTOM_DOMAIN_SECURITY_POLICY}). Empty: the distribution's "
        "*.cloudfront.net name, whose default certificate fixes CloudFront's TLS security policy.",
        feeds=("viewer.custom_domain",),
    ),
    Setting(
        "viewerCertificateArn",
        "string",
        "",
        f"ARN of an ACM certificate in {CLOUDFRONT_CERTIFICATE_REGION} of this account covering viewerCustomDomain "
        "(CloudFront takes certificates of that region only). Empty: none.",
        feeds=("viewer.certificate_arn",),
    ),
    Setting(
        "viewerWebAclArn",
        "string",
        "",
        "ARN of a WAF web ACL with scope CLOUDFRONT (arn:aws:wafv2:us-east-1:...:global/webacl/...) in front of the "
        "viewer. Empty: none (logs a warning).",
        feeds=("viewer.web_acl_arn",),
    ),
    Setting(
        "viewerPriceClass",
        "string",
        FROM_COMPONENT,
        f"CloudFront's edge locations for the viewer: {', '.join(PRICE_CLASSES)}.",
        feeds=("viewer.price_class",),
    ),
    Setting(
        "allowCrossAccountKeys",
        "boolean",
        FROM_COMPONENT,
        "Accept KMS key ARNs of another account in bucketKmsKeyArn and datastoreKmsKeyArn.",
        feeds=(
            "bucket_pair.allow_cross_account_key",
            "datastore.allow_cross_account_key",
        ),
    ),
    Setting(
        "importRoleName",
        "string",
        "",
        f"Name of the import job role, at most 64 characters. Empty: {generated_role_name('<prefix>')!r}.",
        feeds=("import_role.role_name",),
    ),
    Setting(
        "iamPath",
        "string",
        FROM_COMPONENT,
        "IAM path of the roles and policies this program creates.",
        feeds=(
            "import_role.path",
            "access.path",
            "import_alerts.path",
            "audit_trail.path",
            "auto_import.path",
            "datastore.path",
        ),
    ),
    Setting(
        "permissionsBoundaryArn",
        "string",
        "",
        "Managed policy ARN set as permissions boundary on the roles this program creates, where an organisation requires one. Empty: none.",
        feeds=(
            "import_role.permissions_boundary_arn",
            "access.permissions_boundary_arn",
            "import_alerts.permissions_boundary_arn",
            "audit_trail.permissions_boundary_arn",
            "auto_import.permissions_boundary_arn",
            "datastore.permissions_boundary_arn",
        ),
    ),
    # Access for people (docs/access-for-people.md, 'Access for people').
    Setting(
        "accessPersonas",
        "array",
        FROM_COMPONENT,
        f"Personas that get a customer managed policy scoped to this stack: {', '.join(DEFAULT_PERSONAS)}, and "
        f"{PERSONA_BREAK_GLASS} ({PERSONA_ADMIN} plus deletions and metadata updates; only when listed explicitly). "
        "Empty list: no access resources.",
        feeds=("access.personas",),
    ),
    Setting(
        "accessGroups",
        "boolean",
        FROM_COMPONENT,
        f"One IAM group per persona, named {ACCESS_NAME_PATTERN!r}, with the persona's policy attached.",
        feeds=("access.groups",),
    ),
    Setting(
        "accessRolePrincipals",
        "object",
        {},
        "Persona: list of IAM user or role ARNs or quoted 12-digit account IDs that may assume a "
        f"{ACCESS_NAME_PATTERN!r} role. A persona without an entry gets no role. Empty: no roles.",
        feeds=("access.role_principals",),
    ),
    Setting(
        "accessRolesRequireMfa",
        "boolean",
        FROM_COMPONENT,
        "The persona roles can be assumed only with MFA (aws:MultiFactorAuthPresent). Turn off only for principals that are roles whose sign-in enforces MFA.",
        feeds=("access.roles_require_mfa",),
    ),
    Setting(
        "accessIdentityCenterInstanceArn",
        "string",
        "",
        "An existing IAM Identity Center instance (arn:aws:sso:::instance/ssoins-<16 hex>) managed from this account and region: one permission set per persona. Empty: no permission sets.",
        feeds=("access.identity_center_instance_arn",),
    ),
    Setting(
        "accessSessionHours",
        "integer",
        FROM_COMPONENT,
        f"Session length, 1 to {MAX_SESSION_HOURS} hours, of the persona roles (maximum) and permission sets.",
        feeds=("access.session_hours",),
    ),
    Setting(
        "accessAdminUserName",
        "string",
        "",
        "Name of the setup guide's administrator IAM user (for example 'ahiadmin'), added to the admin group (needs the admin persona and accessGroups). No keys or password are created. Empty: no user.",
        feeds=("access.admin_user_name",),
    ),
    Setting(
        "accessNamePrefix",
        "string",
        "",
        "Prefix of the access policies, groups, roles and permission sets. Empty: namePrefix.",
        feeds=("access.name_prefix",),
    ),
    # Import job alerts (docs/alerts-audit-and-import-on-upload.md, 'Import job alerts').
    Setting(
        "importAlerts",
        "boolean",
        True,
        "Alert when an import job fails or completes with files not imported: an EventBridge rule and an hourly sweep run a function that reads the job's manifest and publishes to an encrypted SNS topic. false: no alerts (logs a warning).",
    ),
    Setting(
        "importAlertEmails",
        "array",
        FROM_COMPONENT,
        "E-mail addresses subscribed to the import alerts (each confirms by a link SNS sends). With no subscriber at all the stack warns.",
        feeds=("import_alerts.email_addresses",),
    ),
    Setting(
        "importAlertHttpsEndpoints",
        "array",
        FROM_COMPONENT,
        "HTTPS URLs subscribed to the import alerts; each receives the alert as JSON. https:// only, and no user name or password in a URL (it would land in the stack configuration and state).",
        feeds=("import_alerts.https_endpoints",),
    ),
    Setting(
        "importAlertSweepSchedule",
        "string",
        FROM_COMPONENT,
        "EventBridge schedule, rate(...) or cron(...), of the sweep of recently ended import jobs, which alerts on jobs whose event was lost.",
        feeds=("import_alerts.sweep_schedule",),
    ),
    Setting(
        "importAlertSweepLookbackHours",
        "integer",
        FROM_COMPONENT,
        "The sweep checks the import jobs that ended in this many hours: at least two sweep intervals, at most "
        f"{MAX_SWEEP_LOOKBACK_HOURS} (jobs are listed for {MAX_SWEEP_LOOKBACK_HOURS // 24} days).",
        feeds=("import_alerts.sweep_lookback_hours",),
    ),
    Setting(
        "importAlertMaxFailuresListed",
        "integer",
        FROM_COMPONENT,
        "Failed files an alert lists with their reasons, 0 to 50 (the failure file in the output bucket lists them all).",
        feeds=("import_alerts.max_failures_listed",),
    ),
    Setting(
        "importAlertLogRetentionDays",
        "integer",
        FROM_COMPONENT,
        "Days the alerts function's log group keeps its logs (a value CloudWatch Logs accepts; less than a year logs a warning).",
        feeds=("import_alerts.log_retention_days",),
    ),
    # Audit trail (docs/alerts-audit-and-import-on-upload.md, 'Audit trail').
    Setting(
        "auditTrail",
        "boolean",
        True,
        "A CloudTrail trail of who read or changed the images: data events of the input and output buckets' objects, the data store and its image sets, and management events. false where an organisation trail records them (logs a warning).",
        derives=("bucket_pair.extra_access_log_sources",),  # its bucket logs to the log bucket
    ),
    Setting(
        "auditTrailManagementEvents",
        "boolean",
        FROM_COMPONENT,
        "The audit trail also records management events. false: data events only, when an organisation trail records management events (logs a warning).",
        feeds=("audit_trail.management_events",),
    ),
    Setting(
        "auditTrailMultiRegion",
        "boolean",
        FROM_COMPONENT,
        "Make the audit trail multi-region. Its data events are all in this stack's region: one region, one stack.",
        feeds=("audit_trail.multi_region",),
    ),
    Setting(
        "auditLogRetentionDays",
        "integer",
        FROM_COMPONENT,
        "Days the audit trail's log files are kept, then expire (without Object Lock, a deleted one is kept as long "
        f"after its deletion); {HIPAA_RETENTION_DAYS}: six years, HIPAA's documentation retention; less logs a "
        "warning. 0: forever.",
        feeds=("audit_trail.retention_days",),
    ),
    Setting(
        "auditObjectLock",
        "boolean",
        FROM_COMPONENT,
        "Create the audit bucket with S3 Object Lock (GOVERNANCE mode), each log file locked for auditLogRetentionDays. Chosen at creation only; needs a retention.",
        feeds=("audit_trail.object_lock",),
    ),
    Setting(
        "auditTrailCloudWatchLogs",
        "boolean",
        FROM_COMPONENT,
        "Also deliver the audit trail's events to a CloudWatch Logs log group encrypted with the trail's key (CloudWatch Logs charges for them).",
        feeds=("audit_trail.cloudwatch_logs",),
    ),
    Setting(
        "auditBucketName",
        "string",
        "",
        "Exact name of the audit trail's bucket; must differ from the other buckets. Empty: generated like the other buckets (bucketNaming).",
        feeds=("audit_trail.bucket_name",),
        derives=("bucket_pair.extra_access_log_sources",),  # the audit trail's bucket, by its ARN
    ),
    # Import on upload (docs/alerts-audit-and-import-on-upload.md, 'Import on upload').
    Setting(
        "autoImport",
        "boolean",
        FROM_COMPONENT,
        f"Import batches written into the input bucket: {INCOMING_PREFIX}<batch>/ finished by a marker object becomes "
        "import jobs, through the bucket's EventBridge notifications, an encrypted SQS queue and a function. Off by "
        "default.",
        feeds=("bucket_pair.input_eventbridge_notifications",),
    ),
    Setting(
        "autoImportMarkerName",
        "string",
        FROM_COMPONENT,
        f"Name of the object that finishes a batch, {INCOMING_PREFIX}<batch>/<name>: 1 to 100 of A-Z a-z 0-9 . _ -.",
        feeds=("auto_import.marker_name",),
    ),
    Setting(
        "autoImportQuietPeriodMinutes",
        "integer",
        FROM_COMPONENT,
        f"0: only markers start batches. Minutes without a new object under {INCOMING_PREFIX}<batch>/ after which the "
        f"batch starts without a marker (1 to {MAX_QUIET_PERIOD_MINUTES}).",
        feeds=("auto_import.quiet_period_minutes",),
    ),
    Setting(
        "autoImportMaxFilesPerJob",
        "integer",
        FROM_COMPONENT,
        f"Files per import job: HealthImaging's quota ({MAX_FILES_PER_JOB}) unless it was raised for the account.",
        feeds=("auto_import.max_files_per_job",),
    ),
    Setting(
        "autoImportMaxConcurrentJobs",
        "integer",
        FROM_COMPONENT,
        "Import jobs kept running at once on the data store, other importers' jobs included. 0: the region's default "
        f"quota ({DEFAULT_MAX_CONCURRENT_JOBS}; {LOWER_CONCURRENT_JOB_QUOTAS}); after a quota increase, set the new "
        "quota, or less to leave room for other importers.",
        feeds=("auto_import.max_concurrent_jobs",),
    ),
    Setting(
        "autoImportConcurrency",
        "integer",
        FROM_COMPONENT,
        f"Copies of the auto-import function for new batches at once, 2 to {MAX_CONCURRENCY}, and as many again for "
        "running jobs; job starts stay at one per second across them.",
        feeds=("auto_import.concurrency",),
    ),
    Setting(
        "autoImportAlertTopicArn",
        "string",
        "",
        "SNS topic of this account and region told when a batch is not fully imported, for stacks with importAlerts off. Empty: importAlerts' topic when it is on, else none (logs a warning).",
        feeds=("auto_import.alert_topic_arn",),
    ),
    Setting(
        "autoImportAlertTopicKmsKeyArn",
        "string",
        "",
        "The customer managed key of autoImportAlertTopicArn's topic, if it has one (the function may use it through SNS only).",
        feeds=("auto_import.alert_topic_kms_key_arn",),
    ),
    Setting(
        "autoImportLogRetentionDays",
        "integer",
        FROM_COMPONENT,
        "Days the auto-import function's log group keeps its logs (a value CloudWatch Logs accepts).",
        feeds=("auto_import.log_retention_days",),
    ),
)

SPEC_BY_KEY: dict[str, Setting] = {s.key: s for s in SETTINGS_SPEC}


@dataclass(frozen=True)
class StackSettings:
    """The validated configuration of one stack: one field per key of ``SETTINGS_SPEC`` (snake_case)."""

    project: str
    stack: str
    account_id: str
    region: str
    allow_unlisted_region: bool
    name_prefix: str
    tags: dict[str, str]
    disposable_stack: bool
    input_bucket_name: str
    output_bucket_name: str
    log_bucket_name: str
    bucket_naming: str
    bucket_encryption: str
    bucket_kms_key_arn: str
    block_public_access: bool
    enforce_bucket_owner: bool
    versioning: bool
    require_tls: bool
    access_logging: bool
    noncurrent_version_expiration_days: int
    current_version_expiration_days: int
    force_destroy_buckets: bool
    datastore_name: str
    datastore_encryption: str
    datastore_kms_key_arn: str
    allow_datastore_replacement: bool
    retained_datastore_ids: list[str]
    datastore_lossless_storage_format: str
    dicomweb_oidc: dict[str, Any]
    datastore_lambda_authorizer_arn: str
    viewer: bool
    viewer_custom_domain: str
    viewer_certificate_arn: str
    viewer_web_acl_arn: str
    viewer_price_class: str
    allow_cross_account_keys: bool
    import_role_name: str
    iam_path: str
    permissions_boundary_arn: str
    access_personas: list[str]
    access_groups: bool
    access_role_principals: dict[str, list[str]]
    access_roles_require_mfa: bool
    access_identity_center_instance_arn: str
    access_session_hours: int
    access_admin_user_name: str
    access_name_prefix: str
    import_alerts: bool
    import_alert_emails: list[str]
    import_alert_https_endpoints: list[str]
    import_alert_sweep_schedule: str
    import_alert_sweep_lookback_hours: int
    import_alert_max_failures_listed: int
    import_alert_log_retention_days: int
    audit_trail: bool
    audit_trail_management_events: bool
    audit_trail_multi_region: bool
    audit_log_retention_days: int
    audit_object_lock: bool
    audit_trail_cloud_watch_logs: bool
    audit_bucket_name: str
    auto_import: bool
    auto_import_marker_name: str
    auto_import_quiet_period_minutes: int
    auto_import_max_files_per_job: int
    auto_import_max_concurrent_jobs: int
    auto_import_concurrency: int
    auto_import_alert_topic_arn: str
    auto_import_alert_topic_kms_key_arn: str
    auto_import_log_retention_days: int
    name_prefix_set: bool = True
    """False when ``namePrefix`` was not set and ``name_prefix`` was derived from the stack name."""
    provider_keys: ProviderKeys = field(default_factory=ProviderKeys)
    """What Pulumi's own ``aws:`` / ``aws-native:`` stack keys add to the providers (:mod:`program.provider_keys`)."""

    @property
    def protect_data(self) -> bool:
        """Whether the data store, buckets and keys are protected and retained on delete."""
        return not self.disposable_stack


def field_name(key: str) -> str:
    """The ``StackSettings`` field of a stack key: ``namePrefix`` -> ``name_prefix``."""
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in key)
