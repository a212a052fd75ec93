"""Import a folder of DICOM Part 10 files into the stack's data store: plan, upload, start, wait, report.

::

    plan = prepare(Path("study/"), outputs, ImportOptions(max_files_per_job=5000))   # local only, no AWS
    result = run_import(session, outputs, plan, ImportOptions(), callbacks)          # AWS from here on
    result.ok, result.imported, result.failed, result_to_json(result)

1. :func:`prepare` walks the path (Part 10 files kept, every other file reported as skipped with the reason;
   unreadable files and files over 10 GB refused), fingerprints the kept files (CRC64NVME, one read each) and
   splits them into jobs (:mod:`ahiops.planning`). Every StartDICOMImportJob value is validated here too,
   before anything is sent.
2. :func:`run_import` checks the caller's account (STS) and that the data store is ACTIVE, uploads (resumable,
   nothing uploaded twice, :mod:`ahiops.upload`), starts each job with its content-derived client token (paced,
   at most ``max_concurrent_jobs`` running, throttling and quota errors waited out), waits for every job to be
   COMPLETED or FAILED, reads each job's manifest and results, and returns an :class:`ImportResult`.

Nothing here prints: progress and messages go to the callbacks. Errors are :class:`~ahiops.errors.OpsError`\\ s.
Running the same import again after an interruption (or after it finished) uploads nothing twice and starts
nothing twice: the same files give the same keys and the same client tokens, so it waits for (or reports) the
jobs it started before.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from . import discovery, jobs, limits, manifest, planning
from .errors import AwsAccessError, OpsError, ServiceError, UsageError
from .jobs import JobStatus, StartRequest
from .manifest import JobOutput
from .pacing import Backoff, Clock, SystemClock, TokenBucket
from .planning import ImportPlan, JobLimits, PlannedFile, PlannedJob
from .session import make_client, translate_client_errors
from .stack_outputs import StackOutputs
from .upload import UploadItem, UploadReport, upload_files

#: Attempts of one job under ``retry_failed`` (each one a FAILED job of an earlier run) before giving up.
MAX_ATTEMPTS_PER_JOB = 20


@dataclass(frozen=True)
class ImportOptions:
    max_files_per_job: int = limits.MAX_FILES_PER_JOB
    #: Import jobs running at once; None: the data store's quota in the stack's region.
    max_concurrent_jobs: int | None = None
    upload_concurrency: int | None = None
    upload_engine: str = "auto"
    #: How long to keep retrying a start while HealthImaging throttles it or the job quota is full.
    max_start_wait_seconds: float = 3600.0
    #: Tries (a few seconds apart) while a finished job's manifest has not appeared yet.
    manifest_attempts: int = 10
    manifest_delay_seconds: float = 3.0
    #: Seconds between polls of running jobs grow from ``poll_initial_seconds`` up to ``poll_max_seconds``.
    poll_initial_seconds: float = 2.0
    poll_max_seconds: float = 30.0
    #: Start a new attempt of a job whose earlier attempt (an earlier run) ended FAILED, instead of reporting it.
    retry_failed: bool = False
    clock: Clock = field(default_factory=SystemClock)


@dataclass
class ImportCallbacks:
    """Where progress goes (all optional; called on the calling thread)."""

    #: A line for the person watching: a job started, a status changed.
    on_message: Callable[[str], None] | None = None
    #: A wait got long (a start throttled, or the job quota full): worth showing even when other lines are not.
    on_wait: Callable[[str], None] | None = None
    #: Upload begins: (files to look at, bytes).
    on_upload_start: Callable[[int, int], None] | None = None
    #: Upload progress increments: (files, bytes); files already in S3 count as done at once.
    on_upload_progress: Callable[[int, int], None] | None = None
    on_upload_end: Callable[[UploadReport], None] | None = None
    #: A job's status changed.
    on_job_status: Callable[[PlannedJob, JobStatus], None] | None = None

    def message(self, text: str) -> None:
        if self.on_message is not None:
            self.on_message(text)


@dataclass(frozen=True)
class FileFailure:
    #: The file's path relative to the imported PATH (the S3 URI when it is not one of the planned files).
    file: str
    reason: str
    job_id: str | None = None
    s3_uri: str | None = None


@dataclass(frozen=True)
class JobResult:
    planned: PlannedJob
    input_s3_uri: str
    output_s3_uri: str
    status: JobStatus
    output: JobOutput | None
    #: Why ``output`` is None (a FAILED job may write no manifest).
    output_note: str | None
    imported: int
    failed: tuple[FileFailure, ...]

    @property
    def ok(self) -> bool:
        return self.status.job_status == "COMPLETED" and not self.failed and self.imported == len(self.planned.files)


@dataclass(frozen=True)
class ImportResult:
    plan: ImportPlan
    upload: UploadReport
    jobs: tuple[JobResult, ...]

    @property
    def imported(self) -> int:
        return sum(job.imported for job in self.jobs)

    @property
    def failed(self) -> tuple[FileFailure, ...]:
        return tuple(failure for job in self.jobs for failure in job.failed)

    @property
    def ok(self) -> bool:
        """Every planned file imported."""
        return all(job.ok for job in self.jobs) and self.imported == self.plan.file_count


# ---------------------------------------------------------------- step 1: the plan (local only)


def prepare(
    path: Path,
    outputs: StackOutputs,
    options: ImportOptions,
    *,
    on_file: Callable[[], None] | None = None,
) -> ImportPlan:
    """Discover, hash and split the files under ``path``; validate every job's start request. No AWS call."""
    job_limits = JobLimits(max_files=options.max_files_per_job)
    found = discovery.discover(path, on_file=on_file)
    hashed = discovery.fingerprint(found.files)
    plan = planning.plan_import(hashed, job_limits=job_limits, skipped=found.skipped, token_scope=outputs.datastore_id)
    for job in plan.jobs:
        jobs.validate_start_request(start_request(outputs, job).to_params(), sources=_sources(outputs))
    return plan


def input_s3_uri(outputs: StackOutputs, job: PlannedJob) -> str:
    return f"s3://{outputs.input_bucket_name}/{job.prefix}"


def output_s3_uri(outputs: StackOutputs, job: PlannedJob) -> str:
    return f"s3://{outputs.output_bucket_name}/{job.prefix}"


def start_request(outputs: StackOutputs, job: PlannedJob, *, attempt: int = 1) -> StartRequest:
    """The job's StartDICOMImportJob values; ``attempt`` > 1 (``--retry-failed``) gives the next client token."""
    token = job.client_token if attempt == 1 else planning.retry_token(job.client_token, attempt)
    return StartRequest(
        datastore_id=outputs.datastore_id,
        client_token=token,
        job_name=job.job_name,
        data_access_role_arn=outputs.import_role_arn,
        input_s3_uri=input_s3_uri(outputs, job),
        output_s3_uri=output_s3_uri(outputs, job),
        input_owner_account_id=outputs.account_id,
    )


def _sources(outputs: StackOutputs) -> dict[str, str]:
    return {
        "datastoreId": f"datastoreId in {outputs.source}",
        "dataAccessRoleArn": f"importRoleArn in {outputs.source}",
        "inputS3Uri": f"inputBucketName in {outputs.source} and the relative paths under PATH",
        "outputS3Uri": f"outputBucketName in {outputs.source}",
        "inputOwnerAccountId": f"accountId in {outputs.source}",
    }


# ---------------------------------------------------------------- step 2-5: AWS


def check_destination(session: boto3.session.Session, outputs: StackOutputs) -> None:
    """Before any upload: the credentials are for the stack's account, the region is the stack's, and the data
    store is ACTIVE."""
    if session.region_name and session.region_name != outputs.region:
        raise UsageError(
            f"the region is {session.region_name} but the stack ({outputs.source}) is in {outputs.region}: "
            f"drop --region or pass --region {outputs.region}."
        )
    sts = make_client(session, "sts")
    with translate_client_errors("STS GetCallerIdentity"):
        account = str(sts.get_caller_identity()["Account"])
    if account != outputs.account_id:
        error = AwsAccessError(
            f"the AWS credentials are for account {account}, but the stack ({outputs.source}) is in account "
            f"{outputs.account_id}: use a profile of account {outputs.account_id} (--profile or AWS_PROFILE)."
        )
        error.exit_code = 2
        raise error
    client = make_client(session, jobs.SERVICE)
    with translate_client_errors(f"GetDatastore {outputs.datastore_id}"):
        properties = client.get_datastore(datastoreId=outputs.datastore_id)["datastoreProperties"]
    status = str(properties.get("datastoreStatus", ""))
    if status != "ACTIVE":
        advice = {
            "CREATING": "it is still being created: wait a few minutes and run the command again",
            "CREATE_FAILED": "its creation failed: look at the stack's deployment (`pulumi up`) and recreate it",
            "DELETING": "it is being deleted: deploy the stack again",
            "DELETED": "it was deleted: deploy the stack again",
        }.get(status, "imports need an ACTIVE data store")
        raise ServiceError(f"data store {outputs.datastore_id} is {status or 'in an unknown state'}; {advice}.")


def upload_plan(
    session: boto3.session.Session,
    outputs: StackOutputs,
    plan: ImportPlan,
    options: ImportOptions,
    callbacks: ImportCallbacks,
) -> UploadReport:
    items = [
        UploadItem(path=item.path, key=item.key, size=item.size, checksum_crc64nvme=item.crc64nvme)
        for item in plan.files()
    ]
    if callbacks.on_upload_start is not None:
        callbacks.on_upload_start(len(items), plan.total_bytes)
    report = upload_files(
        session,
        outputs.input_bucket_name,
        items,
        concurrency=options.upload_concurrency,
        on_progress=callbacks.on_upload_progress,
        engine=options.upload_engine,
    )
    if callbacks.on_upload_end is not None:
        callbacks.on_upload_end(report)
    return report


def run_import(
    session: boto3.session.Session,
    outputs: StackOutputs,
    plan: ImportPlan,
    options: ImportOptions,
    callbacks: ImportCallbacks | None = None,
) -> ImportResult:
    """Steps 2 to 5 (see the module docstring)."""
    callbacks = callbacks or ImportCallbacks()
    check_destination(session, outputs)
    report = upload_plan(session, outputs, plan, options, callbacks)
    # Starts are retried here (paced, with the same client token); botocore's own retries would sleep outside
    # the injected clock and hide how long a start has been waiting.
    # (botocore's ``retries.max_attempts`` counts retries after the first attempt: 0 means one attempt.)
    start_client = make_client(session, jobs.SERVICE, max_attempts=0)
    poll_client = make_client(session, jobs.SERVICE)
    s3 = make_client(session, "s3")
    job_ids = _start_and_wait(start_client, poll_client, outputs, plan.jobs, options, callbacks)
    results = []
    for job in plan.jobs:
        job_id, status = job_ids[job.number]
        results.append(_job_result(s3, outputs, job, job_id, status, options))
    return ImportResult(plan=plan, upload=report, jobs=tuple(results))


def _start_and_wait(
    start_client: Any,
    poll_client: Any,
    outputs: StackOutputs,
    planned: Sequence[PlannedJob],
    options: ImportOptions,
    callbacks: ImportCallbacks,
) -> dict[int, tuple[str, JobStatus]]:
    clock = options.clock
    max_running = options.max_concurrent_jobs or limits.max_concurrent_jobs(outputs.region)
    if max_running < 1:
        raise UsageError(f"--max-concurrent-jobs {max_running}: give a number of at least 1.")
    start_pacer = TokenBucket(limits.START_JOB_RATE_PER_SECOND, limits.START_JOB_BURST, clock)
    poll_pacer = TokenBucket(limits.GET_JOB_RATE_PER_SECOND, int(limits.GET_JOB_RATE_PER_SECOND), clock)
    running: dict[int, tuple[str, str]] = {}  # job number -> (job id, last status)
    finished: dict[int, tuple[str, JobStatus]] = {}
    by_number = {job.number: job for job in planned}
    backoff = Backoff(initial=options.poll_initial_seconds, factor=1.5, maximum=options.poll_max_seconds)

    def poll_round() -> bool:
        """Poll every running job once; True when any of them finished."""
        any_finished = False
        for number, (job_id, last) in list(running.items()):
            poll_pacer.acquire()
            status = jobs.get_job(poll_client, outputs.datastore_id, job_id)
            if status.job_status != last:
                running[number] = (job_id, status.job_status)
                _tell_status(callbacks, by_number[number], status)
            if status.finished:
                del running[number]
                finished[number] = (job_id, status)
                any_finished = True
        return any_finished

    for job in planned:
        while len(running) >= max_running:
            if poll_round():
                backoff.reset()
            else:
                clock.sleep(backoff.next_delay())
        job_id, request = _start_one(start_client, poll_client, start_pacer, outputs, job, options, callbacks)
        callbacks.message(
            f"{job.label}: import job {job_id} ({len(job.files)} files, {job.total_bytes:,} bytes) for "
            f"{request.input_s3_uri}"
        )
        running[job.number] = (job_id, "")
    while running:
        if poll_round():
            backoff.reset()
        if running:
            clock.sleep(backoff.next_delay())
    return finished


def _start_one(
    start_client: Any,
    poll_client: Any,
    pacer: TokenBucket,
    outputs: StackOutputs,
    job: PlannedJob,
    options: ImportOptions,
    callbacks: ImportCallbacks,
) -> tuple[str, StartRequest]:
    """Start the job (or get back the one its client token started before). With ``retry_failed``, a job that
    an earlier run left FAILED is followed by a new attempt under the next token of the same sequence, so a
    repeated ``--retry-failed`` run still starts nothing twice."""
    for attempt in range(1, MAX_ATTEMPTS_PER_JOB + 1):
        request = start_request(outputs, job, attempt=attempt)
        job_id = jobs.start_job(
            start_client,
            request,
            pacer=pacer,
            clock=options.clock,
            on_message=callbacks.on_wait or callbacks.on_message,
            max_wait_seconds=options.max_start_wait_seconds,
        )
        if not options.retry_failed:
            return job_id, request
        status = jobs.get_job(poll_client, outputs.datastore_id, job_id)
        if status.job_status != "FAILED":
            return job_id, request
        callbacks.message(
            f"{job.label}: import job {job_id} (attempt {attempt}) had FAILED: {status.message or 'no message'}; "
            "starting the next attempt"
        )
    raise ServiceError(
        f"{job.label}: {MAX_ATTEMPTS_PER_JOB} attempts of this import job FAILED; look at their messages with "
        "`python -m ahictl jobs` and fix the cause first."
    )


def _tell_status(callbacks: ImportCallbacks, job: PlannedJob, status: JobStatus) -> None:
    if callbacks.on_job_status is not None:
        callbacks.on_job_status(job, status)
    detail = f": {status.message}" if status.message and status.job_status == "FAILED" else ""
    callbacks.message(f"{job.label}: import job {status.job_id} is {status.job_status}{detail}")


def _job_result(
    s3: Any,
    outputs: StackOutputs,
    job: PlannedJob,
    job_id: str,
    status: JobStatus,
    options: ImportOptions,
) -> JobResult:
    in_uri = input_s3_uri(outputs, job)
    out_uri = output_s3_uri(outputs, job)
    output: JobOutput | None = None
    note: str | None = None
    # A FAILED job may write no manifest: look briefly, then report the job's own message.
    attempts = options.manifest_attempts if status.job_status == "COMPLETED" else 2
    try:
        output = manifest.read_job_output(
            s3,
            out_uri,
            outputs.datastore_id,
            job_id,
            attempts=attempts,
            delay_seconds=options.manifest_delay_seconds,
            sleep=options.clock.sleep,
        )
    except OpsError as error:
        if status.job_status == "COMPLETED":
            raise
        note = str(error)
    resolve = _input_file_resolver(outputs.input_bucket_name, job)
    uri_of = {item.key: f"s3://{outputs.input_bucket_name}/{item.key}" for item in job.files}
    failures: list[FileFailure] = []
    imported_keys: set[str] = set()
    failed_keys: set[str] = set()
    if output is not None:
        for imported in output.imported:
            planned = resolve(imported.input_file)
            if planned is not None:
                imported_keys.add(planned.key)
        for failed in output.failed:
            planned = resolve(failed.input_file)
            if planned is not None:
                failed_keys.add(planned.key)
            failures.append(
                FileFailure(
                    file=planned.relative_path if planned else failed.input_file,
                    reason=failed.reason,
                    job_id=job_id,
                    s3_uri=uri_of[planned.key] if planned else failed.input_file,
                )
            )
        summary = output.summary
        if (
            not imported_keys
            and not output.failed
            and status.job_status == "COMPLETED"
            and summary.imported_files == len(job.files)
            and summary.files_with_customer_error == 0
            and summary.files_with_server_error == 0
        ):
            # The per-file lines name the files in a form not matched here; the summary's counts still say all.
            imported_keys = {item.key for item in job.files}
    if status.job_status == "FAILED":
        reason = f"import job {job_id} FAILED: {status.message or 'no message given'}"
    else:
        reason = f"import job {job_id} is COMPLETED but its output does not list this file"
    for item in job.files:
        if item.key not in imported_keys and item.key not in failed_keys:
            failures.append(FileFailure(file=item.relative_path, reason=reason, job_id=job_id, s3_uri=uri_of[item.key]))
    return JobResult(
        planned=job,
        input_s3_uri=in_uri,
        output_s3_uri=out_uri,
        status=status,
        output=output,
        output_note=note,
        imported=len(imported_keys - failed_keys),
        failed=tuple(failures),
    )


def _input_file_resolver(bucket: str, job: PlannedJob) -> Callable[[str], PlannedFile | None]:
    """Map an ``inputFile`` of the job's results to the planned file: AWS documents no exact form, so a full
    ``s3://bucket/key`` URI, a key, or a path relative to the job's prefix are all recognised."""
    by_key = {item.key: item for item in job.files}

    def resolve(input_file: str) -> PlannedFile | None:
        text = input_file
        if text.startswith("s3://"):
            found_bucket, _, text = text[len("s3://") :].partition("/")
            if found_bucket != bucket:
                return None
        text = text.lstrip("/")
        return by_key.get(text) or by_key.get(job.prefix + text)

    return resolve


# ---------------------------------------------------------------- JSON


def plan_to_json(plan: ImportPlan, outputs: StackOutputs) -> dict[str, Any]:
    """The ``--dry-run --json`` document: the same keys as a real run's, with nothing started."""
    return {
        "dryRun": True,
        "digest": plan.digest,
        "files": plan.file_count,
        "bytes": plan.total_bytes,
        "imported": 0,
        "jobs": [
            {
                "job": job.label,
                "jobId": None,
                "jobStatus": "PLANNED",
                "jobName": job.job_name,
                "inputS3Uri": input_s3_uri(outputs, job),
                "outputS3Uri": output_s3_uri(outputs, job),
                "files": len(job.files),
                "bytes": job.total_bytes,
                "folders": job.folder_count,
            }
            for job in plan.jobs
        ],
        "skipped": [{"file": item.relative_path, "reason": item.reason} for item in plan.skipped],
        "failed": [],
    }


def result_to_json(result: ImportResult) -> dict[str, Any]:
    """The ``--json`` document of an import."""
    return {
        "dryRun": False,
        "digest": result.plan.digest,
        "files": result.plan.file_count,
        "bytes": result.plan.total_bytes,
        "imported": result.imported,
        "ok": result.ok,
        "upload": {
            "uploaded": result.upload.uploaded,
            "uploadedBytes": result.upload.uploaded_bytes,
            "alreadyPresent": result.upload.already_present,
            "replaced": result.upload.replaced,
            "unverified": result.upload.unverified,
            "engine": result.upload.engine,
            "seconds": round(result.upload.seconds, 3),
        },
        "jobs": [_job_json(job) for job in result.jobs],
        "skipped": [{"file": item.relative_path, "reason": item.reason} for item in result.plan.skipped],
        "failed": [_failure_json(failure) for failure in result.failed],
        "warnings": [
            {"file": item.input_file, "warnings": list(item.warnings)}
            for job in result.jobs
            if job.output is not None
            for item in job.output.warnings
        ],
    }


def _failure_json(failure: FileFailure) -> dict[str, Any]:
    return {"file": failure.file, "reason": failure.reason, "jobId": failure.job_id, "s3Uri": failure.s3_uri}


def _job_json(job: JobResult) -> dict[str, Any]:
    summary = job.output.summary if job.output is not None else None
    return {
        "job": job.planned.label,
        "jobId": job.status.job_id,
        "jobStatus": job.status.job_status,
        "jobName": job.planned.job_name,
        "message": job.status.message,
        "inputS3Uri": job.input_s3_uri,
        "outputS3Uri": job.output_s3_uri,
        "resultsS3Uri": job.output.folder_uri if job.output is not None else None,
        "files": len(job.planned.files),
        "imported": job.imported,
        "failed": len(job.failed),
        "warnings": len(job.output.warnings) if job.output is not None else 0,
        "imageSetsCreated": summary.generated_image_sets if summary is not None else None,
        "imageSets": [item.image_set_id for item in summary.image_sets] if summary is not None else [],
        "note": job.output_note,
    }
