"""What ``ahictl import`` staged and imported into one data store: a ledger kept in the input bucket.

The unit of idempotence is a file's content (its size and CRC64NVME, :func:`content_id`), not a folder or a plan: a
rerun on a folder that grew imports only the new files, and a file whose content an earlier job imported into the same
data store is reported as already imported (by that job) instead of being imported again (``--reimport`` imports it
again on purpose).

The ledger is one JSON document per data store, ``imports/ledger/<datastoreId>.json`` in the input bucket (where the
importer's identity may write and read back under ``imports/``; no job's input prefix, ``imports/<digest>/job-NNNN/``,
contains it). It lists every job this tool planned there, each with its S3 prefix, client token, attempt, state, job
id and, per file, the content, the relative path and the outcome (imported, or failed with the reason). A job's state
only moves forward:

- ``planned``: recorded before its files are uploaded (objects under its prefix may be partly there);
- ``abandoned``: a planned job that a later run could not complete because its files changed or went away; what was
  staged under its prefix is referenced by no job (the report says so);
- ``staged``: every file uploaded, recorded before the start; the start may have gone through even if its answer was
  lost, so a rerun first asks again with the same client token, which returns that job and never starts a second one;
- ``started``: the job id is known;
- ``ended``: COMPLETED or FAILED, with each file's outcome.

Writes replace the whole document with a conditional PutObject (``If-Match`` the ETag read, ``If-None-Match: *`` when
there is none yet); when another run wrote in between, the document is read again and this run's entries are merged
into it, so two runs never lose each other's entries (:meth:`LedgerStore.record`). A run's new jobs are written
with :meth:`LedgerStore.record_if_unchanged` instead: when another run wrote in between, the run sorts its files
again against that ledger, so two runs that overlap never plan the same content twice. Every call carries
``ExpectedBucketOwner``.

:func:`reconcile` (pure) sorts a folder's files against the ledger: jobs to take on again (unfinished ones that
hold some of the folder's contents; those of other folders are left alone), files already handled by ended jobs,
and new files to plan.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final, Protocol

import botocore.exceptions

from .errors import OpsError, ServiceError
from .planning import IMPORTS_PREFIX
from .session import error_code, translate_client_errors

LEDGER_PREFIX: Final = f"{IMPORTS_PREFIX}ledger/"
LEDGER_FORMAT: Final = "ahictl-import-ledger/1"

PLANNED: Final = "planned"
ABANDONED: Final = "abandoned"
STAGED: Final = "staged"
STARTED: Final = "started"
ENDED: Final = "ended"
#: States in the order a job goes through them (a merge keeps the furthest).
_STATE_RANK: Final = {PLANNED: 0, ABANDONED: 1, STAGED: 2, STARTED: 3, ENDED: 4}

IMPORTED: Final = "imported"
FAILED: Final = "failed"

#: Conditional writes lost to another run before giving up.
MAX_WRITE_CONFLICTS: Final = 5
_PRECONDITION_CODES: Final = frozenset({"PreconditionFailed", "412", "ConditionalRequestConflict", "409"})
_MISSING_CODES: Final = frozenset({"NoSuchKey", "404", "NotFound"})


class LedgerFormatError(OpsError):
    """The ledger in S3 is not in the form this module writes."""


class LedgerMissingError(OpsError):
    """There is no ledger, but the tool staged objects in the bucket before: it was deleted or expired."""


def content_id(size: int, crc64nvme: str) -> str:
    """A file's content as the ledger knows it: ``<size>:<base64 CRC64NVME>``."""
    return f"{size}:{crc64nvme}"


def ledger_key(datastore_id: str) -> str:
    return f"{LEDGER_PREFIX}{datastore_id}.json"


@dataclass(frozen=True)
class LedgerFile:
    content: str
    #: Relative path under the imported folder when the job was planned (the object key is the job's prefix + this).
    path: str
    #: ``imported``, ``failed``, or None until the job has ended.
    outcome: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class LedgerJob:
    #: ``imports/<digest>/job-NNNN/``: the job's input prefix (and output prefix); the job's identity in the ledger.
    prefix: str
    job_name: str
    #: The client token of the first attempt (later attempts derive theirs from it).
    client_token: str
    state: str
    files: tuple[LedgerFile, ...]
    attempt: int = 1
    job_id: str | None = None
    #: COMPLETED or FAILED once ended.
    job_status: str | None = None
    message: str | None = None

    @property
    def number(self) -> int:
        """The job's number in its plan (from ``job-NNNN``)."""
        tail = self.prefix.rstrip("/").rsplit("-", 1)[-1]
        return int(tail) if tail.isdigit() else 0


@dataclass(frozen=True)
class Ledger:
    datastore_id: str
    #: By prefix, in the order first recorded.
    jobs: dict[str, LedgerJob] = field(default_factory=dict)


def merge_job(old: LedgerJob | None, new: LedgerJob) -> LedgerJob:
    """The furthest of two records of the same job: a later attempt, else a later state (the job id is kept)."""
    if old is None:
        return new
    if (old.attempt, _STATE_RANK[old.state]) > (new.attempt, _STATE_RANK[new.state]):
        return old
    if new.job_id is None and old.job_id is not None and old.attempt == new.attempt:
        return replace(new, job_id=old.job_id)
    return new


def merged(ledger: Ledger, updates: Iterable[LedgerJob]) -> Ledger:
    jobs = dict(ledger.jobs)
    for job in updates:
        jobs[job.prefix] = merge_job(jobs.get(job.prefix), job)
    return Ledger(ledger.datastore_id, jobs)


# ---------------------------------------------------------------- JSON (pure)


def ledger_to_json(ledger: Ledger) -> bytes:
    document = {
        "format": LEDGER_FORMAT,
        "datastoreId": ledger.datastore_id,
        "jobs": [
            {
                "prefix": job.prefix,
                "jobName": job.job_name,
                "clientToken": job.client_token,
                "attempt": job.attempt,
                "state": job.state,
                "jobId": job.job_id,
                "jobStatus": job.job_status,
                "message": job.message,
                "files": [
                    {"content": item.content, "path": item.path, "outcome": item.outcome, "reason": item.reason}
                    for item in job.files
                ],
            }
            for job in ledger.jobs.values()
        ],
    }
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def ledger_from_json(data: bytes, *, source: str) -> Ledger:
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError) as error:
        raise LedgerFormatError(f"{source} is not valid JSON ({error}); {_ledger_advice()}") from None
    if not isinstance(document, dict) or document.get("format") != LEDGER_FORMAT:
        raise LedgerFormatError(f"{source} is not an ahictl import ledger ({LEDGER_FORMAT}); {_ledger_advice()}")
    try:
        jobs: dict[str, LedgerJob] = {}
        for entry in document["jobs"]:
            job = LedgerJob(
                prefix=str(entry["prefix"]),
                job_name=str(entry["jobName"]),
                client_token=str(entry["clientToken"]),
                attempt=int(entry.get("attempt", 1)),
                state=str(entry["state"]),
                job_id=_optional(entry.get("jobId")),
                job_status=_optional(entry.get("jobStatus")),
                message=_optional(entry.get("message")),
                files=tuple(
                    LedgerFile(
                        content=str(item["content"]),
                        path=str(item["path"]),
                        outcome=_optional(item.get("outcome")),
                        reason=_optional(item.get("reason")),
                    )
                    for item in entry["files"]
                ),
            )
            if job.state not in _STATE_RANK:
                raise ValueError(f"unknown state {job.state!r}")
            jobs[job.prefix] = job
        return Ledger(str(document["datastoreId"]), jobs)
    except (KeyError, TypeError, ValueError) as error:
        raise LedgerFormatError(f"{source} has an entry this tool cannot read ({error}); {_ledger_advice()}") from None


def _optional(value: Any) -> str | None:
    return None if value is None else str(value)


def _ledger_advice() -> str:
    return (
        "only ahictl writes it. Restore its previous version (the input bucket keeps versions) and run the command "
        "again; without it, files already imported would be imported again"
    )


# ---------------------------------------------------------------- S3


class LedgerStore:
    """The ledger of one data store in the input bucket: read once, then written with conditional writes."""

    def __init__(self, s3: Any, bucket: str, datastore_id: str, expected_owner: str) -> None:
        self._s3 = s3
        self._bucket = bucket
        self._datastore_id = datastore_id
        self._owner = expected_owner
        self._key = ledger_key(datastore_id)
        self._etag: str | None = None
        self._ledger = Ledger(datastore_id)

    @property
    def uri(self) -> str:
        return f"s3://{self._bucket}/{self._key}"

    @property
    def ledger(self) -> Ledger:
        return self._ledger

    def load(self, *, allow_missing: bool = False) -> Ledger:
        """Read the ledger. None is there yet: an empty one, unless the tool staged objects under ``imports/``
        before (then it was deleted or expired, and an empty one would import every file again): an error, unless
        ``allow_missing`` (``--reimport``: importing again on purpose)."""
        try:
            response = self._s3.get_object(Bucket=self._bucket, Key=self._key, ExpectedBucketOwner=self._owner)
            data = response["Body"].read()
        except botocore.exceptions.ClientError as error:
            if error_code(error) in _MISSING_CODES:
                if not allow_missing and self._staged_before():
                    raise LedgerMissingError(
                        f"the import ledger {self.uri} is missing, but earlier imports staged files under "
                        f"s3://{self._bucket}/{IMPORTS_PREFIX}: without it every file would be imported again. "
                        "Restore its previous version (the input bucket keeps versions: `aws s3api "
                        f"list-object-versions --bucket {self._bucket} --prefix {self._key}`, then copy the last "
                        "good version back) and run the command again, or pass --reimport to import the files "
                        "again on purpose."
                    ) from None
                self._etag, self._ledger = None, Ledger(self._datastore_id)
                return self._ledger
            with translate_client_errors(f"GetObject {self.uri} (the import ledger)"):
                raise
        except botocore.exceptions.BotoCoreError:
            with translate_client_errors(f"GetObject {self.uri} (the import ledger)"):
                raise
        self._etag = str(response["ETag"])
        self._ledger = ledger_from_json(data, source=self.uri)
        return self._ledger

    def _staged_before(self) -> bool:
        """Whether any object other than a ledger is under ``imports/`` (staged by an earlier import)."""
        with translate_client_errors(f"ListObjectsV2 s3://{self._bucket}/{IMPORTS_PREFIX}"):
            pages = self._s3.get_paginator("list_objects_v2").paginate(
                Bucket=self._bucket, Prefix=IMPORTS_PREFIX, ExpectedBucketOwner=self._owner
            )
            for page in pages:
                if any(not item["Key"].startswith(LEDGER_PREFIX) for item in page.get("Contents", [])):
                    return True
        return False

    def record_if_unchanged(self, updates: Sequence[LedgerJob]) -> bool:
        """Merge ``updates`` into the ledger as read and write it only if no other run wrote since; False (with the
        ledger read again) when another run did, so that the caller can sort its files against what it recorded."""
        if not updates:
            return True
        candidate = merged(self._ledger, updates)
        if not self._put(candidate):
            self.load()
            return False
        self._ledger = candidate
        return True

    def _put(self, candidate: Ledger) -> bool:
        """Write ``candidate`` if the ledger is still the one read; False when another run wrote it since."""
        condition = {"IfMatch": self._etag} if self._etag else {"IfNoneMatch": "*"}
        try:
            response = self._s3.put_object(
                Bucket=self._bucket,
                Key=self._key,
                Body=ledger_to_json(candidate),
                ContentType="application/json",
                ExpectedBucketOwner=self._owner,
                **condition,
            )
        except botocore.exceptions.ClientError as error:
            if error_code(error) in _PRECONDITION_CODES:
                return False
            with translate_client_errors(f"PutObject {self.uri} (the import ledger)"):
                raise
        except botocore.exceptions.BotoCoreError:
            with translate_client_errors(f"PutObject {self.uri} (the import ledger)"):
                raise
        self._etag = str(response["ETag"])
        return True

    def record(self, updates: Sequence[LedgerJob]) -> Ledger:
        """Merge ``updates`` into the ledger and write it whole; when another run wrote since it was read, read it
        again and merge into that, so that neither run's entries are lost."""
        if not updates:
            return self._ledger
        for _ in range(MAX_WRITE_CONFLICTS):
            candidate = merged(self._ledger, updates)
            if not self._put(candidate):
                self.load()
                continue
            self._ledger = candidate
            return candidate
        raise ServiceError(
            f"PutObject {self.uri} (the import ledger): other runs kept writing it ({MAX_WRITE_CONFLICTS} conflicts in "
            "a row). Run the command again once the other imports into this data store have ended."
        )


# ---------------------------------------------------------------- reconciling a folder with the ledger (pure)


class LocalFile(Protocol):
    """What :func:`reconcile` needs of a local file (a :class:`~ahiops.planning.PlannedFile` has it)."""

    @property
    def relative_path(self) -> str: ...

    @property
    def size(self) -> int: ...

    @property
    def crc64nvme(self) -> str: ...


@dataclass(frozen=True)
class EarlierFile:
    """A local file whose content an ended job already imported (or failed to import) into the data store."""

    file: LocalFile
    job: LedgerJob
    outcome: str
    reason: str | None


@dataclass(frozen=True)
class Reconciled:
    #: Unfinished jobs (and FAILED ones under ``retry_failed``) to take on again with their own prefix and token,
    #: each with the local files of its content (by relative path).
    resumed: tuple[tuple[LedgerJob, dict[str, LocalFile]], ...]
    #: Local files an ended job already handled, not imported again.
    earlier: tuple[EarlierFile, ...]
    #: Local files to plan into new jobs.
    new_files: tuple[LocalFile, ...]
    #: Planned jobs that can no longer be completed (their files changed or went away): marked abandoned.
    abandoned: tuple[LedgerJob, ...]
    #: Unfinished jobs (and FAILED ones under ``retry_failed``) that hold none of the folder's contents: another
    #: folder's, left alone (neither taken on nor abandoned).
    elsewhere: tuple[LedgerJob, ...]
    #: Job ids whose files are imported again on purpose (``reimport``, ``retry_failed``): new plans derive their
    #: prefixes and client tokens from them too, so that they never coincide with the earlier jobs'.
    superseded: tuple[str, ...]


def reconcile(
    files: Sequence[LocalFile], ledger: Ledger, *, reimport: bool = False, retry_failed: bool = False
) -> Reconciled:
    """Sort ``files`` (distinct contents) against the ledger (see the module docstring)."""
    by_content = {content_id(item.size, item.crc64nvme): item for item in files}
    by_path = {item.relative_path: item for item in files}
    claimed: set[str] = set()
    resumed: list[tuple[LedgerJob, dict[str, LocalFile]]] = []
    abandoned: list[LedgerJob] = []
    ended: list[LedgerJob] = []
    elsewhere: list[LedgerJob] = []
    for job in ledger.jobs.values():
        if job.state == ABANDONED:
            continue
        unfinished = job.state != ENDED or (job.job_status == "FAILED" and retry_failed)
        if unfinished and not any(item.content in by_content for item in job.files):
            elsewhere.append(job)
            continue
        if job.state == ENDED:
            if job.job_status == "FAILED" and retry_failed:
                resumed.append((job, _local_files(job, by_content)))
                claimed.update(item.content for item in job.files)
            else:
                ended.append(job)
            continue
        if job.state == PLANNED and not all(
            (local := by_path.get(item.path)) is not None and content_id(local.size, local.crc64nvme) == item.content
            for item in job.files
        ):
            abandoned.append(replace(job, state=ABANDONED))
            continue
        resumed.append((job, _local_files(job, by_content)))
        claimed.update(item.content for item in job.files)
    # The latest ended job that imported a content wins; else the latest that failed it.
    handled: dict[str, tuple[LedgerJob, LedgerFile]] = {}
    for job in ended:
        for item in job.files:
            if item.content in claimed or item.content not in by_content:
                continue
            known = handled.get(item.content)
            if known is None or item.outcome == IMPORTED or known[1].outcome != IMPORTED:
                handled[item.content] = (job, item)
    earlier: list[EarlierFile] = []
    superseded: set[str] = set()
    new_files: list[LocalFile] = []
    for content, local in by_content.items():
        if content in claimed:
            continue
        found = handled.get(content)
        if found is not None:
            job, item = found
            outcome = item.outcome or (IMPORTED if job.job_status == "COMPLETED" else FAILED)
            again = reimport or (retry_failed and outcome == FAILED)
            if not again:
                earlier.append(EarlierFile(local, job, outcome, item.reason or job.message))
                continue
            if job.job_id:
                superseded.add(job.job_id)
        new_files.append(local)
    new_files.sort(key=lambda item: item.relative_path)
    return Reconciled(
        resumed=tuple(resumed),
        earlier=tuple(earlier),
        new_files=tuple(new_files),
        abandoned=tuple(abandoned),
        elsewhere=tuple(elsewhere),
        superseded=tuple(sorted(superseded)),
    )


def _local_files(job: LedgerJob, by_content: dict[str, LocalFile]) -> dict[str, LocalFile]:
    return {item.path: by_content[item.content] for item in job.files if item.content in by_content}
