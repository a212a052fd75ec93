"""AWS HealthImaging setup as code: settings, providers, components, exports.

Reads the stack's configuration once (``program/settings.py``), creates explicit ``aws`` and ``aws-native``
providers pinned to the stack's account and region, and composes the bucket pair, the data store, the
import job role, the access for people, the import job alerts and the audit trail, with arguments mapped from
the settings in ``program/component_args.py``; with ``autoImport``, batches written into the input bucket become
import jobs; with ``viewer``, the team's OHIF Viewer on CloudFront signs users in and reads DICOMweb.
``python -m ahictl plan --stack <name>`` shows what this creates, offline.
"""

import pulumi
import pulumi_aws as aws
import pulumi_aws_native as aws_native

from components import (
    AuditTrail,
    AutoImport,
    HealthImagingAccess,
    ImagingBucketPair,
    ImagingDatastore,
    ImagingViewer,
    ImportJobAlerts,
    ImportJobRole,
)
from components.deferred import deferred
from program import component_args, exports
from program.settings import load_settings

s = load_settings()
if s.disposable_stack:
    pulumi.log.warn(
        "DISPOSABLE STACK: disposableStack is true, so the data store, the buckets and the KMS keys are NOT "
        "protected and NOT retained: `pulumi destroy` deletes them and the medical images in them. "
        "Never use this setting for a stack that holds real data."
    )

# Both providers refuse to act in any other account than accountId, and pass on the honoured aws: and
# aws-native: stack keys (program/provider_keys.py); aws-native gets no default tags (they would reach the data store).
aws_provider = aws.Provider("aws", **component_args.aws_provider_args(s))
native_provider = aws_native.Provider("aws-native", **component_args.native_provider_args(s))
providers = pulumi.ResourceOptions(providers=[aws_provider, native_provider])

buckets = ImagingBucketPair("import-buckets", component_args.bucket_pair_args(s), providers)
# The viewer (off by default) comes first: the data store's authorizer takes its client ID and issuer at creation,
# and the viewer's configuration takes the data store's DICOMweb root once it exists (resolved below).
with deferred(str, "the data store's DICOMweb root") as dicomweb_url:
    viewer = (
        ImagingViewer("viewer", component_args.viewer_args(s, buckets, dicomweb_url.output), providers)
        if s.viewer
        else None
    )
    datastore = ImagingDatastore("datastore", component_args.datastore_args(s, viewer), providers)
    dicomweb_url.resolve(datastore.dicomweb_url)
import_role = ImportJobRole("import-job-role", component_args.import_role_args(s, buckets, datastore), providers)
# Access for people: a policy per persona, and the groups, roles, permission sets and user that carry it.
access = HealthImagingAccess("access", component_args.access_args(s, buckets, datastore, import_role), providers)
# Told when an import job fails or partly fails; a record of who read or changed the images.
alerts = (
    ImportJobAlerts("import-alerts", component_args.import_alerts_args(s, buckets, datastore), providers)
    if s.import_alerts
    else None
)
audit = (
    AuditTrail("audit-trail", component_args.audit_trail_args(s, buckets, datastore), providers)
    if s.audit_trail
    else None
)
# Import on upload: batches written under incoming/ in the input bucket become import jobs (off by default).
auto_import = (
    AutoImport("auto-import", component_args.auto_import_args(s, buckets, datastore, import_role, alerts), providers)
    if s.auto_import
    else None
)
for warning in component_args.switched_off_warnings(s):
    pulumi.log.warn(warning)

pulumi.export("accountId", s.account_id)
pulumi.export("region", s.region)
pulumi.export("inputBucketName", buckets.input_bucket_name)
pulumi.export("inputBucketArn", buckets.input_bucket_arn)
pulumi.export("outputBucketName", buckets.output_bucket_name)
pulumi.export("outputBucketArn", buckets.output_bucket_arn)
pulumi.export("logBucketName", buckets.log_bucket_name)
pulumi.export("bucketKmsKeyArn", buckets.kms_key_arn)
pulumi.export("datastoreId", datastore.datastore_id)
pulumi.export("datastoreArn", datastore.datastore_arn)
pulumi.export("datastoreKmsKeyArn", datastore.kms_key_arn)
pulumi.export("datastoreLosslessStorageFormat", s.datastore_lossless_storage_format)
pulumi.export("datastoreLambdaAuthorizerArn", datastore.authorizer_function_arn)
pulumi.export("dicomwebUrl", datastore.dicomweb_url)
pulumi.export("dicomwebPersonaRoleArns", datastore.persona_role_arns)
pulumi.export("importRoleArn", import_role.role_arn)
pulumi.export("accessPolicyArns", access.policy_arns)
pulumi.export("accessGroupNames", access.group_names)
pulumi.export("accessRoleArns", access.role_arns)
pulumi.export("accessPermissionSetArns", access.permission_set_arns)
pulumi.export("accessAdminUserName", access.admin_user_name)
pulumi.export("importAlertsTopicArn", alerts.topic_arn if alerts else None)
pulumi.export("importAlertsFunctionName", alerts.function_name if alerts else None)
pulumi.export("auditTrailArn", audit.trail_arn if audit else None)
pulumi.export("auditBucketName", audit.bucket_name if audit else None)
pulumi.export("autoImportQueueUrl", auto_import.queue_url if auto_import else None)
pulumi.export("autoImportFunctionName", auto_import.function_name if auto_import else None)
pulumi.export("startImportJobCommand", exports.start_import_job_command(s, buckets, datastore, import_role))
if viewer is not None:  # only with the viewer on: a stack without it exports what it did before
    pulumi.export("viewerUrl", viewer.viewer_url)
    pulumi.export("viewerUserPoolId", viewer.user_pool_id)
