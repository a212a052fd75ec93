"""A CloudWatch Logs log group encrypted with a component's customer managed key: its ARN, and the key statement that
lets CloudWatch Logs use the key for that log group only. Pure functions of plain strings, like
:mod:`components.policies`; the import alerts' and the automatic importer's functions and the audit trail use them."""

from __future__ import annotations

from .policies import Statement

#: The encryption context key CloudWatch Logs puts in its requests to KMS: the log group's ARN.
LOGS_CONTEXT_KEY = "kms:EncryptionContext:aws:logs:arn"


def log_group_arn(region: str, account_id: str, log_group_name: str) -> str:
    """The ARN of a log group as KMS's encryption context and IAM's ``log-group`` resource type spell it."""
    return f"arn:aws:logs:{region}:{account_id}:log-group:{log_group_name}"


def logs_service_principal(region: str) -> str:
    return f"logs.{region}.amazonaws.com"


def log_group_key_statement(region: str, log_group_arn_: str) -> Statement:
    """CloudWatch Logs may use the key for one log group only (CloudWatch Logs user guide, "Encrypt log data in
    CloudWatch Logs using AWS KMS": the encryption context ``aws:logs:arn`` names the log group).

    The guide's statement also lists ``kms:Describe*``; a Describe request carries no encryption context, so under
    this condition it could never match: it is left out. The exact ARN is compared with ``StringEquals`` (the same
    match as the guide's ``ArnEquals`` for a value without wildcards; policy linters type the context key as a
    string)."""
    return {
        "Sid": "AllowCloudWatchLogsForThisLogGroupOnly",
        "Effect": "Allow",
        "Principal": {"Service": logs_service_principal(region)},
        "Action": ["kms:Decrypt*", "kms:Encrypt*", "kms:GenerateDataKey*", "kms:ReEncrypt*"],
        "Resource": "*",
        "Condition": {"StringEquals": {LOGS_CONTEXT_KEY: log_group_arn_}},
    }
