"""AuditTrail under Pulumi's mocks (the dev and prod stacks' program): exact event selectors, key and bucket policies,
the bucket's retention, lock and access logging, CloudWatch Logs delivery, switching it off; and the selectors as
CloudTrail's API takes them (botocore's model and moto's CloudTrail)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ahictl.mockrun import PlannedResource, ProgramRun
from components import InvalidInputError
from components.audit_trail import validate_audit_trail_args
from testkit.mock_runs import DEV_ACCOUNT, DEV_REGION, policy_of, run_program

TRAIL_ARN = f"arn:aws:cloudtrail:{DEV_REGION}:{DEV_ACCOUNT}:trail/ahi-dev-audit"
AUDIT_BUCKET = f"ahi-dev-audit-{DEV_ACCOUNT}-{DEV_REGION}-an"
BUCKET = "aws:s3/bucket:Bucket"
TRAIL = "aws:cloudtrail/trail:Trail"


def resource(run: ProgramRun, type_: str, name: str) -> PlannedResource:
    return run.one(type_, name)


def audit_key_arn(run: ProgramRun) -> str:
    return str(resource(run, "aws:kms/key:Key", "audit-trail-key").outputs["arn"])


def test_the_trail_records_exactly_this_stacks_data_events_and_management_events(dev_run: ProgramRun) -> None:
    outputs = dev_run.outputs
    trail = resource(dev_run, TRAIL, "audit-trail")
    assert trail.inputs["advancedEventSelectors"] == [
        {"name": "Management events", "fieldSelectors": [{"field": "eventCategory", "equals": ["Management"]}]},
        {
            "name": "Objects of the input and output buckets",
            "fieldSelectors": [
                {"field": "eventCategory", "equals": ["Data"]},
                {"field": "resources.type", "equals": ["AWS::S3::Object"]},
                {
                    "field": "resources.ARN",
                    "startsWiths": [f"{outputs['inputBucketArn']}/", f"{outputs['outputBucketArn']}/"],
                },
            ],
        },
        {
            "name": "The HealthImaging data store",
            "fieldSelectors": [
                {"field": "eventCategory", "equals": ["Data"]},
                {"field": "resources.type", "equals": ["AWS::MedicalImaging::Datastore"]},
                {"field": "resources.ARN", "equals": [outputs["datastoreArn"]]},
            ],
        },
        {
            "name": "The data store's image sets",
            "fieldSelectors": [
                {"field": "eventCategory", "equals": ["Data"]},
                {"field": "resources.type", "equals": ["AWS::MedicalImaging::Imageset"]},
                {"field": "resources.ARN", "startsWiths": [f"{outputs['datastoreArn']}/imageset/"]},
            ],
        },
    ]


def test_the_trail_validates_and_encrypts_its_log_files_in_one_region_and_survives_a_destroy(
    dev_run: ProgramRun,
) -> None:
    trail = resource(dev_run, TRAIL, "audit-trail")
    inputs = trail.inputs
    assert inputs["name"] == "ahi-dev-audit"
    assert inputs["s3BucketName"] == AUDIT_BUCKET
    assert inputs["kmsKeyId"] == audit_key_arn(dev_run)
    assert (inputs["enableLogFileValidation"], inputs["enableLogging"]) == (True, True)
    assert (inputs["isMultiRegionTrail"], inputs["includeGlobalServiceEvents"]) == (False, True)
    assert "cloudWatchLogsGroupArn" not in inputs
    assert (trail.protect, trail.retain_on_delete) == (True, True)
    # CloudTrail checks the bucket policy when the trail is created: the trail waits for the whole bucket.
    bucket_policy = resource(dev_run, "aws:s3/bucketPolicy:BucketPolicy", "audit-trail-bucket-policy")
    assert bucket_policy.urn in trail.depends_on
    assert dev_run.outputs["auditTrailArn"] == TRAIL_ARN
    assert dev_run.outputs["auditBucketName"] == AUDIT_BUCKET


def test_the_key_lets_this_trail_only_encrypt_and_describe(dev_run: ProgramRun) -> None:
    key = resource(dev_run, "aws:kms/key:Key", "audit-trail-key")
    this_trail = {"StringEquals": {"aws:SourceAccount": DEV_ACCOUNT}, "ArnEquals": {"aws:SourceArn": TRAIL_ARN}}
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
                "Sid": "AllowThisTrailToEncryptLogFiles",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "kms:GenerateDataKey*",
                "Resource": "*",
                "Condition": {
                    "StringEquals": {
                        "aws:SourceAccount": DEV_ACCOUNT,
                        "kms:EncryptionContext:aws:cloudtrail:arn": TRAIL_ARN,
                    },
                    "ArnEquals": {"aws:SourceArn": TRAIL_ARN},
                },
            },
            {
                "Sid": "AllowThisTrailToDescribeTheKey",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "kms:DescribeKey",
                "Resource": "*",
                "Condition": this_trail,
            },
        ],
    }
    assert (key.inputs["enableKeyRotation"], key.inputs["deletionWindowInDays"]) == (True, 30)
    assert (key.protect, key.retain_on_delete) == (True, True)


def test_the_bucket_is_tls_only_and_lets_this_trail_write_its_log_files_only(dev_run: ProgramRun) -> None:
    bucket_arn = f"arn:aws:s3:::{AUDIT_BUCKET}"
    policy = policy_of(resource(dev_run, "aws:s3/bucketPolicy:BucketPolicy", "audit-trail-bucket-policy"))
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    assert set(by_sid) == {
        "DenyInsecureTransport",
        "DenyOutdatedTlsVersions",
        "AllowCloudTrailAclCheck",
        "AllowCloudTrailToWriteLogFiles",
    }
    assert by_sid["AllowCloudTrailAclCheck"] == {
        "Sid": "AllowCloudTrailAclCheck",
        "Effect": "Allow",
        "Principal": {"Service": "cloudtrail.amazonaws.com"},
        "Action": "s3:GetBucketAcl",
        "Resource": bucket_arn,
        "Condition": {"StringEquals": {"aws:SourceAccount": DEV_ACCOUNT}, "ArnEquals": {"aws:SourceArn": TRAIL_ARN}},
    }
    assert by_sid["AllowCloudTrailToWriteLogFiles"] == {
        "Sid": "AllowCloudTrailToWriteLogFiles",
        "Effect": "Allow",
        "Principal": {"Service": "cloudtrail.amazonaws.com"},
        "Action": "s3:PutObject",
        "Resource": f"{bucket_arn}/AWSLogs/{DEV_ACCOUNT}/*",
        "Condition": {
            "StringEquals": {"aws:SourceAccount": DEV_ACCOUNT, "s3:x-amz-acl": "bucket-owner-full-control"},
            "ArnEquals": {"aws:SourceArn": TRAIL_ARN},
        },
    }
    encryption = resource(
        dev_run,
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "audit-trail-bucket-encryption",
    )
    assert encryption.inputs["rules"][0]["applyServerSideEncryptionByDefault"] == {
        "sseAlgorithm": "aws:kms",
        "kmsMasterKeyId": audit_key_arn(dev_run),
    }
    bucket = resource(dev_run, BUCKET, "audit-trail-bucket")
    assert (bucket.protect, bucket.retain_on_delete, bucket.inputs["forceDestroy"]) == (True, True, False)
    assert bucket.inputs["bucketNamespace"] == "account-regional"


def test_log_files_are_kept_six_years_and_not_locked_by_default(dev_run: ProgramRun) -> None:
    lifecycle = resource(
        dev_run, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "audit-trail-bucket-lifecycle"
    )
    expire = next(rule for rule in lifecycle.inputs["rules"] if rule["id"] == "expire-current-versions")
    assert expire["expiration"] == {"days": 2192}
    # A log file deleted or overwritten in the meantime is kept as long (not the other buckets' 90 days).
    noncurrent = next(rule for rule in lifecycle.inputs["rules"] if rule["id"] == "expire-noncurrent-versions")
    assert noncurrent["noncurrentVersionExpiration"] == {"noncurrentDays": 2192}
    assert "objectLockEnabled" not in resource(dev_run, BUCKET, "audit-trail-bucket").inputs
    assert dev_run.by_type("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration") == []


def test_object_lock_holds_every_log_file_for_the_retention_in_governance_mode() -> None:
    run = run_program(auditObjectLock=True, auditLogRetentionDays=2557)
    assert resource(run, BUCKET, "audit-trail-bucket").inputs["objectLockEnabled"] is True
    lock = resource(
        run, "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration", "audit-trail-bucket-object-lock"
    )
    assert lock.inputs["rule"] == {"defaultRetention": {"mode": "GOVERNANCE", "days": 2557}}
    assert lock.retain_on_delete is True
    # Locked files cannot be deleted early: older versions need not be kept for a whole retention.
    lifecycle = resource(
        run, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "audit-trail-bucket-lifecycle"
    )
    noncurrent = next(rule for rule in lifecycle.inputs["rules"] if rule["id"] == "expire-noncurrent-versions")
    assert noncurrent["noncurrentVersionExpiration"] == {"noncurrentDays": 90}
    assert run.warnings == []


def test_a_retention_of_zero_keeps_log_files_forever_but_cannot_be_locked() -> None:
    run = run_program(auditLogRetentionDays=0)
    lifecycle = resource(
        run, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "audit-trail-bucket-lifecycle"
    )
    assert "expire-current-versions" not in [rule["id"] for rule in lifecycle.inputs["rules"]]
    noncurrent = next(rule for rule in lifecycle.inputs["rules"] if rule["id"] == "expire-noncurrent-versions")
    assert noncurrent["noncurrentVersionExpiration"] == {"noncurrentDays": 36500}
    with pytest.raises(InvalidInputError, match="auditObjectLock is on but auditLogRetentionDays keeps the log files"):
        run_program(auditLogRetentionDays=0, auditObjectLock=True)


def test_a_retention_shorter_than_six_years_warns() -> None:
    run = run_program(auditLogRetentionDays=365)
    assert any("expire after 365 days, sooner than the six years HIPAA" in w for w in run.warnings)


def test_the_buckets_requests_are_logged_to_the_log_bucket_which_accepts_them(dev_run: ProgramRun) -> None:
    logging = resource(dev_run, "aws:s3/bucketLogging:BucketLogging", "audit-trail-bucket-access-logging")
    assert (logging.inputs["bucket"], logging.inputs["targetBucket"], logging.inputs["targetPrefix"]) == (
        AUDIT_BUCKET,
        dev_run.outputs["logBucketName"],
        "audit/",
    )
    log_policy = policy_of(resource(dev_run, "aws:s3/bucketPolicy:BucketPolicy", "import-buckets-logs-policy"))
    delivery = next(s for s in log_policy["Statement"] if s["Sid"] == "AllowServerAccessLogDelivery")
    assert f"arn:aws:s3:::{AUDIT_BUCKET}" in delivery["Condition"]["ArnLike"]["aws:SourceArn"]


def test_with_generated_names_the_log_bucket_accepts_the_audit_buckets_prefix() -> None:
    run = run_program(bucketNaming="generated")
    assert resource(run, BUCKET, "audit-trail-bucket").inputs["bucketPrefix"] == "ahi-dev-audit-"
    log_policy = policy_of(resource(run, "aws:s3/bucketPolicy:BucketPolicy", "import-buckets-logs-policy"))
    delivery = next(s for s in log_policy["Statement"] if s["Sid"] == "AllowServerAccessLogDelivery")
    assert "arn:aws:s3:::ahi-dev-audit-*" in delivery["Condition"]["ArnLike"]["aws:SourceArn"]


def test_without_access_logging_the_audit_bucket_is_not_logged_and_the_stack_says_so() -> None:
    run = run_program(accessLogging=False)
    assert run.by_type("aws:s3/bucketLogging:BucketLogging") == []
    assert "Server access logging of the audit trail's bucket (CIS 3.6) is OFF." in run.warnings


def test_cloudwatch_logs_delivery_uses_its_own_encrypted_log_group_and_a_role_for_this_trail_only() -> None:
    run = run_program(auditTrailCloudWatchLogs=True)
    log_group_arn = f"arn:aws:logs:{DEV_REGION}:{DEV_ACCOUNT}:log-group:/aws/cloudtrail/ahi-dev-audit"
    log_group = resource(run, "aws:cloudwatch/logGroup:LogGroup", "audit-trail-logs")
    assert log_group.inputs == {
        "name": "/aws/cloudtrail/ahi-dev-audit",
        "retentionInDays": 365,
        "kmsKeyId": audit_key_arn(run),
    }
    role = resource(run, "aws:iam/role:Role", "audit-trail-logs-role")
    assert policy_of(role, "assumeRolePolicy")["Statement"] == [
        {
            "Sid": "AllowThisTrailOnly",
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": DEV_ACCOUNT},
                "ArnEquals": {"aws:SourceArn": TRAIL_ARN},
            },
        }
    ]
    assert policy_of(resource(run, "aws:iam/rolePolicy:RolePolicy", "audit-trail-logs-permissions"))["Statement"] == [
        {
            "Sid": "WriteTheTrailsLogGroup",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": f"{log_group_arn}:log-stream:*",
        }
    ]
    trail = resource(run, TRAIL, "audit-trail").inputs
    assert trail["cloudWatchLogsGroupArn"] == f"{log_group_arn}:*"
    assert trail["cloudWatchLogsRoleArn"] == f"arn:aws:iam::{DEV_ACCOUNT}:role/ahi-dev-AuditTrailToCloudWatchLogs"
    key_statements = policy_of(resource(run, "aws:kms/key:Key", "audit-trail-key"))["Statement"]
    assert key_statements[-1]["Condition"] == {"StringEquals": {"kms:EncryptionContext:aws:logs:arn": log_group_arn}}


def test_data_events_only_when_an_organisation_trail_records_management_events() -> None:
    run = run_program(auditTrailManagementEvents=False)
    names = [s["name"] for s in resource(run, TRAIL, "audit-trail").inputs["advancedEventSelectors"]]
    assert names == [
        "Objects of the input and output buckets",
        "The HealthImaging data store",
        "The data store's image sets",
    ]
    assert any(w.startswith("The audit trail records data events only") for w in run.warnings)


def test_switched_off_there_is_no_trail_and_the_warning_says_what_an_organisation_trail_must_record() -> None:
    run = run_program(auditTrail=False)
    assert run.by_type(TRAIL) == []
    assert [r.name for r in run.by_type(BUCKET) if "audit" in r.name] == []
    (warning,) = [w for w in run.warnings if w.startswith("The audit trail is OFF (auditTrail = false)")]
    for selector in ("AWS::S3::Object", "AWS::MedicalImaging::Datastore", "AWS::MedicalImaging::Imageset"):
        assert selector in warning
    log_policy = policy_of(resource(run, "aws:s3/bucketPolicy:BucketPolicy", "import-buckets-logs-policy"))
    delivery = next(s for s in log_policy["Statement"] if s["Sid"] == "AllowServerAccessLogDelivery")
    assert not any("audit" in arn for arn in delivery["Condition"]["ArnLike"]["aws:SourceArn"])
    assert run.outputs["auditTrailArn"] is None


def test_the_prod_example_locks_its_log_files_and_delivers_to_cloudwatch_logs() -> None:
    from ahictl import plan as plan_module
    from testkit.mock_runs import PROJECT_DIR

    plan = plan_module.plan_stack(PROJECT_DIR, "prod")
    types = {r["type"] for r in plan["resources"]}
    assert "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration" in types
    trail = next(r for r in plan["resources"] if r["type"] == TRAIL)
    assert trail["inputs"]["cloudWatchLogsGroupArn"].endswith(":log-group:/aws/cloudtrail/ahi-prod-audit:*")
    role = next(r for r in plan["resources"] if r["name"] == "audit-trail-logs-role")
    assert (role["inputs"]["path"], role["inputs"]["permissionsBoundary"]) == (
        "/healthimaging/",
        "arn:aws:iam::444455556666:policy/healthimaging/HealthImagingWorkloadBoundary",
    )


# --- validation -------------------------------------------------------------------------------------------------


VALID = {
    "account_id": DEV_ACCOUNT,
    "region": DEV_REGION,
    "name_prefix": "ahi-dev",
    "input_bucket_arn": "arn:aws:s3:::in",
    "output_bucket_arn": "arn:aws:s3:::out",
    "datastore_arn": f"arn:aws:medical-imaging:{DEV_REGION}:{DEV_ACCOUNT}:datastore/{'a' * 32}",
}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"bucket_name": "Audit_Logs"}, "bucket_name = 'Audit_Logs' is not a valid S3 bucket name"),
        ({"naming": "random"}, "naming = 'random' is not one of"),
        ({"retention_days": 0}, "retention_days = 0: a number of days must be between 1 and 36500"),
        ({"cloudwatch_logs": True, "cloudwatch_logs_retention_days": 10}, "is not a retention CloudWatch Logs accepts"),
    ],
)
def test_bad_arguments_are_refused_with_the_rule(overrides: dict[str, Any], message: str) -> None:
    problems = validate_audit_trail_args({**VALID, **overrides})
    assert len(problems) == 1, problems
    assert message in problems[0]


def test_the_audit_bucket_cannot_be_another_bucket_of_the_stack() -> None:
    with pytest.raises(InvalidInputError) as raised:
        run_program(auditBucketName="hospital-dicom-in", inputBucketName="hospital-dicom-in")
    assert "auditBucketName and inputBucketName are both 'hospital-dicom-in'" in str(raised.value)


# --- CloudTrail's API takes the selectors -----------------------------------------------------------------------


def api_selectors(selectors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The plan's selectors (Pulumi's spelling) in CloudTrail's API spelling."""
    names = {"field": "Field", "equals": "Equals", "startsWiths": "StartsWith", "endsWiths": "EndsWith"}
    return [
        {
            "Name": selector["name"],
            "FieldSelectors": [
                {names[key]: value for key, value in field.items()} for field in selector["fieldSelectors"]
            ],
        }
        for selector in selectors
    ]


def test_cloudtrail_accepts_the_selectors(
    dev_run: ProgramRun, moto_server: Any, monkeypatch: Any, tmp_path: Any
) -> None:
    from sandbox.sessions import new_session
    from testkit.fakes.environment import apply_aws_env

    moto_server.reset()
    apply_aws_env(monkeypatch, tmp_path, {"S3": moto_server.url, "CLOUDTRAIL": moto_server.url})
    session = new_session()
    session.client("s3").create_bucket(Bucket="audit-logs")
    cloudtrail = session.client("cloudtrail")
    cloudtrail.create_trail(Name="ahi-dev-audit", S3BucketName="audit-logs")
    selectors = api_selectors(resource(dev_run, TRAIL, "audit-trail").inputs["advancedEventSelectors"])
    # botocore validates every member against CloudTrail's model before sending.
    cloudtrail.put_event_selectors(TrailName="ahi-dev-audit", AdvancedEventSelectors=selectors)
    stored = cloudtrail.get_event_selectors(TrailName="ahi-dev-audit")["AdvancedEventSelectors"]
    assert json.loads(json.dumps(stored)) == selectors
