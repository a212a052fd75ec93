"""What an alert says, built from one ended job's report (pure: no AWS calls).

Two kinds: ``IMPORT_JOB_FAILED`` (the job ended FAILED) and ``IMPORT_JOB_PARTLY_FAILED`` (the job ended COMPLETED but
its manifest counts files that were not imported). A COMPLETED job whose every file was imported gets no alert.

Each alert has a subject (SNS allows 100 characters), a plain-text body for e-mail, and a JSON document for machines
(HTTPS endpoints, queues, functions); :func:`sns_message` puts both in one SNS message, one form per protocol.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ahiops.job_history import JobReport
from ahiops.manifest import JobOutput

FAILED = "IMPORT_JOB_FAILED"
PARTLY_FAILED = "IMPORT_JOB_PARTLY_FAILED"
#: SNS's limits on a subject.
SUBJECT_MAX_CHARACTERS = 100
#: A failure reason longer than this is shortened in the alert (the failure file holds it whole).
REASON_MAX_CHARACTERS = 500
#: Version of the JSON document's layout.
DOCUMENT_VERSION = 1


@dataclass(frozen=True)
class Alert:
    kind: str
    job_id: str
    datastore_id: str
    subject: str
    text: str
    document: dict[str, Any]


def failed_file_count(output: JobOutput) -> int:
    """Files the job did not import: the manifest's error counts, or the failure lines when those say more."""
    summary = output.summary
    counted = summary.files_with_customer_error + summary.files_with_server_error
    return max(counted, len(output.failed), summary.scanned_files - summary.imported_files)


def alert_for(report: JobReport, *, max_failures_listed: int, detected_by: str) -> Alert | None:
    """The alert for an ended job, or None when it needs none (COMPLETED with every file imported).

    ``detected_by`` says what found the job: ``event`` (HealthImaging's event) or ``sweep`` (the scheduled check,
    which means the event was lost or could not be handled).
    """
    status, output = report.status, report.output
    if status.job_status == "FAILED":
        kind = FAILED
    elif status.job_status == "COMPLETED" and output is not None and failed_file_count(output) > 0:
        kind = PARTLY_FAILED
    else:
        return None

    listed = list(output.failed[:max_failures_listed]) if output else []
    failures = [{"file": f.input_file, "reason": _shorten(f.reason)} for f in listed]
    counts = None
    if output is not None:
        summary = output.summary
        counts = {
            "scanned": summary.scanned_files,
            "imported": summary.imported_files,
            "failed": failed_file_count(output),
            "customerErrors": summary.files_with_customer_error,
            "serverErrors": summary.files_with_server_error,
            "imageSetsCreated": summary.generated_image_sets,
        }
    failure_file = f"{output.folder_uri}FAILURE/failure.ndjson" if output is not None and output.failed else None
    document: dict[str, Any] = {
        "version": DOCUMENT_VERSION,
        "alertType": kind,
        "datastoreId": status.datastore_id,
        "jobId": status.job_id,
        "jobName": status.job_name,
        "jobStatus": status.job_status,
        "submittedAt": status.submitted_at,
        "endedAt": status.ended_at,
        "message": status.message,
        "inputS3Uri": status.input_s3_uri,
        "outputFolder": output.folder_uri if output is not None else None,
        "failureFile": failure_file,
        "counts": counts,
        "failures": failures,
        "failuresNotListed": (counts["failed"] - len(failures)) if counts else 0,
        "outputNote": report.output_note,
        "detectedBy": detected_by,
    }
    return Alert(
        kind=kind,
        job_id=status.job_id,
        datastore_id=status.datastore_id,
        subject=_subject(kind, status.job_name or status.job_id, counts),
        text=_text(document),
        document=document,
    )


def sns_message(alert: Alert) -> str:
    """The SNS message (``MessageStructure=json``): the text for e-mail (and as the default), the JSON document for
    every machine protocol."""
    document = json.dumps(alert.document, sort_keys=True)
    return json.dumps(
        {
            "default": alert.text,
            "email": alert.text,
            "email-json": document,
            "https": document,
            "http": document,
            "sqs": document,
            "lambda": document,
            "firehose": document,
        }
    )


def sns_attributes(alert: Alert) -> dict[str, dict[str, str]]:
    """Message attributes, for subscription filter policies (for example only ``IMPORT_JOB_FAILED``)."""
    return {
        "alertType": {"DataType": "String", "StringValue": alert.kind},
        "datastoreId": {"DataType": "String", "StringValue": alert.datastore_id},
        "jobId": {"DataType": "String", "StringValue": alert.job_id},
    }


def _shorten(text: str) -> str:
    return text if len(text) <= REASON_MAX_CHARACTERS else text[: REASON_MAX_CHARACTERS - 1] + "…"


def _subject(kind: str, job: str, counts: dict[str, int] | None) -> str:
    if kind == FAILED:
        subject = f"HealthImaging import FAILED: job {job}"
    else:
        assert counts is not None
        subject = f"HealthImaging import PARTLY FAILED: {counts['failed']} of {counts['scanned']} files, job {job}"
    # SNS subjects: printable ASCII, no line breaks, at most 100 characters.
    printable = "".join(c if " " <= c <= "~" else "?" for c in subject)
    return printable if len(printable) <= SUBJECT_MAX_CHARACTERS else printable[: SUBJECT_MAX_CHARACTERS - 3] + "..."


def _text(d: dict[str, Any]) -> str:
    counts = d["counts"]
    if d["alertType"] == FAILED:
        headline = "A HealthImaging import job FAILED: nothing more will be imported by it."
    else:
        headline = (
            f"A HealthImaging import job COMPLETED, but {counts['failed']} of its {counts['scanned']} files were "
            "NOT imported."
        )
    lines = [
        headline,
        "",
        f"Data store:   {d['datastoreId']}",
        f"Job:          {d['jobId']} ({d['jobName'] or 'no name'})",
        f"Status:       {d['jobStatus']}, submitted {d['submittedAt'] or '?'}, ended {d['endedAt'] or '?'}",
        f"Input:        {d['inputS3Uri'] or '?'}",
    ]
    if d["message"]:
        lines.append(f"Reason:       {d['message']}")
    if counts:
        lines.append(
            f"Files:        {counts['scanned']} scanned, {counts['imported']} imported, {counts['failed']} not imported "
            f"({counts['customerErrors']} with customer errors, {counts['serverErrors']} with server errors); "
            f"{counts['imageSetsCreated']} image sets created or updated"
        )
    if d["outputFolder"]:
        lines.append(f"Job results:  {d['outputFolder']}")
    if d["failureFile"]:
        lines.append(f"Failure file: {d['failureFile']}")
    if d["outputNote"]:
        lines.append(f"Note:         {d['outputNote']}")
    if d["failures"]:
        shown = len(d["failures"])
        total = shown + d["failuresNotListed"]
        lines += ["", f"First failures ({shown} of {total}):"]
        lines += [f"  - {f['file']}: {f['reason']}" for f in d["failures"]]
    if d["detectedBy"] == "sweep":
        lines += [
            "",
            "Found by the scheduled check of recent jobs: HealthImaging's event for this job did not arrive or "
            "could not be handled.",
        ]
    lines += ["", f"Every result of the job: python -m ahictl jobs {d['jobId']}"]
    if d["alertType"] == FAILED:
        lines.append(
            "A job started by `python -m ahictl import` gets a new attempt from the same command with --retry-failed."
        )
    return "\n".join(lines) + "\n"
