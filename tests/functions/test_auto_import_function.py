"""The automatic importer's function end to end on loopback.

moto's server plays S3 (the input bucket sends its events to EventBridge), EventBridge (the component's own rule
pattern, targeting the queue), SQS (the queue with its dead-letter queue) and SNS (the alert topic, read through a
queue subscribed to it); the HealthImaging stand-in runs the import jobs against moto's S3 with real DICOM files from
pydicom. :class:`testkit.fakes.sqs_lambda.SqsEventSource` hands the queue's messages to the function as Lambda does. The
function builds its own clients from its environment, as in Lambda; every client reaches loopback through the
``AWS_ENDPOINT_URL_<SERVICE>`` variables.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from pydicom.data import get_testdata_file

from ahiops import planning
from components import auto_import_policies
from healthimaging_functions.auto_import import config as env_names
from healthimaging_functions.auto_import import handler
from sandbox.healthimaging import HealthImagingEmulator
from testkit.fakes.environment import AwsEnv
from testkit.fakes.sqs_lambda import EventSources, LambdaContext, SqsEventSource

INPUT_BUCKET = "ahi-auto-input"
OUTPUT_BUCKET = "ahi-auto-output"
ROLE_ARN = "arn:aws:iam::123456789012:role/ahi-import-role"
QUEUE = "ahi-auto-import"
FOLLOW_QUEUE = "ahi-auto-import-follow"
DLQ = "ahi-auto-import-dlq"
RULE = "ahi-auto-import"
MAX_RECEIVES = 2


def sample(name: str) -> bytes:
    found = get_testdata_file(name)
    assert found is not None
    return Path(str(found)).read_bytes()


class Deployment:
    """What the AutoImport component deploys, in moto, and the function wired to its queue."""

    def __init__(
        self, aws_env: AwsEnv, fake: HealthImagingEmulator, monkeypatch: pytest.MonkeyPatch, **env: str
    ) -> None:
        self.fake = fake
        self.s3 = aws_env.client("s3")
        self.sqs = aws_env.client("sqs")
        self.medical_imaging = aws_env.client("medical-imaging")
        events = aws_env.client("events")
        sns = aws_env.client("sns")
        for bucket in (INPUT_BUCKET, OUTPUT_BUCKET):
            self.s3.create_bucket(Bucket=bucket)
            self.s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        self.s3.put_bucket_notification_configuration(
            Bucket=INPUT_BUCKET, NotificationConfiguration={"EventBridgeConfiguration": {}}
        )
        dlq_url = self.sqs.create_queue(QueueName=DLQ)["QueueUrl"]
        self.dlq_url = dlq_url
        dlq_arn = self._arn(dlq_url)
        self.queue_url, self.follow_url = (
            self.sqs.create_queue(
                QueueName=name,
                Attributes={
                    "VisibilityTimeout": "30",
                    "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(MAX_RECEIVES)}),
                },
            )["QueueUrl"]
            for name in (QUEUE, FOLLOW_QUEUE)
        )
        self.queue_arn = self._arn(self.queue_url)
        quiet = int(env.get(env_names.QUIET_PERIOD_SECONDS, "0")) > 0
        marker = env.get(env_names.MARKER_NAME, "_READY")
        pattern = auto_import_policies.object_created_pattern(INPUT_BUCKET, marker_name=marker, every_object=quiet)
        events.put_rule(Name=RULE, EventPattern=json.dumps(pattern))
        events.put_targets(Rule=RULE, Targets=[{"Id": "queue", "Arn": self.queue_arn}])
        topic_arn = sns.create_topic(Name="ahi-alerts")["TopicArn"]
        self.alerts_url = self.sqs.create_queue(QueueName="alerts-inbox")["QueueUrl"]
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=self._arn(self.alerts_url))
        self.alerts: list[dict[str, Any]] = []

        fake.polls_until_done = 1
        self.datastore_id, _ = fake.create_datastore("ahi-auto")
        environment = {
            env_names.INPUT_BUCKET: INPUT_BUCKET,
            env_names.OUTPUT_BUCKET: OUTPUT_BUCKET,
            env_names.ACCOUNT_ID: aws_env.account_id,
            env_names.DATASTORE_ID: self.datastore_id,
            env_names.IMPORT_ROLE_ARN: ROLE_ARN,
            env_names.QUEUE_URL: self.queue_url,
            env_names.FOLLOW_QUEUE_URL: self.follow_url,
            env_names.ALERT_TOPIC_ARN: topic_arn,
            env_names.START_INTERVAL_SECONDS: "0.05",
            env_names.POLL_INITIAL_SECONDS: "1",
            env_names.RETRY_INITIAL_SECONDS: "1",
            env_names.MAX_DELAY_SECONDS: "2",
            env_names.START_RETRY_SECONDS: "0",
            env_names.FAILURE_RETRY_SECONDS: "0",
            env_names.MAX_RECEIVE_COUNT: str(MAX_RECEIVES),
            env_names.QUOTA_RECHECK_SECONDS: "1",
            **env,
        }
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setattr(handler, "_runtime", None)
        # Each invocation may wait up to 3 s for a place in the job quota (Lambda would give it minutes).
        self.source = EventSources(
            [
                SqsEventSource(
                    self.sqs,
                    url,
                    self._arn(url),
                    handler.handle,
                    context=LambdaContext(remaining_ms=handler.TIME_RESERVE_MS + 3_000),
                )
                for url in (self.queue_url, self.follow_url)
            ]
        )

    def _arn(self, url: str) -> str:
        return str(self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"])

    # --- arranging --------------------------------------------------------------------------------------------

    def put(self, key: str, body: bytes = b"") -> None:
        self.s3.put_object(Bucket=INPUT_BUCKET, Key=key, Body=body)

    def study(self, batch: str, *, folder: str = "study/", copies: int = 1) -> None:
        for index in range(copies):
            self.put(f"incoming/{batch}/{folder}series{index}/ct.dcm", sample("CT_small.dcm"))
            self.put(f"incoming/{batch}/{folder}series{index}/mr.dcm", sample("MR_small.dcm"))

    def mark(self, batch: str, marker: str = "_READY") -> None:
        self.put(f"incoming/{batch}/{marker}", b"")

    # --- observing ---------------------------------------------------------------------------------------------

    def json_object(self, key: str) -> dict[str, Any] | None:
        try:
            body = self.s3.get_object(Bucket=INPUT_BUCKET, Key=key)["Body"].read()
        except self.s3.exceptions.NoSuchKey:
            return None
        document = json.loads(body)
        assert isinstance(document, dict)
        return document

    def result(self, batch: str) -> dict[str, Any] | None:
        return self.json_object(f"incoming/{batch}/_RESULT.json")

    def record(self, batch: str) -> dict[str, Any] | None:
        return self.json_object(f"incoming/{batch}/_JOBS.json")

    def run_until_result(self, batch: str, timeout: float = 60.0) -> dict[str, Any]:
        self.source.run_until(lambda: self.result(batch) is not None, timeout=timeout)
        result = self.result(batch)
        assert result is not None
        return result

    def starts(self) -> list[dict[str, Any]]:
        return [params for operation, params in self.fake.requests if operation == "StartDICOMImportJob"]

    def read_alerts(self) -> list[dict[str, Any]]:
        """Alerts published to the topic since the last call (collected from the queue subscribed to it)."""
        while True:
            messages = self.sqs.receive_message(QueueUrl=self.alerts_url, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                return self.alerts
            for message in messages:
                self.alerts.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.alerts_url, ReceiptHandle=message["ReceiptHandle"])

    def queue_is_empty(self) -> bool:
        for url in (self.queue_url, self.follow_url):
            attributes = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
            names = (
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            )
            if any(attributes[name] != "0" for name in names):
                return False
        return True

    def follow_bodies(self) -> list[str]:
        """What the follow queue's invocations were handed."""
        return [body for bodies, _ in self.source.sources[1].invocations for body in bodies]


@pytest.fixture
def deploy(aws_env: AwsEnv, healthimaging: HealthImagingEmulator, monkeypatch: pytest.MonkeyPatch) -> Any:
    endpoint = aws_env.moto_endpoint
    for service in ("SQS", "SNS", "EVENTBRIDGE"):
        monkeypatch.setenv(f"AWS_ENDPOINT_URL_{service}", endpoint)

    def make(**env: str) -> Deployment:
        return Deployment(aws_env, healthimaging, monkeypatch, **env)

    return make


# ---------------------------------------------------------------- batches


def test_a_batch_that_fits_is_one_job_on_its_own_folder_with_its_result_and_no_alert(deploy: Any) -> None:
    d = deploy()
    d.study("b1")
    d.mark("b1")
    result = d.run_until_result("b1")
    assert result["status"] == "IMPORTED"
    assert result["strategy"] == "prefixes"
    assert result["counts"]["imported"] == 2
    assert result["counts"]["imageSets"] == 2
    (start,) = d.starts()
    assert start["inputS3Uri"] == f"s3://{INPUT_BUCKET}/incoming/b1/study/"
    assert start["outputS3Uri"].startswith(f"s3://{OUTPUT_BUCKET}/auto-imports/")
    assert start["inputOwnerAccountId"] == "123456789012"
    assert start["dataAccessRoleArn"] == ROLE_ARN
    (job,) = d.fake.jobs.values()
    record = d.record("b1")
    assert record is not None
    assert record["state"] == "DONE"
    assert record["jobs"][0]["jobId"] == job.job_id
    assert record["jobs"][0]["jobStatus"] == "COMPLETED"
    assert result["jobs"][0]["jobId"] == job.job_id
    assert sorted(result["imageSetIds"]) == sorted(d.fake.image_sets)
    assert [entry["key"] for entry in result["leftOut"]] == ["incoming/b1/_READY"]
    assert d.read_alerts() == []
    d.source.run_until(d.queue_is_empty, timeout=20)
    # The batch's jobs were followed on the follow queue, nothing else went there.
    assert d.follow_bodies()
    assert all(json.loads(body)["stage"] == "started" for body in d.follow_bodies())


def test_a_batch_over_the_file_limit_becomes_several_jobs_from_server_side_copies(deploy: Any) -> None:
    d = deploy(**{env_names.MAX_FILES_PER_JOB: "2"})
    d.fake.max_files_per_job = 2  # a job over the limit would FAIL in the stand-in, as in AWS
    for index in range(5):
        d.put(f"incoming/b2/img{index}.dcm", sample("CT_small.dcm" if index % 2 else "MR_small.dcm"))
    d.mark("b2")
    result = d.run_until_result("b2")
    assert result["status"] == "IMPORTED"
    assert result["strategy"] == "copies"
    assert [job["files"] for job in result["jobs"]] == [2, 2, 1]
    assert [job["status"] for job in result["jobs"]] == ["COMPLETED"] * 3
    digest = result["digest"]
    copies = d.s3.list_objects_v2(Bucket=INPUT_BUCKET, Prefix=f"auto-imports/{digest}/")["Contents"]
    assert sorted(item["Key"] for item in copies) == sorted(
        f"auto-imports/{digest}/job-{1 + n // 2:04d}/img{n}.dcm" for n in range(5)
    )
    assert len({start["clientToken"] for start in d.starts()}) == 3
    assert all(len(job.files) <= 2 for job in d.fake.jobs.values())


def test_objects_that_are_not_dicom_part10_are_left_out_reported_and_alerted(deploy: Any) -> None:
    d = deploy()
    d.put("incoming/b3/ct.dcm", sample("CT_small.dcm"))
    d.put("incoming/b3/no_meta.dcm", sample("no_meta.dcm"))
    d.put("incoming/b3/README.txt", b"scanner notes")
    d.mark("b3")
    result = d.run_until_result("b3")
    assert result["status"] == "PARTIAL"
    assert result["counts"]["imported"] == 1
    reasons = {entry["key"]: entry["reason"] for entry in result["leftOut"]}
    assert set(reasons) == {"incoming/b3/README.txt", "incoming/b3/_READY", "incoming/b3/no_meta.dcm"}
    assert "no 'DICM' marker" in reasons["incoming/b3/no_meta.dcm"]
    # The job saw only the DICOM file (a copy), never the others.
    (job,) = d.fake.jobs.values()
    assert [result_.key.rsplit("/", 1)[-1] for result_ in job.files] == ["ct.dcm"]
    (alert,) = d.read_alerts()
    assert alert["Subject"].startswith("HealthImaging auto-import PARTIAL")
    assert "incoming/b3/no_meta.dcm" in alert["Message"]
    assert f"s3://{INPUT_BUCKET}/incoming/b3/_RESULT.json" in alert["Message"]


def test_a_redelivered_event_starts_no_second_job_and_alerts_once(deploy: Any) -> None:
    d = deploy()
    d.study("b4")
    d.put("incoming/b4/notes.txt", b"not DICOM")
    d.mark("b4")
    # SQS delivers the marker's event twice (at-least-once delivery): two copies on the queue at once.
    (message,) = d.sqs.receive_message(QueueUrl=d.queue_url, MaxNumberOfMessages=10)["Messages"]
    d.sqs.send_message(QueueUrl=d.queue_url, MessageBody=message["Body"])
    d.sqs.change_message_visibility(QueueUrl=d.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
    d.run_until_result("b4")
    d.source.run_until(d.queue_is_empty, timeout=30)
    assert len(d.fake.jobs) == 1
    assert len({start["clientToken"] for start in d.starts()}) == 1
    assert len(d.read_alerts()) == 1
    # Delivered again once the batch is done: nothing is started, nothing alerted.
    d.sqs.send_message(QueueUrl=d.queue_url, MessageBody=message["Body"])
    d.source.run_until(d.queue_is_empty, timeout=20)
    assert len(d.fake.jobs) == 1
    assert len(d.read_alerts()) == 1


def test_a_throttled_start_puts_the_batch_back_and_starts_it_later(deploy: Any) -> None:
    d = deploy()
    d.fake.throttle("StartDICOMImportJob", times=3)
    d.study("b5")
    d.mark("b5")
    result = d.run_until_result("b5")
    assert result["status"] == "IMPORTED"
    assert len(d.fake.jobs) == 1
    starts = d.starts()
    assert len(starts) == 4
    assert len({start["clientToken"] for start in starts}) == 1
    waits = [body for bodies, _ in d.source.invocations for body in bodies if '"waitingFor": "throttled"' in body]
    assert len(waits) == 3  # each throttled start sent the batch back on the queue, never dropped it


def test_a_quota_error_from_the_service_is_waited_out_and_the_batch_started_once(deploy: Any) -> None:
    d = deploy()
    d.fake.quota_exceeded("StartDICOMImportJob", times=2)  # another importer took the places first
    d.study("b6")
    d.mark("b6")
    assert d.run_until_result("b6")["status"] == "IMPORTED"
    assert len(d.fake.jobs) == 1
    starts = d.starts()
    assert len(starts) == 3
    assert len({start["clientToken"] for start in starts}) == 1


def test_a_full_job_quota_holds_the_batch_without_calling_start(deploy: Any) -> None:
    d = deploy(**{env_names.MAX_CONCURRENT_JOBS: "1"})
    # An import job someone else started is running: the quota of one is full.
    foreign = d.medical_imaging.start_dicom_import_job(
        datastoreId=d.datastore_id,
        clientToken="foreign-job-token",
        dataAccessRoleArn=ROLE_ARN,
        inputS3Uri=f"s3://{INPUT_BUCKET}/elsewhere/",
        outputS3Uri=f"s3://{OUTPUT_BUCKET}/elsewhere/",
    )["jobId"]
    d.study("b7")
    d.mark("b7")

    def quota_waits() -> list[str]:
        return [body for bodies, _ in d.source.invocations for body in bodies if '"waitingFor": "quota"' in body]

    # The invocation waits for a place (recounting the running jobs), then puts the batch back to wait on; the
    # put-back message comes round again marked as waiting for the quota. Polled until then, however slow the machine.
    d.source.run_until(lambda: bool(quota_waits()), timeout=30)
    assert [start["clientToken"] for start in d.starts()] == ["foreign-job-token"]
    assert d.result("b7") is None
    counts = [params for operation, params in d.fake.requests if operation == "ListDICOMImportJobs"]
    assert len(counts) >= 2 * 3  # SUBMITTED and IN_PROGRESS, counted again about every second
    d.fake.complete_job(foreign)
    result = d.run_until_result("b7")
    assert result["status"] == "IMPORTED"
    assert len(d.starts()) == 2


def test_a_job_that_completes_with_failed_files_is_partial_with_reasons_and_an_alert(deploy: Any) -> None:
    d = deploy()
    d.fake.fail_file_when(lambda key: "Corrupt pixel data" if key.endswith("mr.dcm") else None)
    d.study("b8")
    d.mark("b8")
    result = d.run_until_result("b8")
    assert result["status"] == "PARTIAL"
    assert result["counts"]["imported"] == 1
    (failed,) = result["failed"]
    assert failed["key"] == "incoming/b8/study/series0/mr.dcm"
    assert failed["reason"] == "InternalServerException: Corrupt pixel data"
    (alert,) = d.read_alerts()
    assert "Corrupt pixel data" in alert["Message"]
    assert "incoming/b8/study/series0/mr.dcm" in alert["Message"]


def test_a_marker_without_files_reports_nothing_to_import(deploy: Any) -> None:
    d = deploy()
    d.mark("b9")
    result = d.run_until_result("b9")
    assert result["status"] == "NOTHING_TO_IMPORT"
    assert d.starts() == []
    (alert,) = d.read_alerts()
    assert alert["Subject"].startswith("HealthImaging auto-import NOTHING_TO_IMPORT")


def test_a_failed_job_is_reported_and_writing_the_marker_again_starts_a_new_attempt(deploy: Any) -> None:
    d = deploy()
    failing = {"on": True}
    d.fake.fail_job_when(lambda job: "The input could not be read" if failing["on"] else None)
    d.study("b10")
    d.mark("b10")
    result = d.run_until_result("b10")
    assert result["status"] == "FAILED"
    assert result["jobs"][0]["message"] == "The input could not be read"
    assert len(d.read_alerts()) == 1
    first_token = d.starts()[0]["clientToken"]
    failing["on"] = False
    time.sleep(0.05)
    d.mark("b10")
    d.source.run_until(lambda: (d.result("b10") or {}).get("status") == "IMPORTED", timeout=60)
    assert [start["clientToken"] for start in d.starts()] == [first_token, planning.retry_token(first_token, 2)]
    record = d.record("b10")
    assert record is not None
    assert record["jobs"][0]["attempt"] == 2


def test_with_a_quiet_period_a_batch_without_a_marker_starts_once_after_its_last_object(deploy: Any) -> None:
    d = deploy(**{env_names.QUIET_PERIOD_SECONDS: "2"})
    d.study("b11", copies=2)
    started = time.monotonic()
    result = d.run_until_result("b11", timeout=60)
    assert time.monotonic() - started >= 2
    assert result["status"] == "IMPORTED"
    assert result["counts"]["imported"] == 4
    assert len(d.fake.jobs) == 1
    d.source.run_until(d.queue_is_empty, timeout=30)
    assert len(d.fake.jobs) == 1


def test_objects_outside_incoming_and_the_importers_own_files_never_reach_the_queue(deploy: Any) -> None:
    d = deploy()
    d.put("other/b/_READY")
    d.put("other/b/ct.dcm", sample("CT_small.dcm"))
    d.put("incoming/b12/ct.dcm", sample("CT_small.dcm"))
    d.put("incoming/b12/_JOBS.json", b"{}")
    assert d.queue_is_empty()


def test_a_message_that_keeps_failing_moves_to_the_dead_letter_queue_with_an_alert(deploy: Any) -> None:
    d = deploy()
    d.sqs.send_message(QueueUrl=d.queue_url, MessageBody='{"something": "else"}')
    d.source.run_until(d.queue_is_empty, timeout=20)
    moved = d.sqs.receive_message(QueueUrl=d.dlq_url, MaxNumberOfMessages=10).get("Messages", [])
    assert [message["Body"] for message in moved] == ['{"something": "else"}']
    (alert,) = d.read_alerts()
    assert "dead-letter queue" in alert["Subject"]
    assert "unexpected message" in alert["Message"]
