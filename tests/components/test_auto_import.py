"""AutoImport under mocks: the input bucket's EventBridge switch, the rule and its pattern, the queues and their key,
the function's settings and environment, the role's exact documents (simulated with the project's IAM checks), and
the stack setting that composes it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ahictl import plan as plan_module
from ahictl.mockrun import PlannedResource, ProgramRun
from components import ImagingBucketPair, ImagingBucketPairArgs, InvalidInputError, lambda_package
from components import auto_import as auto_import_component
from components.auto_import import FUNCTION_PACKAGE, auto_import_warnings, validate_auto_import_args
from healthimaging_functions.auto_import.config import AutoImportConfig
from testkit.mock_runs import DEV_ACCOUNT, DEV_REGION, PROJECT_DIR, policy_of, run_component, run_program

NOTIFICATION = "aws:s3/bucketNotification:BucketNotification"


def pair(**overrides: Any) -> ProgramRun:
    args: ImagingBucketPairArgs = {"account_id": DEV_ACCOUNT, "region": DEV_REGION, "name_prefix": "ahi-test"}
    args.update(overrides)  # type: ignore[typeddict-item]
    return run_component(lambda: ImagingBucketPair("buckets", args) and None)


def test_the_input_bucket_sends_its_events_to_eventbridge_only_when_asked() -> None:
    assert pair().by_type(NOTIFICATION) == []
    run = pair(input_eventbridge_notifications=True)
    (notification,) = run.by_type(NOTIFICATION)
    assert notification.name == "buckets-input-notifications"
    assert notification.inputs["eventbridge"] is True
    assert set(notification.inputs) == {"bucket", "eventbridge"}  # no other destination fights over the bucket
    assert notification.inputs["bucket"] == run.one("aws:s3/bucket:Bucket", "buckets-input").id
    assert notification.retain_on_delete


# --- The stack with autoImport on ---------------------------------------------------------------------------------

PREFIX = "ahi-dev"
ARN = f"{DEV_REGION}:{DEV_ACCOUNT}"
QUEUE_ARN = f"arn:aws:sqs:{ARN}:ahi-dev-auto-import"
DLQ_ARN = f"arn:aws:sqs:{ARN}:ahi-dev-auto-import-dlq"
FOLLOW_ARN = f"arn:aws:sqs:{ARN}:ahi-dev-auto-import-follow"
RULE_ARN = f"arn:aws:events:{ARN}:rule/ahi-dev-auto-import-objects"
FUNCTION_ARN = f"arn:aws:lambda:{ARN}:function:ahi-dev-auto-import"
LOG_GROUP_ARN = f"arn:aws:logs:{ARN}:log-group:/aws/lambda/ahi-dev-auto-import"


@pytest.fixture(scope="module")
def on() -> ProgramRun:
    return run_program(autoImport=True)


def of(run: ProgramRun, type_: str, name: str) -> PlannedResource:
    return run.one(type_, name)


def key_arn(run: ProgramRun) -> str:
    return str(of(run, "aws:kms/key:Key", "auto-import-key").outputs["arn"])


def tls_deny(arn: str) -> dict[str, Any]:
    return {
        "Sid": "DenyRequestsWithoutTls",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "sqs:*",
        "Resource": arn,
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def rule_may_send(arn: str, sid: str) -> dict[str, Any]:
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"},
        "Action": "sqs:SendMessage",
        "Resource": arn,
        "Condition": {"StringEquals": {"aws:SourceAccount": DEV_ACCOUNT}, "ArnEquals": {"aws:SourceArn": RULE_ARN}},
    }


def test_the_dev_stack_keeps_auto_import_off(dev_run: ProgramRun) -> None:
    assert not [r for r in dev_run.resources if r.name.startswith("auto-import")]
    assert dev_run.by_type(NOTIFICATION) == []
    assert dev_run.outputs["autoImportQueueUrl"] is None
    assert dev_run.outputs["autoImportFunctionName"] is None


def test_auto_import_on_composes_the_component_and_the_input_buckets_events(on: ProgramRun) -> None:
    component = of(on, "healthimaging:index:AutoImport", "auto-import")
    names = {r.name for r in on.children_of(component)}
    assert names == {
        "auto-import-key",
        "auto-import-key-alias",
        "auto-import-dlq",
        "auto-import-dlq-policy",
        "auto-import-queue",
        "auto-import-queue-policy",
        "auto-import-follow-queue",
        "auto-import-follow-queue-policy",
        "auto-import-objects",
        "auto-import-objects-to-queue",
        "auto-import-logs",
        "auto-import-function-role",
        "auto-import-function-permissions",
        "auto-import-function",
        "auto-import-queue-to-function",
        "auto-import-follow-queue-to-function",
    }
    (notification,) = on.by_type(NOTIFICATION)
    assert notification.name == "import-buckets-input-notifications"
    assert (
        on.outputs["autoImportQueueUrl"] == f"https://sqs.{DEV_REGION}.amazonaws.com/{DEV_ACCOUNT}/ahi-dev-auto-import"
    )
    assert on.outputs["autoImportFunctionName"] == "ahi-dev-auto-import"


def test_the_rule_matches_this_buckets_markers_under_incoming(on: ProgramRun) -> None:
    rule = of(on, "aws:cloudwatch/eventRule:EventRule", "auto-import-objects")
    assert rule.inputs["name"] == "ahi-dev-auto-import-objects"
    assert json.loads(rule.inputs["eventPattern"]) == {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {
            "bucket": {"name": [on.outputs["inputBucketName"]]},
            "object": {"key": [{"wildcard": "incoming/*/_READY"}]},
        },
    }
    target = of(on, "aws:cloudwatch/eventTarget:EventTarget", "auto-import-objects-to-queue")
    assert target.inputs["rule"] == "ahi-dev-auto-import-objects"
    assert target.inputs["arn"] == QUEUE_ARN
    assert target.inputs["deadLetterConfig"] == {"arn": DLQ_ARN}
    assert target.inputs["retryPolicy"] == {"maximumEventAgeInSeconds": 86400, "maximumRetryAttempts": 185}


def test_with_a_quiet_period_every_new_object_under_incoming_reaches_the_queue() -> None:
    run = run_program(autoImport=True, autoImportQuietPeriodMinutes=30, autoImportMarkerName="DONE")
    pattern = json.loads(of(run, "aws:cloudwatch/eventRule:EventRule", "auto-import-objects").inputs["eventPattern"])
    assert pattern["detail"]["object"] == {"key": [{"prefix": "incoming/"}]}
    variables = of(run, "aws:lambda/function:Function", "auto-import-function").inputs["environment"]["variables"]
    assert (variables["QUIET_PERIOD_SECONDS"], variables["MARKER_NAME"]) == ("1800", "DONE")


def test_the_queues_are_encrypted_tls_only_and_open_to_the_rule_only(on: ProgramRun) -> None:
    queue = of(on, "aws:sqs/queue:Queue", "auto-import-queue").inputs
    follow = of(on, "aws:sqs/queue:Queue", "auto-import-follow-queue").inputs
    dlq = of(on, "aws:sqs/queue:Queue", "auto-import-dlq").inputs
    for inputs in (queue, follow, dlq):
        assert inputs["kmsMasterKeyId"] == key_arn(on)
        assert inputs["messageRetentionSeconds"] == 14 * 24 * 3600
    assert (queue["name"], follow["name"]) == ("ahi-dev-auto-import", "ahi-dev-auto-import-follow")
    for inputs in (queue, follow):
        assert inputs["visibilityTimeoutSeconds"] == 6 * 900
        assert json.loads(inputs["redrivePolicy"]) == {"deadLetterTargetArn": DLQ_ARN, "maxReceiveCount": 5}
    assert json.loads(dlq["redriveAllowPolicy"]) == {
        "redrivePermission": "byQueue",
        "sourceQueueArns": [QUEUE_ARN, FOLLOW_ARN],
    }
    # Only the function writes to the follow queue (through its role): its policy only refuses requests without TLS.
    assert policy_of(of(on, "aws:sqs/queuePolicy:QueuePolicy", "auto-import-follow-queue-policy")) == {
        "Version": "2012-10-17",
        "Statement": [tls_deny(FOLLOW_ARN)],
    }
    assert policy_of(of(on, "aws:sqs/queuePolicy:QueuePolicy", "auto-import-queue-policy")) == {
        "Version": "2012-10-17",
        "Statement": [rule_may_send(QUEUE_ARN, "AllowTheRuleToSendObjectEvents"), tls_deny(QUEUE_ARN)],
    }
    assert policy_of(of(on, "aws:sqs/queuePolicy:QueuePolicy", "auto-import-dlq-policy")) == {
        "Version": "2012-10-17",
        "Statement": [rule_may_send(DLQ_ARN, "AllowTheRuleToSendUndeliveredEvents"), tls_deny(DLQ_ARN)],
    }


def test_the_key_is_for_the_account_eventbridge_on_these_queues_and_logs_on_this_group(on: ProgramRun) -> None:
    key = of(on, "aws:kms/key:Key", "auto-import-key")
    assert (key.inputs["enableKeyRotation"], key.inputs["deletionWindowInDays"]) == (True, 30)
    assert key.protect
    assert key.retain_on_delete
    statements = json.loads(key.inputs["policy"])["Statement"]
    assert [s["Sid"] for s in statements] == [
        "EnableAccountControlThroughIam",
        "AllowEventBridgeToSendToTheEncryptedQueues",
        "AllowCloudWatchLogsForThisLogGroupOnly",
    ]
    assert statements[1] == {
        "Sid": "AllowEventBridgeToSendToTheEncryptedQueues",
        "Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"},
        "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
        "Resource": "*",
        "Condition": {"StringEquals": {"kms:EncryptionContext:aws:sqs:arn": [QUEUE_ARN, DLQ_ARN]}},
    }
    assert statements[2]["Condition"] == {"StringEquals": {"kms:EncryptionContext:aws:logs:arn": LOG_GROUP_ARN}}
    assert of(on, "aws:kms/alias:Alias", "auto-import-key-alias").inputs["name"] == "alias/ahi-dev-auto-import"


def test_the_function_is_bounded_fed_by_the_queue_and_configured_without_secrets(on: ProgramRun) -> None:
    function = of(on, "aws:lambda/function:Function", "auto-import-function")
    inputs = function.inputs
    assert (inputs["name"], inputs["runtime"], inputs["handler"]) == (
        "ahi-dev-auto-import",
        "python3.12",
        "auto_import.handler.handle",
    )
    # Two copies for new batches, two for following running jobs.
    assert (inputs["timeout"], inputs["memorySize"], inputs["reservedConcurrentExecutions"]) == (900, 1024, 4)
    assert inputs["kmsKeyArn"] == key_arn(on)
    assert inputs["role"] == f"arn:aws:iam::{DEV_ACCOUNT}:role/ahi-dev-AutoImportFunction"
    assert inputs["loggingConfig"]["logGroup"] == "/aws/lambda/ahi-dev-auto-import"
    variables = inputs["environment"]["variables"]
    assert variables == {
        "INPUT_BUCKET": on.outputs["inputBucketName"],
        "OUTPUT_BUCKET": on.outputs["outputBucketName"],
        "BUCKET_OWNER_ACCOUNT_ID": DEV_ACCOUNT,
        "DATASTORE_ID": on.outputs["datastoreId"],
        "IMPORT_ROLE_ARN": on.outputs["importRoleArn"],
        "QUEUE_URL": on.outputs["autoImportQueueUrl"],
        "FOLLOW_QUEUE_URL": f"https://sqs.{DEV_REGION}.amazonaws.com/{DEV_ACCOUNT}/ahi-dev-auto-import-follow",
        "ALERT_TOPIC_ARN": on.outputs["importAlertsTopicArn"],
        "MARKER_NAME": "_READY",
        "QUIET_PERIOD_SECONDS": "0",
        "MAX_FILES_PER_JOB": "5000",
        "MAX_OBJECTS_PER_BATCH": "20000",
        "MAX_CONCURRENT_JOBS": "100",
        "START_INTERVAL_SECONDS": "2.0",
        "MAX_RECEIVE_COUNT": "5",
    }
    # What the function reads back is what the component meant (no secret: names, ARNs and numbers only).
    settings = AutoImportConfig.from_environment(variables)
    assert (settings.max_concurrent_jobs, settings.start_interval_seconds, settings.alert_topic_arn) == (
        100,
        2.0,
        on.outputs["importAlertsTopicArn"],
    )
    assert not [name for name in variables if any(word in name for word in ("SECRET", "PASSWORD", "TOKEN", "KEY_ID"))]
    for label, queue_arn in (("queue", QUEUE_ARN), ("follow-queue", FOLLOW_ARN)):
        mapping = of(on, "aws:lambda/eventSourceMapping:EventSourceMapping", f"auto-import-{label}-to-function")
        assert mapping.inputs == {
            "eventSourceArn": queue_arn,
            "functionName": FUNCTION_ARN,
            "batchSize": 10,
            "maximumBatchingWindowInSeconds": 5,
            "functionResponseTypes": ["ReportBatchItemFailures"],
            "scalingConfig": {"maximumConcurrency": 2},
        }
    log_group = of(on, "aws:cloudwatch/logGroup:LogGroup", "auto-import-logs")
    assert log_group.inputs == {
        "name": "/aws/lambda/ahi-dev-auto-import",
        "retentionInDays": 365,
        "kmsKeyId": key_arn(on),
    }
    permissions = of(on, "aws:iam/rolePolicy:RolePolicy", "auto-import-function-permissions")
    assert {log_group.urn, permissions.urn} <= set(function.depends_on)


def test_the_package_holds_the_function_and_the_library_it_imports_and_nothing_else_is_needed() -> None:
    files = lambda_package.package_files(FUNCTION_PACKAGE)
    assert {"auto_import/handler.py", "auto_import/messages.py", "auto_import/config.py"} <= set(files)
    assert {"ahiops/auto_import_steps.py", "ahiops/batches.py", "ahiops/jobs.py", "ahiops/manifest.py"} <= set(files)
    # Neither the local importer's upload nor its discovery (awscrt) is part of the function.
    assert not any(name.startswith(("ahiops/upload", "ahiops/discovery", "ahiops/folder_import")) for name in files)
    assert lambda_package.third_party_imports(files) == set()


def test_the_region_sets_the_default_job_quota_and_a_raised_quota_can_be_given() -> None:
    assert auto_import_component.max_concurrent_jobs("ap-southeast-2", 0) == 20
    assert auto_import_component.max_concurrent_jobs("us-east-1", 0) == 100
    run = run_program(autoImport=True, autoImportMaxConcurrentJobs=400, autoImportConcurrency=4)
    inputs = of(run, "aws:lambda/function:Function", "auto-import-function").inputs
    assert inputs["environment"]["variables"]["MAX_CONCURRENT_JOBS"] == "400"
    assert inputs["environment"]["variables"]["START_INTERVAL_SECONDS"] == "4.0"
    assert inputs["reservedConcurrentExecutions"] == 8


# --- The role -----------------------------------------------------------------------------------------------------


def test_the_role_is_for_this_function_only_and_its_policy_is_exact(on: ProgramRun) -> None:
    role = of(on, "aws:iam/role:Role", "auto-import-function-role")
    assert json.loads(role.inputs["assumeRolePolicy"]) == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AllowLambdaForThisFunctionOnly",
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": DEV_ACCOUNT},
                    "ArnEquals": {"aws:SourceArn": FUNCTION_ARN},
                },
            }
        ],
    }
    outputs = on.outputs
    input_arn, output_arn = outputs["inputBucketArn"], outputs["outputBucketArn"]
    here = {"s3:ResourceAccount": DEV_ACCOUNT}
    alerts_key = str(on.one("aws:kms/key:Key", "import-alerts-key").outputs["arn"])
    assert policy_of(of(on, "aws:iam/rolePolicy:RolePolicy", "auto-import-function-permissions")) == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ConsumeAndRequeueBatches",
                "Effect": "Allow",
                "Action": [
                    "sqs:ChangeMessageVisibility",
                    "sqs:DeleteMessage",
                    "sqs:GetQueueAttributes",
                    "sqs:ReceiveMessage",
                    "sqs:SendMessage",
                ],
                "Resource": [QUEUE_ARN, FOLLOW_ARN],
            },
            {
                "Sid": "ListBatchesAndJobPrefixes",
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": input_arn,
                "Condition": {"StringEquals": here, "StringLike": {"s3:prefix": ["auto-imports/*", "incoming/*"]}},
            },
            {
                "Sid": "ReadBatches",
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": f"{input_arn}/incoming/*",
                "Condition": {"StringEquals": here},
            },
            {
                "Sid": "WriteRecordsAndResultsBesideBatches",
                "Effect": "Allow",
                "Action": "s3:PutObject",
                "Resource": [f"{input_arn}/incoming/*/_JOBS.json", f"{input_arn}/incoming/*/_RESULT.json"],
                "Condition": {"StringEquals": here},
            },
            {
                "Sid": "CopyBatchFilesIntoJobPrefixes",
                "Effect": "Allow",
                "Action": ["s3:AbortMultipartUpload", "s3:PutObject"],
                "Resource": f"{input_arn}/auto-imports/*",
                "Condition": {"StringEquals": here},
            },
            {
                "Sid": "ListJobOutput",
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": output_arn,
                "Condition": {"StringEquals": here, "StringLike": {"s3:prefix": ["auto-imports/*"]}},
            },
            {
                "Sid": "ReadJobOutput",
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": f"{output_arn}/auto-imports/*",
                "Condition": {"StringEquals": here},
            },
            {
                "Sid": "UseTheBucketKeyThroughS3",
                "Effect": "Allow",
                "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                "Resource": outputs["bucketKmsKeyArn"],
                "Condition": {"StringEquals": {"kms:ViaService": f"s3.{DEV_REGION}.amazonaws.com"}},
            },
            {
                "Sid": "RunImportJobsOnThisDatastore",
                "Effect": "Allow",
                "Action": [
                    "medical-imaging:GetDICOMImportJob",
                    "medical-imaging:ListDICOMImportJobs",
                    "medical-imaging:StartDICOMImportJob",
                ],
                "Resource": outputs["datastoreArn"],
            },
            {
                "Sid": "PassTheImportRoleToHealthImaging",
                "Effect": "Allow",
                "Action": "iam:PassRole",
                "Resource": outputs["importRoleArn"],
                "Condition": {"StringEquals": {"iam:PassedToService": "medical-imaging.amazonaws.com"}},
            },
            {
                "Sid": "UseTheImporterKeyThroughItsServicesOnly",
                "Effect": "Allow",
                "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                "Resource": key_arn(on),
                "Condition": {
                    "StringEquals": {
                        "kms:ViaService": [f"lambda.{DEV_REGION}.amazonaws.com", f"sqs.{DEV_REGION}.amazonaws.com"]
                    }
                },
            },
            {
                "Sid": "PublishAlerts",
                "Effect": "Allow",
                "Action": "sns:Publish",
                "Resource": outputs["importAlertsTopicArn"],
            },
            {
                "Sid": "UseTheAlertTopicKeyThroughSns",
                "Effect": "Allow",
                "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                "Resource": alerts_key,
                "Condition": {"StringEquals": {"kms:ViaService": f"sns.{DEV_REGION}.amazonaws.com"}},
            },
            {
                "Sid": "WriteOwnLogs",
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": f"{LOG_GROUP_ARN}:*",
            },
        ],
    }


def test_the_roles_permissions_are_the_least_the_function_needs(on: ProgramRun, aws_env: Any) -> None:
    """The role as IAM would judge it (the project's policy simulator in front of moto's IAM): every call the function
    makes is allowed on exactly its resource; anything near it is denied."""
    iam = aws_env.client("iam")
    role = of(on, "aws:iam/role:Role", "auto-import-function-role")
    permissions = of(on, "aws:iam/rolePolicy:RolePolicy", "auto-import-function-permissions")
    role_arn = iam.create_role(RoleName=role.inputs["name"], AssumeRolePolicyDocument=role.inputs["assumeRolePolicy"])[
        "Role"
    ]["Arn"]
    iam.put_role_policy(
        RoleName=role.inputs["name"], PolicyName=permissions.inputs["name"], PolicyDocument=permissions.inputs["policy"]
    )
    outputs = on.outputs
    datastore, input_arn, output_arn = outputs["datastoreArn"], outputs["inputBucketArn"], outputs["outputBucketArn"]
    bucket_key, topic = outputs["bucketKmsKeyArn"], outputs["importAlertsTopicArn"]
    here = {"s3:ResourceAccount": DEV_ACCOUNT}
    via_s3 = {"kms:ViaService": f"s3.{DEV_REGION}.amazonaws.com"}

    def decision(action: str, arn: str, context: dict[str, str] | None = None) -> str:
        entries = [
            {"ContextKeyName": key, "ContextKeyValues": [value], "ContextKeyType": "string"}
            for key, value in (context or {}).items()
        ]
        (result,) = iam.simulate_principal_policy(
            PolicySourceArn=role_arn, ActionNames=[action], ResourceArns=[arn], ContextEntries=entries
        )["EvaluationResults"]
        return str(result["EvalDecision"])

    needed = [
        ("sqs:ReceiveMessage", QUEUE_ARN, None),
        ("sqs:SendMessage", QUEUE_ARN, None),
        ("sqs:SendMessage", FOLLOW_ARN, None),
        ("sqs:ChangeMessageVisibility", FOLLOW_ARN, None),
        ("s3:ListBucket", input_arn, {**here, "s3:prefix": "incoming/site-a/2026-11-25/"}),
        ("s3:ListBucket", input_arn, {**here, "s3:prefix": "auto-imports/0123/job-0001/"}),
        ("s3:GetObject", f"{input_arn}/incoming/site-a/2026-11-25/study/ct.dcm", here),
        ("s3:GetObject", f"{input_arn}/incoming/site-a/_JOBS.json", here),
        ("s3:PutObject", f"{input_arn}/incoming/site-a/2026-11-25/_JOBS.json", here),
        ("s3:PutObject", f"{input_arn}/incoming/site-a/_RESULT.json", here),
        ("s3:PutObject", f"{input_arn}/auto-imports/0123/job-0001/ct.dcm", here),
        ("s3:ListBucket", output_arn, {**here, "s3:prefix": "auto-imports/0123/job-0001/"}),
        ("s3:GetObject", f"{output_arn}/auto-imports/0123/job-0001/x-DicomImport-y/job-output-manifest.json", here),
        ("kms:Decrypt", bucket_key, via_s3),
        ("kms:GenerateDataKey", bucket_key, via_s3),
        ("medical-imaging:StartDICOMImportJob", datastore, None),
        ("medical-imaging:GetDICOMImportJob", datastore, None),
        ("medical-imaging:ListDICOMImportJobs", datastore, None),
        ("iam:PassRole", outputs["importRoleArn"], {"iam:PassedToService": "medical-imaging.amazonaws.com"}),
        ("kms:Decrypt", key_arn(on), {"kms:ViaService": f"sqs.{DEV_REGION}.amazonaws.com"}),
        ("sns:Publish", topic, None),
        ("logs:PutLogEvents", f"{LOG_GROUP_ARN}:log-stream:2026/11/25/[$LATEST]abc", None),
    ]
    not_needed = [
        ("s3:PutObject", f"{input_arn}/incoming/site-a/study/ct.dcm", here),  # never overwrites what uploaders wrote
        ("s3:DeleteObject", f"{input_arn}/incoming/site-a/study/ct.dcm", here),
        ("s3:GetObject", f"{input_arn}/imports/0123/job-0001/ct.dcm", here),
        ("s3:ListBucket", input_arn, {**here, "s3:prefix": "imports/"}),
        ("s3:GetObject", f"{input_arn}/incoming/site-a/study/ct.dcm", {"s3:ResourceAccount": "999999999999"}),
        ("s3:PutObject", f"{output_arn}/auto-imports/0123/job-0001/x", here),
        ("s3:GetObject", f"{output_arn}/imports/0123/job-0001/manifest.json", here),
        ("kms:Decrypt", bucket_key, None),
        ("kms:Decrypt", outputs["datastoreKmsKeyArn"], via_s3),
        ("medical-imaging:StartDICOMImportJob", datastore[:-32] + "f" * 32, None),
        ("medical-imaging:DeleteImageSet", f"{datastore}/imageset/{'1' * 32}", None),
        ("iam:PassRole", outputs["importRoleArn"], {"iam:PassedToService": "lambda.amazonaws.com"}),
        (
            "iam:PassRole",
            f"arn:aws:iam::{DEV_ACCOUNT}:role/other",
            {"iam:PassedToService": "medical-imaging.amazonaws.com"},
        ),
        ("sqs:SendMessage", DLQ_ARN, None),
        ("sqs:PurgeQueue", QUEUE_ARN, None),
        ("kms:Decrypt", key_arn(on), None),
        ("sns:Publish", topic.replace("import-alerts", "other"), None),
        ("logs:PutLogEvents", f"{LOG_GROUP_ARN.replace('auto-import', 'other')}:log-stream:x", None),
    ]
    assert [(a, r, decision(a, r, c)) for a, r, c in needed] == [(a, r, "allowed") for a, r, _ in needed]
    assert [(a, r, decision(a, r, c)) for a, r, c in not_needed] == [(a, r, "implicitDeny") for a, r, _ in not_needed]


# --- Settings, validation, warnings ---------------------------------------------------------------------------------


def test_without_import_alerts_a_topic_of_its_own_can_be_given_or_a_warning_says_nobody_is_told() -> None:
    run = run_program(autoImport=True, importAlerts=False)
    assert any("AutoImport has no alert topic" in warning for warning in run.warnings)
    variables = of(run, "aws:lambda/function:Function", "auto-import-function").inputs["environment"]["variables"]
    assert "ALERT_TOPIC_ARN" not in variables
    sids = [
        s["Sid"]
        for s in policy_of(of(run, "aws:iam/rolePolicy:RolePolicy", "auto-import-function-permissions"))["Statement"]
    ]
    assert "PublishAlerts" not in sids
    topic = f"arn:aws:sns:{ARN}:imaging-oncall"
    key = f"arn:aws:kms:{ARN}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    run = run_program(
        autoImport=True, importAlerts=False, autoImportAlertTopicArn=topic, autoImportAlertTopicKmsKeyArn=key
    )
    assert not any("AutoImport has no alert topic" in warning for warning in run.warnings)
    variables = of(run, "aws:lambda/function:Function", "auto-import-function").inputs["environment"]["variables"]
    assert variables["ALERT_TOPIC_ARN"] == topic
    statements = policy_of(of(run, "aws:iam/rolePolicy:RolePolicy", "auto-import-function-permissions"))["Statement"]
    assert {"Sid": "PublishAlerts", "Effect": "Allow", "Action": "sns:Publish", "Resource": topic} in statements
    assert next(s for s in statements if s["Sid"] == "UseTheAlertTopicKeyThroughSns")["Resource"] == key


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"autoImportMarkerName": "done/now"}, "autoImportMarkerName = 'done/now': a marker name is 1 to 100"),
        ({"autoImportMarkerName": "_RESULT.json"}, "is a file the importer writes beside each batch"),
        ({"autoImportQuietPeriodMinutes": 1441}, "autoImportQuietPeriodMinutes = 1441: expected a whole number from 0"),
        ({"autoImportConcurrency": 1}, "autoImportConcurrency = 1: expected a whole number from 2 to 10"),
        ({"autoImportMaxFilesPerJob": 0}, "autoImportMaxFilesPerJob = 0: expected a whole number from 1"),
        ({"autoImportMaxConcurrentJobs": -1}, "autoImportMaxConcurrentJobs = -1: expected a whole number from 0"),
        ({"autoImportLogRetentionDays": 100}, "autoImportLogRetentionDays = 100 is not a retention CloudWatch Logs"),
        (
            {"importAlerts": False, "autoImportAlertTopicArn": "arn:aws:sns:eu-west-1:111122223333:x"},
            "is a topic of account 111122223333 in eu-west-1",
        ),
        (
            {"importAlerts": False, "autoImportAlertTopicArn": f"arn:aws:sns:{ARN}:alerts.fifo"},
            "is not the ARN of a standard SNS topic",
        ),
        (
            {"autoImportAlertTopicArn": f"arn:aws:sns:{ARN}:alerts"},
            "the automatic importer would have two alert topics",
        ),
        ({"autoImportAlertTopicKmsKeyArn": f"arn:aws:kms:{ARN}:key/1234abcd-12ab-34cd-56ef-1234567890ab"}, "without"),
    ],
)
def test_bad_settings_stop_the_program_and_name_the_stack_key(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInputError) as raised:
        run_program(autoImport=True, **settings)
    assert len(raised.value.problems) == 1, raised.value.problems
    assert message in raised.value.problems[0]


def test_short_logs_and_an_unprotected_key_are_warned_about_after_the_missing_alert_topic() -> None:
    args: Any = {"account_id": DEV_ACCOUNT, "region": DEV_REGION, "name_prefix": "ahi-x"}
    topic = f"arn:aws:sns:{DEV_REGION}:{DEV_ACCOUNT}:imaging-alerts"
    assert auto_import_warnings({**args, "alert_topic_arn": topic}) == []
    assert auto_import_warnings({**args, "log_retention_days": 90, "protect_data": False}) == [
        "AutoImport has no alert topic: a batch that is not fully imported is reported only in its _RESULT.json, "
        "and nobody is told. Turn on importAlerts (or set autoImportAlertTopicArn).",
        "The auto-import function keeps its logs 90 days only, less than the year an audit expects.",
        "Data protection is OFF for the auto-import key: `pulumi destroy` schedules its deletion.",
    ]


def test_the_component_on_its_own_accepts_whole_floats_and_refuses_bad_arguments() -> None:
    valid = {
        "account_id": DEV_ACCOUNT,
        "region": DEV_REGION,
        "name_prefix": "ahi-x",
        "concurrency": 3.0,
        "quiet_period_minutes": 10.0,
        "max_receive_count": 4.0,
    }
    assert validate_auto_import_args(valid) == []
    problems = validate_auto_import_args({**valid, "concurrency": 2.5, "max_receive_count": 1, "name_prefix": "X"})
    assert len(problems) == 3
    assert problems[0].startswith("name_prefix = 'X'")
    assert problems[1].startswith("concurrency = 2.5")
    assert problems[2].startswith("max_receive_count = 1")


def test_a_disposable_stack_leaves_the_importer_key_unprotected() -> None:
    run = run_program(autoImport=True, disposableStack=True)
    key = of(run, "aws:kms/key:Key", "auto-import-key")
    assert not key.protect
    assert not key.retain_on_delete


def test_the_package_works_on_its_own_without_the_local_importers_libraries(tmp_path: Path) -> None:
    """Copied out of the repository, the package imports and plans with the runtime's boto3 only: awscrt, pydicom and
    tqdm (the local importer's) are blocked in the child process."""
    for name, path in lambda_package.package_files(FUNCTION_PACKAGE).items():
        target = tmp_path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
    code = (
        f"import sys; sys.path.insert(0, {str(tmp_path)!r}); "
        "sys.modules.update(awscrt=None, pydicom=None, tqdm=None); "
        "import auto_import.handler; from ahiops import batches; "
        "objs = [batches.BatchObject('incoming/b/s/a.dcm', 500, 'e')]; "
        "plan = batches.plan_batch(bucket='in', batch_prefix='incoming/b/', digest='d' * 32, "
        "accepted=[batches.BatchFile('incoming/b/s/a.dcm', 's/a.dcm', 500, 'e')], left_out=[], "
        "excluded_keys=['incoming/b/_READY'], rules=batches.BatchRules(), token_scope='x'); "
        "print(plan.strategy, auto_import.handler.__file__, 'ahiops.discovery' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-I", "-c", code], capture_output=True, text=True, timeout=60, cwd=tmp_path, check=False
    )
    assert done.returncode == 0, done.stderr
    strategy, handler_file, discovery_loaded = done.stdout.split()
    assert strategy == "prefixes"
    assert Path(handler_file).resolve().is_relative_to(tmp_path.resolve())
    assert discovery_loaded == "False"


def test_the_plan_previews_auto_import_on_a_stack_that_keeps_it_off() -> None:
    project = PROJECT_DIR
    names = {
        resource["name"] for resource in plan_module.plan_stack(project, "prod", {"autoImport": "true"})["resources"]
    }
    assert {"auto-import-function", "auto-import-queue", "import-buckets-input-notifications"} <= names
    assert not any(
        name.startswith("auto-import")
        for name in (r["name"] for r in plan_module.plan_stack(project, "prod")["resources"])
    )
    assert plan_module.parse_overrides(["autoImport=true", "autoImportMarkerName=a=b"]) == {
        "autoImport": "true",
        "autoImportMarkerName": "a=b",
    }
    done = subprocess.run(
        [sys.executable, "-m", "ahictl", "plan", "--stack", "prod", "--set", "autoImport"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=project,
        check=False,
    )
    assert done.returncode == 2
    assert "--set 'autoImport': give KEY=VALUE" in done.stderr
