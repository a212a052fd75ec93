"""What became of a batch: each job's files (from the job's output, read by :mod:`ahiops.manifest`), the batch's
``_RESULT.json`` and the alert text. Pure.

A COMPLETED job does not mean every file was imported: each planned file counts as imported only when the job's
``SUCCESS`` results list it (or, when the results name files in a form not recognised here, when the manifest's counts
say every file was imported); every other file is a failure with the job's reason for it. A FAILED job fails all of
its files with the job's message.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from .batches import BatchFile, BatchJob, BatchPlan
from .manifest import JobOutput, input_file_resolver

RESULT_FORMAT: Final = "healthimaging-auto-import-result/1"
#: Every file imported, nothing left out.
STATUS_IMPORTED: Final = "IMPORTED"
#: Some files imported, some failed or were left out.
STATUS_PARTIAL: Final = "PARTIAL"
#: Files to import, none imported.
STATUS_FAILED: Final = "FAILED"
#: No DICOM Part 10 file in the batch (a marker without files, or only other objects).
STATUS_NOTHING_TO_IMPORT: Final = "NOTHING_TO_IMPORT"
#: The batch was not looked at file by file (too many objects, for example).
STATUS_REFUSED: Final = "REFUSED"
#: Statuses that are reported as an alert.
ALERT_STATUSES: Final = frozenset({STATUS_PARTIAL, STATUS_FAILED, STATUS_NOTHING_TO_IMPORT, STATUS_REFUSED})
#: SNS takes subjects of at most 100 characters.
MAX_SUBJECT_LENGTH: Final = 100


@dataclass(frozen=True)
class FileFailure:
    key: str
    reason: str
    job_id: str | None


@dataclass(frozen=True)
class JobOutcome:
    """How one job of a batch ended."""

    job: BatchJob
    job_id: str
    status: str
    message: str | None
    input_s3_uri: str
    output_s3_uri: str
    #: The job's folder in the output bucket (None when the job wrote none: a FAILED job may not).
    output_folder_uri: str | None
    imported_keys: tuple[str, ...]
    failures: tuple[FileFailure, ...]
    image_set_ids: tuple[str, ...]


def job_outcome(
    job: BatchJob,
    *,
    input_bucket: str,
    output_bucket: str,
    job_id: str,
    status: str,
    message: str | None,
    output: JobOutput | None,
) -> JobOutcome:
    """Each planned file of ``job`` imported or failed, with the reason (see the module docstring)."""
    resolve = _resolver(input_bucket, job)
    imported: set[str] = set()
    failed: dict[str, FileFailure] = {}
    image_sets: list[str] = []
    if output is not None:
        for success in output.imported:
            found = resolve(success.input_file)
            if found is not None:
                imported.add(found.key)
        for failure in output.failed:
            found = resolve(failure.input_file)
            key = found.key if found is not None else failure.input_file
            failed[key] = FileFailure(key, failure.reason, job_id)
        summary = output.summary
        if (
            not imported
            and not output.failed
            and status == "COMPLETED"
            and summary.imported_files == len(job.files)
            and summary.files_with_customer_error == 0
            and summary.files_with_server_error == 0
        ):
            # The results name the files in a form not matched here; the manifest's counts still say all.
            imported = {item.key for item in job.files}
        image_sets = sorted({item.image_set_id for item in summary.image_sets if item.image_set_id})
    if status == "FAILED":
        reason = f"import job {job_id} FAILED: {message or 'no message given'}"
    else:
        reason = f"import job {job_id} is {status} but its results do not list this file"
    imported -= set(failed)
    for item in job.files:
        if item.key not in imported and item.key not in failed:
            failed[item.key] = FileFailure(item.key, reason, job_id)
    return JobOutcome(
        job=job,
        job_id=job_id,
        status=status,
        message=message,
        input_s3_uri=f"s3://{input_bucket}/{job.input_prefix}",
        output_s3_uri=f"s3://{output_bucket}/{job.output_prefix}",
        output_folder_uri=output.folder_uri if output is not None else None,
        imported_keys=tuple(sorted(imported)),
        failures=tuple(sorted(failed.values(), key=lambda failure: failure.key)),
        image_set_ids=tuple(image_sets),
    )


def _resolver(bucket: str, job: BatchJob) -> Callable[[str], BatchFile | None]:
    """The batch file an ``inputFile`` of the job's results names (:func:`ahiops.manifest.input_file_resolver`)."""
    return input_file_resolver(bucket, job.input_prefix, {job.input_key(item): item for item in job.files})


def batch_status(plan: BatchPlan, outcomes: Sequence[JobOutcome]) -> str:
    if not plan.jobs:
        return STATUS_NOTHING_TO_IMPORT
    imported = sum(len(outcome.imported_keys) for outcome in outcomes)
    if imported == 0:
        return STATUS_FAILED
    if imported == plan.file_count and not plan.left_out_files:
        return STATUS_IMPORTED
    return STATUS_PARTIAL


def result_document(plan: BatchPlan, outcomes: Sequence[JobOutcome], *, finished_at: str) -> dict[str, Any]:
    """The batch's ``_RESULT.json``: its status, counts, jobs, image sets, failed files and left-out objects."""
    status = batch_status(plan, outcomes)
    imported = sum(len(outcome.imported_keys) for outcome in outcomes)
    failures = [failure for outcome in outcomes for failure in outcome.failures]
    image_sets = sorted({image_set for outcome in outcomes for image_set in outcome.image_set_ids})
    left_out_files = plan.left_out_files
    return {
        "format": RESULT_FORMAT,
        "status": status,
        "batch": f"s3://{plan.bucket}/{plan.batch_prefix}",
        "digest": plan.digest,
        "strategy": plan.strategy,
        "finishedAt": finished_at,
        "message": _summary_sentence(status, plan, imported, len(failures), len(left_out_files), len(image_sets)),
        "counts": {
            "objects": plan.file_count + len(plan.left_out),
            "toImport": plan.file_count,
            "imported": imported,
            "failed": len(failures),
            "leftOut": len(left_out_files),
            "jobs": len(plan.jobs),
            "imageSets": len(image_sets),
        },
        "jobs": [
            {
                "number": outcome.job.number,
                "jobName": outcome.job.job_name,
                "jobId": outcome.job_id,
                "status": outcome.status,
                "message": outcome.message,
                "inputS3Uri": outcome.input_s3_uri,
                "outputS3Uri": outcome.output_s3_uri,
                "outputFolder": outcome.output_folder_uri,
                "files": len(outcome.job.files),
                "imported": len(outcome.imported_keys),
                "failed": len(outcome.failures),
            }
            for outcome in outcomes
        ],
        "imageSetIds": image_sets,
        "failed": [{"key": f.key, "reason": f.reason, "jobId": f.job_id} for f in failures],
        "leftOut": [{"key": item.key, "reason": item.reason} for item in plan.left_out],
    }


def refused_document(bucket: str, batch_prefix: str, reason: str, *, finished_at: str) -> dict[str, Any]:
    """The ``_RESULT.json`` of a batch that was not looked at file by file."""
    return {
        "format": RESULT_FORMAT,
        "status": STATUS_REFUSED,
        "batch": f"s3://{bucket}/{batch_prefix}",
        "finishedAt": finished_at,
        "message": reason,
        "counts": {"toImport": 0, "imported": 0, "failed": 0, "jobs": 0, "imageSets": 0},
        "jobs": [],
        "imageSetIds": [],
        "failed": [],
        "leftOut": [],
    }


def _summary_sentence(status: str, plan: BatchPlan, imported: int, failed: int, left_out: int, image_sets: int) -> str:
    if status == STATUS_NOTHING_TO_IMPORT:
        return (
            f"Nothing to import: the batch holds no DICOM Part 10 file ({left_out} other object(s) left out, see "
            "leftOut). Upload the files, then write the marker again."
        )
    jobs = f"{len(plan.jobs)} import job(s)"
    text = f"{imported} of {plan.file_count} file(s) imported by {jobs} into {image_sets} image set(s)"
    if failed:
        text += f"; {failed} failed (see failed)"
    if left_out:
        text += f"; {left_out} object(s) left out before the import (see leftOut)"
    return text + "."


def alert_subject(document: dict[str, Any]) -> str:
    """A one-line SNS subject (ASCII, at most 100 characters)."""
    batch = str(document["batch"])
    subject = f"HealthImaging auto-import {document['status']}: {batch}"
    subject = subject.encode("ascii", "replace").decode("ascii").replace("\n", " ")
    return subject if len(subject) <= MAX_SUBJECT_LENGTH else subject[: MAX_SUBJECT_LENGTH - 3] + "..."


def alert_message(document: dict[str, Any], *, result_uri: str, max_listed: int = 10) -> str:
    """The alert's text: what happened to the batch, the first failures and left-out objects with their reasons, and
    where the full result is."""
    lines = [
        f"Batch {document['batch']}: {document['status']}.",
        str(document["message"]),
        f"Full result: {result_uri}",
    ]
    for title, entries in (("Failed files", document.get("failed", [])), ("Left out", document.get("leftOut", []))):
        if entries:
            lines.append(f"{title} ({len(entries)}):")
            lines += [f"  - {entry['key']}: {entry['reason']}" for entry in entries[:max_listed]]
            if len(entries) > max_listed:
                lines.append(f"  ... and {len(entries) - max_listed} more in the result file")
    for job in document.get("jobs", []):
        if job.get("status") == "FAILED":
            lines.append(f"Import job {job['jobId']} FAILED: {job.get('message') or 'no message given'}")
    return "\n".join(lines)
