"""The import alerts function (healthimaging_functions/import_alerts), run directly against moto's server (S3, SNS, SQS, DynamoDB)
and the HealthImaging stand-in, which runs real import jobs on real DICOM files and writes real job folders.

Every client of the function reaches loopback only through ``AWS_ENDPOINT_URL_<SERVICE>``; its settings come from the
environment variables the component sets. Alerts are read from an SQS queue subscribed to the topic.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from components.import_alerts import AlertNames
from components.lambda_package import FUNCTIONS_DIR, package_files, third_party_imports
from healthimaging_functions.import_alerts import alerts, config, handler, reported
from healthimaging_functions.import_alerts.checks import JobNotCheckedError, SweepError
from testkit.dicom_samples import sample

CT_SMALL = sample("CT_small.dcm").read_bytes()
MR_SMALL = sample("MR_small.dcm").read_bytes()
#: A DICOM data set without the Part 10 preamble and header: HealthImaging refuses it (ValidationException).
NO_META = sample("no_meta.dcm").read_bytes()
SCHEDULED_EVENT = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}, "resources": []}


@dataclass
class AlertsStack:
    """The deployed dev stack plus what ImportJobAlerts adds: topic, table, and a queue that receives the alerts."""

    stack: Any  # testkit.fakes.deployed_stack.DeployedStack
    medical_imaging: Any
    sns: Any
    sqs: Any
    dynamodb: Any
    topic_arn: str
    table_name: str
    queue_url: str
    monkeypatch: pytest.MonkeyPatch

    def start_job(self, files: dict[str, bytes], token: str, *, complete: bool = True) -> str:
        s3, outputs = self.stack.s3, self.stack.outputs
        for name, body in files.items():
            s3.put_object(Bucket=outputs["inputBucketName"], Key=f"batch/{token}/{name}", Body=body)
        job_id = str(
            self.medical_imaging.start_dicom_import_job(
                jobName=f"batch-{token}",
                datastoreId=outputs["datastoreId"],
                dataAccessRoleArn=outputs["importRoleArn"],
                clientToken=token,
                inputS3Uri=f"s3://{outputs['inputBucketName']}/batch/{token}/",
                outputS3Uri=f"s3://{outputs['outputBucketName']}/results/{token}/",
            )["jobId"]
        )
        if complete:
            self.stack.healthimaging.complete_job(job_id)
        return job_id

    def event(self, job_id: str, detail_type: str = "Import Job Completed") -> dict[str, Any]:
        """HealthImaging's EventBridge event for an ended job, as documented (no counts, no message)."""
        outputs = self.stack.outputs
        job = self.stack.healthimaging.jobs[job_id]
        return {
            "version": "0",
            "id": f"event-{job_id}",
            "detail-type": detail_type,
            "source": "aws.medical-imaging",
            "account": self.stack.account_id,
            "region": self.stack.region,
            "resources": [outputs["datastoreArn"]],
            "detail": {
                "imagingVersion": "1.0",
                "datastoreId": outputs["datastoreId"],
                "jobId": job_id,
                "jobName": job.job_name,
                "jobStatus": job.status,
                "inputS3Uri": job.input_s3_uri,
                "outputS3Uri": job.output_s3_uri,
            },
        }

    def received(self) -> list[dict[str, Any]]:
        """Every alert the topic delivered to the queue so far (the SNS envelope with the message parsed)."""
        found = []
        while True:
            batch = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            messages = batch.get("Messages", [])
            if not messages:
                return found
            for message in messages:
                envelope = json.loads(message["Body"])
                envelope["Message"] = json.loads(envelope["Message"])
                found.append(envelope)
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def table_item(self, job_id: str) -> dict[str, Any] | None:
        item = self.dynamodb.get_item(TableName=self.table_name, Key={reported.KEY: {"S": job_id}}).get("Item")
        return None if item is None else {key: next(iter(value.values())) for key, value in item.items()}


@pytest.fixture
def alerts_stack(deployed_stack: Any, monkeypatch: pytest.MonkeyPatch) -> AlertsStack:
    env = deployed_stack.env
    for service in ("SNS", "SQS", "DYNAMODB"):
        monkeypatch.setenv(f"AWS_ENDPOINT_URL_{service}", env.moto_endpoint)
    names = AlertNames("ahi-dev")
    sns, sqs, dynamodb = env.client("sns"), env.client("sqs"), env.client("dynamodb")
    topic_arn = sns.create_topic(Name=names.topic)["TopicArn"]
    queue_url = sqs.create_queue(QueueName="alert-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    dynamodb.create_table(
        TableName=names.table,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": reported.KEY, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": reported.KEY, "AttributeType": "S"}],
    )
    dynamodb.update_time_to_live(
        TableName=names.table, TimeToLiveSpecification={"Enabled": True, "AttributeName": reported.TTL_ATTRIBUTE}
    )
    # The variables the component sets (tests/components/test_import_alerts.py checks the names against the plan).
    monkeypatch.setenv(config.TOPIC_ARN, topic_arn)
    monkeypatch.setenv(config.TABLE_NAME, names.table)
    monkeypatch.setenv(config.DATASTORE_ID, deployed_stack.datastore_id)
    monkeypatch.setenv(config.SWEEP_LOOKBACK_HOURS, "24")
    monkeypatch.setenv(config.REPORTED_RETENTION_DAYS, "30")
    monkeypatch.setenv(config.MAX_FAILURES_LISTED, "10")
    monkeypatch.setenv(config.MANIFEST_RETRY_SECONDS, "0")
    return AlertsStack(
        stack=deployed_stack,
        medical_imaging=env.client("medical-imaging", max_attempts=3),
        sns=sns,
        sqs=sqs,
        dynamodb=dynamodb,
        topic_arn=topic_arn,
        table_name=names.table,
        queue_url=queue_url,
        monkeypatch=monkeypatch,
    )


# --- an event for each kind of ended job -----------------------------------------------------------------------


def test_a_partly_failed_job_gets_one_alert_with_counts_failures_and_the_failure_file(
    alerts_stack: AlertsStack,
) -> None:
    job_id = alerts_stack.start_job({"ct.dcm": CT_SMALL, "mr.dcm": MR_SMALL, "bad.dcm": NO_META}, "partial")
    assert alerts_stack.stack.healthimaging.jobs[job_id].status == "COMPLETED"

    result = handler.handle(alerts_stack.event(job_id))

    assert result == {"action": "job-event", "jobId": job_id, "outcome": "alerted"}
    (delivered,) = alerts_stack.received()
    assert delivered["Subject"] == "HealthImaging import PARTLY FAILED: 1 of 3 files, job batch-partial"
    assert delivered["MessageAttributes"]["alertType"]["Value"] == alerts.PARTLY_FAILED
    assert delivered["MessageAttributes"]["jobId"]["Value"] == job_id
    document = delivered["Message"]
    outputs = alerts_stack.stack.outputs
    folder = f"s3://{outputs['outputBucketName']}/results/partial/{outputs['datastoreId']}-DicomImport-{job_id}/"
    assert document["alertType"] == alerts.PARTLY_FAILED
    assert (document["datastoreId"], document["jobId"], document["jobName"]) == (
        outputs["datastoreId"],
        job_id,
        "batch-partial",
    )
    assert document["counts"] == {
        "scanned": 3,
        "imported": 2,
        "failed": 1,
        "customerErrors": 1,
        "serverErrors": 0,
        "imageSetsCreated": 2,
    }
    (failure,) = document["failures"]
    assert failure["file"] == f"s3://{outputs['inputBucketName']}/batch/partial/bad.dcm"
    assert failure["reason"].startswith("ValidationException: Not a DICOM Part 10 file")
    assert document["outputFolder"] == folder
    assert document["failureFile"] == f"{folder}FAILURE/failure.ndjson"
    # The failure file is where the alert says it is, and names the same file.
    bucket, key = document["failureFile"].removeprefix("s3://").split("/", 1)
    failure_lines = alerts_stack.stack.s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode().splitlines()
    assert [json.loads(line)["inputFile"] for line in failure_lines] == [failure["file"]]
    assert document["detectedBy"] == "event"
    assert alerts_stack.table_item(job_id)["outcome"] == reported.ALERTED


def test_a_duplicate_event_produces_one_alert(alerts_stack: AlertsStack) -> None:
    job_id = alerts_stack.start_job({"ct.dcm": CT_SMALL, "bad.dcm": NO_META}, "duplicate")
    event = alerts_stack.event(job_id)

    first = handler.handle(event)
    second = handler.handle(event)

    assert (first["outcome"], second["outcome"]) == ("alerted", "already-checked")
    assert len(alerts_stack.received()) == 1


def test_two_invocations_for_the_same_job_at_once_publish_one_alert(alerts_stack: AlertsStack) -> None:
    job_id = alerts_stack.start_job({"bad.dcm": NO_META, "ct.dcm": CT_SMALL}, "racing")
    event = alerts_stack.event(job_id)
    outcomes: list[str] = []
    start = threading.Barrier(4)

    def invoke() -> None:
        start.wait(timeout=10)
        outcomes.append(handler.handle(event)["outcome"])

    threads = [threading.Thread(target=invoke) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["alerted", "already-checked", "already-checked", "already-checked"]
    assert len(alerts_stack.received()) == 1


def test_a_job_that_imported_every_file_gets_no_alert_and_is_remembered(alerts_stack: AlertsStack) -> None:
    job_id = alerts_stack.start_job({"ct.dcm": CT_SMALL, "mr.dcm": MR_SMALL}, "clean")

    assert handler.handle(alerts_stack.event(job_id))["outcome"] == "no-alert-needed"

    assert alerts_stack.received() == []
    item = alerts_stack.table_item(job_id)
    assert item is not None
    assert item["outcome"] == reported.NO_ALERT_NEEDED
    expires = datetime.fromtimestamp(int(item[reported.TTL_ATTRIBUTE]), UTC)
    assert timedelta(days=29) < expires - datetime.now(UTC) <= timedelta(days=30)


def test_a_failed_job_gets_a_failure_alert_with_its_message(alerts_stack: AlertsStack) -> None:
    alerts_stack.stack.healthimaging.fail_job_when(lambda job: "The data access role cannot be assumed")
    job_id = alerts_stack.start_job({"ct.dcm": CT_SMALL}, "failing")
    assert alerts_stack.stack.healthimaging.jobs[job_id].status == "FAILED"

    assert handler.handle(alerts_stack.event(job_id, "Import Job Failed"))["outcome"] == "alerted"

    (delivered,) = alerts_stack.received()
    assert delivered["Subject"] == "HealthImaging import FAILED: job batch-failing"
    document = delivered["Message"]
    assert document["alertType"] == alerts.FAILED
    assert document["jobStatus"] == "FAILED"
    assert document["message"] == "The data access role cannot be assumed"
    assert document["counts"] is None
    assert document["failureFile"] is None


# --- the sweep ------------------------------------------------------------------------------------------------


def test_the_sweep_alerts_on_jobs_whose_events_were_lost_and_only_once(alerts_stack: AlertsStack) -> None:
    stand_in = alerts_stack.stack.healthimaging
    partial = alerts_stack.start_job({"ct.dcm": CT_SMALL, "bad.dcm": NO_META}, "lost-partial")
    clean = alerts_stack.start_job({"ct.dcm": CT_SMALL}, "lost-clean")
    running = alerts_stack.start_job({"ct.dcm": CT_SMALL}, "still-running", complete=False)
    stand_in.fail_job_when(lambda job: "Lost failure" if job.job_name == "batch-lost-failed" else None)
    failed = alerts_stack.start_job({"ct.dcm": CT_SMALL}, "lost-failed")

    result = handler.handle(SCHEDULED_EVENT)

    assert result["action"] == "sweep"
    assert result["checked"] == {partial: "alerted", clean: "no-alert-needed", failed: "alerted"}
    delivered = {d["Message"]["jobId"]: d["Message"] for d in alerts_stack.received()}
    assert set(delivered) == {partial, failed}
    assert delivered[partial]["alertType"] == alerts.PARTLY_FAILED
    assert delivered[failed]["alertType"] == alerts.FAILED
    assert {d["detectedBy"] for d in delivered.values()} == {"sweep"}
    assert stand_in.jobs[running].status not in ("COMPLETED", "FAILED")

    # The next sweep, and an event that arrives late, change nothing.
    assert set(handler.handle(SCHEDULED_EVENT)["checked"].values()) == {"already-checked"}
    assert handler.handle(alerts_stack.event(failed, "Import Job Failed"))["outcome"] == "already-checked"
    assert alerts_stack.received() == []

    # Once the running job ends, the sweep checks it.
    stand_in.complete_job(running)
    assert handler.handle(SCHEDULED_EVENT)["checked"][running] == "no-alert-needed"


def test_the_sweep_leaves_jobs_that_ended_before_its_window(alerts_stack: AlertsStack) -> None:
    old = alerts_stack.start_job({"bad.dcm": NO_META}, "old-partial")
    alerts_stack.stack.healthimaging.jobs[old].ended_at = datetime.now(UTC) - timedelta(hours=25)

    assert handler.handle(SCHEDULED_EVENT)["checked"] == {}
    assert alerts_stack.received() == []

    alerts_stack.monkeypatch.setenv(config.SWEEP_LOOKBACK_HOURS, "48")
    assert handler.handle(SCHEDULED_EVENT)["checked"] == {old: "alerted"}


def test_a_job_the_sweep_cannot_check_does_not_stop_the_others_and_fails_the_invocation(
    alerts_stack: AlertsStack,
) -> None:
    stand_in = alerts_stack.stack.healthimaging
    stand_in.manifest_delay_polls = 1_000  # COMPLETED, but its results never appear
    unreadable = alerts_stack.start_job({"ct.dcm": CT_SMALL}, "unreadable")
    stand_in.manifest_delay_polls = 0
    partial = alerts_stack.start_job({"bad.dcm": NO_META, "ct.dcm": CT_SMALL}, "readable")
    alerts_stack.monkeypatch.setenv(config.MANIFEST_ATTEMPTS, "2")

    with pytest.raises(
        SweepError,
        match=rf"1 of the recent jobs could not be checked .*{unreadable}: job {unreadable} COMPLETED, but its results could not be read",
    ):
        handler.handle(SCHEDULED_EVENT)

    assert [d["Message"]["jobId"] for d in alerts_stack.received()] == [partial]
    assert alerts_stack.table_item(unreadable) is None


# --- failures are retried, never lost and never doubled --------------------------------------------------------


def test_an_alert_that_could_not_be_published_is_published_by_the_retry(alerts_stack: AlertsStack) -> None:
    job_id = alerts_stack.start_job({"bad.dcm": NO_META}, "publish-fails")
    event = alerts_stack.event(job_id)
    alerts_stack.monkeypatch.setenv(config.TOPIC_ARN, alerts_stack.topic_arn + "-missing")

    with pytest.raises(Exception, match=r"Publish to .*-missing failed: NotFound"):
        handler.handle(event)
    assert alerts_stack.table_item(job_id) is None  # the claim was released

    alerts_stack.monkeypatch.setenv(config.TOPIC_ARN, alerts_stack.topic_arn)
    assert handler.handle(event)["outcome"] == "alerted"
    assert len(alerts_stack.received()) == 1


def test_results_that_appear_late_are_waited_for_then_retried(alerts_stack: AlertsStack) -> None:
    stand_in = alerts_stack.stack.healthimaging
    stand_in.manifest_delay_polls = 2
    job_id = alerts_stack.start_job({"bad.dcm": NO_META, "ct.dcm": CT_SMALL}, "late-results")
    alerts_stack.monkeypatch.setenv(config.MANIFEST_ATTEMPTS, "1")

    with pytest.raises(JobNotCheckedError, match="COMPLETED, but its results could not be read"):
        handler.handle(alerts_stack.event(job_id))
    assert alerts_stack.table_item(job_id) is None

    alerts_stack.monkeypatch.setenv(config.MANIFEST_ATTEMPTS, "5")
    assert handler.handle(alerts_stack.event(job_id))["outcome"] == "alerted"
    assert alerts_stack.received()[0]["Message"]["counts"]["failed"] == 1


# --- events it was not deployed for ----------------------------------------------------------------------------


def test_an_event_of_another_data_store_is_ignored(alerts_stack: AlertsStack) -> None:
    job_id = alerts_stack.start_job({"bad.dcm": NO_META}, "elsewhere")
    event = alerts_stack.event(job_id)
    event["detail"]["datastoreId"] = "0" * 32

    assert handler.handle(event)["action"] == "ignored"
    assert alerts_stack.received() == []
    assert alerts_stack.table_item(job_id) is None


@pytest.mark.parametrize(
    "event",
    [
        {"source": "aws.s3", "detail-type": "Object Created", "detail": {}},
        {"source": "aws.medical-imaging", "detail-type": "Import Job Submitted", "detail": {}},
    ],
)
def test_an_event_it_was_not_deployed_for_is_an_error(alerts_stack: AlertsStack, event: dict[str, Any]) -> None:
    with pytest.raises(handler.UnexpectedEventError, match="unexpected event"):
        handler.handle(event)


def test_a_missing_setting_is_named(alerts_stack: AlertsStack) -> None:
    alerts_stack.monkeypatch.delenv(config.TABLE_NAME)
    with pytest.raises(config.ConfigurationError, match=f"lacks {config.TABLE_NAME}"):
        handler.handle(SCHEDULED_EVENT)


# --- the deployment package ------------------------------------------------------------------------------------


def test_the_package_holds_the_function_and_the_library_modules_it_imports() -> None:
    files = package_files(FUNCTIONS_DIR / "import_alerts")
    assert {"import_alerts/handler.py", "ahiops/manifest.py", "ahiops/job_history.py", "ahiops/__init__.py"} <= set(
        files
    )
    assert not any(
        name.startswith(("ahiops/upload", "ahiops/folder_import", "components/", "healthimaging_functions/"))
        for name in files
    )
    assert third_party_imports(files) == set()


def test_the_package_works_on_its_own(tmp_path: Path) -> None:
    """Copied out of the repository, the package imports with nothing but the runtime's boto3 beside it."""
    for name, path in package_files(FUNCTIONS_DIR / "import_alerts").items():
        target = tmp_path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
    code = (
        f"import sys; sys.path.insert(0, {str(tmp_path)!r}); "
        "import import_alerts.handler, ahiops.manifest; "
        "print(import_alerts.handler.__file__); print(ahiops.manifest.__file__)"
    )
    done = subprocess.run(
        [sys.executable, "-I", "-c", code], capture_output=True, text=True, timeout=60, cwd=tmp_path, check=False
    )
    assert done.returncode == 0, done.stderr
    assert [Path(line).resolve().is_relative_to(tmp_path.resolve()) for line in done.stdout.split()] == [True, True]
