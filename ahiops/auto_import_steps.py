"""Import the batches uploaders write into the input bucket: the automatic importer's steps, with boto3 clients (what
the auto-import Lambda function runs; ``ahictl import`` of a local folder is :mod:`ahiops.folder_import`).

:class:`BatchImporter` takes one batch as far as it can go now and returns a :class:`Step`: done (imported, reported,
or nothing to do), or what it waits for before the same batch should be looked at again (a free place in the data
store's job quota, the end of throttling, the jobs to end, a quiet period). It never sleeps through such a wait: the
caller (the automatic importer's function) puts the batch back on its queue with a delay.

One batch, from its marker to its result (the rules are :mod:`ahiops.batches`; the record :mod:`ahiops.batch_state`):

1. list ``incoming/<batch>/`` once; the digest of that listing names the plan. When ``_JOBS.json`` already holds a plan
   with that digest, it is used as it is (a retry never reads or plans again); otherwise every candidate gets a ranged
   read of its first 132 bytes (the DICOM Part 10 check), the jobs are planned and ``_JOBS.json`` is written;
2. for the ``copies`` strategy, copy each job's files server-side into its prefix (files already there are skipped);
3. start each job with its client token (:func:`ahiops.jobs.start_job`, paced; a start that returns an existing job
   returns that job), no more than the data store's free places in its concurrent-job quota
   (:class:`JobSlots`), recording each job id in ``_JOBS.json`` as soon as it is known;
4. later, poll the jobs (GetDICOMImportJob) until every one is COMPLETED or FAILED;
5. read each job's output (:mod:`ahiops.manifest`), write ``_RESULT.json`` beside the batch (:mod:`ahiops.batch_results`)
   and, when anything was not imported, publish an alert to SNS. One invocation claims this step in ``_JOBS.json``
   (a conditional write), so a duplicate message neither writes nor alerts twice.

``_JOBS.json`` is only ever replaced by a conditional write (``If-Match`` its ETag, or ``If-None-Match: *``), so two
invocations working on the same batch never overwrite each other's progress: the one that loses reloads and goes on
from what the other did. Writing the marker again after a batch ended with FAILED jobs starts new attempts of those
jobs (the next client token of each); a repeated event of the same marker write changes nothing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import random
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Final

import botocore.exceptions

from . import batch_results, batch_state, batches, dicom, manifest
from .batch_state import BatchRecord
from .batches import BatchJob, BatchObject, BatchPlan, BatchRules
from .errors import OpsError
from .jobs import StartRefusedError, StartRequest, get_job, start_job, validate_start_request
from .pacing import Clock, SystemClock, TokenBucket
from .session import error_code, translate_client_errors

#: Stages of a batch, as the caller passes them back to :meth:`BatchImporter.resume`.
STAGE_READY: Final = "ready"
STAGE_STARTED: Final = "started"
STAGE_QUIET: Final = "quiet"
#: What a batch that is not done waits for.
WAIT_QUOTA: Final = "quota"
WAIT_THROTTLED: Final = "throttled"
WAIT_JOBS: Final = "jobs"
WAIT_QUIET: Final = "quiet"
WAIT_BUSY: Final = "busy"
#: Objects up to this size are copied with one CopyObject; larger ones with a multipart copy.
MAX_SINGLE_COPY_BYTES: Final = 5 * 1024**3
#: Conditional writes of ``_JOBS.json`` that lose to another invocation before this one gives up for now.
MAX_RECORD_CONFLICTS: Final = 3
_PRECONDITION_CODES: Final = frozenset({"PreconditionFailed", "412", "ConditionalRequestConflict", "409"})
_MISSING_CODES: Final = frozenset({"NoSuchKey", "404", "NotFound"})


class BatchChangedError(OpsError):
    """An object of the batch changed or disappeared while the batch was being read or copied."""


class RecordConflictError(OpsError):
    """Another invocation wrote ``_JOBS.json`` since it was read."""


class OutputNotReadyError(OpsError):
    """A COMPLETED job's output has not appeared in the output bucket yet."""


@dataclass(frozen=True)
class ImportTarget:
    """Where batches are imported from and to."""

    datastore_id: str
    import_role_arn: str
    input_bucket: str
    output_bucket: str
    #: The account that owns the buckets (``inputOwnerAccountId``, and S3's ``ExpectedBucketOwner``).
    account_id: str


@dataclass(frozen=True)
class ImporterOptions:
    rules: BatchRules = field(default_factory=BatchRules)
    #: Import jobs of the data store that may run at once (its quota, or less to leave room for other importers).
    max_concurrent_jobs: int = 100
    #: Seconds without a new object after which a batch without a marker starts (0: only markers start batches).
    quiet_period_seconds: float = 0.0
    alert_topic_arn: str | None = None
    #: How long one start may be retried (throttling) before the batch is put back to wait.
    max_start_wait_seconds: float = 10.0
    read_workers: int = 16
    copy_workers: int = 16
    manifest_attempts: int = 3
    manifest_delay_seconds: float = 2.0
    #: After this long, a claim to finish a batch that was never completed (its invocation died) may be taken over.
    claim_timeout_seconds: float = 1800.0
    max_failures_listed: int = 10


@dataclass
class Services:
    s3: Any
    #: HealthImaging for reading jobs (GetDICOMImportJob, ListDICOMImportJobs), with botocore's retries.
    medical_imaging: Any
    sns: Any | None = None
    #: HealthImaging for StartDICOMImportJob only, best without botocore retries of its own (the importer retries
    #: with the same client token, paced, and puts the batch back when starts stay throttled); None: ``medical_imaging``.
    medical_imaging_starts: Any | None = None


@dataclass(frozen=True)
class Step:
    """What became of a batch: done, or what it waits for and where to resume."""

    batch_prefix: str
    done: bool
    outcome: str
    wait: str | None = None
    stage: str | None = None
    digest: str | None = None
    #: Seconds to wait when the step knows (the rest of a quiet period).
    delay_seconds: float | None = None
    result_status: str | None = None
    jobs_started: int = 0

    def to_log(self) -> dict[str, Any]:
        return {key: value for key, value in self.__dict__.items() if value is not None}


class JobSlots:
    """Free places in the data store's concurrent-job quota, shared by the batches of one invocation.

    The data store's running jobs (SUBMITTED or IN_PROGRESS, whoever started them) are counted with
    ListDICOMImportJobs; each start takes a place. When the quota is full, :meth:`take` waits for a place: it counts
    again every ``recheck_seconds`` (spread by a quarter either way, so that copies of the function waiting together
    do not all see the same free place) until ``deadline`` (on ``clock``), so that a batch takes a place within seconds
    of a job ending, while the other batches wait in the queue untouched (no message goes round while the quota is
    full, and the queue hands batches out roughly in the order they came). None: no waiting.
    """

    def __init__(
        self,
        client: Any,
        datastore_id: str,
        quota: int,
        *,
        clock: Clock | None = None,
        deadline: float | None = None,
        recheck_seconds: float = 15.0,
        rng: random.Random | None = None,
    ) -> None:
        self._client = client
        self._datastore_id = datastore_id
        self._quota = quota
        self._clock = clock or SystemClock()
        self._deadline = deadline
        self._recheck_seconds = recheck_seconds
        self._rng = rng or random.Random()  # noqa: S311 - spreads waits, not a secret
        self._available: int | None = None
        self._counted_at = float("-inf")
        #: ListDICOMImportJobs counts made, and seconds spent waiting for a place.
        self.counts = 0
        self.waited_seconds = 0.0

    #: A count older than this is made again before a start.
    MAX_COUNT_AGE_SECONDS = 2.0

    def take(self) -> bool:
        """Take a place for a start now (counting again when the last count is not fresh); False when none is free."""
        if self._available is None or self._clock.monotonic() - self._counted_at > self.MAX_COUNT_AGE_SECONDS:
            self._recount()  # other copies of the function may have started jobs since
        assert self._available is not None
        if self._available <= 0:
            return False
        self._available -= 1
        return True

    def wait(self) -> bool:
        """Wait a while for a place to come free (the next :meth:`take` counts again); False when the deadline does
        not leave time for it."""
        pause = self._recheck_seconds * self._rng.uniform(0.75, 1.25)
        if self._deadline is None or self._clock.monotonic() + pause > self._deadline:
            return False
        self._clock.sleep(pause)
        self.waited_seconds += pause
        self._counted_at = float("-inf")
        return True

    def note_full(self) -> None:
        """HealthImaging refused a start for the quota (another importer took the place): count again before the
        next start."""
        self._available = 0

    def _recount(self) -> None:
        self._available = self._quota - self._count_running()
        self._counted_at = self._clock.monotonic()

    def _count_running(self) -> int:
        count = 0
        with translate_client_errors(f"ListDICOMImportJobs {self._datastore_id}"):
            for status in ("SUBMITTED", "IN_PROGRESS"):
                token: str | None = None
                while True:
                    params: dict[str, Any] = {"datastoreId": self._datastore_id, "jobStatus": status, "maxResults": 50}
                    if token:
                        params["nextToken"] = token
                    page = self._client.list_dicom_import_jobs(**params)
                    self.counts += 1
                    count += len(page.get("jobSummaries", []))
                    token = page.get("nextToken")
                    if not token:
                        break
        return count


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(text: str) -> dt.datetime:
    """An ISO 8601 time (``Z`` or an offset) as an aware datetime."""
    moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


class BatchImporter:
    """The automatic importer's steps for one batch at a time (see the module docstring)."""

    def __init__(
        self,
        services: Services,
        target: ImportTarget,
        options: ImporterOptions,
        *,
        pacer: TokenBucket | None = None,
        slots: JobSlots | None = None,
        clock: Clock | None = None,
        now: Callable[[], dt.datetime] = utc_now,
    ) -> None:
        self.services = services
        self.target = target
        self.options = options
        self.clock = clock or SystemClock()
        self.pacer = pacer
        self.slots = slots or JobSlots(services.medical_imaging, target.datastore_id, options.max_concurrent_jobs)
        self.now = now

    # ------------------------------------------------------------ entry points

    def on_marker(self, batch_prefix: str, *, marker_id: str | None = None) -> Step:
        """A batch's marker was written (``marker_id``: that write's S3 version id or event sequencer), or its quiet
        period ended: plan, start, and follow the batch."""
        objects = self._list(batch_prefix)
        if objects is None:
            return self._refuse(batch_prefix)
        return self._from_listing(batch_prefix, objects, marker_id=marker_id)

    def on_new_object(self, key: str, *, event_time: dt.datetime) -> Step:
        """An object was written under ``incoming/`` and batches may start after a quiet period."""
        batch_prefix = batches.quiet_batch_of(key)
        if batch_prefix is None:
            return Step(key, done=True, outcome="not in a batch folder (incoming/<batch>/...)")
        objects = self._list(batch_prefix)
        if objects is None:
            return self._refuse(batch_prefix)
        verdict, seconds = batches.quiet_verdict(
            objects,
            event_key=key,
            event_time=event_time,
            now=self.now(),
            quiet_seconds=self.options.quiet_period_seconds,
            marker_name=self.options.rules.marker_name,
            batch_prefix=batch_prefix,
        )
        if verdict == batches.QUIET_NOT_RESPONSIBLE:
            return Step(batch_prefix, done=True, outcome="a newer object (or the marker) of the batch carries it")
        if verdict == batches.QUIET_WAIT:
            return Step(
                batch_prefix,
                done=False,
                outcome="waiting for the quiet period",
                wait=WAIT_QUIET,
                stage=STAGE_QUIET,
                delay_seconds=seconds,
            )
        return self._from_listing(batch_prefix, objects, marker_id=None)

    def resume(self, batch_prefix: str, *, stage: str, digest: str | None) -> Step:
        """Go on with a batch put back to wait at ``stage`` with the plan ``digest``."""
        record, etag = self._load(batch_prefix)
        if record is None:
            return self.on_marker(batch_prefix)
        if digest is not None and record.plan.digest != digest:
            return Step(batch_prefix, done=True, outcome="superseded by a newer plan of the batch", digest=digest)
        return self._advance(record, etag)

    # ------------------------------------------------------------ planning

    def _from_listing(self, batch_prefix: str, objects: Sequence[BatchObject], *, marker_id: str | None) -> Step:
        rules = self.options.rules
        digest = batches.listing_digest(self.target.input_bucket, batch_prefix, objects, rules)
        record, etag = self._load(batch_prefix)
        if record is not None and record.plan.digest == digest:
            new_marker = record.saw_marker(marker_id)
            if record.state != batch_state.STATE_DONE:
                return self._advance(record, etag)
            if not (new_marker and record.failed_jobs()):
                return Step(
                    batch_prefix,
                    done=True,
                    outcome=f"already {record.result_status or 'done'} (a repeated event)",
                    digest=digest,
                    result_status=record.result_status,
                )
            # The marker was written again after the batch ended with FAILED jobs: a new attempt of each.
            restarted = record.restart_failed()
            try:
                etag = self._save(record, etag)
            except RecordConflictError:
                return self._busy(record, "another invocation updated the batch")
            step = self._advance(record, etag)
            return dataclasses.replace(step, outcome=f"restarted {restarted} FAILED job(s); {step.outcome}")
        try:
            plan = self._plan(batch_prefix, objects, digest)
        except BatchChangedError as error:
            return Step(batch_prefix, done=False, outcome=str(error), wait=WAIT_BUSY, stage=STAGE_READY)
        planned_at = iso(self.now())
        new = (
            record.replaced_by(plan, planned_at=planned_at) if record else BatchRecord.new(plan, planned_at=planned_at)
        )
        new.saw_marker(marker_id)
        try:
            etag = self._save(new, etag)
        except RecordConflictError:
            # Another invocation planned the batch at the same moment: go on from its record.
            return self.resume(batch_prefix, stage=STAGE_READY, digest=digest)
        return self._advance(new, etag)

    def _plan(self, batch_prefix: str, objects: Sequence[BatchObject], digest: str) -> BatchPlan:
        rules = self.options.rules
        screening = batches.screen(batch_prefix, objects, rules)
        problems = self._read_headers(screening.candidates)
        accepted, left_out = batches.accept(batch_prefix, screening, problems)
        accepted_keys = {item.key for item in accepted}
        plan = batches.plan_batch(
            bucket=self.target.input_bucket,
            batch_prefix=batch_prefix,
            digest=digest,
            accepted=accepted,
            left_out=left_out,
            excluded_keys=[item.key for item in objects if item.key not in accepted_keys],
            rules=rules,
            token_scope=self.target.datastore_id,
        )
        for job in plan.jobs:
            validate_start_request(self.start_request(job, job.client_token).to_params())
        return plan

    def start_request(self, job: BatchJob, client_token: str) -> StartRequest:
        return StartRequest(
            datastore_id=self.target.datastore_id,
            client_token=client_token,
            job_name=job.job_name,
            data_access_role_arn=self.target.import_role_arn,
            input_s3_uri=f"s3://{self.target.input_bucket}/{job.input_prefix}",
            output_s3_uri=f"s3://{self.target.output_bucket}/{job.output_prefix}",
            input_owner_account_id=self.target.account_id,
        )

    # ------------------------------------------------------------ copying, starting, following

    def _advance(self, record: BatchRecord, etag: str | None) -> Step:
        batch_prefix = record.plan.batch_prefix
        for _ in range(MAX_RECORD_CONFLICTS):
            try:
                return self._advance_once(record, etag)
            except RecordConflictError:
                record_or_none, etag = self._load(batch_prefix)
                if record_or_none is None or record_or_none.plan.digest != record.plan.digest:
                    return Step(batch_prefix, done=True, outcome="superseded by a newer plan of the batch")
                record = record_or_none
        return self._busy(record, "other invocations keep updating the batch")

    def _advance_once(self, record: BatchRecord, etag: str | None) -> Step:
        plan = record.plan
        if record.state == batch_state.STATE_DONE:
            return Step(
                plan.batch_prefix,
                done=True,
                outcome=f"already {record.result_status or 'done'}",
                digest=plan.digest,
                result_status=record.result_status,
            )
        if not plan.jobs:
            return self._finish(record, etag, [])
        if not record.copies_done:
            try:
                self._copy(plan)
            except BatchChangedError as error:
                return self._busy(record, str(error))
            record.copies_done = True
            etag = self._save(record, etag)
        started = 0
        for job in record.unstarted():
            job_id = None
            while job_id is None:
                # The turn to start first, then a fresh count: no other copy of the function can take the place
                # counted free between the count and the start.
                if self.pacer is not None:
                    self.pacer.acquire()
                if not self.slots.take():
                    if self.slots.wait():
                        continue
                    return self._waiting(record, WAIT_QUOTA, "the data store's concurrent-job quota is full", started)
                try:
                    job_id = start_job(
                        self.services.medical_imaging_starts or self.services.medical_imaging,
                        self.start_request(job, record.client_token(job)),
                        clock=self.clock,
                        max_wait_seconds=self.options.max_start_wait_seconds,
                    )
                except StartRefusedError as error:
                    if error.aws_error_code != "ServiceQuotaExceededException":
                        return self._waiting(record, WAIT_THROTTLED, str(error), started)
                    self.slots.note_full()  # someone else took the place: wait for the next one
            progress = record.progress[job.number]
            progress.job_id, progress.status = job_id, "SUBMITTED"
            started += 1
            etag = self._save(record, etag)
        if record.state == batch_state.STATE_PLANNED:
            record.state = batch_state.STATE_STARTED
            etag = self._save(record, etag)
        if started:
            return self._waiting(record, WAIT_JOBS, f"started {started} import job(s)", started)
        changed = False
        for job in record.unfinished():
            progress = record.progress[job.number]
            assert progress.job_id is not None
            status = get_job(self.services.medical_imaging, self.target.datastore_id, progress.job_id)
            if (status.job_status, status.message) != (progress.status, progress.message):
                progress.status, progress.message = status.job_status, status.message
                changed = True
        if changed:
            etag = self._save(record, etag)
        if not record.all_finished:
            return self._waiting(record, WAIT_JOBS, f"{len(record.unfinished())} job(s) still running", 0)
        return self._finish(record, etag, record.plan.jobs)

    def _waiting(self, record: BatchRecord, wait: str, why: str, started: int) -> Step:
        stage = STAGE_READY if record.unstarted() else STAGE_STARTED
        return Step(
            record.plan.batch_prefix,
            done=False,
            outcome=why,
            wait=wait,
            stage=stage,
            digest=record.plan.digest,
            jobs_started=started,
        )

    def _busy(self, record: BatchRecord, why: str) -> Step:
        return self._waiting(record, WAIT_BUSY, why, 0)

    # ------------------------------------------------------------ finishing

    def _finish(self, record: BatchRecord, etag: str | None, jobs: Sequence[BatchJob]) -> Step:
        plan = record.plan
        try:
            outcomes = [self._outcome(record, job) for job in jobs]
        except OutputNotReadyError as error:
            return self._waiting(record, WAIT_JOBS, str(error), 0)
        now = self.now()
        if record.state == batch_state.STATE_FINISHING and record.claimed_at is not None:
            age = (now - parse_time(record.claimed_at)).total_seconds()
            if age < self.options.claim_timeout_seconds:
                return self._busy(record, "another invocation is writing the batch's result")
        record.state, record.claimed_at = batch_state.STATE_FINISHING, iso(now)
        etag = self._save(record, etag)
        document = batch_results.result_document(plan, outcomes, finished_at=iso(now))
        self._write_json(plan.batch_prefix + batches.RESULT_NAME, document)
        if document["status"] in batch_results.ALERT_STATUSES:
            self._alert(document, plan.batch_prefix)
        record.state, record.finished_at = batch_state.STATE_DONE, iso(now)
        record.result_status = str(document["status"])
        self._save(record, etag)
        return Step(
            plan.batch_prefix,
            done=True,
            outcome=str(document["message"]),
            digest=plan.digest,
            result_status=record.result_status,
        )

    def _outcome(self, record: BatchRecord, job: BatchJob) -> batch_results.JobOutcome:
        progress = record.progress[job.number]
        assert progress.job_id is not None, job.label
        assert progress.status is not None, job.label
        output: manifest.JobOutput | None = None
        try:
            output = manifest.read_job_output(
                self.services.s3,
                f"s3://{self.target.output_bucket}/{job.output_prefix}",
                self.target.datastore_id,
                progress.job_id,
                attempts=self.options.manifest_attempts if progress.status == "COMPLETED" else 1,
                delay_seconds=self.options.manifest_delay_seconds,
                sleep=self.clock.sleep,
                expected_bucket_owner=self.target.account_id,
            )
        except OpsError as error:
            if progress.status == "COMPLETED":
                raise OutputNotReadyError(str(error)) from None
        return batch_results.job_outcome(
            job,
            input_bucket=self.target.input_bucket,
            output_bucket=self.target.output_bucket,
            job_id=progress.job_id,
            status=progress.status,
            message=progress.message,
            output=output,
        )

    def _refuse(self, batch_prefix: str) -> Step:
        limit = self.options.rules.max_objects_per_batch
        reason = (
            f"The batch holds more than {limit:,} objects, more than the automatic importer checks in one go: nothing "
            "was imported. Split it into batches of at most that many objects (each with its own marker)."
        )
        result_key = batch_prefix + batches.RESULT_NAME
        existing = self._read_json(result_key)
        if existing is None or existing.get("status") != batch_results.STATUS_REFUSED:
            document = batch_results.refused_document(
                self.target.input_bucket, batch_prefix, reason, finished_at=iso(self.now())
            )
            self._write_json(result_key, document)
            self._alert(document, batch_prefix)
        return Step(batch_prefix, done=True, outcome=reason, result_status=batch_results.STATUS_REFUSED)

    def _alert(self, document: dict[str, Any], batch_prefix: str) -> None:
        if not self.options.alert_topic_arn or self.services.sns is None:
            return
        result_uri = f"s3://{self.target.input_bucket}/{batch_prefix}{batches.RESULT_NAME}"
        with translate_client_errors(f"SNS Publish {self.options.alert_topic_arn}"):
            self.services.sns.publish(
                TopicArn=self.options.alert_topic_arn,
                Subject=batch_results.alert_subject(document),
                Message=batch_results.alert_message(
                    document, result_uri=result_uri, max_listed=self.options.max_failures_listed
                ),
            )

    # ------------------------------------------------------------ S3

    def _list(self, batch_prefix: str) -> list[BatchObject] | None:
        """Every object under the prefix, or None when there are more than a batch may hold."""
        limit = self.options.rules.max_objects_per_batch
        found: list[BatchObject] = []
        bucket = self.target.input_bucket
        with translate_client_errors(f"ListObjectsV2 s3://{bucket}/{batch_prefix}"):
            paginator = self.services.s3.get_paginator("list_objects_v2")
            pages = paginator.paginate(Bucket=bucket, Prefix=batch_prefix, ExpectedBucketOwner=self.target.account_id)
            for page in pages:
                for item in page.get("Contents", []):
                    found.append(
                        BatchObject(
                            key=str(item["Key"]),
                            size=int(item["Size"]),
                            etag=str(item.get("ETag", "")),
                            last_modified=item.get("LastModified"),
                            storage_class=item.get("StorageClass"),
                        )
                    )
                # The importer's own files do not count against the limit.
                if sum(1 for item in found if not batches.is_control_key(item.key)) > limit:
                    return None
        return found

    def _read_headers(self, candidates: Sequence[BatchObject]) -> dict[str, str | None]:
        """The Part 10 problem (None: a Part 10 file) of each candidate, from a ranged read of its first bytes."""
        bucket = self.target.input_bucket

        def check(item: BatchObject) -> tuple[str, str | None]:
            try:
                response = self.services.s3.get_object(
                    Bucket=bucket,
                    Key=item.key,
                    Range=f"bytes=0-{dicom.HEADER_LENGTH - 1}",
                    IfMatch=item.etag,
                    ExpectedBucketOwner=self.target.account_id,
                )
                header = response["Body"].read()
            except botocore.exceptions.ClientError as error:
                if error_code(error) in _PRECONDITION_CODES | _MISSING_CODES:
                    raise BatchChangedError(
                        f"s3://{bucket}/{item.key} changed or disappeared while the batch was read"
                    ) from None
                with translate_client_errors(f"GetObject (first {dicom.HEADER_LENGTH} bytes) s3://{bucket}/{item.key}"):
                    raise
            return item.key, dicom.part10_problem(header)

        if not candidates:
            return {}
        with ThreadPoolExecutor(max_workers=max(1, self.options.read_workers), thread_name_prefix="part10") as pool:
            return dict(pool.map(check, candidates))

    def _copy(self, plan: BatchPlan) -> None:
        """Copy each job's files into the job's prefix (server-side), skipping those already there."""
        bucket = self.target.input_bucket
        pending: list[tuple[str, str, str, int]] = []
        for job in plan.jobs:
            if not job.copied:
                continue
            present = {key: size for key, size in self._sizes(job.input_prefix)}
            for item in job.files:
                target = job.input_key(item)
                if present.get(target) != item.size:
                    pending.append((item.key, item.etag, target, item.size))

        def copy(entry: tuple[str, str, str, int]) -> None:
            source, etag, target, size = entry
            owner = self.target.account_id
            try:
                if size <= MAX_SINGLE_COPY_BYTES:
                    self.services.s3.copy_object(
                        Bucket=bucket,
                        Key=target,
                        CopySource={"Bucket": bucket, "Key": source},
                        CopySourceIfMatch=etag,
                        MetadataDirective="COPY",
                        ExpectedBucketOwner=owner,
                        ExpectedSourceBucketOwner=owner,
                    )
                else:
                    self.services.s3.copy(
                        {"Bucket": bucket, "Key": source},
                        bucket,
                        target,
                        ExtraArgs={"CopySourceIfMatch": etag, "ExpectedBucketOwner": owner},
                    )
            except botocore.exceptions.ClientError as error:
                if error_code(error) in _PRECONDITION_CODES | _MISSING_CODES:
                    raise BatchChangedError(
                        f"s3://{bucket}/{source} changed or disappeared before it was copied"
                    ) from None
                with translate_client_errors(f"CopyObject s3://{bucket}/{source} to {target}"):
                    raise

        if pending:
            with ThreadPoolExecutor(max_workers=max(1, self.options.copy_workers), thread_name_prefix="copy") as pool:
                list(pool.map(copy, pending))

    def _sizes(self, prefix: str) -> Iterator[tuple[str, int]]:
        bucket = self.target.input_bucket
        with translate_client_errors(f"ListObjectsV2 s3://{bucket}/{prefix}"):
            paginator = self.services.s3.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=bucket, Prefix=prefix, ExpectedBucketOwner=self.target.account_id):
                for item in page.get("Contents", []):
                    yield str(item["Key"]), int(item["Size"])

    def _load(self, batch_prefix: str) -> tuple[BatchRecord | None, str | None]:
        key = batch_prefix + batches.JOBS_RECORD_NAME
        bucket = self.target.input_bucket
        try:
            response = self.services.s3.get_object(Bucket=bucket, Key=key, ExpectedBucketOwner=self.target.account_id)
            data = response["Body"].read()
        except botocore.exceptions.ClientError as error:
            if error_code(error) in _MISSING_CODES:
                return None, None
            with translate_client_errors(f"GetObject s3://{bucket}/{key}"):
                raise
        return batch_state.record_from_json(data, source=f"s3://{bucket}/{key}"), str(response["ETag"])

    def _save(self, record: BatchRecord, etag: str | None) -> str:
        """Write ``_JOBS.json`` if nobody else did since ``etag`` (None: if it does not exist); returns the new ETag."""
        key = record.plan.batch_prefix + batches.JOBS_RECORD_NAME
        bucket = self.target.input_bucket
        condition = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
        try:
            response = self.services.s3.put_object(
                Bucket=bucket,
                Key=key,
                Body=batch_state.record_to_json(record),
                ContentType="application/json",
                ExpectedBucketOwner=self.target.account_id,
                **condition,
            )
        except botocore.exceptions.ClientError as error:
            if error_code(error) in _PRECONDITION_CODES:
                raise RecordConflictError(f"s3://{bucket}/{key} was written by another invocation") from None
            with translate_client_errors(f"PutObject s3://{bucket}/{key}"):
                raise
        return str(response["ETag"])

    def _write_json(self, key: str, document: dict[str, Any]) -> None:
        bucket = self.target.input_bucket
        with translate_client_errors(f"PutObject s3://{bucket}/{key}"):
            self.services.s3.put_object(
                Bucket=bucket,
                Key=key,
                Body=json.dumps(document, indent=1).encode(),
                ContentType="application/json",
                ExpectedBucketOwner=self.target.account_id,
            )

    def _read_json(self, key: str) -> dict[str, Any] | None:
        bucket = self.target.input_bucket
        try:
            data = self.services.s3.get_object(Bucket=bucket, Key=key, ExpectedBucketOwner=self.target.account_id)[
                "Body"
            ].read()
        except botocore.exceptions.ClientError as error:
            if error_code(error) in _MISSING_CODES:
                return None
            with translate_client_errors(f"GetObject s3://{bucket}/{key}"):
                raise
        try:
            document = json.loads(data)
        except ValueError:
            return None
        return document if isinstance(document, dict) else None
