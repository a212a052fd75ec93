"""What an import alert says (healthimaging_functions/import_alerts/alerts.py, pure) and how the function reads its settings."""

from __future__ import annotations

import json

import pytest

from ahiops.job_history import JobReport
from ahiops.jobs import JobStatus
from ahiops.manifest import FailedFile, JobOutput, JobSummary
from healthimaging_functions.import_alerts import alerts
from healthimaging_functions.import_alerts.config import AlertsConfig, ConfigurationError

DATASTORE = "0" * 31 + "1"
JOB = "a" * 32
FOLDER = f"s3://out/first-import/{DATASTORE}-DicomImport-{JOB}/"


def report(status: str = "COMPLETED", *, failed: int = 2, scanned: int = 5, name: str = "first-import") -> JobReport:
    job = JobStatus(
        job_id=JOB,
        job_status=status,
        datastore_id=DATASTORE,
        job_name=name,
        input_s3_uri="s3://in/first-import/",
        output_s3_uri=FOLDER,
        message="Input bucket is not owned by the account" if status == "FAILED" else None,
        submitted_at="2026-01-31T09:10:00Z",
        ended_at="2026-01-31T09:15:02Z",
    )
    if status == "FAILED":
        return JobReport(job, None, "the job failed before writing any output")
    summary = JobSummary(
        job_id=JOB,
        datastore_id=DATASTORE,
        input_s3_uri="s3://in/first-import/",
        output_s3_uri=FOLDER,
        scanned_files=scanned,
        imported_files=scanned - failed,
        files_with_customer_error=failed,
        files_with_server_error=0,
        generated_image_sets=1,
        image_sets=(),
    )
    failures = tuple(
        FailedFile(f"s3://in/first-import/bad-{i}.dcm", "ValidationException", "Not a DICOM Part 10 file")
        for i in range(failed)
    )
    return JobReport(job, JobOutput(folder_uri=FOLDER, summary=summary, failed=failures))


def test_a_job_that_imported_every_file_needs_no_alert() -> None:
    assert alerts.alert_for(report(failed=0), max_failures_listed=10, detected_by="event") is None


def test_a_partly_failed_alert_reads_well_in_an_email() -> None:
    alert = alerts.alert_for(report(), max_failures_listed=1, detected_by="event")
    assert alert is not None
    assert alert.subject == "HealthImaging import PARTLY FAILED: 2 of 5 files, job first-import"
    assert alert.text == (
        "A HealthImaging import job COMPLETED, but 2 of its 5 files were NOT imported.\n"
        "\n"
        f"Data store:   {DATASTORE}\n"
        f"Job:          {JOB} (first-import)\n"
        "Status:       COMPLETED, submitted 2026-01-31T09:10:00Z, ended 2026-01-31T09:15:02Z\n"
        "Input:        s3://in/first-import/\n"
        "Files:        5 scanned, 3 imported, 2 not imported (2 with customer errors, 0 with server errors); "
        "1 image sets created or updated\n"
        f"Job results:  {FOLDER}\n"
        f"Failure file: {FOLDER}FAILURE/failure.ndjson\n"
        "\n"
        "First failures (1 of 2):\n"
        "  - s3://in/first-import/bad-0.dcm: ValidationException: Not a DICOM Part 10 file\n"
        "\n"
        f"Every result of the job: python -m ahictl jobs {JOB}\n"
    )
    assert alert.document["failuresNotListed"] == 1


def test_a_failed_job_alert_gives_the_jobs_message_and_how_to_retry() -> None:
    alert = alerts.alert_for(report("FAILED"), max_failures_listed=10, detected_by="sweep")
    assert alert is not None
    assert alert.subject == "HealthImaging import FAILED: job first-import"
    assert "Reason:       Input bucket is not owned by the account\n" in alert.text
    assert "Note:         the job failed before writing any output\n" in alert.text
    assert "HealthImaging's event for this job did not arrive or could not be handled" in alert.text
    assert "--retry-failed" in alert.text
    assert (alert.document["counts"], alert.document["failures"], alert.document["detectedBy"]) == (None, [], "sweep")


def test_subjects_stay_within_snss_limit_and_printable_ascii() -> None:
    alert = alerts.alert_for(report(name="Étude/" + "x" * 60), max_failures_listed=0, detected_by="event")
    assert alert is not None
    assert len(alert.subject) <= 100
    assert alert.subject.isascii()
    assert alert.subject.isprintable()
    assert alert.subject.endswith("...")
    assert alert.document["failures"] == []
    assert alert.document["failuresNotListed"] == 2


def test_each_protocol_gets_its_form_and_filters_can_use_the_type() -> None:
    alert = alerts.alert_for(report(), max_failures_listed=10, detected_by="event")
    assert alert is not None
    message = json.loads(alerts.sns_message(alert))
    assert message["default"] == message["email"] == alert.text
    for protocol in ("email-json", "https", "http", "sqs", "lambda", "firehose"):
        assert json.loads(message[protocol]) == alert.document
    assert alerts.sns_attributes(alert)["alertType"] == {
        "DataType": "String",
        "StringValue": "IMPORT_JOB_PARTLY_FAILED",
    }


def test_a_long_reason_is_shortened_in_the_alert() -> None:
    long = report(failed=1)
    assert long.output is not None
    reason = "x" * 2000
    output = JobOutput(long.output.folder_uri, long.output.summary, failed=(FailedFile("s3://in/a.dcm", "", reason),))
    alert = alerts.alert_for(JobReport(long.status, output), max_failures_listed=10, detected_by="event")
    assert alert is not None
    assert len(alert.document["failures"][0]["reason"]) == alerts.REASON_MAX_CHARACTERS


def test_settings_come_from_the_environment_and_bad_ones_are_named() -> None:
    env = {
        "ALERTS_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:t",
        "REPORTED_JOBS_TABLE": "t",
        "DATASTORE_ID": DATASTORE,
    }
    assert AlertsConfig.from_environment(env).sweep_lookback_hours == 24
    with pytest.raises(ConfigurationError, match="SWEEP_LOOKBACK_HOURS = 'soon' is not a whole number"):
        AlertsConfig.from_environment({**env, "SWEEP_LOOKBACK_HOURS": "soon"})
    with pytest.raises(ConfigurationError, match="DATASTORE_ID = 'store' is not a data store ID"):
        AlertsConfig.from_environment({**env, "DATASTORE_ID": "store"})
    with pytest.raises(ConfigurationError, match="lacks ALERTS_TOPIC_ARN"):
        AlertsConfig.from_environment({**env, "ALERTS_TOPIC_ARN": ""})
