"""Import a folder of this machine's DICOM Part 10 files into the stack's data store (what ``ahictl import`` runs):
plan, upload, start, wait, report. The automatic importer's function runs :mod:`ahiops.auto_import_steps` instead.

::

    plan = prepare(Path("study/"), outputs, ImportOptions(max_files_per_job=5000))   # local only, no AWS
    result = run_import(session, outputs, plan, ImportOptions(), callbacks)          # AWS from here on
    result.ok, result.imported, result.failed, result_to_json(result)

1. :func:`prepare` walks the path (Part 10 files kept, every other file reported as skipped with the reason;
   unreadable files, files over 10 GB and names that are not UTF-8 refused; symbolic links as
   :func:`ahiops.discovery.discover` says), fingerprints the kept files (CRC64NVME, one read each), keeps one file
   of each content (a copy is skipped, naming the file imported instead) and splits them into jobs
   (:mod:`ahiops.planning`). Every StartDICOMImportJob value is validated here too, before anything is sent.
2. :func:`run_import` checks the caller's account (STS) and that the data store is ACTIVE, and reads the data
   store's import ledger (:mod:`ahiops.import_ledger`). The unit of idempotence is a file's content: files an earlier
   job already imported into this data store are reported (with that job) and not imported again (unless
   ``reimport``); jobs an earlier run left unfinished are taken on again with their own prefix and client token (a
   start whose answer was lost is asked again with the same token before anything else); only the remaining files are
   planned into new jobs. It then uploads what is not staged yet (resumable, nothing uploaded twice,
   :mod:`ahiops.upload`), starts each job (paced, at most ``max_concurrent_jobs`` running, throttling and quota errors
   waited out), waits for every job to be COMPLETED or FAILED, reads each job's manifest and results, records each
   step in the ledger, and returns an :class:`ImportResult`.

Every S3 request carries ``ExpectedBucketOwner`` = the stack's account, so nothing is uploaded to (or read from) a
bucket of the same name in another account. Nothing here prints: progress and messages go to the callbacks; what was
done so far is kept in an :class:`ImportProgress` (for a report after a failure). Errors are
:class:`~ahiops.errors.OpsError`\\ s. Running the same import again after an interruption (or after it finished)
uploads nothing twice and starts nothing twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import boto3

from . import discovery, import_ledger, jobs, limits, manifest, planning
from .discovery import HashedFile
from .errors import AwsAccessError, OpsError, ServiceError, UsageError
from .import_ledger import EarlierFile, LedgerFile, LedgerJob, LedgerStore
from .jobs import JobStatus, StartRequest
from .manifest import JobOutput, input_file_resolver
from .pacing import Backoff, Clock, SystemClock, TokenBucket
from .planning import ImportPlan, JobLimits, PlannedFile, PlannedJob
from .session import make_client, translate_client_errors
from .stack_outputs import StackOutputs
from .upload import UploadItem, UploadReport, upload_files

#: Start errors that asking again cannot change (the values, or the client token used before with other values): the
#: job is recorded FAILED with the reason instead of stopping every later run (``retry_failed`` starts a new attempt
#: under the next client token once the cause is fixed).
REFUSED_FOR_GOOD_CODES = frozenset({"ValidationException", "ConflictException"})
#: The job id shown for a job that was never started.
NOT_STARTED_ID = "-"

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
    #: Start a new attempt of a job whose earlier attempt (an earlier run) ended FAILED, instead of reporting it; and
    #: import again the files that failed in a COMPLETED job.
    retry_failed: bool = False
    #: Import again files whose content an earlier job already imported into the data store (on purpose).
    reimport: bool = False
    #: Follow symbolic links (to files and folders, also outside PATH); without it every link is skipped.
    follow_links: bool = False
    #: Seconds to wait for HealthImaging's answer to one request (a start that times out is asked again).
    service_read_timeout_seconds: float = 60.0
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
    #: The job ended in an earlier run: what it did comes from the ledger, nothing was asked of AWS about it.
    earlier: bool = False
    #: Keys of the planned files the job imported.
    imported_keys: frozenset[str] = frozenset()
    #: Keys of the job's files that are not under PATH (a job of an earlier run of another folder, taken on because
    #: it also holds some of PATH's files): reported apart, not counted in PATH's figures.
    outside_path: frozenset[str] = frozenset()

    @property
    def path_imported(self) -> int:
        """Files of PATH the job imported."""
        return len(self.imported_keys - self.outside_path)

    @property
    def path_failed(self) -> tuple[FileFailure, ...]:
        return tuple(failure for failure in self.failed if _key_of(failure) not in self.outside_path)

    @property
    def ok(self) -> bool:
        """Every file of PATH in the job imported."""
        path_files = len(self.planned.files) - len(self.outside_path)
        return self.status.job_status == "COMPLETED" and not self.path_failed and self.path_imported == path_files


def _key_of(failure: FileFailure) -> str | None:
    return failure.s3_uri.split("/", 3)[-1] if failure.s3_uri and failure.s3_uri.startswith("s3://") else None


@dataclass(frozen=True)
class ImportResult:
    #: What :func:`prepare` planned for PATH (every distinct file, before the ledger was read).
    plan: ImportPlan
    upload: UploadReport
    #: Earlier jobs that hold files of PATH (``earlier``), then the jobs of this run.
    jobs: tuple[JobResult, ...]
    #: Planned jobs of earlier runs that this run could not complete: their staged files are in no job.
    abandoned: tuple[LedgerJob, ...] = ()
    reimport: bool = False
    #: Unfinished jobs of earlier runs that hold none of PATH's files (another folder's): left alone.
    left_alone: tuple[LedgerJob, ...] = ()

    @property
    def imported(self) -> int:
        """Files of PATH imported (now or earlier)."""
        return sum(job.path_imported for job in self.jobs)

    @property
    def already_imported(self) -> int:
        """Files whose content an earlier job had imported into the data store (not imported again)."""
        return sum(job.imported for job in self.jobs if job.earlier)

    @property
    def failed(self) -> tuple[FileFailure, ...]:
        """Files of PATH that failed."""
        return tuple(failure for job in self.jobs for failure in job.path_failed)

    @property
    def ok(self) -> bool:
        """Every file of PATH imported (now or earlier)."""
        return bool(self.jobs) and all(job.ok for job in self.jobs)


@dataclass
class ImportProgress:
    """What :func:`run_import` has done so far, kept up to date as it goes (for a report when it fails)."""

    plan: ImportPlan | None = None
    input_bucket: str = ""
    #: This run's jobs (taken on again, then new), once the ledger was read.
    jobs: list[PlannedJob] = field(default_factory=list)
    earlier: list[JobResult] = field(default_factory=list)
    abandoned: list[LedgerJob] = field(default_factory=list)
    left_alone: list[LedgerJob] = field(default_factory=list)
    #: Files and bytes uploaded (or found already in S3) so far, and the upload's report once it ended.
    upload_files: int = 0
    upload_bytes: int = 0
    upload: UploadReport | None = None
    #: Job prefix -> (job id, last status) of every job started (or found started).
    started: dict[str, tuple[str, str]] = field(default_factory=dict)
    results: list[JobResult] = field(default_factory=list)


# ---------------------------------------------------------------- step 1: the plan (local only)


def prepare(
    path: Path,
    outputs: StackOutputs,
    options: ImportOptions,
    *,
    on_file: Callable[[], None] | None = None,
    on_hashed: Callable[[int, int], None] | None = None,
) -> ImportPlan:
    """Discover, hash and split the files under ``path``; validate every job's start request. No AWS call.

    ``on_file`` is called per file looked at, ``on_hashed`` with (files, bytes) per file fingerprinted. A file whose
    content is the same as an earlier one's (in path order) is skipped, naming that one."""
    job_limits = JobLimits(max_files=options.max_files_per_job)
    found = discovery.discover(path, on_file=on_file, follow_links=options.follow_links)
    hashed = discovery.fingerprint(
        found.files, on_file=None if on_hashed is None else lambda item: on_hashed(1, item.size)
    )
    distinct, repeated = discovery.distinct_contents(hashed)
    skipped = tuple(sorted((*found.skipped, *repeated), key=lambda item: item.relative_path))
    plan = planning.plan_import(distinct, job_limits=job_limits, skipped=skipped, token_scope=outputs.datastore_id)
    _validate(outputs, plan.jobs)
    return plan


def _validate(outputs: StackOutputs, planned: Sequence[PlannedJob]) -> None:
    for job in planned:
        jobs.validate_start_request(start_request(outputs, job).to_params(), sources=_sources(outputs))


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
    """Upload every file of ``plan`` (resumable) to the stack's input bucket."""
    return _upload(session, outputs, list(plan.files()), options, callbacks)


def _upload(
    session: boto3.session.Session,
    outputs: StackOutputs,
    files: Sequence[PlannedFile],
    options: ImportOptions,
    callbacks: ImportCallbacks,
) -> UploadReport:
    items = [
        UploadItem(path=item.path, key=item.key, size=item.size, checksum_crc64nvme=item.crc64nvme) for item in files
    ]
    if callbacks.on_upload_start is not None:
        callbacks.on_upload_start(len(items), sum(item.size for item in items))
    report = upload_files(
        session,
        outputs.input_bucket_name,
        items,
        concurrency=options.upload_concurrency,
        on_progress=callbacks.on_upload_progress,
        engine=options.upload_engine,
        expected_bucket_owner=outputs.account_id,
    )
    if callbacks.on_upload_end is not None:
        callbacks.on_upload_end(report)
    return report


@dataclass
class _RunJob:
    """One job of this run: its plan, its ledger record, the attempt to start and the job id once known."""

    job: PlannedJob
    record: LedgerJob
    attempt: int = 1
    job_id: str | None = None
    #: Its files still have to be uploaded (a new job, or one planned by an earlier run that never finished staging).
    needs_upload: bool = True
    #: Keys of its files that are not under PATH (a job of an earlier run taken on).
    outside_path: frozenset[str] = frozenset()


@dataclass(frozen=True)
class _Arranged:
    run_jobs: tuple[_RunJob, ...]
    earlier: tuple[JobResult, ...]
    abandoned: tuple[LedgerJob, ...]
    left_alone: tuple[LedgerJob, ...]


def arrange(outputs: StackOutputs, plan: ImportPlan, ledger: import_ledger.Ledger, options: ImportOptions) -> _Arranged:
    """This run's jobs and the earlier jobs' share of PATH, from the prepared plan and the ledger (pure)."""
    reconciled = import_ledger.reconcile(
        list(plan.files()), ledger, reimport=options.reimport, retry_failed=options.retry_failed
    )
    run_jobs: list[_RunJob] = []
    for record, local in reconciled.resumed:
        job = _planned_from_record(record, local)
        outside = frozenset(record.prefix + entry.path for entry in record.files if entry.path not in local)
        if record.state == import_ledger.ENDED:  # FAILED, and retry_failed: its next attempt
            run_jobs.append(_RunJob(job, record, attempt=record.attempt + 1, needs_upload=False, outside_path=outside))
        else:
            run_jobs.append(
                _RunJob(
                    job,
                    record,
                    attempt=record.attempt,
                    job_id=record.job_id,
                    needs_upload=record.state == import_ledger.PLANNED,
                    outside_path=outside,
                )
            )
    if reconciled.new_files:
        fresh = planning.plan_import(
            [_hashed(item) for item in reconciled.new_files],
            job_limits=plan.limits,
            token_scope=outputs.datastore_id,
            generation=reconciled.superseded,
        )
        _validate(outputs, fresh.jobs)
        taken = {run.job.prefix for run in run_jobs}
        for job in fresh.jobs:
            if job.prefix in taken:  # cannot happen unless two plans share a digest: never merge them silently
                raise ServiceError(f"{job.prefix} is already used by another job of this run; run the command again.")
            run_jobs.append(_RunJob(job, _record(job, import_ledger.PLANNED)))
    earlier = _earlier_results(outputs, reconciled.earlier)
    return _Arranged(tuple(run_jobs), earlier, reconciled.abandoned, reconciled.elsewhere)


def _hashed(item: Any) -> HashedFile:
    return HashedFile(path=item.path, relative_path=item.relative_path, size=item.size, crc64nvme=item.crc64nvme)


def _planned_from_record(record: LedgerJob, local: dict[str, Any]) -> PlannedJob:
    files = []
    for entry in record.files:
        size, _, crc = entry.content.partition(":")
        here = local.get(entry.path)
        files.append(
            PlannedFile(
                path=here.path if here is not None else Path(entry.path),
                relative_path=here.relative_path if here is not None else entry.path,
                size=int(size),
                crc64nvme=crc,
                key=record.prefix + entry.path,
            )
        )
    return PlannedJob(
        number=record.number,
        prefix=record.prefix,
        job_name=record.job_name,
        client_token=record.client_token,
        files=tuple(files),
    )


def _record(job: PlannedJob, state: str, **changes: Any) -> LedgerJob:
    files = tuple(
        LedgerFile(content=import_ledger.content_id(item.size, item.crc64nvme), path=item.key[len(job.prefix) :])
        for item in job.files
    )
    return LedgerJob(
        prefix=job.prefix,
        job_name=job.job_name,
        client_token=job.client_token,
        state=state,
        files=files,
        **changes,
    )


def _earlier_results(outputs: StackOutputs, earlier: Sequence[EarlierFile]) -> tuple[JobResult, ...]:
    by_job: dict[str, list[EarlierFile]] = {}
    records: dict[str, LedgerJob] = {}
    for item in earlier:
        by_job.setdefault(item.job.prefix, []).append(item)
        records[item.job.prefix] = item.job
    results = []
    for prefix, items in by_job.items():
        record = records[prefix]
        path_of = {entry.content: entry.path for entry in record.files}
        files = []
        failures = []
        imported_keys = set()
        for item in sorted(items, key=lambda earlier_file: earlier_file.file.relative_path):
            local = item.file
            key = prefix + path_of[import_ledger.content_id(local.size, local.crc64nvme)]
            files.append(
                PlannedFile(
                    path=getattr(local, "path", Path(local.relative_path)),
                    relative_path=local.relative_path,
                    size=local.size,
                    crc64nvme=local.crc64nvme,
                    key=key,
                )
            )
            if item.outcome == import_ledger.IMPORTED:
                imported_keys.add(key)
            else:
                failures.append(
                    FileFailure(
                        file=local.relative_path,
                        reason=item.reason or f"import job {record.job_id} {record.job_status}",
                        job_id=record.job_id,
                        s3_uri=f"s3://{outputs.input_bucket_name}/{key}",
                    )
                )
        job = PlannedJob(
            number=record.number,
            prefix=prefix,
            job_name=record.job_name,
            client_token=record.client_token,
            files=tuple(files),
        )
        results.append(
            JobResult(
                planned=job,
                input_s3_uri=input_s3_uri(outputs, job),
                output_s3_uri=output_s3_uri(outputs, job),
                status=JobStatus(
                    job_id=record.job_id or NOT_STARTED_ID,
                    job_status=record.job_status or "COMPLETED",
                    datastore_id=outputs.datastore_id,
                    job_name=record.job_name,
                    message=record.message,
                ),
                output=None,
                output_note=(f"ended in an earlier run; `python -m ahictl jobs {record.job_id}` shows its results"),
                imported=len(imported_keys),
                failed=tuple(failures),
                earlier=True,
                imported_keys=frozenset(imported_keys),
            )
        )
    return tuple(results)


def run_import(
    session: boto3.session.Session,
    outputs: StackOutputs,
    plan: ImportPlan,
    options: ImportOptions,
    callbacks: ImportCallbacks | None = None,
    progress: ImportProgress | None = None,
) -> ImportResult:
    """Steps 2 to 5 (see the module docstring); ``progress`` (if given) is kept up to date as it goes."""
    callbacks = callbacks or ImportCallbacks()
    progress = progress if progress is not None else ImportProgress()
    progress.plan = plan
    progress.input_bucket = outputs.input_bucket_name
    check_destination(session, outputs)
    s3 = make_client(session, "s3")
    ledger = LedgerStore(s3, outputs.input_bucket_name, outputs.datastore_id, outputs.account_id)
    ledger.load(allow_missing=options.reimport)
    arranged = _arrange_and_record(outputs, plan, ledger, options)
    progress.jobs = [run.job for run in arranged.run_jobs]
    progress.earlier = list(arranged.earlier)
    progress.abandoned = list(arranged.abandoned)
    progress.left_alone = list(arranged.left_alone)
    if arranged.left_alone:
        callbacks.message(
            f"{len(arranged.left_alone)} unfinished import job(s) hold none of the files under PATH and were left "
            f"alone (an import of another folder; running that import again finishes them): "
            + ", ".join(f"s3://{outputs.input_bucket_name}/{job.prefix}" for job in arranged.left_alone)
        )
    for job in arranged.abandoned:
        callbacks.message(
            f"{len(job.files)} file(s) staged under s3://{outputs.input_bucket_name}/{job.prefix} by an earlier run "
            "that never started its job are in no job: the folder changed since. They stay in the input bucket."
        )
    if arranged.earlier:
        callbacks.message(
            f"{sum(len(job.planned.files) for job in arranged.earlier)} file(s) were handled by earlier import jobs "
            f"({', '.join(job.status.job_id for job in arranged.earlier)}) and are not imported again"
            + ("" if options.reimport else " (--reimport imports them again)")
        )
    # Starts are retried here (paced, with the same client token); botocore's own retries would sleep outside
    # the injected clock and hide how long a start has been waiting.
    # (botocore's ``retries.max_attempts`` counts retries after the first attempt: 0 means one attempt.)
    timeout = options.service_read_timeout_seconds
    starter = _Starter(
        make_client(session, jobs.SERVICE, max_attempts=0, read_timeout=timeout),
        make_client(session, jobs.SERVICE, read_timeout=timeout),
        outputs,
        options,
        callbacks,
        ledger,
        progress,
    )
    # A start an earlier run sent (its files all staged) may have gone through with its answer lost: ask again with
    # the same client token before anything else (within the concurrent-job limit, counting the jobs known started).
    for run in arranged.run_jobs:
        if run.job_id is not None:
            starter.track(run)
    for run in arranged.run_jobs:
        if run.job_id is None and not run.needs_upload:
            starter.start_within_limit(run)
    report = _upload(
        session,
        outputs,
        [item for run in arranged.run_jobs if run.needs_upload for item in run.job.files],
        options,
        _counting(callbacks, progress),
    )
    progress.upload = report
    ledger.record([run.record for run in arranged.run_jobs if run.needs_upload and _stage(run)])
    finished = starter.start_and_wait(arranged.run_jobs)
    results = list(arranged.earlier)
    for run in arranged.run_jobs:
        job_id, status = finished[run.job.prefix]
        result = replace(_job_result(s3, outputs, run.job, job_id, status, options), outside_path=run.outside_path)
        results.append(result)
        progress.results.append(result)
        ledger.record([_ended(run, result)])
    return ImportResult(
        plan=plan,
        upload=report,
        jobs=tuple(results),
        abandoned=arranged.abandoned,
        reimport=options.reimport,
        left_alone=arranged.left_alone,
    )


def _arrange_and_record(
    outputs: StackOutputs, plan: ImportPlan, ledger: LedgerStore, options: ImportOptions
) -> _Arranged:
    """Sort PATH's files against the ledger and record the planned (and abandoned) jobs, only if no other run wrote
    the ledger since it was read: otherwise sort them again against what that run recorded, so that two runs that
    overlap never plan the same content into two jobs."""
    for _ in range(import_ledger.MAX_WRITE_CONFLICTS):
        arranged = arrange(outputs, plan, ledger.ledger, options)
        planned = [run.record for run in arranged.run_jobs if run.record.state == import_ledger.PLANNED]
        if ledger.record_if_unchanged([*arranged.abandoned, *planned]):
            return arranged
    raise ServiceError(
        f"another import into data store {outputs.datastore_id} is starting ({ledger.uri} changed "
        f"{import_ledger.MAX_WRITE_CONFLICTS} times while this run planned its jobs); nothing was uploaded or started. "
        "Run the same command again."
    )


def _stage(run: _RunJob) -> bool:
    run.record = _record(run.job, import_ledger.STAGED, attempt=run.attempt)
    return True


def _ended(run: _RunJob, result: JobResult) -> LedgerJob:
    reasons: dict[str, str] = {}
    for failure in result.failed:
        if failure.s3_uri:
            reasons[failure.s3_uri.split("/", 3)[-1]] = failure.reason
    files = []
    for item, entry in zip(run.job.files, _record(run.job, import_ledger.ENDED).files, strict=True):
        imported = item.key in result.imported_keys
        files.append(
            LedgerFile(
                content=entry.content,
                path=entry.path,
                outcome=import_ledger.IMPORTED if imported else import_ledger.FAILED,
                reason=None if imported else reasons.get(item.key, "not listed in the job's output"),
            )
        )
    return LedgerJob(
        prefix=run.job.prefix,
        job_name=run.job.job_name,
        client_token=run.job.client_token,
        state=import_ledger.ENDED,
        files=tuple(files),
        attempt=run.attempt,
        job_id=None if result.status.job_id == NOT_STARTED_ID else result.status.job_id,
        job_status=result.status.job_status,
        message=result.status.message,
    )


def _counting(callbacks: ImportCallbacks, progress: ImportProgress) -> ImportCallbacks:
    """``callbacks`` with the upload's progress also counted into ``progress``."""
    inner = callbacks.on_upload_progress

    def on_upload_progress(files: int, nbytes: int) -> None:
        progress.upload_files += files
        progress.upload_bytes += nbytes
        if inner is not None:
            inner(files, nbytes)

    return ImportCallbacks(
        on_message=callbacks.on_message,
        on_wait=callbacks.on_wait,
        on_upload_start=callbacks.on_upload_start,
        on_upload_progress=on_upload_progress,
        on_upload_end=callbacks.on_upload_end,
        on_job_status=callbacks.on_job_status,
    )


class _Starter:
    """Starts this run's jobs (paced, within the concurrent-job limit) and waits for them, recording each job id in
    the ledger as soon as it is known."""

    def __init__(
        self,
        start_client: Any,
        poll_client: Any,
        outputs: StackOutputs,
        options: ImportOptions,
        callbacks: ImportCallbacks,
        ledger: LedgerStore,
        progress: ImportProgress,
    ) -> None:
        clock = options.clock
        self.start_client = start_client
        self.poll_client = poll_client
        self.outputs = outputs
        self.options = options
        self.callbacks = callbacks
        self.ledger = ledger
        self.progress = progress
        self.max_running = options.max_concurrent_jobs or limits.max_concurrent_jobs(outputs.region)
        if self.max_running < 1:
            raise UsageError(f"--max-concurrent-jobs {self.max_running}: give a number of at least 1.")
        self.start_pacer = TokenBucket(limits.START_JOB_RATE_PER_SECOND, limits.START_JOB_BURST, clock)
        self.poll_pacer = TokenBucket(limits.GET_JOB_RATE_PER_SECOND, int(limits.GET_JOB_RATE_PER_SECOND), clock)
        self.running: dict[str, tuple[str, str]] = {}  # prefix -> (job id, last status)
        self.finished: dict[str, tuple[str, JobStatus]] = {}
        self.by_prefix: dict[str, PlannedJob] = {}

    def start(self, run: _RunJob) -> None:
        job = run.job
        self.by_prefix[job.prefix] = job
        try:
            job_id, attempt, request = _start_one(
                self.start_client,
                self.poll_client,
                self.start_pacer,
                self.outputs,
                job,
                self.options,
                self.callbacks,
                first_attempt=run.attempt,
            )
        except OpsError as error:
            if error.aws_error_code not in REFUSED_FOR_GOOD_CODES:
                raise
            status = JobStatus(
                job_id=NOT_STARTED_ID,
                job_status="FAILED",
                datastore_id=self.outputs.datastore_id,
                job_name=job.job_name,
                message=f"the start was refused: {error}",
            )
            self.finished[job.prefix] = (NOT_STARTED_ID, status)
            self.callbacks.message(f"{job.label}: {status.message} (recorded as FAILED; --retry-failed tries again)")
            return
        run.job_id, run.attempt = job_id, attempt
        run.record = _record(job, import_ledger.STARTED, attempt=attempt, job_id=job_id)
        self.ledger.record([run.record])
        self.callbacks.message(
            f"{job.label}: import job {job_id} ({len(job.files)} files, {job.total_bytes:,} bytes) for "
            f"{request.input_s3_uri}"
        )
        self.running[job.prefix] = (job_id, "")
        self.progress.started[job.prefix] = (job_id, "")

    def poll_round(self) -> bool:
        """Poll every running job once; True when any of them finished."""
        any_finished = False
        for prefix, (job_id, last) in list(self.running.items()):
            self.poll_pacer.acquire()
            status = jobs.get_job(self.poll_client, self.outputs.datastore_id, job_id)
            if status.job_status != last:
                self.running[prefix] = (job_id, status.job_status)
                self.progress.started[prefix] = (job_id, status.job_status)
                _tell_status(self.callbacks, self.by_prefix[prefix], status)
            if status.finished:
                del self.running[prefix]
                self.finished[prefix] = (job_id, status)
                any_finished = True
        return any_finished

    def track(self, run: _RunJob) -> None:
        """A job started by an earlier run: wait for it (it counts among the running jobs)."""
        if run.job_id is None or run.job.prefix in self.running or run.job.prefix in self.finished:
            return
        self.by_prefix[run.job.prefix] = run.job
        self.running[run.job.prefix] = (run.job_id, "")
        self.progress.started[run.job.prefix] = (run.job_id, "")

    def start_within_limit(self, run: _RunJob) -> None:
        """Start the job once fewer than ``max_running`` jobs run (polling them meanwhile)."""
        if run.job.prefix in self.running or run.job.prefix in self.finished:
            return
        backoff = self._backoff()
        while len(self.running) >= self.max_running:
            if self.poll_round():
                backoff.reset()
            else:
                self.options.clock.sleep(backoff.next_delay())
        self.start(run)

    def _backoff(self) -> Backoff:
        return Backoff(initial=self.options.poll_initial_seconds, factor=1.5, maximum=self.options.poll_max_seconds)

    def start_and_wait(self, run_jobs: Sequence[_RunJob]) -> dict[str, tuple[str, JobStatus]]:
        clock = self.options.clock
        for run in run_jobs:
            if run.job_id is not None:
                self.track(run)
            else:
                self.start_within_limit(run)
        backoff = self._backoff()
        while self.running:
            if self.poll_round():
                backoff.reset()
            if self.running:
                clock.sleep(backoff.next_delay())
        return self.finished


def _start_one(
    start_client: Any,
    poll_client: Any,
    pacer: TokenBucket,
    outputs: StackOutputs,
    job: PlannedJob,
    options: ImportOptions,
    callbacks: ImportCallbacks,
    *,
    first_attempt: int = 1,
) -> tuple[str, int, StartRequest]:
    """Start the job (or get back the one its client token started before); returns (job id, attempt, request).
    With ``retry_failed``, a job that an earlier run left FAILED is followed by a new attempt under the next token of
    the same sequence, so a repeated ``--retry-failed`` run still starts nothing twice."""
    for attempt in range(first_attempt, MAX_ATTEMPTS_PER_JOB + 1):
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
            return job_id, attempt, request
        status = jobs.get_job(poll_client, outputs.datastore_id, job_id)
        if status.job_status != "FAILED":
            return job_id, attempt, request
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
        if job_id == NOT_STARTED_ID:
            raise OpsError("the job was never started, so it has no results")
        output = manifest.read_job_output(
            s3,
            out_uri,
            outputs.datastore_id,
            job_id,
            attempts=attempts,
            delay_seconds=options.manifest_delay_seconds,
            sleep=options.clock.sleep,
            expected_bucket_owner=outputs.account_id,
        )
    except OpsError as error:
        # Recorded as ended with this note (a rerun reports it again and goes on; `ahictl jobs` reads it later).
        note = f"its results could not be read: {error}" if status.job_status == "COMPLETED" else str(error)
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
    elif output is None:
        reason = (
            f"import job {job_id} is COMPLETED but its results could not be read; "
            f"`python -m ahictl jobs {job_id}` shows them once they are back"
        )
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
        imported_keys=frozenset(imported_keys - failed_keys),
    )


def _input_file_resolver(bucket: str, job: PlannedJob) -> Callable[[str], PlannedFile | None]:
    """The planned file an ``inputFile`` of the job's results names (:func:`ahiops.manifest.input_file_resolver`)."""
    return input_file_resolver(bucket, job.prefix, {item.key: item for item in job.files})


# ---------------------------------------------------------------- JSON


def import_document(**values: Any) -> dict[str, Any]:
    """An ``ahictl import --json`` document: every key of the one key set, those not given at their defaults (what a
    run that did nothing says). A finished run, a run that stopped (which adds ``error``) and a dry run all build on
    it, so that they have the same keys."""
    document: dict[str, Any] = {
        "dryRun": False,
        "digest": None,
        "files": 0,
        "bytes": 0,
        "imported": 0,
        "alreadyImported": 0,
        "alreadyImportedBy": [],
        "reimport": False,
        "ok": False,
        "upload": upload_document(),
        "jobs": [],
        "skipped": [],
        "failed": [],
        "warnings": [],
        "unreferenced": [],
        "leftAlone": [],
    }
    unknown = set(values) - set(document) - {"error"}
    if unknown:
        raise ValueError(f"not keys of the import document: {sorted(unknown)}")
    document.update(values)
    return document


def upload_document(**values: Any) -> dict[str, Any]:
    """The ``upload`` member: counts of the upload (None while unknown: before it ended, or in a dry run)."""
    document: dict[str, Any] = {
        "uploaded": None,
        "uploadedBytes": None,
        "alreadyPresent": None,
        "replaced": None,
        "unverified": None,
        "engine": None,
        "seconds": None,
        "filesDone": 0,
        "bytesDone": 0,
    }
    document.update(values)
    return document


def job_document(**values: Any) -> dict[str, Any]:
    """One member of ``jobs``, every key present (None, or 0, when not known yet)."""
    document: dict[str, Any] = {
        "job": None,
        "jobId": None,
        "jobStatus": None,
        "jobName": None,
        "message": None,
        "inputS3Uri": None,
        "outputS3Uri": None,
        "resultsS3Uri": None,
        "files": 0,
        "bytes": None,
        "folders": None,
        "imported": 0,
        "failed": 0,
        "warnings": 0,
        "imageSetsCreated": None,
        "imageSets": [],
        "note": None,
        "earlierRun": False,
        "filesOutsidePath": 0,
        "importedOutsidePath": 0,
    }
    unknown = set(values) - set(document)
    if unknown:
        raise ValueError(f"not keys of a job in the import document: {sorted(unknown)}")
    document.update(values)
    return document


def plan_to_json(plan: ImportPlan, outputs: StackOutputs) -> dict[str, Any]:
    """The ``--dry-run --json`` document: the same keys as a real run's, with nothing started; what only a run knows
    (files already imported, read from the ledger) is null."""
    return import_document(
        dryRun=True,
        digest=plan.digest,
        files=plan.file_count,
        bytes=plan.total_bytes,
        alreadyImported=None,
        alreadyImportedBy=None,
        jobs=[
            job_document(
                job=job.label,
                jobStatus="PLANNED",
                jobName=job.job_name,
                inputS3Uri=input_s3_uri(outputs, job),
                outputS3Uri=output_s3_uri(outputs, job),
                files=len(job.files),
                bytes=job.total_bytes,
                folders=job.folder_count,
            )
            for job in plan.jobs
        ],
        skipped=_skipped_json(plan),
    )


def result_to_json(result: ImportResult) -> dict[str, Any]:
    """The ``--json`` document of an import."""
    return import_document(
        digest=result.plan.digest,
        files=result.plan.file_count,
        bytes=result.plan.total_bytes,
        imported=result.imported,
        alreadyImported=result.already_imported,
        alreadyImportedBy=_already_imported_by(result.jobs),
        reimport=result.reimport,
        ok=result.ok,
        upload=_upload_json(result.upload),
        jobs=[_job_json(job) for job in result.jobs],
        skipped=_skipped_json(result.plan),
        failed=[_failure_json(failure) for failure in result.failed],
        warnings=[
            {"file": item.input_file, "warnings": list(item.warnings)}
            for job in result.jobs
            if job.output is not None
            for item in job.output.warnings
        ],
        unreferenced=_unreferenced_json(result.abandoned),
        leftAlone=_left_alone_json(result.left_alone),
    )


def failure_to_json(
    progress: ImportProgress, message: str, exit_code: int, aws_error_code: str | None, *, reimport: bool = False
) -> dict[str, Any]:
    """The ``--json`` document of an import that stopped: the same keys as :func:`result_to_json` with what was done
    before it stopped, ``ok`` false and ``error`` (``message``, ``exitCode``, ``awsErrorCode``)."""
    plan = progress.plan
    finished = {result.planned.prefix: result for result in progress.results}
    jobs_json: list[dict[str, Any]] = [_job_json(job) for job in progress.earlier]
    for job in progress.jobs:
        if job.prefix in finished:
            jobs_json.append(_job_json(finished[job.prefix]))
            continue
        job_id, status = progress.started.get(job.prefix, (None, ""))
        jobs_json.append(
            job_document(
                job=job.label,
                jobId=job_id,
                jobStatus=status or ("STARTED" if job_id else "NOT_STARTED"),
                jobName=job.job_name,
                inputS3Uri=f"s3://{progress.input_bucket}/{job.prefix}",
                files=len(job.files),
                bytes=job.total_bytes,
                folders=job.folder_count,
            )
        )
    results = [*progress.earlier, *progress.results]
    upload = (
        _upload_json(progress.upload)
        if progress.upload is not None
        else upload_document(filesDone=progress.upload_files, bytesDone=progress.upload_bytes)
    )
    return import_document(
        digest=plan.digest if plan else None,
        files=plan.file_count if plan else 0,
        bytes=plan.total_bytes if plan else 0,
        imported=sum(result.path_imported for result in results),
        alreadyImported=sum(result.imported for result in progress.earlier),
        alreadyImportedBy=_already_imported_by(progress.earlier),
        reimport=reimport,
        upload=upload,
        jobs=jobs_json,
        skipped=_skipped_json(plan) if plan else [],
        failed=[_failure_json(failure) for result in results for failure in result.path_failed],
        unreferenced=_unreferenced_json(progress.abandoned),
        leftAlone=_left_alone_json(progress.left_alone),
        error={"message": message, "exitCode": exit_code, "awsErrorCode": aws_error_code},
    )


def _skipped_json(plan: ImportPlan) -> list[dict[str, Any]]:
    return [{"file": item.relative_path, "reason": item.reason} for item in plan.skipped]


def _left_alone_json(jobs_left: Sequence[LedgerJob]) -> list[dict[str, Any]]:
    """Unfinished jobs of another folder (none of PATH's files): not touched by this run."""
    return [{"prefix": job.prefix, "state": job.state, "jobId": job.job_id} for job in jobs_left]


def _already_imported_by(results: Sequence[JobResult]) -> list[dict[str, Any]]:
    return [{"jobId": job.status.job_id, "files": job.imported} for job in results if job.earlier and job.imported]


def _unreferenced_json(abandoned: Sequence[LedgerJob]) -> list[dict[str, Any]]:
    """Staged by an earlier run whose job was never started, and referenced by no job (the folder changed since)."""
    return [{"prefix": job.prefix, "files": len(job.files)} for job in abandoned]


def _upload_json(report: UploadReport) -> dict[str, Any]:
    return upload_document(
        uploaded=report.uploaded,
        uploadedBytes=report.uploaded_bytes,
        alreadyPresent=report.already_present,
        replaced=report.replaced,
        unverified=report.unverified,
        engine=report.engine,
        seconds=round(report.seconds, 3),
        filesDone=report.uploaded + report.already_present,
        bytesDone=report.uploaded_bytes + report.already_present_bytes,
    )


def _failure_json(failure: FileFailure) -> dict[str, Any]:
    return {"file": failure.file, "reason": failure.reason, "jobId": failure.job_id, "s3Uri": failure.s3_uri}


def _job_json(job: JobResult) -> dict[str, Any]:
    summary = job.output.summary if job.output is not None else None
    return job_document(
        job=job.planned.label,
        jobId=None if job.status.job_id == NOT_STARTED_ID else job.status.job_id,
        jobStatus=job.status.job_status,
        jobName=job.planned.job_name,
        message=job.status.message,
        inputS3Uri=job.input_s3_uri,
        outputS3Uri=job.output_s3_uri,
        resultsS3Uri=job.output.folder_uri if job.output is not None else None,
        files=len(job.planned.files),
        bytes=job.planned.total_bytes,
        folders=job.planned.folder_count,
        imported=job.imported,
        failed=len(job.failed),
        warnings=len(job.output.warnings) if job.output is not None else 0,
        imageSetsCreated=summary.generated_image_sets if summary is not None else None,
        imageSets=[item.image_set_id for item in summary.image_sets] if summary is not None else [],
        note=job.output_note,
        earlierRun=job.earlier,
        filesOutsidePath=len(job.outside_path),
        importedOutsidePath=len(job.imported_keys & job.outside_path),
    )
