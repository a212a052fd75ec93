"""Batches that uploaders write into the input bucket, and how they become import jobs: pure (no I/O).

The batch contract (what an uploader does, what the automatic importer does with it):

- An uploader writes a batch under ``incoming/<batch>/`` (any depth below it) and finishes it with a marker object,
  ``incoming/<batch>/_READY`` by default. The marker, not the first file, starts the import: the batch is everything
  under the marker's folder. With a quiet period set, a batch ``incoming/<name>/`` also starts without a marker once no
  object has been added under it for that long (:func:`quiet_verdict`). Objects outside ``incoming/`` are never
  imported automatically.
- Before any job, the batch is listed and :func:`screen` leaves out, with the reason, the marker, folder placeholders,
  objects in an archive storage class, objects over the per-file limit, objects too short to be DICOM Part 10 and
  objects whose key would be too long once copied; the others get a ranged read of their first 132 bytes
  (:mod:`ahiops.dicom`) and :func:`accept` keeps the DICOM Part 10 files. Nothing is downloaded whole.
- :func:`plan_batch` turns the accepted files into import jobs within HealthImaging's limits (files, bytes and nested
  folders per job: :func:`ahiops.planning.split_into_jobs`), in one of two ways, without downloading anything:

  - ``prefixes``: when the accepted files are exactly the contents of a few folders of the batch that each fit one job
    (and no more jobs than a split would need), each job imports one such folder where it is;
  - ``copies``: otherwise each job's files are copied (server-side) to ``auto-imports/<digest>/job-0001/...`` in the
    input bucket, so that a job never sees the marker, left-out objects or the importer's own files.

- Every job has a content-derived client token (:func:`ahiops.planning.client_token` of the batch's digest, the job's
  number and the data store), so a redelivered event or a retried function returns the job already started instead
  of starting a second one. The digest (:func:`listing_digest`) covers the bucket, the batch's prefix, the limits and
  the key, size and ETag of every object in the batch except the marker and the importer's own files: it comes from
  the listing alone. Another batch, or the same batch with any object added, replaced or removed, gets other tokens.
- The importer writes two files beside the batch: ``_JOBS.json`` (the plan and the jobs started, so that a retry
  never plans or starts twice) and ``_RESULT.json`` (what was imported, what failed and why, the image sets).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from . import dicom, limits, planning
from .planning import JobLimits

#: Where uploaders write batches; nothing outside it is imported automatically.
INCOMING_PREFIX: Final = "incoming/"
#: The default name of the object that finishes a batch.
DEFAULT_MARKER_NAME: Final = "_READY"
#: Files the importer writes beside a batch (never imported, never counted as activity).
JOBS_RECORD_NAME: Final = "_JOBS.json"
RESULT_NAME: Final = "_RESULT.json"
CONTROL_NAMES: Final = frozenset({JOBS_RECORD_NAME, RESULT_NAME})
#: Where the ``copies`` strategy puts each job's files in the input bucket, and where every job writes its output.
AUTO_IMPORTS_PREFIX: Final = "auto-imports/"
#: Storage classes whose objects cannot be read without a restore.
ARCHIVE_STORAGE_CLASSES: Final = frozenset({"GLACIER", "DEEP_ARCHIVE"})
#: Ways a batch becomes jobs (see the module docstring); ``none`` when nothing is left to import.
STRATEGY_PREFIXES: Final = "prefixes"
STRATEGY_COPIES: Final = "copies"
STRATEGY_NONE: Final = "none"
#: Most objects a batch may hold by default: the checks of one batch run within one function invocation.
DEFAULT_MAX_OBJECTS_PER_BATCH: Final = 20_000
#: Hex characters of the digest in prefixes, job names and records.
DIGEST_LENGTH: Final = planning.DIGEST_LENGTH
_FORMAT_VERSION: Final = "auto-import-batch/1"
#: The longest job prefix of the ``copies`` strategy: ``auto-imports/<32 hex>/job-0001/``.
_COPY_PREFIX_BYTES: Final = len(AUTO_IMPORTS_PREFIX) + DIGEST_LENGTH + len("/job-0000/")
_MARKER_NAME: Final = re.compile(r"[A-Za-z0-9._-]{1,100}")
#: The longest ``inputS3Uri`` StartDICOMImportJob accepts.
_MAX_URI_LENGTH: Final = 1024


# ---------------------------------------------------------------- the contract's names


def marker_name_problems(setting: str, value: object) -> list[str]:
    """The marker's name: 1 to 100 of ``A-Z a-z 0-9 . _ -`` (no ``/``: the marker sits in the batch's folder), not
    ``.`` or ``..``, and not one of the files the importer writes beside a batch."""
    if not isinstance(value, str) or not _MARKER_NAME.fullmatch(value) or value in (".", ".."):
        return [
            f"{setting} = {value!r}: a marker name is 1 to 100 letters, digits, '.', '_' or '-' (no '/'), for "
            f"example {DEFAULT_MARKER_NAME!r}."
        ]
    if value in CONTROL_NAMES:
        return [f"{setting} = {value!r} is a file the importer writes beside each batch; choose another name."]
    return []


def batch_of_marker(key: str, marker_name: str) -> str | None:
    """``incoming/<batch>/`` when ``key`` is a marker that finishes a batch (``incoming/<batch>/<marker>``), else None.
    A marker directly in ``incoming/`` finishes nothing (a batch has a folder of its own)."""
    suffix = "/" + marker_name
    if not key.startswith(INCOMING_PREFIX) or not key.endswith(suffix):
        return None
    batch = key[: -len(marker_name)]
    return batch if len(batch) > len(INCOMING_PREFIX) + 1 else None


def quiet_batch_of(key: str) -> str | None:
    """``incoming/<name>/`` for an object somewhere under it (the batch a quiet period applies to), else None."""
    if not key.startswith(INCOMING_PREFIX):
        return None
    first, slash, rest = key[len(INCOMING_PREFIX) :].partition("/")
    return f"{INCOMING_PREFIX}{first}/" if first and slash and rest else None


def is_control_key(key: str) -> bool:
    """Whether ``key`` is one of the files the importer writes beside a batch."""
    return key.rsplit("/", 1)[-1] in CONTROL_NAMES


# ---------------------------------------------------------------- listing and checks


@dataclass(frozen=True)
class BatchObject:
    """One object of a batch's listing."""

    key: str
    size: int
    etag: str
    last_modified: dt.datetime | None = None
    storage_class: str | None = None


@dataclass(frozen=True)
class LeftOut:
    """An object of the batch that is not imported, and why."""

    key: str
    reason: str
    #: True for the marker that finished the batch: reported, but not a file the uploader meant to import.
    marker: bool = False


@dataclass(frozen=True)
class BatchFile:
    """A DICOM Part 10 file of the batch that will be imported."""

    key: str
    #: Path relative to the batch's prefix (``/``-separated).
    relative_path: str
    size: int
    etag: str


@dataclass(frozen=True)
class BatchRules:
    """What a batch may hold and how it is split (HealthImaging's quotas by default)."""

    marker_name: str = DEFAULT_MARKER_NAME
    job_limits: JobLimits = field(default_factory=JobLimits)
    max_file_bytes: int = limits.MAX_BYTES_PER_FILE
    max_objects_per_batch: int = DEFAULT_MAX_OBJECTS_PER_BATCH


@dataclass(frozen=True)
class Screening:
    """A listing sorted into objects that need the Part 10 check and objects left out already."""

    candidates: tuple[BatchObject, ...]
    left_out: tuple[LeftOut, ...]


def relative_key(batch_prefix: str, key: str) -> str:
    if not key.startswith(batch_prefix):
        raise ValueError(f"{key!r} is not under {batch_prefix!r}")
    return key[len(batch_prefix) :]


def listing_digest(bucket: str, batch_prefix: str, objects: Iterable[BatchObject], rules: BatchRules) -> str:
    """The batch's digest (hex, :data:`DIGEST_LENGTH` characters): the bucket, the prefix, the limits and every object
    but the markers and the importer's files (relative key, size, ETag, in key order)."""
    digest = hashlib.sha256()
    job_limits = rules.job_limits
    digest.update(
        f"{_FORMAT_VERSION}\n{bucket}\n{batch_prefix}\n{job_limits.max_files}\n{job_limits.max_bytes}\n"
        f"{job_limits.max_folders}\n{rules.max_file_bytes}\n".encode()
    )
    for item in sorted(objects, key=lambda candidate: candidate.key):
        name = item.key.rsplit("/", 1)[-1]
        if name in CONTROL_NAMES or name == rules.marker_name:
            continue
        digest.update(relative_key(batch_prefix, item.key).encode("utf-8"))
        digest.update(f"\0{item.size}\0{item.etag.strip(chr(34))}\n".encode())
    return digest.hexdigest()[:DIGEST_LENGTH]


def screen(batch_prefix: str, objects: Iterable[BatchObject], rules: BatchRules) -> Screening:
    """Sort a batch's listing (see the module docstring); the importer's own files are neither kept nor reported."""
    candidates: list[BatchObject] = []
    left_out: list[LeftOut] = []
    for item in sorted(objects, key=lambda candidate: candidate.key):
        relative = relative_key(batch_prefix, item.key)
        name = relative.rsplit("/", 1)[-1]
        if name in CONTROL_NAMES:
            continue
        reason: str | None = None
        if relative == rules.marker_name:
            left_out.append(LeftOut(item.key, "the marker that finished the batch", marker=True))
            continue
        if name == rules.marker_name:
            reason = "the marker of another batch nested in this one (batches should not nest)"
        elif item.key.endswith("/"):
            reason = "a folder placeholder (an object whose key ends in '/'), not a file"
        elif item.storage_class in ARCHIVE_STORAGE_CLASSES:
            reason = (
                f"in the {item.storage_class} storage class, which cannot be read without a restore: restore it, "
                "then write the marker again"
            )
        elif item.size > rules.max_file_bytes:
            reason = (
                f"{item.size:,} bytes, larger than HealthImaging's limit of {rules.max_file_bytes:,} bytes per file"
            )
        elif item.size < dicom.HEADER_LENGTH:
            reason = dicom.part10_problem(bytes(item.size))
        elif len(relative.encode("utf-8")) + _COPY_PREFIX_BYTES > planning.MAX_KEY_BYTES:
            reason = (
                f"its path in the batch is too long to be copied under {AUTO_IMPORTS_PREFIX} (S3 keys hold at most "
                f"{planning.MAX_KEY_BYTES} bytes): shorten the folder names"
            )
        if reason is None:
            candidates.append(item)
        else:
            left_out.append(LeftOut(item.key, reason))
    return Screening(candidates=tuple(candidates), left_out=tuple(left_out))


def accept(
    batch_prefix: str, screening: Screening, header_problems: Mapping[str, str | None]
) -> tuple[tuple[BatchFile, ...], tuple[LeftOut, ...]]:
    """The Part 10 files among the candidates (``header_problems``: key -> :func:`ahiops.dicom.part10_problem` of its
    first bytes), and every object left out (the screening's and the ones that are not Part 10), in key order."""
    accepted: list[BatchFile] = []
    left_out = list(screening.left_out)
    for item in screening.candidates:
        if item.key not in header_problems:
            raise ValueError(f"no Part 10 check result for {item.key!r}")
        problem = header_problems[item.key]
        if problem is None:
            accepted.append(BatchFile(item.key, relative_key(batch_prefix, item.key), item.size, item.etag))
        else:
            left_out.append(LeftOut(item.key, problem))
    return tuple(accepted), tuple(sorted(left_out, key=lambda entry: entry.key))


# ---------------------------------------------------------------- planning


@dataclass(frozen=True)
class BatchJob:
    """One import job of a batch."""

    number: int
    #: Key prefix in the input bucket that the job imports (``inputS3Uri``).
    input_prefix: str
    #: Key prefix in the output bucket that the job writes to (``outputS3Uri``).
    output_prefix: str
    job_name: str
    #: The client token of the job's first attempt (later attempts: :func:`ahiops.planning.retry_token`).
    client_token: str
    files: tuple[BatchFile, ...]
    #: True: the files are copied to ``input_prefix + relative_path``; False: the job imports them where they are.
    copied: bool

    @property
    def label(self) -> str:
        return f"job-{self.number:04d}"

    @property
    def total_bytes(self) -> int:
        return sum(item.size for item in self.files)

    def input_key(self, item: BatchFile) -> str:
        """The key the job reads ``item`` from."""
        return self.input_prefix + item.relative_path if self.copied else item.key


@dataclass(frozen=True)
class BatchPlan:
    bucket: str
    batch_prefix: str
    digest: str
    strategy: str
    jobs: tuple[BatchJob, ...]
    left_out: tuple[LeftOut, ...]

    @property
    def file_count(self) -> int:
        return sum(len(job.files) for job in self.jobs)

    @property
    def left_out_files(self) -> tuple[LeftOut, ...]:
        """The objects left out, except the marker that finished the batch."""
        return tuple(item for item in self.left_out if not item.marker)

    @property
    def total_bytes(self) -> int:
        return sum(job.total_bytes for job in self.jobs)


def job_name(digest: str, number: int) -> str:
    """StartDICOMImportJob's ``jobName`` of a batch's job."""
    return f"auto-{digest[:16]}-job-{number:04d}"


def output_prefix(digest: str, number: int) -> str:
    """Where a batch's job writes its results in the output bucket."""
    return f"{AUTO_IMPORTS_PREFIX}{digest}/job-{number:04d}/"


def plan_batch(
    *,
    bucket: str,
    batch_prefix: str,
    digest: str,
    accepted: Sequence[BatchFile],
    left_out: Sequence[LeftOut],
    excluded_keys: Iterable[str],
    rules: BatchRules,
    token_scope: str,
) -> BatchPlan:
    """The batch's jobs (see the module docstring). ``excluded_keys``: every object under the batch's prefix that the
    jobs must not import (the left-out objects, the markers, the importer's files); ``token_scope``: the data store."""
    ordered = sorted(accepted, key=lambda item: item.relative_path)
    if not ordered:
        return BatchPlan(bucket, batch_prefix, digest, STRATEGY_NONE, (), tuple(left_out))
    split = planning.split_into_jobs(ordered, rules.job_limits)
    groups = _prefix_groups(bucket, batch_prefix, ordered, excluded_keys, rules.job_limits)
    jobs: list[BatchJob] = []
    if groups is not None and len(groups) <= len(split):
        strategy = STRATEGY_PREFIXES
        for number, (folder, files) in enumerate(groups, start=1):
            jobs.append(_job(digest, number, batch_prefix + folder + "/", files, copied=False, scope=token_scope))
    else:
        strategy = STRATEGY_COPIES
        for number, files in enumerate(split, start=1):
            prefix = f"{AUTO_IMPORTS_PREFIX}{digest}/job-{number:04d}/"
            jobs.append(_job(digest, number, prefix, files, copied=True, scope=token_scope))
    return BatchPlan(bucket, batch_prefix, digest, strategy, tuple(jobs), tuple(left_out))


def _job(digest: str, number: int, prefix: str, files: Sequence[BatchFile], *, copied: bool, scope: str) -> BatchJob:
    return BatchJob(
        number=number,
        input_prefix=prefix,
        output_prefix=output_prefix(digest, number),
        job_name=job_name(digest, number),
        client_token=planning.client_token(digest, number, scope),
        files=tuple(files),
        copied=copied,
    )


def _prefix_groups(
    bucket: str,
    batch_prefix: str,
    ordered: Sequence[BatchFile],
    excluded_keys: Iterable[str],
    job_limits: JobLimits,
) -> list[tuple[str, list[BatchFile]]] | None:
    """The batch's folders whose contents are exactly accepted files, one per job, or None when the accepted files
    cannot be covered that way (a file next to an excluded object, or a folder too large for one job)."""
    # A folder is unusable when anything it holds, at any depth, must not be imported. The batch's own folder always
    # is: the marker and the importer's files live there.
    unusable: set[str] = {""}
    for key in excluded_keys:
        unusable |= planning.folders_of([relative_key(batch_prefix, key)])
    groups: dict[str, list[BatchFile]] = {}
    for item in ordered:
        parts = item.relative_path.split("/")[:-1]
        # The shallowest usable folder above the file (every folder under a usable one is usable too).
        candidates = ("/".join(parts[:depth]) for depth in range(1, len(parts) + 1))
        top = next((folder for folder in candidates if folder not in unusable), None)
        if top is None:
            return None
        groups.setdefault(top, []).append(item)
    for folder, files in groups.items():
        inside = [item.relative_path[len(folder) + 1 :] for item in files]
        fits = (
            len(files) <= job_limits.max_files
            and sum(item.size for item in files) <= job_limits.max_bytes
            and len(planning.folders_of(inside)) <= job_limits.max_folders
            and len(f"s3://{bucket}/{batch_prefix}{folder}/") <= _MAX_URI_LENGTH
        )
        if not fits:
            return None
    return sorted(groups.items())


# ---------------------------------------------------------------- the quiet period


#: :func:`quiet_verdict`'s answers.
QUIET_NOT_RESPONSIBLE: Final = "not-responsible"
QUIET_WAIT: Final = "wait"
QUIET_READY: Final = "ready"


def quiet_verdict(
    objects: Iterable[BatchObject],
    *,
    event_key: str,
    event_time: dt.datetime,
    now: dt.datetime,
    quiet_seconds: float,
    marker_name: str,
    batch_prefix: str,
) -> tuple[str, float]:
    """What to do with the event of one new object when batches may start after a quiet period.

    Every new object of a batch sends an event; only the one for the newest object acts, so a batch starts once
    without any record of its own: an event whose object is no longer the newest under the batch (by last-modified
    time, then key) is ``not-responsible``; so is every event of a batch finished by a marker (the marker's event
    starts it). Otherwise ``wait`` the returned seconds while the quiet period since the newest object runs, then
    ``ready``. The event's own object counts with ``event_time`` when the listing does not show it (deleted since).
    """
    stamps: dict[str, tuple[dt.datetime, str]] = {}
    for item in objects:
        if item.key.rsplit("/", 1)[-1] in CONTROL_NAMES:
            continue
        if item.key == batch_prefix + marker_name:
            return QUIET_NOT_RESPONSIBLE, 0.0
        stamps[item.key] = (item.last_modified or event_time, item.key)
    own = stamps.get(event_key, (event_time, event_key))
    if max([own, *stamps.values()]) > own:
        return QUIET_NOT_RESPONSIBLE, 0.0
    remaining = quiet_seconds - (now - own[0]).total_seconds()
    return (QUIET_WAIT, remaining) if remaining > 0 else (QUIET_READY, 0.0)
