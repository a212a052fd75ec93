"""Policy documents, ARNs and the event pattern of the import job alerts (:mod:`components.import_alerts`), built by
pure functions of plain strings, like :mod:`components.policies`.

Who may do what:

- The alerts key (SNS topic, dead-letter queue, log group, table of reported jobs, the function's environment) is
  managed through IAM (the account statement). Beyond that its policy names two AWS services, each for what it must
  do itself: CloudWatch, to publish alarm notifications to the encrypted topic (SNS then uses the key with
  CloudWatch's identity), and CloudWatch Logs, to encrypt this function's log group only (encryption context
  ``aws:logs:arn``). Nothing else may use the key.
- The topic's policy lets CloudWatch publish only for this stack's two alarms (``aws:SourceAccount`` and
  ``aws:SourceArn``) and refuses publishing without TLS. The function publishes through its role (same account).
- The function's role may be assumed by Lambda for this one function only, and may: list and read this data store's
  import jobs, read the job folders of this data store in the output bucket (and decrypt them through S3), publish
  to the topic, read and write its table of reported jobs, send to its dead-letter queue, use the alerts key only
  through those services, and write to its own log group.

The documents every function of this repository gets the same way (its trust policy, writing its own logs, the
dead-letter queue that refuses requests without TLS) are :mod:`components.function_policies`; the log group's key
statement is :mod:`components.log_group_policies`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .function_policies import service_endpoint, write_own_logs_statement
from .log_group_policies import log_group_key_statement
from .policies import PolicyDocument, Statement, account_administration_statement, document

#: EventBridge source of HealthImaging's events, and the detail types of an import job that has ended.
HEALTHIMAGING_EVENT_SOURCE = "aws.medical-imaging"
IMPORT_JOB_ENDED_DETAIL_TYPES = ("Import Job Completed", "Import Job Failed")
CLOUDWATCH_SERVICE_PRINCIPAL = "cloudwatch.amazonaws.com"
#: What the function's role reads from HealthImaging: the data store's job list and one job's details.
HEALTHIMAGING_READ_JOB_ACTIONS = ("medical-imaging:GetDICOMImportJob", "medical-imaging:ListDICOMImportJobs")
#: What the function does with its table of reported jobs (conditional writes; a claim is deleted when the
#: alert could not be published, so that a retry publishes it).
TABLE_ACTIONS = ("dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem")


def alarm_arn(region: str, account_id: str, alarm_name: str) -> str:
    return f"arn:aws:cloudwatch:{region}:{account_id}:alarm:{alarm_name}"


# --- The alerts key ---------------------------------------------------------------------------------------


def cloudwatch_alarms_key_statement() -> Statement:
    """AWS's documented statement for a service that publishes to an SNS topic encrypted with a customer managed key
    (SNS developer guide, "Enable compatibility between event sources from AWS services and encrypted topics"): SNS
    uses the key with the publisher's identity, so CloudWatch needs GenerateDataKey* and Decrypt on it. Which alarms
    may publish is decided by the topic's policy (:func:`alerts_topic_policy`)."""
    return {
        "Sid": "AllowCloudWatchAlarmsToPublishToTheEncryptedTopic",
        "Effect": "Allow",
        "Principal": {"Service": CLOUDWATCH_SERVICE_PRINCIPAL},
        "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
        "Resource": "*",
    }


def alerts_key_policy(account_id: str, region: str, log_group_arn_: str) -> PolicyDocument:
    """Policy of the key that encrypts the topic, the dead-letter queue, the log group, the table of reported jobs and
    the function's environment (see the module docstring)."""
    return document(
        [
            account_administration_statement(account_id),
            cloudwatch_alarms_key_statement(),
            log_group_key_statement(region, log_group_arn_),
        ]
    )


# --- The topic ---------------------------------------------------------------------------------------------------


def alerts_topic_policy(topic_arn: str, account_id: str, alarm_arns: Sequence[str]) -> PolicyDocument:
    """The topic's policy: CloudWatch may publish for these alarms of this account only; nobody without TLS."""
    return document(
        [
            {
                "Sid": "AllowThisStacksAlarmsToPublish",
                "Effect": "Allow",
                "Principal": {"Service": CLOUDWATCH_SERVICE_PRINCIPAL},
                "Action": "sns:Publish",
                "Resource": topic_arn,
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": account_id},
                    "ArnEquals": {"aws:SourceArn": sorted(alarm_arns)},
                },
            },
            {
                "Sid": "DenyPublishingWithoutTls",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "sns:Publish",
                "Resource": topic_arn,
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
        ]
    )


# --- The function's role ----------------------------------------------------------------------------------------


def job_folder_objects_arn(output_bucket_arn: str, datastore_id: str) -> str:
    """The objects of this data store's job folders, under any prefix of the output bucket:
    ``<prefix>/<datastoreId>-DicomImport-<jobId>/...``."""
    return f"{output_bucket_arn}/*{datastore_id}-DicomImport-*"


def function_permission_policy(
    *,
    account_id: str,
    region: str,
    datastore_arn: str,
    datastore_id: str,
    output_bucket_arn: str,
    output_key_arn: str | None,
    topic_arn: str,
    table_arn: str,
    queue_arn: str,
    alerts_key_arn: str,
    log_group_arn_: str,
) -> PolicyDocument:
    """What the alerts function may do (see the module docstring), each on the one resource it needs."""
    statements: list[Statement] = [
        {
            "Sid": "ReadThisDatastoresImportJobs",
            "Effect": "Allow",
            "Action": list(HEALTHIMAGING_READ_JOB_ACTIONS),
            "Resource": datastore_arn,
        },
        {
            "Sid": "ListOutputBucket",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": output_bucket_arn,
            "Condition": {"StringEquals": {"s3:ResourceAccount": account_id}},
        },
        {
            "Sid": "ReadThisDatastoresJobFolders",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": job_folder_objects_arn(output_bucket_arn, datastore_id),
            "Condition": {"StringEquals": {"s3:ResourceAccount": account_id}},
        },
    ]
    if output_key_arn:
        statements.append(
            {
                "Sid": "DecryptJobFoldersThroughS3",
                "Effect": "Allow",
                "Action": "kms:Decrypt",
                "Resource": output_key_arn,
                "Condition": {"StringEquals": {"kms:ViaService": service_endpoint("s3", region)}},
            }
        )
    statements += [
        {"Sid": "PublishAlerts", "Effect": "Allow", "Action": "sns:Publish", "Resource": topic_arn},
        {"Sid": "RememberReportedJobs", "Effect": "Allow", "Action": list(TABLE_ACTIONS), "Resource": table_arn},
        {
            "Sid": "SendFailedEventsToTheDeadLetterQueue",
            "Effect": "Allow",
            "Action": "sqs:SendMessage",
            "Resource": queue_arn,
        },
        {
            "Sid": "UseTheAlertsKeyThroughItsServicesOnly",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Resource": alerts_key_arn,
            "Condition": {
                "StringEquals": {
                    "kms:ViaService": [service_endpoint(s, region) for s in ("dynamodb", "lambda", "sns", "sqs")]
                }
            },
        },
        write_own_logs_statement(log_group_arn_),
    ]
    return document(statements)


# --- EventBridge ------------------------------------------------------------------------------------------------


def import_job_event_pattern(datastore_arn: str) -> dict[str, Any]:
    """HealthImaging's events for an import job of this data store that has ended (COMPLETED or FAILED). The data
    store's ARN is in the event's ``resources``."""
    return {
        "source": [HEALTHIMAGING_EVENT_SOURCE],
        "detail-type": list(IMPORT_JOB_ENDED_DETAIL_TYPES),
        "resources": [datastore_arn],
    }
