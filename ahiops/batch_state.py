"""What the automatic importer remembers about one batch: ``incoming/<batch>/_JOBS.json``, pure (JSON in and out).

The record holds the batch's plan (:class:`ahiops.batches.BatchPlan`: every job with its files, prefixes and client
token) and each job's progress (attempt, job id, last status), so that a retried or redelivered message continues
where the last one stopped: it never plans, copies or starts twice, and the job ids are there for anyone to read.
Its ``state`` says how far the batch got:

- ``PLANNED``: jobs planned, not all started (for the ``copies`` strategy, ``copiesDone`` says whether the files are
  in place);
- ``STARTED``: every job started, waiting for them to end;
- ``FINISHING``: every job ended; one invocation claimed the batch (``claimedAt``) to write ``_RESULT.json`` and
  send the alert, so that a duplicate message does neither twice;
- ``DONE``: the result is written (``resultStatus``, ``finishedAt``).

When the batch's content changes and its marker is written again, the new plan replaces the old one, whose digest and
job ids move to ``earlier``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Final

from . import planning
from .batches import BatchFile, BatchJob, BatchPlan, LeftOut
from .errors import OpsError

RECORD_FORMAT: Final = "healthimaging-auto-import-jobs/1"
STATE_PLANNED: Final = "PLANNED"
STATE_STARTED: Final = "STARTED"
STATE_FINISHING: Final = "FINISHING"
STATE_DONE: Final = "DONE"
STATES: Final = (STATE_PLANNED, STATE_STARTED, STATE_FINISHING, STATE_DONE)
#: Job statuses after which a job does no more.
FINAL_JOB_STATUSES: Final = frozenset({"COMPLETED", "FAILED"})
#: Marker writes a record remembers.
MAX_MARKERS_REMEMBERED: Final = 20


class RecordFormatError(OpsError):
    """A ``_JOBS.json`` that is not in the form this module writes (edited by hand, or another tool's file)."""


@dataclass
class JobProgress:
    """How far one job of the plan got."""

    number: int
    #: 1 for the first start; each restart of a FAILED job adds one (and gets the next client token).
    attempt: int = 1
    job_id: str | None = None
    #: The last status seen: SUBMITTED, IN_PROGRESS, COMPLETED or FAILED (None before the start).
    status: str | None = None
    message: str | None = None

    @property
    def finished(self) -> bool:
        return self.status in FINAL_JOB_STATUSES


@dataclass
class BatchRecord:
    plan: BatchPlan
    planned_at: str
    progress: dict[int, JobProgress]
    state: str = STATE_PLANNED
    copies_done: bool = False
    claimed_at: str | None = None
    finished_at: str | None = None
    result_status: str | None = None
    #: Earlier plans of the same batch (its content changed): digest, job ids and how each ended.
    earlier: list[dict[str, Any]] = field(default_factory=list)
    #: The writes of the batch's marker seen so far (S3's version id, else the event's sequencer): a repeated event
    #: names one of them, a new write of the marker does not.
    markers: list[str] = field(default_factory=list)

    def saw_marker(self, marker_id: str | None) -> bool:
        """Remember a write of the marker; True when it is a new one (not seen before)."""
        if marker_id is None or marker_id in self.markers:
            return False
        self.markers = [*self.markers, marker_id][-MAX_MARKERS_REMEMBERED:]
        return True

    @classmethod
    def new(cls, plan: BatchPlan, *, planned_at: str) -> BatchRecord:
        return cls(
            plan=plan,
            planned_at=planned_at,
            progress={job.number: JobProgress(job.number) for job in plan.jobs},
            copies_done=not any(job.copied for job in plan.jobs),
        )

    def client_token(self, job: BatchJob) -> str:
        """The client token of the job's current attempt."""
        attempt = self.progress[job.number].attempt
        return job.client_token if attempt == 1 else planning.retry_token(job.client_token, attempt)

    def unstarted(self) -> list[BatchJob]:
        return [job for job in self.plan.jobs if self.progress[job.number].job_id is None]

    def unfinished(self) -> list[BatchJob]:
        """Jobs started but not known to have ended."""
        return [
            job
            for job in self.plan.jobs
            if self.progress[job.number].job_id is not None and not self.progress[job.number].finished
        ]

    @property
    def all_finished(self) -> bool:
        return all(self.progress[job.number].finished for job in self.plan.jobs)

    def failed_jobs(self) -> list[BatchJob]:
        return [job for job in self.plan.jobs if self.progress[job.number].status == "FAILED"]

    def restart_failed(self) -> int:
        """Give every FAILED job a new attempt (the next client token) and reopen the batch; returns how many."""
        failed = self.failed_jobs()
        for job in failed:
            previous = self.progress[job.number]
            self.progress[job.number] = JobProgress(job.number, attempt=previous.attempt + 1)
        if failed:
            self.state = STATE_PLANNED
            self.claimed_at = self.finished_at = self.result_status = None
        return len(failed)

    def replaced_by(self, plan: BatchPlan, *, planned_at: str) -> BatchRecord:
        """A record for a new plan of the same batch, remembering this one under ``earlier``."""
        summary = {
            "digest": self.plan.digest,
            "plannedAt": self.planned_at,
            "jobIds": [self.progress[job.number].job_id for job in self.plan.jobs if self.progress[job.number].job_id],
            "resultStatus": self.result_status,
        }
        record = BatchRecord.new(plan, planned_at=planned_at)
        record.earlier = [*self.earlier, summary][-20:]
        return record


# ---------------------------------------------------------------- JSON


def record_to_json(record: BatchRecord) -> bytes:
    plan = record.plan
    document = {
        "format": RECORD_FORMAT,
        "bucket": plan.bucket,
        "batch": plan.batch_prefix,
        "digest": plan.digest,
        "strategy": plan.strategy,
        "state": record.state,
        "plannedAt": record.planned_at,
        "copiesDone": record.copies_done,
        "claimedAt": record.claimed_at,
        "finishedAt": record.finished_at,
        "resultStatus": record.result_status,
        "jobs": [
            {
                "number": job.number,
                "jobName": job.job_name,
                "inputPrefix": job.input_prefix,
                "outputPrefix": job.output_prefix,
                "firstClientToken": job.client_token,
                "copied": job.copied,
                "attempt": record.progress[job.number].attempt,
                "jobId": record.progress[job.number].job_id,
                "jobStatus": record.progress[job.number].status,
                "message": record.progress[job.number].message,
                "files": [
                    {"key": item.key, "relativePath": item.relative_path, "size": item.size, "etag": item.etag}
                    for item in job.files
                ],
            }
            for job in plan.jobs
        ],
        "leftOut": [{"key": item.key, "reason": item.reason, "marker": item.marker} for item in plan.left_out],
        "earlier": record.earlier,
        "markers": record.markers,
    }
    return json.dumps(document, indent=1, sort_keys=False).encode()


def record_from_json(data: bytes, *, source: str = "_JOBS.json") -> BatchRecord:
    """Parse a record written by :func:`record_to_json`; raises :class:`RecordFormatError` naming ``source``."""
    try:
        document = json.loads(data)
        if not isinstance(document, dict) or document.get("format") != RECORD_FORMAT:
            raise RecordFormatError(f"{source}: not a record of the automatic importer ({RECORD_FORMAT}).")
        jobs: list[BatchJob] = []
        progress: dict[int, JobProgress] = {}
        for entry in document["jobs"]:
            number = int(entry["number"])
            files = tuple(
                BatchFile(str(item["key"]), str(item["relativePath"]), int(item["size"]), str(item["etag"]))
                for item in entry["files"]
            )
            jobs.append(
                BatchJob(
                    number=number,
                    input_prefix=str(entry["inputPrefix"]),
                    output_prefix=str(entry["outputPrefix"]),
                    job_name=str(entry["jobName"]),
                    client_token=str(entry["firstClientToken"]),
                    files=files,
                    copied=bool(entry["copied"]),
                )
            )
            progress[number] = JobProgress(
                number=number,
                attempt=int(entry["attempt"]),
                job_id=_optional(entry.get("jobId")),
                status=_optional(entry.get("jobStatus")),
                message=_optional(entry.get("message")),
            )
        plan = BatchPlan(
            bucket=str(document["bucket"]),
            batch_prefix=str(document["batch"]),
            digest=str(document["digest"]),
            strategy=str(document["strategy"]),
            jobs=tuple(jobs),
            left_out=tuple(
                LeftOut(str(item["key"]), str(item["reason"]), bool(item.get("marker", False)))
                for item in document["leftOut"]
            ),
        )
        state = str(document["state"])
        if state not in STATES:
            raise RecordFormatError(f"{source}: unknown state {state!r}.")
        return BatchRecord(
            plan=plan,
            planned_at=str(document["plannedAt"]),
            progress=progress,
            state=state,
            copies_done=bool(document["copiesDone"]),
            claimed_at=_optional(document.get("claimedAt")),
            finished_at=_optional(document.get("finishedAt")),
            result_status=_optional(document.get("resultStatus")),
            earlier=list(document.get("earlier") or []),
            markers=[str(item) for item in document.get("markers") or []],
        )
    except RecordFormatError:
        raise
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as error:
        raise RecordFormatError(f"{source}: not a readable record of the automatic importer ({error!r}).") from None


def _optional(value: Any) -> str | None:
    return None if value is None else str(value)
