"""Policy documents, ARNs and the event pattern of the automatic importer (:mod:`components.auto_import`), built by
pure functions of plain strings, like :mod:`components.policies`.

Who may do what:

- The EventBridge rule matches the input bucket's ``Object Created`` events under ``incoming/`` (only the markers,
  unless batches may also start after a quiet period) and sends them to the queue (events it cannot deliver, to the
  dead-letter queue). Both queues' policies let EventBridge send for that one rule of this account only, and refuse
  requests without TLS.
- The importer's key encrypts both queues, the function's log group and its environment. It is managed through IAM
  (the account statement); beyond that its policy lets EventBridge use it for these two queues only (SQS's encryption
  context ``aws:sqs:arn``) and CloudWatch Logs for this log group only.
- The function's role may be assumed by Lambda for this one function only, and may: read and delete the two queues'
  messages and put waiting batches back on them; list the input bucket under ``incoming/`` and ``auto-imports/``, read
  objects under ``incoming/`` (ranged reads of the first bytes, its records, the sources of copies), write only the
  importer's two files beside each batch and the copies under ``auto-imports/``; list and read the job output under
  ``auto-imports/`` in the output bucket; use the buckets' key through S3 only; start, read and list import jobs on
  this data store only, and pass the import role (and no other) to HealthImaging only; publish to the alert topic
  (and use its key through SNS) when there is one; use its own key through SQS and Lambda only; write its own logs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from ahiops.batches import AUTO_IMPORTS_PREFIX, INCOMING_PREFIX, JOBS_RECORD_NAME, RESULT_NAME

from .function_policies import service_endpoint, tls_only_queue_policy, write_own_logs_statement
from .log_group_policies import log_group_key_statement
from .policies import (
    HEALTHIMAGING_SERVICE_PRINCIPAL,
    PolicyDocument,
    Statement,
    account_administration_statement,
    document,
)

#: EventBridge's source and detail type of S3's new-object events (S3 user guide, "Using EventBridge").
S3_EVENT_SOURCE: Final = "aws.s3"
OBJECT_CREATED_DETAIL_TYPE: Final = "Object Created"
EVENTS_SERVICE_PRINCIPAL: Final = "events.amazonaws.com"
#: The files the importer writes beside a batch (the key prefixes it works under, INCOMING_PREFIX and
#: AUTO_IMPORTS_PREFIX, are the batch contract's: :mod:`ahiops.batches`).
CONTROL_FILE_NAMES: Final = (JOBS_RECORD_NAME, RESULT_NAME)
#: What Lambda's SQS event source needs on the queue, plus putting waiting batches back (SendMessage) and delaying
#: a failed message's next delivery (ChangeMessageVisibility).
QUEUE_ACTIONS: Final = (
    "sqs:ChangeMessageVisibility",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:ReceiveMessage",
    "sqs:SendMessage",
)
#: What the function does with this data store's import jobs.
HEALTHIMAGING_JOB_ACTIONS: Final = (
    "medical-imaging:GetDICOMImportJob",
    "medical-imaging:ListDICOMImportJobs",
    "medical-imaging:StartDICOMImportJob",
)
#: Encryption context key SQS puts in its requests to KMS.
SQS_CONTEXT_KEY: Final = "kms:EncryptionContext:aws:sqs:arn"


def queue_arn(region: str, account_id: str, queue_name: str) -> str:
    return f"arn:aws:sqs:{region}:{account_id}:{queue_name}"


def event_rule_arn(region: str, account_id: str, rule_name: str) -> str:
    """The ARN of a rule on the account's default event bus."""
    return f"arn:aws:events:{region}:{account_id}:rule/{rule_name}"


# --- EventBridge --------------------------------------------------------------------------------------------------


def object_created_pattern(bucket_name: str, *, marker_name: str, every_object: bool) -> dict[str, Any]:
    """The input bucket's new objects under ``incoming/``: with ``every_object`` (a quiet period may start batches),
    all of them; otherwise only the markers (``incoming/<batch>/<marker>``, any depth), which keeps the other objects'
    events off the queue. Marker names hold no ``*`` (:func:`ahiops.batches.marker_name_problems`)."""
    key_filter = {"prefix": INCOMING_PREFIX} if every_object else {"wildcard": f"{INCOMING_PREFIX}*/{marker_name}"}
    return {
        "source": [S3_EVENT_SOURCE],
        "detail-type": [OBJECT_CREATED_DETAIL_TYPE],
        "detail": {"bucket": {"name": [bucket_name]}, "object": {"key": [key_filter]}},
    }


# --- The queues and the key ----------------------------------------------------------------------------------------


def _rule_may_send(queue_arn_: str, rule_arn: str, account_id: str, sid: str) -> Statement:
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"Service": EVENTS_SERVICE_PRINCIPAL},
        "Action": "sqs:SendMessage",
        "Resource": queue_arn_,
        "Condition": {"StringEquals": {"aws:SourceAccount": account_id}, "ArnEquals": {"aws:SourceArn": rule_arn}},
    }


def queue_policy(queue_arn_: str, rule_arn: str, account_id: str) -> PolicyDocument:
    """The queue's policy: EventBridge may send for this rule of this account only; nobody without TLS."""
    return document(
        [
            _rule_may_send(queue_arn_, rule_arn, account_id, "AllowTheRuleToSendObjectEvents"),
            *tls_only_queue_policy(queue_arn_)["Statement"],
        ]
    )


def follow_queue_policy(queue_arn_: str) -> PolicyDocument:
    """The queue of batches whose jobs run: only the function writes to it (through its role); nobody without TLS."""
    return tls_only_queue_policy(queue_arn_)


def dead_letter_queue_policy(queue_arn_: str, rule_arn: str, account_id: str) -> PolicyDocument:
    """The dead-letter queue's policy: EventBridge may send the rule's events it could not deliver to the queue (the
    target's dead-letter queue); nobody without TLS. SQS moves the queue's failed messages itself."""
    return document(
        [
            _rule_may_send(queue_arn_, rule_arn, account_id, "AllowTheRuleToSendUndeliveredEvents"),
            *tls_only_queue_policy(queue_arn_)["Statement"],
        ]
    )


def events_to_queue_key_statement(queue_arns: Sequence[str]) -> Statement:
    """EventBridge sends to an SQS queue encrypted with a customer managed key with its own identity, so the key must
    let it (EventBridge user guide, "Amazon SQS permissions"): only for these queues (SQS's encryption context)."""
    arns = sorted(queue_arns)
    return {
        "Sid": "AllowEventBridgeToSendToTheEncryptedQueues",
        "Effect": "Allow",
        "Principal": {"Service": EVENTS_SERVICE_PRINCIPAL},
        "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
        "Resource": "*",
        "Condition": {"StringEquals": {SQS_CONTEXT_KEY: arns[0] if len(arns) == 1 else arns}},
    }


def importer_key_policy(account_id: str, region: str, queue_arns: Sequence[str], log_group_arn: str) -> PolicyDocument:
    """Policy of the key that encrypts the queues, the log group and the function's environment."""
    return document(
        [
            account_administration_statement(account_id),
            events_to_queue_key_statement(queue_arns),
            log_group_key_statement(region, log_group_arn),
        ]
    )


# --- The function's role ------------------------------------------------------------------------------------------


def _in_account(account_id: str, **string_like: Sequence[str]) -> dict[str, Any]:
    condition: dict[str, Any] = {"StringEquals": {"s3:ResourceAccount": account_id}}
    if string_like:
        condition["StringLike"] = {key.replace("_", ":"): sorted(values) for key, values in string_like.items()}
    return condition


def function_permission_policy(
    *,
    account_id: str,
    region: str,
    datastore_arn: str,
    import_role_arn: str,
    input_bucket_arn: str,
    output_bucket_arn: str,
    bucket_key_arns: Sequence[str],
    queue_arns: Sequence[str],
    importer_key_arn: str,
    log_group_arn: str,
    alert_topic_arn: str | None = None,
    alert_key_arn: str | None = None,
) -> PolicyDocument:
    """What the automatic importer's function may do (see the module docstring), each on the one resource it needs."""
    via = service_endpoint
    statements: list[Statement] = [
        {
            "Sid": "ConsumeAndRequeueBatches",
            "Effect": "Allow",
            "Action": list(QUEUE_ACTIONS),
            "Resource": sorted(queue_arns),
        },
        {
            "Sid": "ListBatchesAndJobPrefixes",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": input_bucket_arn,
            "Condition": _in_account(account_id, s3_prefix=[f"{INCOMING_PREFIX}*", f"{AUTO_IMPORTS_PREFIX}*"]),
        },
        {
            "Sid": "ReadBatches",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": f"{input_bucket_arn}/{INCOMING_PREFIX}*",
            "Condition": _in_account(account_id),
        },
        {
            "Sid": "WriteRecordsAndResultsBesideBatches",
            "Effect": "Allow",
            "Action": "s3:PutObject",
            "Resource": [f"{input_bucket_arn}/{INCOMING_PREFIX}*/{name}" for name in CONTROL_FILE_NAMES],
            "Condition": _in_account(account_id),
        },
        {
            "Sid": "CopyBatchFilesIntoJobPrefixes",
            "Effect": "Allow",
            "Action": ["s3:AbortMultipartUpload", "s3:PutObject"],
            "Resource": f"{input_bucket_arn}/{AUTO_IMPORTS_PREFIX}*",
            "Condition": _in_account(account_id),
        },
        {
            "Sid": "ListJobOutput",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": output_bucket_arn,
            "Condition": _in_account(account_id, s3_prefix=[f"{AUTO_IMPORTS_PREFIX}*"]),
        },
        {
            "Sid": "ReadJobOutput",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": f"{output_bucket_arn}/{AUTO_IMPORTS_PREFIX}*",
            "Condition": _in_account(account_id),
        },
    ]
    keys = sorted(set(bucket_key_arns))
    if keys:
        statements.append(
            {
                "Sid": "UseTheBucketKeyThroughS3",
                "Effect": "Allow",
                "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                "Resource": keys[0] if len(keys) == 1 else keys,
                "Condition": {"StringEquals": {"kms:ViaService": via("s3", region)}},
            }
        )
    statements += [
        {
            "Sid": "RunImportJobsOnThisDatastore",
            "Effect": "Allow",
            "Action": list(HEALTHIMAGING_JOB_ACTIONS),
            "Resource": datastore_arn,
        },
        {
            "Sid": "PassTheImportRoleToHealthImaging",
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": import_role_arn,
            "Condition": {"StringEquals": {"iam:PassedToService": HEALTHIMAGING_SERVICE_PRINCIPAL}},
        },
        {
            "Sid": "UseTheImporterKeyThroughItsServicesOnly",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Resource": importer_key_arn,
            "Condition": {"StringEquals": {"kms:ViaService": [via(s, region) for s in ("lambda", "sqs")]}},
        },
    ]
    if alert_topic_arn:
        statements.append(
            {"Sid": "PublishAlerts", "Effect": "Allow", "Action": "sns:Publish", "Resource": alert_topic_arn}
        )
        if alert_key_arn:
            statements.append(
                {
                    "Sid": "UseTheAlertTopicKeyThroughSns",
                    "Effect": "Allow",
                    "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                    "Resource": alert_key_arn,
                    "Condition": {"StringEquals": {"kms:ViaService": via("sns", region)}},
                }
            )
    statements.append(write_own_logs_statement(log_group_arn))
    return document(statements)
