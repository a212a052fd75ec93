"""ImportJobAlerts under Pulumi's mocks (the dev stack's program): exact event pattern, key, topic, queue and role
policies, the function's settings, and the role's permissions simulated with the project's IAM checks; EventBridge's
own pattern matching (moto's TestEventPattern) on HealthImaging's documented events."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ahictl.mockrun import PlannedResource, ProgramRun
from components import InvalidInputError
from components.import_alerts import import_alerts_warnings, validate_import_alerts_args
from healthimaging_functions.import_alerts.config import AlertsConfig
from testkit.mock_runs import DEV_ACCOUNT, DEV_REGION, policy_of, run_program

PREFIX = f"arn:aws:{{}}:{DEV_REGION}:{DEV_ACCOUNT}"
TOPIC_ARN = f"arn:aws:sns:{DEV_REGION}:{DEV_ACCOUNT}:ahi-dev-import-alerts"
QUEUE_ARN = f"arn:aws:sqs:{DEV_REGION}:{DEV_ACCOUNT}:ahi-dev-import-alerts-dlq"
TABLE_ARN = f"arn:aws:dynamodb:{DEV_REGION}:{DEV_ACCOUNT}:table/ahi-dev-import-alerts-reported-jobs"
FUNCTION_ARN = f"arn:aws:lambda:{DEV_REGION}:{DEV_ACCOUNT}:function:ahi-dev-import-alerts"
LOG_GROUP_ARN = f"arn:aws:logs:{DEV_REGION}:{DEV_ACCOUNT}:log-group:/aws/lambda/ahi-dev-import-alerts"
ALARM_ARNS = [
    f"arn:aws:cloudwatch:{DEV_REGION}:{DEV_ACCOUNT}:alarm:ahi-dev-import-alerts-dead-letters",
    f"arn:aws:cloudwatch:{DEV_REGION}:{DEV_ACCOUNT}:alarm:ahi-dev-import-alerts-function-errors",
]


def resource(run: ProgramRun, type_: str, name: str) -> PlannedResource:
    return run.one(type_, name)


def alerts_key_arn(run: ProgramRun) -> str:
    return str(resource(run, "aws:kms/key:Key", "import-alerts-key").outputs["arn"])


# --- EventBridge -----------------------------------------------------------------------------------------------


def test_the_rule_matches_this_data_stores_ended_import_jobs_by_its_arn(dev_run: ProgramRun) -> None:
    rule = resource(dev_run, "aws:cloudwatch/eventRule:EventRule", "import-alerts-job-ended")
    assert json.loads(rule.inputs["eventPattern"]) == {
        "source": ["aws.medical-imaging"],
        "detail-type": ["Import Job Completed", "Import Job Failed"],
        "resources": [dev_run.outputs["datastoreArn"]],
    }
    assert rule.inputs["name"] == "ahi-dev-import-job-ended"


def test_a_schedule_sweeps_every_hour_and_both_rules_invoke_the_function_only(dev_run: ProgramRun) -> None:
    sweep = resource(dev_run, "aws:cloudwatch/eventRule:EventRule", "import-alerts-sweep")
    assert sweep.inputs["scheduleExpression"] == "rate(1 hour)"
    for label, rule_name in (("job-ended", "ahi-dev-import-job-ended"), ("sweep", "ahi-dev-import-jobs-sweep")):
        target = resource(dev_run, "aws:cloudwatch/eventTarget:EventTarget", f"import-alerts-{label}-target")
        assert (target.inputs["rule"], target.inputs["arn"]) == (rule_name, FUNCTION_ARN)
        permission = resource(dev_run, "aws:lambda/permission:Permission", f"import-alerts-{label}-invoke")
        assert permission.inputs == {
            "action": "lambda:InvokeFunction",
            "function": "ahi-dev-import-alerts",
            "principal": "events.amazonaws.com",
            "sourceArn": f"arn:aws:events:{DEV_REGION}:{DEV_ACCOUNT}:rule/{rule_name}",
            "sourceAccount": DEV_ACCOUNT,
        }
        assert permission.urn in target.depends_on


def healthimaging_event(detail_type: str, datastore_arn: str) -> dict[str, Any]:
    datastore_id = datastore_arn.rsplit("/", 1)[1]
    return {
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": detail_type,
        "source": "aws.medical-imaging",
        "account": DEV_ACCOUNT,
        "time": "2026-01-31T09:15:02Z",
        "region": DEV_REGION,
        "resources": [datastore_arn],
        "detail": {
            "imagingVersion": "1.0",
            "datastoreId": datastore_id,
            "jobId": "0123456789abcdef0123456789abcdef",
            "jobName": "first-import",
            "jobStatus": "COMPLETED",
            "inputS3Uri": "s3://in/first-import/",
            "outputS3Uri": "s3://out/first-import/",
        },
    }


@pytest.fixture
def eventbridge(moto_server: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> tuple[Any, Any]:
    """EventBridge and SQS clients to moto's server (which routes events to rule targets by their patterns)."""
    from sandbox.sessions import new_session
    from testkit.fakes.environment import apply_aws_env

    moto_server.reset()
    apply_aws_env(monkeypatch, tmp_path, {"EVENTBRIDGE": moto_server.url, "SQS": moto_server.url})
    session = new_session()
    return session.client("events"), session.client("sqs")


def test_eventbridge_routes_exactly_the_ended_jobs_of_this_data_store(
    dev_run: ProgramRun, eventbridge: tuple[Any, Any]
) -> None:
    events, sqs = eventbridge
    pattern = resource(dev_run, "aws:cloudwatch/eventRule:EventRule", "import-alerts-job-ended").inputs["eventPattern"]
    queue_url = sqs.create_queue(QueueName="routed")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="import-job-ended", EventPattern=pattern)
    events.put_targets(Rule="import-job-ended", Targets=[{"Id": "inbox", "Arn": queue_arn}])
    mine = dev_run.outputs["datastoreArn"]
    other = mine[:-32] + "f" * 32
    sent = {
        "completed": healthimaging_event("Import Job Completed", mine),
        "failed": healthimaging_event("Import Job Failed", mine),
        "submitted": healthimaging_event("Import Job Submitted", mine),
        "in-progress": healthimaging_event("Import Job In Progress", mine),
        "other-store": healthimaging_event("Import Job Completed", other),
        "other-source": {**healthimaging_event("Import Job Completed", mine), "source": "aws.s3"},
    }
    for label, event in sent.items():
        entry = {
            "Source": event["source"],
            "DetailType": event["detail-type"],
            "Resources": event["resources"],
            "Detail": json.dumps({**event["detail"], "jobName": label}),
        }
        assert events.put_events(Entries=[entry])["FailedEntryCount"] == 0
    routed = []
    while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        for message in messages:
            routed.append(json.loads(message["Body"])["detail"]["jobName"])
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    assert sorted(routed) == ["completed", "failed"]


# --- The key, the topic, the queue ------------------------------------------------------------------------------


def test_the_keys_policy_names_the_account_and_two_services_for_what_they_must_do(dev_run: ProgramRun) -> None:
    key = resource(dev_run, "aws:kms/key:Key", "import-alerts-key")
    assert policy_of(key) == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "EnableAccountControlThroughIam",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{DEV_ACCOUNT}:root"},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Sid": "AllowCloudWatchAlarmsToPublishToTheEncryptedTopic",
                "Effect": "Allow",
                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                "Resource": "*",
            },
            {
                "Sid": "AllowCloudWatchLogsForThisLogGroupOnly",
                "Effect": "Allow",
                "Principal": {"Service": f"logs.{DEV_REGION}.amazonaws.com"},
                "Action": ["kms:Decrypt*", "kms:Encrypt*", "kms:GenerateDataKey*", "kms:ReEncrypt*"],
                "Resource": "*",
                "Condition": {"StringEquals": {"kms:EncryptionContext:aws:logs:arn": LOG_GROUP_ARN}},
            },
        ],
    }
    assert (key.inputs["enableKeyRotation"], key.inputs["deletionWindowInDays"]) == (True, 30)
    assert (key.protect, key.retain_on_delete) == (True, True)
    alias = resource(dev_run, "aws:kms/alias:Alias", "import-alerts-key-alias")
    assert alias.inputs["name"] == "alias/ahi-dev-import-alerts"


def test_the_topic_is_encrypted_and_only_this_stacks_alarms_may_publish_besides_iam(dev_run: ProgramRun) -> None:
    topic = resource(dev_run, "aws:sns/topic:Topic", "import-alerts-topic")
    assert topic.inputs["kmsMasterKeyId"] == alerts_key_arn(dev_run)
    assert policy_of(resource(dev_run, "aws:sns/topicPolicy:TopicPolicy", "import-alerts-topic-policy")) == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AllowThisStacksAlarmsToPublish",
                "Effect": "Allow",
                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                "Action": "sns:Publish",
                "Resource": TOPIC_ARN,
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": DEV_ACCOUNT},
                    "ArnEquals": {"aws:SourceArn": ALARM_ARNS},
                },
            },
            {
                "Sid": "DenyPublishingWithoutTls",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "sns:Publish",
                "Resource": TOPIC_ARN,
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
        ],
    }


def test_subscriptions_come_from_the_stack_settings() -> None:
    run = run_program(
        importAlertEmails=["imaging-oncall@example.org", "pacs-admin@example.org"],
        importAlertHttpsEndpoints=["https://alerts.example.org/healthimaging"],
    )
    subscriptions = sorted(
        (r.inputs["protocol"], r.inputs["endpoint"], r.inputs["topic"])
        for r in run.by_type("aws:sns/topicSubscription:TopicSubscription")
    )
    assert subscriptions == [
        ("email", "imaging-oncall@example.org", TOPIC_ARN),
        ("email", "pacs-admin@example.org", TOPIC_ARN),
        ("https", "https://alerts.example.org/healthimaging", TOPIC_ARN),
    ]
    assert run.warnings == []


def test_without_subscribers_the_stack_says_nobody_is_told() -> None:
    run = run_program(importAlertEmails=[])
    assert run.by_type("aws:sns/topicSubscription:TopicSubscription") == []
    assert any(w.startswith("Import job alerts have no e-mail or HTTPS subscriber") for w in run.warnings)


def test_the_dead_letter_queue_and_the_table_are_encrypted_with_the_alerts_key(dev_run: ProgramRun) -> None:
    key_arn = alerts_key_arn(dev_run)
    queue = resource(dev_run, "aws:sqs/queue:Queue", "import-alerts-dlq")
    assert (queue.inputs["kmsMasterKeyId"], queue.inputs["messageRetentionSeconds"]) == (key_arn, 14 * 24 * 3600)
    assert policy_of(resource(dev_run, "aws:sqs/queuePolicy:QueuePolicy", "import-alerts-dlq-policy")) == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyRequestsWithoutTls",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "sqs:*",
                "Resource": QUEUE_ARN,
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }
    table = resource(dev_run, "aws:dynamodb/table:Table", "import-alerts-reported-jobs")
    assert table.inputs == {
        "name": "ahi-dev-import-alerts-reported-jobs",
        "billingMode": "PAY_PER_REQUEST",
        "hashKey": "jobId",
        "attributes": [{"name": "jobId", "type": "S"}],
        "ttl": {"attributeName": "expiresAt", "enabled": True},
        "pointInTimeRecovery": {"enabled": True},
        "serverSideEncryption": {"enabled": True, "kmsKeyArn": key_arn},
    }


# --- The function ---------------------------------------------------------------------------------------------


def test_the_function_is_bounded_and_its_environment_is_what_the_code_reads(dev_run: ProgramRun) -> None:
    function = resource(dev_run, "aws:lambda/function:Function", "import-alerts-function")
    inputs = function.inputs
    assert (inputs["runtime"], inputs["handler"], inputs["architectures"]) == (
        "python3.12",
        "import_alerts.handler.handle",
        ["arm64"],
    )
    assert inputs["reservedConcurrentExecutions"] == 2
    assert inputs["deadLetterConfig"] == {"targetArn": QUEUE_ARN}
    assert inputs["kmsKeyArn"] == alerts_key_arn(dev_run)
    assert inputs["role"] == f"arn:aws:iam::{DEV_ACCOUNT}:role/ahi-dev-ImportAlertsFunction"
    assert inputs["loggingConfig"]["logGroup"] == "/aws/lambda/ahi-dev-import-alerts"
    variables = inputs["environment"]["variables"]
    assert AlertsConfig.from_environment(variables) == AlertsConfig(
        topic_arn=TOPIC_ARN,
        table_name="ahi-dev-import-alerts-reported-jobs",
        datastore_id=dev_run.outputs["datastoreId"],
        sweep_lookback_hours=24,
        reported_retention_days=30,
        max_failures_listed=10,
    )
    log_group = resource(dev_run, "aws:cloudwatch/logGroup:LogGroup", "import-alerts-logs")
    assert log_group.inputs == {
        "name": "/aws/lambda/ahi-dev-import-alerts",
        "retentionInDays": 365,
        "kmsKeyId": alerts_key_arn(dev_run),
    }
    permissions = resource(dev_run, "aws:iam/rolePolicy:RolePolicy", "import-alerts-function-permissions")
    assert {log_group.urn, permissions.urn} <= set(function.depends_on)
    retries = resource(
        dev_run, "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig", "import-alerts-retries"
    )
    assert retries.inputs["maximumRetryAttempts"] == 2


def test_the_alarms_report_a_broken_alert_path_to_the_same_topic(dev_run: ProgramRun) -> None:
    errors = resource(dev_run, "aws:cloudwatch/metricAlarm:MetricAlarm", "import-alerts-errors-alarm").inputs
    dead = resource(dev_run, "aws:cloudwatch/metricAlarm:MetricAlarm", "import-alerts-dead-letters-alarm").inputs
    assert (errors["namespace"], errors["metricName"], errors["dimensions"]) == (
        "AWS/Lambda",
        "Errors",
        {"FunctionName": "ahi-dev-import-alerts"},
    )
    assert (dead["namespace"], dead["metricName"], dead["dimensions"]) == (
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
        {"QueueName": "ahi-dev-import-alerts-dlq"},
    )
    for alarm in (errors, dead):
        assert (alarm["threshold"], alarm["comparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")
        assert alarm["alarmActions"] == [TOPIC_ARN]
    assert (
        sorted(f"arn:aws:cloudwatch:{DEV_REGION}:{DEV_ACCOUNT}:alarm:{a['name']}" for a in (errors, dead)) == ALARM_ARNS
    )


# --- The function's role --------------------------------------------------------------------------------------


def expected_permission_policy(run: ProgramRun) -> dict[str, Any]:
    outputs = run.outputs
    via = [f"{service}.{DEV_REGION}.amazonaws.com" for service in ("dynamodb", "lambda", "sns", "sqs")]
    same_account = {"StringEquals": {"s3:ResourceAccount": DEV_ACCOUNT}}
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReadThisDatastoresImportJobs",
                "Effect": "Allow",
                "Action": ["medical-imaging:GetDICOMImportJob", "medical-imaging:ListDICOMImportJobs"],
                "Resource": outputs["datastoreArn"],
            },
            {
                "Sid": "ListOutputBucket",
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": outputs["outputBucketArn"],
                "Condition": same_account,
            },
            {
                "Sid": "ReadThisDatastoresJobFolders",
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": f"{outputs['outputBucketArn']}/*{outputs['datastoreId']}-DicomImport-*",
                "Condition": same_account,
            },
            {
                "Sid": "DecryptJobFoldersThroughS3",
                "Effect": "Allow",
                "Action": "kms:Decrypt",
                "Resource": outputs["bucketKmsKeyArn"],
                "Condition": {"StringEquals": {"kms:ViaService": f"s3.{DEV_REGION}.amazonaws.com"}},
            },
            {"Sid": "PublishAlerts", "Effect": "Allow", "Action": "sns:Publish", "Resource": TOPIC_ARN},
            {
                "Sid": "RememberReportedJobs",
                "Effect": "Allow",
                "Action": ["dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem"],
                "Resource": TABLE_ARN,
            },
            {
                "Sid": "SendFailedEventsToTheDeadLetterQueue",
                "Effect": "Allow",
                "Action": "sqs:SendMessage",
                "Resource": QUEUE_ARN,
            },
            {
                "Sid": "UseTheAlertsKeyThroughItsServicesOnly",
                "Effect": "Allow",
                "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                "Resource": alerts_key_arn(run),
                "Condition": {"StringEquals": {"kms:ViaService": via}},
            },
            {
                "Sid": "WriteOwnLogs",
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": f"{LOG_GROUP_ARN}:*",
            },
        ],
    }


def test_the_role_is_for_this_function_only_and_its_policy_is_exact(dev_run: ProgramRun) -> None:
    role = resource(dev_run, "aws:iam/role:Role", "import-alerts-function-role")
    assert policy_of(role, "assumeRolePolicy") == {
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
    permissions = resource(dev_run, "aws:iam/rolePolicy:RolePolicy", "import-alerts-function-permissions")
    assert policy_of(permissions) == expected_permission_policy(dev_run)


def test_the_role_gets_the_boundary_and_path_of_the_stack() -> None:
    boundary = f"arn:aws:iam::{DEV_ACCOUNT}:policy/Boundary"
    run = run_program(permissionsBoundaryArn=boundary, iamPath="/imaging/")
    role = resource(run, "aws:iam/role:Role", "import-alerts-function-role").inputs
    assert (role["path"], role["permissionsBoundary"]) == ("/imaging/", boundary)


def test_the_roles_permissions_are_the_least_the_function_needs(dev_run: ProgramRun, aws_env: Any) -> None:
    """The role as IAM would judge it (the project's policy simulator in front of moto's IAM): every call the function
    makes is allowed on exactly its resource; anything near it is denied."""
    iam = aws_env.client("iam")
    role = resource(dev_run, "aws:iam/role:Role", "import-alerts-function-role")
    permissions = resource(dev_run, "aws:iam/rolePolicy:RolePolicy", "import-alerts-function-permissions")
    role_arn = iam.create_role(RoleName=role.inputs["name"], AssumeRolePolicyDocument=role.inputs["assumeRolePolicy"])[
        "Role"
    ]["Arn"]
    iam.put_role_policy(
        RoleName=role.inputs["name"], PolicyName=permissions.inputs["name"], PolicyDocument=permissions.inputs["policy"]
    )
    outputs = dev_run.outputs
    datastore, output_bucket, folder = (
        outputs["datastoreArn"],
        outputs["outputBucketArn"],
        f"first-import/{outputs['datastoreId']}-DicomImport-0123456789abcdef0123456789abcdef",
    )
    s3_here = {"s3:ResourceAccount": DEV_ACCOUNT}

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
        ("medical-imaging:ListDICOMImportJobs", datastore, None),
        ("medical-imaging:GetDICOMImportJob", datastore, None),
        ("s3:ListBucket", output_bucket, s3_here),
        ("s3:GetObject", f"{output_bucket}/{folder}/job-output-manifest.json", s3_here),
        ("s3:GetObject", f"{output_bucket}/{folder}/FAILURE/failure.ndjson", s3_here),
        ("kms:Decrypt", outputs["bucketKmsKeyArn"], {"kms:ViaService": f"s3.{DEV_REGION}.amazonaws.com"}),
        ("sns:Publish", TOPIC_ARN, None),
        ("dynamodb:GetItem", TABLE_ARN, None),
        ("dynamodb:PutItem", TABLE_ARN, None),
        ("dynamodb:DeleteItem", TABLE_ARN, None),
        ("sqs:SendMessage", QUEUE_ARN, None),
        ("kms:GenerateDataKey", alerts_key_arn(dev_run), {"kms:ViaService": f"sns.{DEV_REGION}.amazonaws.com"}),
        ("kms:Decrypt", alerts_key_arn(dev_run), {"kms:ViaService": f"dynamodb.{DEV_REGION}.amazonaws.com"}),
        ("logs:PutLogEvents", f"{LOG_GROUP_ARN}:log-stream:2026/01/31/[$LATEST]abc", None),
    ]
    not_needed = [
        ("medical-imaging:StartDICOMImportJob", datastore, None),
        ("medical-imaging:GetImageFrame", f"{datastore}/imageset/{'1' * 32}", None),
        ("medical-imaging:GetDICOMImportJob", datastore[:-32] + "f" * 32, None),
        ("s3:GetObject", f"{outputs['inputBucketArn']}/first-import/study.dcm", s3_here),
        ("s3:GetObject", f"{output_bucket}/first-import/{'f' * 32}-DicomImport-job/job-output-manifest.json", s3_here),
        ("s3:GetObject", f"{output_bucket}/{folder}/job-output-manifest.json", {"s3:ResourceAccount": "999999999999"}),
        ("s3:PutObject", f"{output_bucket}/{folder}/job-output-manifest.json", s3_here),
        ("kms:Decrypt", outputs["bucketKmsKeyArn"], None),
        ("kms:Decrypt", outputs["datastoreKmsKeyArn"], {"kms:ViaService": f"s3.{DEV_REGION}.amazonaws.com"}),
        ("kms:Decrypt", alerts_key_arn(dev_run), None),
        ("sns:Publish", TOPIC_ARN.replace("import-alerts", "other"), None),
        ("sns:Subscribe", TOPIC_ARN, None),
        ("dynamodb:Scan", TABLE_ARN, None),
        ("sqs:ReceiveMessage", QUEUE_ARN, None),
        ("logs:PutLogEvents", f"{LOG_GROUP_ARN.replace('import-alerts', 'other')}:log-stream:x", None),
    ]
    assert [(a, r, decision(a, r, c)) for a, r, c in needed] == [(a, r, "allowed") for a, r, _ in needed]
    assert [(a, r, decision(a, r, c)) for a, r, c in not_needed] == [(a, r, "implicitDeny") for a, r, _ in not_needed]


# --- Settings, validation and switching off ---------------------------------------------------------------------


VALID = {
    "account_id": DEV_ACCOUNT,
    "region": DEV_REGION,
    "name_prefix": "ahi-dev",
    "datastore_id": "a" * 32,
    "datastore_arn": f"arn:aws:medical-imaging:{DEV_REGION}:{DEV_ACCOUNT}:datastore/{'a' * 32}",
    "output_bucket_arn": "arn:aws:s3:::out",
}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"email_addresses": ["oncall"]}, "email_addresses lists 'oncall', which is not an e-mail address"),
        ({"email_addresses": "a@example.org"}, "email_addresses = 'a@example.org': give a list"),
        ({"https_endpoints": ["http://alerts.example.org/"]}, "which is not an https:// URL with a host name"),
        (
            {"https_endpoints": ["https://user:secret@alerts.example.org/"]},
            "lists a URL with a user name or password in it (alerts.example.org)",
        ),
        ({"sweep_schedule": "every hour"}, "sweep_schedule = 'every hour' is not an EventBridge schedule expression"),
        ({"sweep_schedule": "rate(1 hours)"}, "EventBridge wants 'rate(1 hour)'"),
        ({"sweep_schedule": "rate(1 day)", "sweep_lookback_hours": 24}, "covers less than two runs of sweep_schedule"),
        ({"sweep_lookback_hours": 2161}, "sweep_lookback_hours = 2161: expected a whole number from 1 to 2160"),
        (
            {"reported_retention_days": 1, "sweep_lookback_hours": 24},
            "reported_retention_days = 1 days does not outlast",
        ),
        ({"log_retention_days": 100}, "log_retention_days = 100 is not a retention CloudWatch Logs accepts"),
        ({"reserved_concurrency": 0}, "reserved_concurrency = 0: expected a whole number from 1 to 20"),
        ({"max_failures_listed": 51}, "max_failures_listed = 51: expected a whole number from 0 to 50"),
    ],
)
def test_bad_arguments_are_refused_with_the_rule(overrides: dict[str, Any], message: str) -> None:
    problems = validate_import_alerts_args({**VALID, **overrides})
    assert len(problems) == 1, problems
    assert message in problems[0]


def test_the_password_in_a_url_is_never_repeated_in_the_message() -> None:
    (problem,) = validate_import_alerts_args({**VALID, "https_endpoints": ["https://user:s3cr3t@alerts.example.org/"]})
    assert "s3cr3t" not in problem


def test_a_bad_setting_stops_the_program_and_names_the_stack_key() -> None:
    with pytest.raises(InvalidInputError) as raised:
        run_program(importAlertEmails=["oncall"], importAlertSweepSchedule="hourly")
    message = str(raised.value)
    assert "importAlertEmails lists 'oncall'" in message
    assert "importAlertSweepSchedule = 'hourly'" in message


def test_whole_floats_from_other_languages_are_accepted() -> None:
    assert validate_import_alerts_args({**VALID, "sweep_lookback_hours": 24.0, "log_retention_days": 365.0}) == []


def test_short_logs_and_an_unprotected_key_are_warned_about_after_the_missing_subscriber() -> None:
    args: Any = {**VALID, "email_addresses": ["oncall@example.org"]}
    assert import_alerts_warnings(args) == []
    warnings = import_alerts_warnings(
        {**args, "email_addresses": [], "log_retention_days": 30.0, "protect_data": False}
    )
    assert warnings == [
        "Import job alerts have no e-mail or HTTPS subscriber: alerts reach the SNS topic but nobody is told. "
        "Subscribe someone (importAlertEmails, importAlertHttpsEndpoints) or subscribe to the topic elsewhere.",
        "The alerts function keeps its logs 30 days only, less than the year an audit expects.",
        "Data protection is OFF for the import alerts' key: `pulumi destroy` schedules its deletion.",
    ]


def test_switched_off_there_are_no_alert_resources_and_a_warning_says_what_is_lost() -> None:
    run = run_program(importAlerts=False)
    assert [r for r in run.resources if "ImportJobAlerts" in r.urn] == []
    assert run.outputs["importAlertsTopicArn"] is None
    assert any(w.startswith("Import job alerts are OFF (importAlerts = false)") for w in run.warnings)


def test_a_disposable_stack_leaves_the_alerts_key_unprotected() -> None:
    run = run_program(disposableStack=True)
    key = resource(run, "aws:kms/key:Key", "import-alerts-key")
    assert (key.protect, key.retain_on_delete) == (False, False)
