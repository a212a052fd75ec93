"""Split the files to import into HealthImaging import jobs, with content-derived S3 prefixes and client tokens.

Pure: no I/O. The split is deterministic (files in relative-path order, each job filled up to the first limit
it would cross: files, bytes, nested folders), and everything is derived from a digest of the plan:

- ``digest``: SHA-256 over a record of every file (its relative path, size and CRC64NVME, in path order) and over
  the limits the files were split by. The same files split the same way always give the same digest; another set
  (or split) gives another one. Each file's content enters as its 64-bit CRC64NVME (see :mod:`ahiops.discovery`:
  one fast read serves as fingerprint and as the checksum S3 verifies), so two sets that differ only in a file
  whose changed content has the same size and CRC64NVME would share a digest: by accident with a probability of
  about 2^-64 per changed file; on purpose only by someone who can write the files being imported.
- a job's S3 prefix: ``imports/<digest>/job-0001/`` (the object key is that prefix plus the file's relative path),
  so a rerun writes to the same keys and a different set never reuses an old prefix, which would make a job
  import more than it should.
- a job's client token: derived from the digest, the job's number and a scope (the data store), so a retried or
  repeated StartDICOMImportJob returns the same job instead of starting a second one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final, Protocol, TypeVar

from . import limits
from .errors import UsageError

if TYPE_CHECKING:
    # Types only: planning stays free of discovery (and of awscrt, which it loads to fingerprint local files), so an
    # importer of objects already in S3 can plan with it anywhere (the automatic importer's function).
    from .discovery import HashedFile, SkippedFile

#: Top-level prefix of everything this tool uploads.
IMPORTS_PREFIX: Final = "imports/"
#: Hex characters of the plan digest used in prefixes and job names (128 bits).
DIGEST_LENGTH: Final = 32
#: S3's longest object key, in UTF-8 bytes.
MAX_KEY_BYTES: Final = 1024
_FORMAT_VERSION: Final = "ahictl-import-plan/2"


@dataclass(frozen=True)
class JobLimits:
    """What one import job may hold (HealthImaging's quotas by default)."""

    max_files: int = limits.MAX_FILES_PER_JOB
    max_bytes: int = limits.MAX_BYTES_PER_JOB
    max_folders: int = limits.MAX_FOLDERS_PER_JOB

    def __post_init__(self) -> None:
        if not 1 <= self.max_files <= limits.MAX_FILES_PER_JOB * 100:
            raise UsageError(
                f"--max-files-per-job {self.max_files} is out of range: give a number from 1 to "
                f"{limits.MAX_FILES_PER_JOB * 100} (HealthImaging's quota is {limits.MAX_FILES_PER_JOB:,} unless "
                "it was raised for the account)."
            )
        if not 1 <= self.max_bytes <= limits.MAX_BYTES_PER_JOB:
            raise UsageError(f"bytes per job {self.max_bytes} is out of range 1..{limits.MAX_BYTES_PER_JOB}.")
        if not 1 <= self.max_folders <= limits.MAX_FOLDERS_PER_JOB:
            raise UsageError(f"folders per job {self.max_folders} is out of range 1..{limits.MAX_FOLDERS_PER_JOB}.")


@dataclass(frozen=True)
class PlannedFile:
    path: Path
    relative_path: str
    size: int
    #: Base64 CRC64NVME of the content, sent with the upload so that S3 verifies the object against what was read.
    crc64nvme: str
    #: The object key in the input bucket.
    key: str


@dataclass(frozen=True)
class PlannedJob:
    #: 1-based number of the job in the plan.
    number: int
    #: ``imports/<digest>/job-0001/``: where the job's files go in the input bucket, and its output prefix.
    prefix: str
    #: StartDICOMImportJob's jobName.
    job_name: str
    #: StartDICOMImportJob's clientToken.
    client_token: str
    files: tuple[PlannedFile, ...]

    @property
    def label(self) -> str:
        return f"job-{self.number:04d}"

    @property
    def total_bytes(self) -> int:
        return sum(item.size for item in self.files)

    @property
    def folder_count(self) -> int:
        return len(folders_of(item.relative_path for item in self.files))


@dataclass(frozen=True)
class ImportPlan:
    digest: str
    limits: JobLimits
    jobs: tuple[PlannedJob, ...]
    skipped: tuple[SkippedFile, ...] = field(default=())

    @property
    def file_count(self) -> int:
        return sum(len(job.files) for job in self.jobs)

    @property
    def total_bytes(self) -> int:
        return sum(job.total_bytes for job in self.jobs)

    def files(self) -> Iterable[PlannedFile]:
        for job in self.jobs:
            yield from job.files


def plan_digest(files: Sequence[HashedFile], job_limits: JobLimits, generation: Sequence[str] = ()) -> str:
    """Hex SHA-256 over the files (relative path, size, CRC64NVME, in path order) and the limits, and over
    ``generation`` when given (the earlier jobs whose files a plan imports again on purpose)."""
    digest = hashlib.sha256()
    digest.update(
        f"{_FORMAT_VERSION}\n{job_limits.max_files}\n{job_limits.max_bytes}\n{job_limits.max_folders}\n".encode()
    )
    if generation:
        digest.update(("again after " + ",".join(sorted(generation)) + "\n").encode())
    for item in sorted(files, key=lambda candidate: candidate.relative_path):
        digest.update(item.relative_path.encode("utf-8"))
        digest.update(f"\0{item.size}\0{item.crc64nvme}\n".encode())
    return digest.hexdigest()


def client_token(digest: str, job_number: int, scope: str) -> str:
    """A StartDICOMImportJob client token (64 hex characters) for one job of a plan, within ``scope``."""
    return hashlib.sha256(f"{digest}\n{job_number}\n{scope}".encode()).hexdigest()


def retry_token(first_token: str, attempt: int) -> str:
    """The client token of a job's ``attempt``-th start (``attempt`` > 1: after earlier attempts FAILED)."""
    return hashlib.sha256(f"{first_token}\nattempt {attempt}".encode()).hexdigest()


def plan_import(
    files: Sequence[HashedFile],
    *,
    job_limits: JobLimits | None = None,
    skipped: Sequence[SkippedFile] = (),
    token_scope: str = "",
    generation: Sequence[str] = (),
) -> ImportPlan:
    """Split ``files`` into import jobs (see the module docstring). ``token_scope`` (the data store id) keeps the
    same files imported into two data stores from sharing a client token; ``generation`` (the ids of earlier jobs
    whose files are imported again on purpose) keeps such a plan from sharing their prefixes and tokens."""
    job_limits = job_limits or JobLimits()
    if not files:
        raise UsageError("there are no DICOM Part 10 files to import.")
    duplicates = _duplicates(item.relative_path for item in files)
    if duplicates:
        raise UsageError(f"the same relative path appears twice: {', '.join(sorted(duplicates)[:10])}.")
    ordered = sorted(files, key=lambda item: item.relative_path)
    digest = plan_digest(ordered, job_limits, generation)
    short = digest[:DIGEST_LENGTH]
    groups = split_into_jobs(ordered, job_limits)
    jobs = []
    for number, group in enumerate(groups, start=1):
        prefix = f"{IMPORTS_PREFIX}{short}/job-{number:04d}/"
        planned = tuple(
            PlannedFile(
                path=item.path,
                relative_path=item.relative_path,
                size=item.size,
                crc64nvme=item.crc64nvme,
                key=_key(prefix, item.relative_path),
            )
            for item in group
        )
        jobs.append(
            PlannedJob(
                number=number,
                prefix=prefix,
                job_name=f"ahictl-{short[:16]}-job-{number:04d}",
                client_token=client_token(digest, number, token_scope),
                files=planned,
            )
        )
    return ImportPlan(digest=short, limits=job_limits, jobs=tuple(jobs), skipped=tuple(skipped))


class SplittableFile(Protocol):
    """What :func:`split_into_jobs` needs of a file: where it sits (``/``-separated, relative to the job's prefix) and
    how large it is. A local file (:class:`~ahiops.discovery.HashedFile`) and an object already in S3 both have them."""

    @property
    def relative_path(self) -> str: ...

    @property
    def size(self) -> int: ...


FileT = TypeVar("FileT", bound=SplittableFile)


def split_into_jobs(ordered: Sequence[FileT], job_limits: JobLimits) -> list[list[FileT]]:
    """Split files (in the order given) into consecutive groups, each filled up to the first limit it would cross:
    files, bytes, nested folders. Raises UsageError for a file larger than one job may hold."""
    groups: list[list[FileT]] = []
    current: list[FileT] = []
    current_bytes = 0
    current_folders: set[str] = set()
    for item in ordered:
        if item.size > job_limits.max_bytes:
            raise UsageError(
                f"'{item.relative_path}' ({item.size:,} bytes) is larger than one import job may hold "
                f"({job_limits.max_bytes:,} bytes): move it out of the folder."
            )
        folders = folders_of([item.relative_path])
        new_folders = folders - current_folders
        if current and (
            len(current) + 1 > job_limits.max_files
            or current_bytes + item.size > job_limits.max_bytes
            or len(current_folders) + len(new_folders) > job_limits.max_folders
        ):
            groups.append(current)
            current, current_bytes, current_folders = [], 0, set()
            new_folders = folders
        current.append(item)
        current_bytes += item.size
        current_folders |= new_folders
    if current:
        groups.append(current)
    return groups


def folders_of(relative_paths: Iterable[str]) -> set[str]:
    """Every folder (and parent folder) the paths are nested in, relative to the job prefix."""
    folders: set[str] = set()
    for relative in relative_paths:
        parts = relative.split("/")[:-1]
        for depth in range(1, len(parts) + 1):
            folders.add("/".join(parts[:depth]))
    return folders


def _key(prefix: str, relative_path: str) -> str:
    key = prefix + relative_path
    if len(key.encode("utf-8")) > MAX_KEY_BYTES:
        raise UsageError(
            f"'{relative_path}' makes an S3 key longer than {MAX_KEY_BYTES} bytes: shorten the folder names under PATH."
        )
    return key


def _duplicates(values: Iterable[str]) -> set[str]:
    seen: set[str] = set()
    repeated: set[str] = set()
    for value in values:
        (repeated if value in seen else seen).add(value)
    return repeated
