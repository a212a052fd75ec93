"""Read what an import job wrote to the output bucket: its manifest and per-file results.

HealthImaging writes ``<datastoreId>-DicomImport-<jobId>/`` under the job's output prefix, holding
``job-output-manifest.json`` (the ``jobSummary``) and ``SUCCESS/``, ``FAILURE/`` and ``WARNING/`` folders of
newline-delimited JSON. A COMPLETED job may still have failed files: only these files say so.

Two layers:

- parsing, pure (bytes in, dataclasses out): :func:`parse_manifest`, :func:`parse_successes`,
  :func:`parse_failures`, :func:`parse_warnings`. An event-driven importer (an AWS Lambda) reuses them.
- reading from S3: :func:`read_job_output` (``s3`` is any boto3 S3 client) finds the job's folder by listing the
  output prefix (the form of ``outputS3Uri`` is not assumed), retries briefly while the manifest is not there
  yet (it may appear shortly after the job turns COMPLETED), and parses every file in it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .errors import OpsError, ServiceError
from .session import translate_client_errors

MANIFEST_NAME = "job-output-manifest.json"


class ManifestFormatError(OpsError):
    """A manifest or result file is not in the form HealthImaging documents."""


@dataclass(frozen=True)
class ImageSetSummary:
    image_set_id: str
    image_set_version: int | None
    is_primary: bool | None
    matched_instances: int | None


@dataclass(frozen=True)
class JobSummary:
    job_id: str
    datastore_id: str
    input_s3_uri: str
    output_s3_uri: str
    scanned_files: int
    imported_files: int
    files_with_customer_error: int
    files_with_server_error: int
    generated_image_sets: int
    image_sets: tuple[ImageSetSummary, ...]


@dataclass(frozen=True)
class ImportedFile:
    input_file: str
    image_set_id: str | None
    is_primary: bool | None


@dataclass(frozen=True)
class FailedFile:
    input_file: str
    exception_type: str
    message: str

    @property
    def reason(self) -> str:
        return f"{self.exception_type}: {self.message}" if self.exception_type else self.message


@dataclass(frozen=True)
class WarnedFile:
    input_file: str
    image_set_id: str | None
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class JobOutput:
    """Everything one job wrote: the folder it wrote to, the summary and the per-file results."""

    folder_uri: str
    summary: JobSummary
    imported: tuple[ImportedFile, ...] = field(default=())
    failed: tuple[FailedFile, ...] = field(default=())
    warnings: tuple[WarnedFile, ...] = field(default=())


# ---------------------------------------------------------------- parsing (pure)


def parse_manifest(data: bytes, *, source: str = MANIFEST_NAME) -> JobSummary:
    """The ``jobSummary`` of a ``job-output-manifest.json``."""
    document = _json(data, source)
    summary = document.get("jobSummary") if isinstance(document, dict) else None
    if not isinstance(summary, dict):
        raise ManifestFormatError(f"{source}: no 'jobSummary' object in the manifest.")
    image_sets = summary.get("imageSetsSummary") or []
    if not isinstance(image_sets, list):
        raise ManifestFormatError(f"{source}: 'imageSetsSummary' is not a list.")
    return JobSummary(
        job_id=_text(summary, "jobId", source),
        datastore_id=_text(summary, "datastoreId", source),
        input_s3_uri=_text(summary, "inputS3Uri", source),
        output_s3_uri=_text(summary, "outputS3Uri", source),
        scanned_files=_count(summary, "numberOfScannedFiles", source),
        imported_files=_count(summary, "numberOfImportedFiles", source),
        files_with_customer_error=_count(summary, "numberOfFilesWithCustomerError", source),
        files_with_server_error=_count(summary, "numberOfFilesWithServerError", source),
        generated_image_sets=_count(summary, "numberOfGeneratedImageSets", source),
        image_sets=tuple(
            ImageSetSummary(
                image_set_id=str(item.get("imageSetId", "")),
                image_set_version=_optional_int(item.get("imageSetVersion")),
                is_primary=item.get("isPrimary") if isinstance(item.get("isPrimary"), bool) else None,
                matched_instances=_optional_int(item.get("numberOfMatchedSOPInstances")),
            )
            for item in image_sets
            if isinstance(item, dict)
        ),
    )


def parse_successes(data: bytes, *, source: str = "success.ndjson") -> tuple[ImportedFile, ...]:
    """``SUCCESS/*.ndjson``: one ``{inputFile, importResponse: {imageSetId, isPrimary}}`` per line."""
    results = []
    for record in _ndjson(data, source):
        response = _object(record, "importResponse")
        results.append(
            ImportedFile(
                input_file=_text(record, "inputFile", source),
                image_set_id=_optional_text(response.get("imageSetId")),
                is_primary=response.get("isPrimary") if isinstance(response.get("isPrimary"), bool) else None,
            )
        )
    return tuple(results)


def parse_failures(data: bytes, *, source: str = "failure.ndjson") -> tuple[FailedFile, ...]:
    """``FAILURE/*.ndjson``: one ``{inputFile, exception: {exceptionType, message}}`` per line."""
    results = []
    for record in _ndjson(data, source):
        exception = record.get("exception")
        if isinstance(exception, dict):
            exception_type = str(exception.get("exceptionType") or "")
            message = str(exception.get("message") or "")
        else:
            exception_type, message = "", str(exception or "")
        results.append(
            FailedFile(
                input_file=_text(record, "inputFile", source),
                exception_type=exception_type,
                message=message or "no reason given",
            )
        )
    return tuple(results)


def parse_warnings(data: bytes, *, source: str = "warning.ndjson") -> tuple[WarnedFile, ...]:
    """``WARNING/*.ndjson``: ``importResponse`` plus ``warnings`` per line (warnings kept as text)."""
    results = []
    for record in _ndjson(data, source):
        response = _object(record, "importResponse")
        raw = record.get("warnings")
        items = raw if isinstance(raw, list) else ([raw] if raw else [])
        results.append(
            WarnedFile(
                input_file=str(record.get("inputFile", "")),
                image_set_id=_optional_text(response.get("imageSetId")),
                warnings=tuple(item if isinstance(item, str) else json.dumps(item, sort_keys=True) for item in items),
            )
        )
    return tuple(results)


def _json(data: bytes, source: str) -> Any:
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as error:
        raise ManifestFormatError(f"{source}: not valid JSON ({error}).") from None


def _ndjson(data: bytes, source: str) -> Iterator[dict[str, Any]]:
    for number, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        record = _json(line, f"{source} line {number}")
        if not isinstance(record, dict):
            raise ManifestFormatError(f"{source} line {number}: not a JSON object.")
        yield record


def _object(document: dict[str, Any], key: str) -> dict[str, Any]:
    value = document.get(key)
    return value if isinstance(value, dict) else {}


def _text(document: dict[str, Any], key: str, source: str) -> str:
    value = document.get(key)
    if not isinstance(value, str):
        raise ManifestFormatError(f"{source}: '{key}' is missing or not text.")
    return value


def _optional_text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _count(document: dict[str, Any], key: str, source: str) -> int:
    value = document.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ManifestFormatError(f"{source}: '{key}' is not a count: {value!r}.")
    return value


def _optional_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


# ---------------------------------------------------------------- reading from S3


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` -> ``("bucket", "some/prefix")``."""
    if not uri.startswith("s3://"):
        raise ValueError(f"not an s3:// URI: {uri!r}")
    bucket, _, key = uri[len("s3://") :].partition("/")
    return bucket, key


def job_folder_name(datastore_id: str, job_id: str) -> str:
    return f"{datastore_id}-DicomImport-{job_id}/"


def _owner(expected_bucket_owner: str) -> dict[str, str]:
    return {"ExpectedBucketOwner": expected_bucket_owner}


def find_job_folder(
    s3: Any, output_s3_uri: str, datastore_id: str, job_id: str, *, expected_bucket_owner: str
) -> str | None:
    """The key prefix of the job's folder under ``output_s3_uri`` (found by listing), or None when absent.
    ``expected_bucket_owner`` (an account id) goes with every request, here and in :func:`read_job_output`."""
    bucket, prefix = split_s3_uri(output_s3_uri)
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    name = job_folder_name(datastore_id, job_id)
    with translate_client_errors(f"ListObjectsV2 s3://{bucket}/{prefix}"):
        if prefix.endswith("/" + name) or prefix == name:
            # The URI already is the job folder (GetDICOMImportJob may return it so): confirm it holds something.
            found = s3.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1, **_owner(expected_bucket_owner))
            return prefix if found.get("KeyCount", 0) else None
        paginator = s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix, Delimiter="/", **_owner(expected_bucket_owner)):
            for common in page.get("CommonPrefixes", []):
                if common.get("Prefix", "").endswith(name):
                    return str(common["Prefix"])
    return None


def read_job_output(
    s3: Any,
    output_s3_uri: str,
    datastore_id: str,
    job_id: str,
    *,
    attempts: int = 10,
    delay_seconds: float = 2.0,
    sleep: Callable[[float], None] | None = None,
    expected_bucket_owner: str,
) -> JobOutput:
    """Find and read a finished job's output (see the module docstring); raises ServiceError when the manifest
    has not appeared after ``attempts`` tries."""
    import time

    pause = sleep or time.sleep
    bucket, _ = split_s3_uri(output_s3_uri)
    for attempt in range(1, attempts + 1):
        folder = find_job_folder(s3, output_s3_uri, datastore_id, job_id, expected_bucket_owner=expected_bucket_owner)
        if folder is not None:
            keys = _list_keys(s3, bucket, folder, expected_bucket_owner)
            manifest_key = folder + MANIFEST_NAME
            if manifest_key in keys:
                return _read_folder(s3, bucket, folder, keys, expected_bucket_owner)
        if attempt < attempts:
            pause(delay_seconds)
    raise ServiceError(
        f"import job {job_id} finished, but its output ({job_folder_name(datastore_id, job_id)}"
        f"{MANIFEST_NAME} under {output_s3_uri}) did not appear after {attempts} tries. Look in the output bucket, "
        f"or run `python -m ahictl jobs {job_id}` later."
    )


def _list_keys(s3: Any, bucket: str, prefix: str, expected_bucket_owner: str) -> list[str]:
    keys: list[str] = []
    with translate_client_errors(f"ListObjectsV2 s3://{bucket}/{prefix}"):
        pages = s3.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=prefix, **_owner(expected_bucket_owner)
        )
        for page in pages:
            keys.extend(str(item["Key"]) for item in page.get("Contents", []))
    return keys


def _get(s3: Any, bucket: str, key: str, expected_bucket_owner: str) -> bytes:
    with translate_client_errors(f"GetObject s3://{bucket}/{key}"):
        body: bytes = s3.get_object(Bucket=bucket, Key=key, **_owner(expected_bucket_owner))["Body"].read()
    return body


def _read_folder(s3: Any, bucket: str, folder: str, keys: list[str], expected_bucket_owner: str) -> JobOutput:
    def get(key: str) -> bytes:
        return _get(s3, bucket, key, expected_bucket_owner)

    summary = parse_manifest(get(folder + MANIFEST_NAME), source=f"s3://{bucket}/{folder}{MANIFEST_NAME}")
    imported: list[ImportedFile] = []
    failed: list[FailedFile] = []
    warned: list[WarnedFile] = []
    for key in sorted(keys):
        if not key.endswith(".ndjson"):
            continue
        relative = key[len(folder) :]
        source = f"s3://{bucket}/{key}"
        if relative.startswith("SUCCESS/"):
            imported.extend(parse_successes(get(key), source=source))
        elif relative.startswith("FAILURE/"):
            failed.extend(parse_failures(get(key), source=source))
        elif relative.startswith("WARNING/"):
            warned.extend(parse_warnings(get(key), source=source))
    return JobOutput(
        folder_uri=f"s3://{bucket}/{folder}",
        summary=summary,
        imported=tuple(imported),
        failed=tuple(failed),
        warnings=tuple(warned),
    )


_Planned = TypeVar("_Planned")


def input_file_resolver(
    bucket: str, input_prefix: str, by_key: Mapping[str, _Planned]
) -> Callable[[str], _Planned | None]:
    """Map an ``inputFile`` of a job's results to what was planned under its S3 key (``by_key``): AWS documents no
    exact form, so a full ``s3://bucket/key`` URI, a key, or a path relative to the job's input prefix are all
    recognised; a URI of another bucket is no planned file."""

    def resolve(input_file: str) -> _Planned | None:
        text = input_file
        if text.startswith("s3://"):
            found_bucket, _, text = text[len("s3://") :].partition("/")
            if found_bucket != bucket:
                return None
        text = text.lstrip("/")
        return by_key.get(text) or by_key.get(input_prefix + text)

    return resolve
