"""The data store's import jobs as HealthImaging records them (by anyone, not only this tool), and one job's results.

:func:`list_import_jobs` pages through ListDICOMImportJobs (at most 50 a page); :func:`job_report` reads one job
with GetDICOMImportJob and, once it has ended, its manifest and per-file results from the output bucket
(:mod:`ahiops.manifest`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import botocore.exceptions

from .errors import OpsError, UsageError
from .jobs import JobStatus, job_status_from_properties
from .limits import LIST_JOBS_MAX_RESULTS
from .manifest import JobOutput, find_job_folder, read_job_output
from .session import error_code, translate_client_errors

#: GetDICOMImportJob's jobId (botocore's model: 1-32 of [0-9a-z]).
_JOB_ID = re.compile(r"[0-9a-z]{1,32}")
JOB_STATUSES = ("SUBMITTED", "IN_PROGRESS", "COMPLETED", "FAILED")


@dataclass(frozen=True)
class JobReport:
    """One job: its status, and once it has ended, what it wrote (or why that could not be read)."""

    status: JobStatus
    output: JobOutput | None
    #: Why ``output`` is None: still running, no manifest (a FAILED job may write none), or the read failed.
    output_note: str | None = None
    #: True when reading the output failed with an error (not merely absent).
    output_error: bool = False


def _with_iso_times(properties: Mapping[str, Any]) -> dict[str, Any]:
    """The job's times as ISO 8601 UTC to the second (``2026-01-31T09:15:02Z``), whatever form boto3 gave."""
    result = dict(properties)
    for key in ("submittedAt", "endedAt"):
        value = result.get(key)
        if isinstance(value, datetime):
            moment = value if value.tzinfo else value.replace(tzinfo=UTC)
            result[key] = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return result


def _sort_key(summary: Mapping[str, Any]) -> float:
    submitted = summary.get("submittedAt")
    return submitted.timestamp() if isinstance(submitted, datetime) else 0.0


def list_import_jobs(
    client: Any, datastore_id: str, *, status: str | None = None, limit: int | None = None
) -> list[JobStatus]:
    """The data store's import jobs, most recently submitted first (``limit``: only that many; None: all)."""
    if status is not None and status not in JOB_STATUSES:
        raise UsageError(f"--status {status}: not a job status; choose one of {', '.join(JOB_STATUSES)}.")
    params: dict[str, Any] = {"datastoreId": datastore_id}
    if status:
        params["jobStatus"] = status
    summaries: list[dict[str, Any]] = []
    with translate_client_errors(f"ListDICOMImportJobs for data store {datastore_id}"):
        paginator = client.get_paginator("list_dicom_import_jobs")
        for page in paginator.paginate(**params, PaginationConfig={"PageSize": LIST_JOBS_MAX_RESULTS}):
            summaries.extend(page.get("jobSummaries", []))
    summaries.sort(key=_sort_key, reverse=True)
    if limit is not None:
        summaries = summaries[:limit]
    return [job_status_from_properties(_with_iso_times(summary)) for summary in summaries]


def job_report(
    client: Any,
    s3: Any,
    datastore_id: str,
    job_id: str,
    *,
    manifest_attempts: int = 3,
    sleep: Callable[[float], None] | None = None,
    expected_bucket_owner: str,
) -> JobReport:
    """One job's status and, when it has ended, its manifest summary and per-file results (read from S3 with
    ``expected_bucket_owner``, the stack's account, on every request)."""
    if not _JOB_ID.fullmatch(job_id):
        raise UsageError(
            f"JOB_ID {job_id!r}: an import job id is 1-32 characters of 0-9 and a-z; "
            "list the data store's jobs with `python -m ahictl jobs` to find it."
        )
    with translate_client_errors(f"GetDICOMImportJob {job_id}"):
        try:
            properties = client.get_dicom_import_job(datastoreId=datastore_id, jobId=job_id)["jobProperties"]
        except botocore.exceptions.ClientError as error:
            if error_code(error) == "ResourceNotFoundException":
                raise UsageError(
                    f"there is no import job {job_id} in data store {datastore_id} (HealthImaging lists jobs for "
                    "90 days); list them with `python -m ahictl jobs`."
                ) from None
            raise
    status = job_status_from_properties(_with_iso_times(properties))
    if not status.finished:
        return JobReport(status, None, f"the job is {status.job_status}; its results appear when it ends")
    if not status.output_s3_uri:
        return JobReport(status, None, "HealthImaging gave no output location for the job")
    try:
        owner = expected_bucket_owner
        if (
            status.job_status == "FAILED"
            and find_job_folder(s3, status.output_s3_uri, datastore_id, job_id, expected_bucket_owner=owner) is None
        ):
            return JobReport(status, None, "the job failed before writing any output")
        output = read_job_output(
            s3,
            status.output_s3_uri,
            datastore_id,
            job_id,
            attempts=manifest_attempts,
            sleep=sleep,
            expected_bucket_owner=owner,
        )
    except OpsError as error:
        return JobReport(status, None, str(error), output_error=True)
    return JobReport(status, output)


def job_status_to_json(status: JobStatus) -> dict[str, Any]:
    return {
        "jobId": status.job_id,
        "jobName": status.job_name,
        "jobStatus": status.job_status,
        "datastoreId": status.datastore_id,
        "submittedAt": status.submitted_at,
        "endedAt": status.ended_at,
        "inputS3Uri": status.input_s3_uri,
        "outputS3Uri": status.output_s3_uri,
        "message": status.message,
    }


def job_report_to_json(report: JobReport) -> dict[str, Any]:
    """The report as JSON: ``job``, ``summary`` (null until the manifest is read), ``imageSets``, ``failed``
    (each ``file`` and ``reason``), ``warnings``, ``note``."""
    output = report.output
    summary = output.summary if output else None
    return {
        "job": job_status_to_json(report.status),
        "outputFolder": output.folder_uri if output else None,
        "summary": None
        if summary is None
        else {
            "scanned": summary.scanned_files,
            "imported": summary.imported_files,
            "customerErrors": summary.files_with_customer_error,
            "serverErrors": summary.files_with_server_error,
            "imageSetsCreated": summary.generated_image_sets,
        },
        "imageSets": []
        if summary is None
        else [
            {"imageSetId": s.image_set_id, "imageSetVersion": s.image_set_version, "isPrimary": s.is_primary}
            for s in summary.image_sets
        ],
        "failed": [] if output is None else [{"file": f.input_file, "reason": f.reason} for f in output.failed],
        "warnings": []
        if output is None
        else [{"file": w.input_file, "warnings": list(w.warnings)} for w in output.warnings],
        "note": report.output_note,
    }
