"""The policy documents every Lambda function of this repository gets the same way (:mod:`components.python_function`,
for :class:`~components.import_alerts.ImportJobAlerts` and :class:`~components.auto_import.AutoImport`), built by pure
functions of plain strings, like :mod:`components.policies`:

- the function's role may be assumed by Lambda for this one function of this account only;
- the function writes to its own log group only;
- it uses its component's key through named services only (``kms:ViaService``);
- its component's queues refuse every request made without TLS.

The documents of what each function does are its component's (:mod:`components.alert_policies`,
:mod:`components.auto_import_policies`).
"""

from __future__ import annotations

from .policies import PolicyDocument, Statement, document

LAMBDA_SERVICE_PRINCIPAL = "lambda.amazonaws.com"


def function_arn(region: str, account_id: str, function_name: str) -> str:
    return f"arn:aws:lambda:{region}:{account_id}:function:{function_name}"


def service_endpoint(service: str, region: str) -> str:
    """The value of ``kms:ViaService`` when ``service`` calls KMS on a caller's behalf."""
    return f"{service}.{region}.amazonaws.com"


def function_trust_policy(account_id: str, function_arn_: str) -> PolicyDocument:
    """Lambda may assume the role for this one function of this account (``aws:SourceAccount``, ``aws:SourceArn``)."""
    return document(
        [
            {
                "Sid": "AllowLambdaForThisFunctionOnly",
                "Effect": "Allow",
                "Principal": {"Service": LAMBDA_SERVICE_PRINCIPAL},
                "Action": "sts:AssumeRole",
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": account_id},
                    "ArnEquals": {"aws:SourceArn": function_arn_},
                },
            }
        ]
    )


def write_own_logs_statement(log_group_arn: str) -> Statement:
    """The function writes its log streams in its own log group, and nowhere else."""
    return {
        "Sid": "WriteOwnLogs",
        "Effect": "Allow",
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": f"{log_group_arn}:*",
    }


def tls_only_queue_policy(queue_arn: str) -> PolicyDocument:
    """The queue refuses every request made without TLS (Lambda, EventBridge and the people who read it use TLS)."""
    return document(
        [
            {
                "Sid": "DenyRequestsWithoutTls",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "sqs:*",
                "Resource": queue_arn,
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ]
    )
