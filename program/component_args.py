"""Each component's arguments, and the providers', from the validated stack settings.

``__main__.py`` stays a table of contents (settings, providers, components, exports); the mapping from
configuration keys to component arguments lives here, one function per component. The ``*_plain_args``
functions give the plain-valued arguments, which the stack's rules check before anything is created
(:mod:`program.settings_rules`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, cast

import pulumi_aws as aws
import pulumi_aws_native as aws_native

from components import (
    HealthImagingAccessArgs,
    ImagingBucketPair,
    ImagingBucketPairArgs,
    ImagingDatastore,
    ImagingDatastoreArgs,
    ImportJobRole,
    ImportJobRoleArgs,
)
from components import audit_trail as audit_trail_component
from components import import_alerts as import_alerts_component
from components.audit_trail import AuditTrailArgs
from components.auto_import import AutoImportArgs
from components.datastore import DicomwebOidcArgs, generated_datastore_name, prefixed_key_alias
from components.imaging_viewer import ACCESS_LOG_PREFIX as VIEWER_ACCESS_LOG_PREFIX
from components.imaging_viewer import ImagingViewer, ImagingViewerArgs, viewer_identity
from components.import_alerts import ImportJobAlerts, ImportJobAlertsArgs
from components.import_role import generated_role_name
from components.viewer_options import VIEWER_DEFAULTS, cognito_issuer
from program.provider_keys import AssumeRole
from program.settings_spec import DICOMWEB_OIDC_FIELDS, StackSettings
from program.viewer_app_source import viewer_app_dir


def _assume_role_args(role: AssumeRole, *, native: bool) -> dict[str, Any]:
    """One role to assume, in the spelling of the aws provider or of the aws-native provider."""
    args: dict[str, Any] = {"role_arn": role.role_arn}
    optional: dict[str, Any] = {
        "session_name": role.session_name,
        "external_id": role.external_id,
        "policy": role.policy,
        "policy_arns": list(role.policy_arns) or None,
        "tags": dict(role.tags) or None,
        "transitive_tag_keys": list(role.transitive_tag_keys) or None,
    }
    if role.duration_seconds is not None:
        optional["duration_seconds" if native else "duration"] = (
            role.duration_seconds if native else f"{role.duration_seconds}s"
        )
    args.update({key: value for key, value in optional.items() if value is not None})
    return args


def aws_provider_args(s: StackSettings) -> dict[str, Any]:
    """The ``aws`` provider: the stack's account and region only, its tags, and the honoured ``aws:`` keys."""
    keys = s.provider_keys
    args: dict[str, Any] = {
        "region": s.region,
        "allowed_account_ids": [s.account_id],
        # The provider checks allowedAccountIds against the caller's identity: never skip that lookup.
        "skip_credentials_validation": False,
        "skip_requesting_account_id": False,
        "default_tags": {"tags": s.tags} if s.tags else None,
        "profile": keys.profile,
        "assume_roles": [aws.ProviderAssumeRoleArgs(**_assume_role_args(keys.assume_role, native=False))]
        if keys.assume_role
        else None,
        "max_retries": keys.max_retries,
        "forbidden_account_ids": list(keys.forbidden_account_ids) or None,
    }
    return {key: value for key, value in args.items() if value is not None}


def native_provider_args(s: StackSettings) -> dict[str, Any]:
    """The ``aws-native`` provider, which creates the data store.

    pulumi-aws-native defaults ``skipCredentialsValidation`` to true and checks ``allowedAccountIds`` only
    when it validates credentials, so validation is switched on here: without it the account guard of the
    provider that creates the data store would never run. No default tags: they would reach the data store,
    whose tags are create-only (a tag edit would replace it).
    """
    keys = s.provider_keys
    args: dict[str, Any] = {
        "region": s.region,
        "allowed_account_ids": [s.account_id],
        "skip_credentials_validation": False,
        "skip_requesting_account_id": False,
        "profile": keys.profile,
        "assume_role": aws_native.ProviderAssumeRoleArgs(**_assume_role_args(keys.assume_role, native=True))
        if keys.assume_role
        else None,
        "role_arn": keys.native_role_arn,
        "max_retries": keys.max_retries,
        "forbidden_account_ids": list(keys.forbidden_account_ids) or None,
    }
    return {key: value for key, value in args.items() if value is not None}


def bucket_pair_args(s: StackSettings) -> ImagingBucketPairArgs:
    """The input, output and log buckets with the stack's security settings."""
    return {
        "account_id": s.account_id,
        "region": s.region,
        "name_prefix": s.name_prefix,
        "input_bucket_name": s.input_bucket_name,
        "output_bucket_name": s.output_bucket_name,
        "log_bucket_name": s.log_bucket_name,
        "naming": s.bucket_naming,
        "encryption": s.bucket_encryption,
        "kms_key_arn": s.bucket_kms_key_arn,
        "block_public_access": s.block_public_access,
        "enforce_bucket_owner": s.enforce_bucket_owner,
        "versioning": s.versioning,
        "require_tls": s.require_tls,
        "access_logging": s.access_logging,
        "noncurrent_version_expiration_days": s.noncurrent_version_expiration_days,
        "current_version_expiration_days": s.current_version_expiration_days,
        "force_destroy": s.force_destroy_buckets,
        "protect_data": s.protect_data,
        "allow_cross_account_key": s.allow_cross_account_keys,
        # The automatic importer picks up batches from the input bucket's events.
        "input_eventbridge_notifications": s.auto_import,
        # The viewer's distribution delivers its access logs to the log bucket.
        "log_delivery_prefixes": [VIEWER_ACCESS_LOG_PREFIX] if s.viewer and s.access_logging else [],
        # The audit trail's bucket logs its requests to the log bucket too (CIS 3.6).
        "extra_access_log_sources": [audit_trail_component.bucket_arn_pattern(audit_trail_plain_args(s))]
        if s.audit_trail and s.access_logging
        else [],
    }


def datastore_args(s: StackSettings, viewer: ImagingViewer | None = None) -> ImagingDatastoreArgs:
    """The data store. Its name, key and tags are create-only (see the component). With the viewer's own user pool,
    its authorizer accepts the viewer's tokens."""
    return {
        "account_id": s.account_id,
        "region": s.region,
        "datastore_name": s.datastore_name or generated_datastore_name(s.name_prefix),
        "key_alias": prefixed_key_alias(s.name_prefix),
        "encryption": s.datastore_encryption,
        "kms_key_arn": s.datastore_kms_key_arn,
        "tags": s.tags,
        "allow_replacement": s.allow_datastore_replacement,
        "retained_datastore_ids": s.retained_datastore_ids,
        "protect_data": s.protect_data,
        "allow_unlisted_region": s.allow_unlisted_region,
        "allow_cross_account_key": s.allow_cross_account_keys,
        "lossless_storage_format": s.datastore_lossless_storage_format,
        "lambda_authorizer_arn": s.datastore_lambda_authorizer_arn,
        "dicomweb_oidc": cast(
            DicomwebOidcArgs, datastore_oidc(s, viewer_identity(viewer) if viewer is not None else None)
        ),
        "name_prefix": s.name_prefix,
        "path": s.iam_path,
        "permissions_boundary_arn": s.permissions_boundary_arn,
    }


#: What the rules check in place of the viewer's user pool and client, which exist only once created: the issuer's
#: shape and one audience (the rules then check the rest of dicomwebOidc as it is).
VIEWER_CLIENT_STAND_IN = "<the viewer's client ID>"


def viewer_creates_user_pool(s: StackSettings) -> bool:
    """With ``viewer`` and no ``dicomwebOidc.issuer``, the stack's user pool and the viewer's client sign users in."""
    return s.viewer and not s.dicomweb_oidc.get("issuer")


def datastore_oidc(s: StackSettings, identity: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The data store's ``dicomweb_oidc``: ``dicomwebOidc`` as the stack writes it, and with the viewer's own user pool
    its issuer and audience (``identity``: the viewer's outputs; a stand-in for the rules before anything exists) and
    the default personas when none are given."""
    oidc = dicomweb_oidc_argument(s.dicomweb_oidc)
    if not viewer_creates_user_pool(s) or s.datastore_lambda_authorizer_arn:  # the latter: refused by the rules
        return oidc
    stand_in = {"issuer": cognito_issuer(s.region, "<user pool ID>"), "audiences": [VIEWER_CLIENT_STAND_IN]}
    return {"personas": viewer_personas(s), **oidc, **(identity or stand_in)}


def viewer_personas(s: StackSettings) -> dict[str, list[str]]:
    """``dicomwebOidc.personas``, or one group per persona named like it."""
    personas = s.dicomweb_oidc.get("personas") or VIEWER_DEFAULTS["personas"]
    return {persona: list(groups) for persona, groups in personas.items()} if isinstance(personas, dict) else personas


def viewer_plain_args(s: StackSettings) -> dict[str, Any]:
    """The plain-valued arguments of :class:`components.ImagingViewer` (the DICOMweb root and the log bucket come from
    the other components)."""
    audiences = s.dicomweb_oidc.get("audiences")
    own_provider = bool(s.dicomweb_oidc.get("issuer"))
    return {
        "account_id": s.account_id,
        "region": s.region,
        "name_prefix": s.name_prefix,
        "personas": viewer_personas(s),
        "oidc_issuer": s.dicomweb_oidc.get("issuer", "") if own_provider else "",
        "oidc_client_id": (audiences[0] if isinstance(audiences, list) and audiences else "") if own_provider else "",
        "custom_domain": s.viewer_custom_domain,
        "certificate_arn": s.viewer_certificate_arn,
        "web_acl_arn": s.viewer_web_acl_arn,
        "price_class": s.viewer_price_class,
        "protect_data": s.protect_data,
    }


def viewer_args(s: StackSettings, buckets: ImagingBucketPair, dicomweb_url: Any) -> ImagingViewerArgs:
    """The viewer of this stack's data store (``dicomweb_url``, possibly resolved later) with the pinned OHIF build
    (:mod:`program.viewer_app_source`: found or fetched here, after the rules passed); access logs go to the log
    bucket when access logging is on."""
    args: ImagingViewerArgs = {
        **viewer_plain_args(s),  # type: ignore[typeddict-item]
        "app_dir": str(viewer_app_dir()),
        "dicomweb_url": dicomweb_url,
    }
    if s.access_logging:
        args["log_bucket_arn"] = buckets.log_bucket_name.apply(lambda name: f"arn:aws:s3:::{name}")
    return args


def dicomweb_oidc_argument(value: Mapping[str, Any]) -> dict[str, Any]:
    """``dicomwebOidc`` as ``ImagingDatastore``'s ``dicomweb_oidc``: the fields renamed; a field the program does not
    know keeps its name, so that the component's rules report it."""
    return {DICOMWEB_OIDC_FIELDS.get(field, field): item for field, item in value.items()}


def import_role_plain_args(s: StackSettings) -> dict[str, Any]:
    """The import role's plain-valued arguments (the ARNs come from the other components)."""
    return {
        "account_id": s.account_id,
        "region": s.region,
        "role_name": s.import_role_name or generated_role_name(s.name_prefix),
        "path": s.iam_path,
        "permissions_boundary_arn": s.permissions_boundary_arn,
    }


def import_role_args(s: StackSettings, buckets: ImagingBucketPair, datastore: ImagingDatastore) -> ImportJobRoleArgs:
    """The role HealthImaging assumes for import jobs, scoped to this stack's data store and buckets."""
    return {
        **import_role_plain_args(s),  # type: ignore[typeddict-item]
        "datastore_arn": datastore.datastore_arn,
        "input_bucket_arn": buckets.input_bucket_arn,
        "output_bucket_arn": buckets.output_bucket_arn,
        "input_kms_key_arn": buckets.kms_key_arn,
        "output_kms_key_arn": buckets.kms_key_arn,
    }


def access_plain_args(s: StackSettings) -> dict[str, Any]:
    """The plain-valued arguments of :class:`components.HealthImagingAccess`."""
    return {
        "account_id": s.account_id,
        "region": s.region,
        "name_prefix": s.access_name_prefix or s.name_prefix,
        "personas": s.access_personas,
        "groups": s.access_groups,
        "role_principals": s.access_role_principals,
        "roles_require_mfa": s.access_roles_require_mfa,
        "identity_center_instance_arn": s.access_identity_center_instance_arn,
        "session_hours": s.access_session_hours,
        "admin_user_name": s.access_admin_user_name,
        "path": s.iam_path,
        "permissions_boundary_arn": s.permissions_boundary_arn,
    }


def access_args(
    s: StackSettings, buckets: ImagingBucketPair, datastore: ImagingDatastore, import_role: ImportJobRole
) -> HealthImagingAccessArgs:
    """The personas' policies and the routes (groups, roles, permission sets, user) that carry them."""
    return {
        **access_plain_args(s),  # type: ignore[typeddict-item]
        "datastore_arn": datastore.datastore_arn,
        "input_bucket_arn": buckets.input_bucket_arn,
        "output_bucket_arn": buckets.output_bucket_arn,
        "import_role_arn": import_role.role_arn,
        "input_kms_key_arn": buckets.kms_key_arn,
        "output_kms_key_arn": buckets.kms_key_arn,
        "datastore_kms_key_arn": datastore.kms_key_arn,
    }


def import_alerts_plain_args(s: StackSettings) -> dict[str, Any]:
    """The plain-valued arguments of :class:`components.ImportJobAlerts`."""
    return {
        "account_id": s.account_id,
        "region": s.region,
        "name_prefix": s.name_prefix,
        "email_addresses": s.import_alert_emails,
        "https_endpoints": s.import_alert_https_endpoints,
        "sweep_schedule": s.import_alert_sweep_schedule,
        "sweep_lookback_hours": s.import_alert_sweep_lookback_hours,
        "max_failures_listed": s.import_alert_max_failures_listed,
        "log_retention_days": s.import_alert_log_retention_days,
        "path": s.iam_path,
        "permissions_boundary_arn": s.permissions_boundary_arn,
        "protect_data": s.protect_data,
    }


def import_alerts_args(
    s: StackSettings, buckets: ImagingBucketPair, datastore: ImagingDatastore
) -> ImportJobAlertsArgs:
    """Alerts on this stack's data store's import jobs, which write their results to the output bucket."""
    return {
        **import_alerts_plain_args(s),  # type: ignore[typeddict-item]
        "datastore_id": datastore.datastore_id,
        "datastore_arn": datastore.datastore_arn,
        "output_bucket_arn": buckets.output_bucket_arn,
        "output_kms_key_arn": buckets.kms_key_arn,
    }


def audit_trail_plain_args(s: StackSettings) -> dict[str, Any]:
    """The plain-valued arguments of :class:`components.AuditTrail`."""
    return {
        "account_id": s.account_id,
        "region": s.region,
        "name_prefix": s.name_prefix,
        "bucket_name": s.audit_bucket_name,
        "naming": s.bucket_naming,
        "management_events": s.audit_trail_management_events,
        "multi_region": s.audit_trail_multi_region,
        "retention_days": s.audit_log_retention_days or None,
        "object_lock": s.audit_object_lock,
        "cloudwatch_logs": s.audit_trail_cloud_watch_logs,
        "path": s.iam_path,
        "permissions_boundary_arn": s.permissions_boundary_arn,
        "protect_data": s.protect_data,
    }


def audit_trail_args(s: StackSettings, buckets: ImagingBucketPair, datastore: ImagingDatastore) -> AuditTrailArgs:
    """The audit trail of this stack's buckets and data store; its bucket's access logs go to the log bucket."""
    args: AuditTrailArgs = {
        **audit_trail_plain_args(s),  # type: ignore[typeddict-item]
        "input_bucket_arn": buckets.input_bucket_arn,
        "output_bucket_arn": buckets.output_bucket_arn,
        "datastore_arn": datastore.datastore_arn,
    }
    if s.access_logging:
        args["access_log_bucket_name"] = buckets.log_bucket_name
    return args


def auto_import_plain_args(s: StackSettings) -> dict[str, Any]:
    """The plain-valued arguments of :class:`components.AutoImport`."""
    args: dict[str, Any] = {
        "account_id": s.account_id,
        "region": s.region,
        "name_prefix": s.name_prefix,
        "marker_name": s.auto_import_marker_name,
        "quiet_period_minutes": s.auto_import_quiet_period_minutes,
        "max_files_per_job": s.auto_import_max_files_per_job,
        "max_concurrent_jobs": s.auto_import_max_concurrent_jobs,
        "concurrency": s.auto_import_concurrency,
        "log_retention_days": s.auto_import_log_retention_days,
        "path": s.iam_path,
        "permissions_boundary_arn": s.permissions_boundary_arn,
        "protect_data": s.protect_data,
    }
    if s.auto_import_alert_topic_arn:
        args["alert_topic_arn"] = s.auto_import_alert_topic_arn
    if s.auto_import_alert_topic_kms_key_arn:
        args["alert_topic_kms_key_arn"] = s.auto_import_alert_topic_kms_key_arn
    return args


def auto_import_args(
    s: StackSettings,
    buckets: ImagingBucketPair,
    datastore: ImagingDatastore,
    import_role: ImportJobRole,
    alerts: ImportJobAlerts | None,
) -> AutoImportArgs:
    """Batches written into the input bucket become import jobs on this data store with the import role; outcomes go
    to the import alerts' topic when the stack has one."""
    args: AutoImportArgs = {
        **auto_import_plain_args(s),  # type: ignore[typeddict-item]
        "datastore_id": datastore.datastore_id,
        "datastore_arn": datastore.datastore_arn,
        "import_role_arn": import_role.role_arn,
        "input_bucket_name": buckets.input_bucket_name,
        "input_bucket_arn": buckets.input_bucket_arn,
        "output_bucket_name": buckets.output_bucket_name,
        "output_bucket_arn": buckets.output_bucket_arn,
        "bucket_kms_key_arn": buckets.kms_key_arn,
    }
    if alerts is not None:
        args["alert_topic_arn"] = alerts.topic_arn
        args["alert_topic_kms_key_arn"] = alerts.kms_key_arn
    return args


def switched_off_warnings(s: StackSettings) -> list[str]:
    """Warnings for the components the stack's settings leave out."""
    warnings = []
    if not s.import_alerts:
        warnings.append(import_alerts_component.import_alerts_off_warning())
    if not s.audit_trail:
        warnings.append(audit_trail_component.audit_trail_off_warning())
    return warnings


#: Each component's plain-valued arguments from the settings, by the short name settings use in ``feeds``: what the
#: stack's rules check, and where each setting's value reaches the arguments it feeds.
PLAIN_ARGS: dict[str, Callable[[StackSettings], Mapping[str, Any]]] = {
    "bucket_pair": bucket_pair_args,
    "datastore": datastore_args,
    "import_role": import_role_plain_args,
    "access": access_plain_args,
    "import_alerts": import_alerts_plain_args,
    "audit_trail": audit_trail_plain_args,
    "auto_import": auto_import_plain_args,
    "viewer": viewer_plain_args,
}


#: The optional components (short name, also the settings' attribute) and the stack key that switches each on; the
#: others are always composed.
OPTIONAL_COMPONENT_KEYS = {
    "import_alerts": "importAlerts",
    "audit_trail": "auditTrail",
    "auto_import": "autoImport",
    "viewer": "viewer",
}


def included_components(s: StackSettings) -> list[str]:
    """The components the stack composes with these settings, by short name, in ``PLAIN_ARGS``' order."""
    return [component for component in PLAIN_ARGS if component not in OPTIONAL_COMPONENT_KEYS or getattr(s, component)]
