"""Stage files in S3: fast on many small files, bounded in memory, verified by S3 checksums, resumable.

Public API (used by the importer and by the staging benchmark)::

    from ahiops.upload import UploadItem, upload_files

    report = upload_files(
        session,                      # boto3.session.Session (credentials, region, AWS_ENDPOINT_URL_S3 honoured)
        "my-input-bucket",
        [UploadItem(path=Path("a.dcm"), key="imports/<digest>/job-0001/a.dcm", size=1234, checksum_crc64nvme="...")],
        concurrency=64,               # files in flight (and connections); default DEFAULT_CONCURRENCY[engine]
        on_progress=lambda files, nbytes: ...,  # increments, always called on the calling thread
        skip_existing=True,           # skip objects already there with the same size and CRC64NVME (see Resume)
        engine="auto",                # "crt" (awscrt), "classic" (s3transfer threads), or "auto": crt if importable
    )
    report.uploaded, report.uploaded_bytes, report.already_present, report.replaced, report.engine, report.seconds

Engines:

- ``crt``: s3transfer's CRT transfer manager driven directly (``create_s3_crt_client`` + ``CRTTransferManager``
  with a ``BotocoreCRTRequestSerializer`` built from the session with the S3 client's endpoint; boto3's own
  CRT switch would ignore a custom endpoint such as ``AWS_ENDPOINT_URL_S3``). Files are streamed from disk
  (never read whole into memory); its buffer memory is bounded by the throughput target
  (``target_throughput_bytes``) and the part size (:data:`PART_SIZE`). Each PutObject is derived from one
  botocore-serialized template per bucket (:func:`templated_put_serializer`), so the calling thread spends
  microseconds, not botocore's half millisecond, per file.
- ``classic``: s3transfer's thread-pool ``TransferManager`` over a client whose connection pool matches the
  concurrency; used when awscrt is not importable.

Integrity: when an item carries ``checksum_crc64nvme`` (base64 CRC64NVME of the content, computed when the file
was fingerprinted for the plan, see :mod:`ahiops.discovery`), it is sent as the object's full-object checksum and
S3 rejects the upload when the bytes differ (for example when the file changed since it was fingerprinted):

- a single PutObject (files up to :data:`PART_SIZE`) carries it as the ``x-amz-checksum-crc64nvme`` header, and
  neither engine reads the file for a checksum again;
- a multipart upload is created with ``x-amz-checksum-algorithm: CRC64NVME`` and ``x-amz-checksum-type:
  FULL_OBJECT``, each part carries its own CRC64NVME (S3 checks every part; the CRT computes it from the part's
  buffer as it sends it, at tens of GB/s, about 0.05 CPU-seconds per GB), and CompleteMultipartUpload carries
  the whole file's value, which S3 checks against the object it assembles.

Without ``checksum_crc64nvme`` the engine computes a CRC32 while streaming (s3transfer's default). The CRT signs
requests with ``UNSIGNED-PAYLOAD``, so it hashes no payload for the signature either.

Resume: with ``skip_existing`` an item whose key already holds an object is skipped only when that object has
the item's size and its stored full-object CRC64NVME equals the file's. The common prefix of the keys is listed
once (ListObjectsV2, 1,000 keys a page: key and size); only the objects whose size matches are then asked for
their checksum, one HeadObject with ``ChecksumMode=ENABLED`` each, ``concurrency`` at a time on a thread pool
(submitted as slots free up, so memory stays flat however many files there are). The comparison does not rely
on the content-derived prefix (see :mod:`ahiops.planning`): an object someone else wrote at the key, with other
bytes of the same size or with no CRC64NVME (another tool, or a checksum of another algorithm), is uploaded
again. The input bucket is versioned, so that upload adds a version and loses nothing; the report counts such
uploads (and those over an object of another size) as ``replaced``. An item without ``checksum_crc64nvme``
whose object has its size gets its file's CRC64NVME computed for the comparison, and sent with its upload if it
is uploaded again (so that the next run can compare it). HeadObject needs ``s3:GetObject`` on the objects (and
``kms:Decrypt`` on an SSE-KMS bucket's key to return the checksum). When S3 refuses it (an identity allowed only
to write), the check stops asking and every object of the same size is uploaded again instead of skipped: never
skipped unverified, and nothing lost in the versioned bucket. The report counts those uploads as ``unverified``,
so that the caller can say why a rerun uploaded them.

Interruption: when ``on_progress`` (or Ctrl-C) raises ``KeyboardInterrupt``, the transfers in flight are
cancelled (nothing partial is left as an object), as are the resume checks not yet sent, and
:class:`UploadInterrupted` (a ``KeyboardInterrupt``) is raised with the counts; running the same upload again skips
what was already uploaded. Any other failure cancels the rest and raises an :class:`~ahiops.errors.OpsError` naming the file and AWS's error.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import boto3
import botocore.exceptions

from .errors import AwsAccessError, OpsError, ServiceError, UsageError
from .limits import DEFAULT_CONCURRENCY, MAX_CONCURRENCY
from .session import ACCESS_DENIED_CODES, client_error_to_ops_error, error_code, make_client, translate_client_errors

__all__ = ["DEFAULT_CONCURRENCY", "MAX_CONCURRENCY"]  # defined in ahiops.limits, kept importable from here
#: The CRT client's throughput target in bytes per second; it sizes the CRT's buffer pool (and so peak memory).
DEFAULT_TARGET_THROUGHPUT_BYTES = 100 * 1024 * 1024
#: Part size and multipart threshold for large files: S3's smallest part. The CRT's buffer pool grows in blocks
#: sized from the part size, so smaller parts keep peak memory lower (measured with the staging benchmark on
#: 100 MB files: about 165 MB peak RSS at 5 MiB parts, 193 MB at 8 MiB, at the same speed).
PART_SIZE = 5 * 1024 * 1024

ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class UploadItem:
    path: Path
    key: str
    size: int
    #: Base64 CRC64NVME of the content; S3 verifies the object against it. None: a CRC32 computed while streaming.
    checksum_crc64nvme: str | None = None


@dataclass(frozen=True)
class UploadReport:
    uploaded: int
    uploaded_bytes: int
    #: Objects already in the bucket with the same size and the same full-object CRC64NVME, not uploaded again.
    already_present: int
    already_present_bytes: int
    #: Of ``uploaded``: files written over an object that was already at their key (another size, or the same
    #: size with a different CRC64NVME or none); in a versioned bucket that object stays as a noncurrent version.
    #: Always 0 with ``skip_existing=False`` (nothing is compared).
    replaced: int
    engine: str
    seconds: float
    #: Of ``uploaded``: files whose object had their size but whose stored checksum S3 would not show (HeadObject
    #: refused: no ``s3:GetObject``), uploaded again rather than skipped unverified.
    unverified: int = 0


class UploadInterrupted(KeyboardInterrupt):
    """The upload was stopped (Ctrl-C, or a progress callback raised KeyboardInterrupt); what was uploaded stays."""

    def __init__(self, uploaded: int, remaining: int) -> None:
        super().__init__(f"upload interrupted after {uploaded} file(s); {remaining} not uploaded")
        self.uploaded = uploaded
        self.remaining = remaining


def crt_available() -> bool:
    try:
        import awscrt.s3  # noqa: F401
        import s3transfer.crt  # noqa: F401
    except ImportError:
        return False
    return True


#: HeadObject error codes of a key with no current object (deleted since it was listed).
_NOT_FOUND_CODES = frozenset({"404", "NoSuchKey", "NotFound"})


def owner_args(expected_bucket_owner: str) -> dict[str, str]:
    """``ExpectedBucketOwner`` for an S3 call: S3 refuses the call when another account owns the bucket, so nothing
    is written to (or read from) a bucket of the same name in another account."""
    return {"ExpectedBucketOwner": expected_bucket_owner}


def check_concurrency(concurrency: int) -> None:
    """Refuse a number of files in flight outside 1..MAX_CONCURRENCY."""
    if not 1 <= concurrency <= MAX_CONCURRENCY:
        raise UsageError(
            f"--concurrency {concurrency} is out of range: give a number from 1 to {MAX_CONCURRENCY} (default "
            f"{DEFAULT_CONCURRENCY['crt']}, or {DEFAULT_CONCURRENCY['classic']} without awscrt). More files in flight "
            "do not upload faster: each one holds a connection and memory."
        )


def existing_objects(s3: Any, bucket: str, prefix: str, *, expected_bucket_owner: str) -> dict[str, int]:
    """Key -> size of every object under ``prefix`` (one paginated listing)."""
    found: dict[str, int] = {}
    with translate_client_errors(f"ListObjectsV2 s3://{bucket}/{prefix}"):
        pages = s3.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=prefix, **owner_args(expected_bucket_owner)
        )
        for page in pages:
            for item in page.get("Contents", []):
                found[str(item["Key"])] = int(item["Size"])
    return found


def common_prefix(keys: Iterable[str]) -> str:
    """The longest ``/``-ended prefix shared by all keys ('' when none)."""
    shared: list[str] | None = None
    for key in keys:
        folders = key.split("/")[:-1]
        if shared is None:
            shared = folders
            continue
        length = 0
        while length < min(len(shared), len(folders)) and shared[length] == folders[length]:
            length += 1
        shared = shared[:length]
    return "".join(f"{folder}/" for folder in shared or [])


def listing_prefixes(keys: Iterable[str], depth: int = 2) -> list[str]:
    """The prefixes to list for ``keys``: the common prefix of each group of keys that share their first ``depth``
    folders (``imports/<digest>/``), so that keys of several plans never make the check list a whole tree."""
    groups: dict[str, list[str]] = {}
    for key in keys:
        groups.setdefault("/".join(key.split("/")[:depth]), []).append(key)
    return sorted(common_prefix(group) for group in groups.values())


def upload_files(
    session: boto3.session.Session,
    bucket: str,
    items: Sequence[UploadItem],
    *,
    concurrency: int | None = None,
    on_progress: ProgressCallback | None = None,
    skip_existing: bool = True,
    engine: str = "auto",
    target_throughput_bytes: int = DEFAULT_TARGET_THROUGHPUT_BYTES,
    expected_bucket_owner: str,
) -> UploadReport:
    """Upload ``items`` to ``bucket`` (see the module docstring). ``expected_bucket_owner`` (an account id) goes with
    every request, the CRT's and multipart parts included."""
    started = time.monotonic()
    if engine == "auto":
        engine = "crt" if crt_available() else "classic"
    if engine not in DEFAULT_CONCURRENCY:
        raise ValueError(f"unknown upload engine {engine!r}; choose crt, classic or auto")
    concurrency = concurrency or DEFAULT_CONCURRENCY[engine]
    check_concurrency(concurrency)
    if session.get_credentials() is None:
        raise AwsAccessError(
            "upload to S3: no AWS credentials were found; sign in with `aws sso login --profile <your-profile>` "
            "(or set AWS_PROFILE / pass --profile)."
        )
    s3 = make_client(session, "s3", max_pool_connections=max(concurrency, 10))
    check = ExistingCheck(to_upload=list(items), present=0, present_bytes=0, replacing=0, unverified=0)
    if skip_existing and items:
        check = check_existing(
            s3,
            bucket,
            items,
            concurrency=concurrency,
            on_progress=on_progress,
            expected_bucket_owner=expected_bucket_owner,
        )
    pending = check.to_upload
    uploaded, uploaded_bytes = 0, 0
    if pending:
        transfer = _crt_manager(session, s3, concurrency, target_throughput_bytes) if engine == "crt" else None
        if transfer is None:
            engine = "classic"
            transfer = _classic_manager(s3, concurrency)
        uploaded, uploaded_bytes = _run(
            transfer, bucket, pending, concurrency, on_progress, owner_args(expected_bucket_owner)
        )
    return UploadReport(
        uploaded=uploaded,
        uploaded_bytes=uploaded_bytes,
        already_present=check.present,
        already_present_bytes=check.present_bytes,
        replaced=check.replacing,
        engine=engine,
        seconds=time.monotonic() - started,
        unverified=check.unverified,
    )


# ---------------------------------------------------------------- resume


@dataclass(frozen=True)
class ExistingCheck:
    """What :func:`check_existing` found."""

    #: The items to upload, in the given order (an item whose CRC64NVME was computed for the check carries it).
    to_upload: list[UploadItem]
    #: Items whose object is already there with the same size and CRC64NVME.
    present: int
    present_bytes: int
    #: Of ``to_upload``: items with an object at their key (another size, or another or no CRC64NVME).
    replacing: int
    #: Of ``to_upload``: items whose object has their size but whose checksum S3 refused to show (no s3:GetObject).
    unverified: int


def check_existing(
    s3: Any,
    bucket: str,
    items: Sequence[UploadItem],
    *,
    concurrency: int,
    on_progress: ProgressCallback | None = None,
    expected_bucket_owner: str,
) -> ExistingCheck:
    """Sort ``items`` into those already in ``bucket`` (same size and full-object CRC64NVME) and those to upload.

    One listing of the keys' common prefix gives the sizes; each object of the item's size then gets one
    HeadObject (``ChecksumMode=ENABLED``), ``concurrency`` at a time. ``on_progress`` is called on the calling
    thread with the files and bytes found present as they are confirmed. When S3 refuses a HeadObject (access
    denied), no further one is sent and every item not yet confirmed present is uploaded (``unverified``). Raises
    :class:`UploadInterrupted` when interrupted, and an :class:`~ahiops.errors.OpsError` (the HeadObject's key and
    AWS's error) when a check fails otherwise.
    """
    sizes: dict[str, int] = {}
    for prefix in listing_prefixes(item.key for item in items):
        sizes.update(existing_objects(s3, bucket, prefix, expected_bucket_owner=expected_bucket_owner))
    upload = [True] * len(items)
    same_size: list[int] = []
    replacing = 0
    for index, item in enumerate(items):
        size = sizes.get(item.key)
        if size == item.size:
            same_size.append(index)
        elif size is not None:
            replacing += 1
    del sizes
    computed: dict[int, UploadItem] = {}
    present = present_bytes = 0
    refused = False
    settled = 0  # same-size items with a verdict: present, other bytes, or gone since the listing
    if same_size:
        pool = ThreadPoolExecutor(max_workers=min(concurrency, len(same_size)), thread_name_prefix="resume-check")
        in_flight: dict[Future[tuple[str, UploadItem]], int] = {}
        position = 0
        try:
            while (not refused and position < len(same_size)) or in_flight:
                while not refused and position < len(same_size) and len(in_flight) < concurrency:
                    index = same_size[position]
                    position += 1
                    in_flight[pool.submit(_compare_with_object, s3, bucket, items[index], expected_bucket_owner)] = (
                        index
                    )
                done, _ = wait(in_flight, timeout=1.0, return_when=FIRST_COMPLETED)
                files = nbytes = 0
                for future in done:
                    index = in_flight.pop(future)
                    verdict, item = future.result()
                    settled += verdict != _UNREADABLE
                    if verdict == _SAME:
                        upload[index] = False
                        files += 1
                        nbytes += item.size
                        continue
                    if verdict == _DIFFERENT:
                        replacing += 1
                    elif verdict == _UNREADABLE:
                        refused = True
                    if item is not items[index]:
                        computed[index] = item
                present += files
                present_bytes += nbytes
                if on_progress is not None and files:
                    on_progress(files, nbytes)
        except KeyboardInterrupt:
            pool.shutdown(wait=False, cancel_futures=True)
            raise UploadInterrupted(0, len(items) - present) from None
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
    # Refused, or never asked after a refusal: uploaded without a verdict.
    unverified = len(same_size) - settled
    to_upload = [computed.get(index, item) for index, item in enumerate(items) if upload[index]]
    return ExistingCheck(
        to_upload=to_upload, present=present, present_bytes=present_bytes, replacing=replacing, unverified=unverified
    )


#: Verdicts of :func:`_compare_with_object`.
_SAME, _DIFFERENT, _GONE, _UNREADABLE = "same", "different", "gone", "unreadable"


def _compare_with_object(s3: Any, bucket: str, item: UploadItem, expected_bucket_owner: str) -> tuple[str, UploadItem]:
    """Whether the object at ``item.key`` has the item's size and CRC64NVME (``_SAME``), not (``_DIFFERENT``: other
    bytes, or no CRC64NVME to tell), is gone since it was listed (``_GONE``), or S3 refuses to show it
    (``_UNREADABLE``: no s3:GetObject); with the item, its checksum filled in when it had none (the file's,
    computed here). Runs on the check's thread pool."""
    operation = f"HeadObject s3://{bucket}/{item.key}"
    with translate_client_errors(operation):
        try:
            head = s3.head_object(
                Bucket=bucket, Key=item.key, ChecksumMode="ENABLED", **owner_args(expected_bucket_owner)
            )
        except botocore.exceptions.ClientError as error:
            code = error_code(error)
            if code in _NOT_FOUND_CODES:
                return _GONE, item
            if code in ACCESS_DENIED_CODES:
                return _UNREADABLE, item
            raise
    if int(head.get("ContentLength", -1)) != item.size:  # written again since it was listed
        return _DIFFERENT, item
    if item.checksum_crc64nvme is None:
        item = replace(item, checksum_crc64nvme=_file_crc64nvme(item))
    stored = head.get("ChecksumCRC64NVME")
    return (_SAME if stored and stored == item.checksum_crc64nvme else _DIFFERENT), item


def _file_crc64nvme(item: UploadItem) -> str:
    """The CRC64NVME of the item's file (one streamed read), for an item given without one."""
    from .discovery import SourceFile, fingerprint

    [hashed] = fingerprint([SourceFile(path=item.path, relative_path=str(item.path), size=item.size)], workers=1)
    return hashed.crc64nvme


# ---------------------------------------------------------------- engines


def _crt_manager(session: boto3.session.Session, s3: Any, concurrency: int, target_throughput_bytes: int) -> Any:
    from s3transfer.crt import (
        BotocoreCRTCredentialsWrapper,
        BotocoreCRTRequestSerializer,
        CRTTransferManager,
        create_s3_crt_client,
    )
    from s3transfer.manager import TransferConfig

    botocore_session = session._session
    endpoint = str(s3.meta.endpoint_url)
    credentials = BotocoreCRTCredentialsWrapper(session.get_credentials()).to_crt_credentials_provider()
    ca_bundle = botocore_session.get_config_variable("ca_bundle")
    crt_client = create_s3_crt_client(
        s3.meta.region_name,
        crt_credentials_provider=credentials,
        target_throughput=target_throughput_bytes,
        part_size=PART_SIZE,
        use_ssl=endpoint.startswith("https://"),
        verify=ca_bundle or None,
    )
    serializer = templated_put_serializer(
        BotocoreCRTRequestSerializer, botocore_session, {"region_name": s3.meta.region_name, "endpoint_url": endpoint}
    )
    config = TransferConfig(
        multipart_threshold=PART_SIZE, multipart_chunksize=PART_SIZE, max_request_concurrency=concurrency
    )
    return CRTTransferManager(crt_client, serializer, config=config)


#: A key that botocore puts into a URL unchanged; it stands for the real (percent-encoded) key in a template.
_TEMPLATE_KEY = "ahictl-template-key-3f9c1d"
#: Upload arguments a templated PutObject may carry (s3transfer adds ContentLength and a ContentMD5 placeholder).
_TEMPLATED_ARGS = frozenset({"ContentLength", "ContentMD5", "ChecksumCRC64NVME", "ExpectedBucketOwner"})
#: The header that carries a templated PutObject's checksum.
_CHECKSUM_HEADER = "x-amz-checksum-crc64nvme"


def templated_put_serializer(base: type, botocore_session: Any, client_kwargs: dict[str, Any]) -> Any:
    """A ``BotocoreCRTRequestSerializer`` (``base``) that serializes a PutObject once per bucket with botocore and
    derives each file's request from that template: the same method, host, addressing style and headers, with
    the file's percent-encoded key, length and CRC64NVME put in. botocore's full request pipeline costs about half a
    millisecond of the calling thread per file, which on many small files is what limits the CRT's throughput.
    Any other request (or argument) goes through botocore as usual."""
    import urllib.parse
    import uuid

    import awscrt.http

    class TemplatedPutSerializer(base):
        def __init__(self) -> None:
            super().__init__(botocore_session, dict(client_kwargs))
            self._templates: dict[tuple[str, bool, str | None], Any] = {}
            self._lock = threading.Lock()

        def serialize_http_request(self, transfer_type: str, future: Any) -> Any:
            call_args = future.meta.call_args
            extra_args = call_args.extra_args
            if (
                transfer_type != "put_object"
                or not isinstance(call_args.fileobj, str)
                or "ContentLength" not in extra_args
                or not set(extra_args) <= _TEMPLATED_ARGS
            ):
                return super().serialize_http_request(transfer_type, future)
            checksum = extra_args.get("ChecksumCRC64NVME")
            template = self._template(call_args.bucket, checksum is not None, extra_args.get("ExpectedBucketOwner"))
            if template is None:
                return super().serialize_http_request(transfer_type, future)
            path_before, path_after, headers = template
            values = {"content-length": str(extra_args["ContentLength"]), _CHECKSUM_HEADER: checksum}
            request_headers = []
            for name, value in headers:
                lower = name.lower()
                if lower in values:
                    value = values[lower]
                elif lower == "amz-sdk-invocation-id":
                    value = str(uuid.uuid4())
                request_headers.append((name, value))
            key = urllib.parse.quote(call_args.key, safe="/~")
            return awscrt.http.HttpRequest(
                method="PUT", path=path_before + key + path_after, headers=awscrt.http.HttpHeaders(request_headers)
            )

        def _template(
            self, bucket: str, with_checksum: bool, owner: str | None
        ) -> tuple[str, str, list[tuple[str, str]]] | None:
            # The owner is the same for every file of a bucket: it stays in the template as botocore wrote it.
            with self._lock:
                cached = self._templates.get((bucket, with_checksum, owner))
                if cached is not None or (bucket, with_checksum, owner) in self._templates:
                    return cached
                from s3transfer.crt import CRTTransferFuture, CRTTransferMeta
                from s3transfer.utils import CallArgs

                extra: dict[str, Any] = {"ContentLength": 0, "ContentMD5": "override-to-be-removed"}
                if with_checksum:
                    extra["ChecksumCRC64NVME"] = "AAAAAAAAAAA="
                if owner:
                    extra["ExpectedBucketOwner"] = owner
                call_args = CallArgs(bucket=bucket, key=_TEMPLATE_KEY, fileobj="", extra_args=extra, subscribers=[])
                request = super().serialize_http_request("put_object", CRTTransferFuture(CRTTransferMeta(0, call_args)))
                path = str(request.path)
                result: tuple[str, str, list[tuple[str, str]]] | None = None
                headers = [(str(name), str(value)) for name, value in request.headers]
                names = {name.lower() for name, _ in headers}
                needed = {"content-length", _CHECKSUM_HEADER} if with_checksum else {"content-length"}
                if path.count(_TEMPLATE_KEY) == 1 and request.method == "PUT" and needed <= names:
                    before, after = path.split(_TEMPLATE_KEY)
                    result = (before, after, headers)
                self._templates[(bucket, with_checksum, owner)] = result
                return result

    return TemplatedPutSerializer()


def _classic_manager(s3: Any, concurrency: int) -> Any:
    from s3transfer.manager import TransferConfig, TransferManager

    config = TransferConfig(
        multipart_threshold=PART_SIZE,
        multipart_chunksize=PART_SIZE,
        max_request_concurrency=concurrency,
        max_submission_concurrency=max(2, concurrency // 4),
    )
    return TransferManager(s3, config)


# ---------------------------------------------------------------- the transfer loop


class _Subscriber:
    """Reports bytes and completions of one transfer to the loop (called on the engine's threads)."""

    def __init__(self, index: int, done: queue.Queue[tuple[int, BaseException | None]], progress: _ByteCounter):
        self._index = index
        self._done = done
        self._progress = progress

    def on_queued(self, future: Any, **kwargs: Any) -> None:
        pass

    def on_progress(self, future: Any, bytes_transferred: int, **kwargs: Any) -> None:
        self._progress.add(bytes_transferred)

    def on_done(self, future: Any, **kwargs: Any) -> None:
        try:
            future.result()
        except BaseException as error:  # handed to the loop, which raises it on its own thread
            self._done.put((self._index, error))
        else:
            self._done.put((self._index, None))


class _ByteCounter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._value = 0

    def add(self, amount: int) -> None:
        with self._lock:
            self._value += amount

    def take(self) -> int:
        with self._lock:
            value, self._value = self._value, 0
        return value


def _run(
    transfer: Any,
    bucket: str,
    items: Sequence[UploadItem],
    concurrency: int,
    on_progress: ProgressCallback | None,
    common_args: dict[str, str] | None = None,
) -> tuple[int, int]:
    done: queue.Queue[tuple[int, BaseException | None]] = queue.Queue()
    counter = _ByteCounter()
    next_index = 0
    in_flight = 0
    uploaded = 0
    uploaded_bytes = 0
    reported_bytes = 0
    total_bytes = sum(item.size for item in items)
    try:
        # Leaving the block with an exception cancels the transfers in flight (both managers' __exit__ do;
        # the classic manager's shutdown(cancel=True) passes its arguments wrongly in s3transfer 0.19).
        with transfer:
            while uploaded < len(items):
                while next_index < len(items) and in_flight < concurrency:
                    item = items[next_index]
                    extra_args = dict(common_args or {})
                    if item.checksum_crc64nvme:
                        extra_args["ChecksumCRC64NVME"] = item.checksum_crc64nvme
                    transfer.upload(
                        str(item.path),
                        bucket,
                        item.key,
                        extra_args=extra_args,
                        subscribers=[_Subscriber(next_index, done, counter)],
                    )
                    next_index += 1
                    in_flight += 1
                try:
                    index, error = done.get(timeout=0.1)
                except queue.Empty:
                    index, error = -1, None
                if index >= 0:
                    in_flight -= 1
                    if error is not None:
                        raise _upload_error(bucket, items[index], error)
                    uploaded += 1
                    uploaded_bytes += items[index].size
                if on_progress is not None:
                    # never more than the total: a retried part reports its bytes again
                    moved = min(counter.take(), total_bytes - reported_bytes)
                    files = 1 if index >= 0 else 0
                    # Bytes are reported as they move, and a file's remaining bytes when it completes (progress
                    # events can be coarse), so that the totals add up exactly.
                    reported_bytes += moved
                    extra = 0
                    if files and reported_bytes < uploaded_bytes:
                        extra = uploaded_bytes - reported_bytes
                        reported_bytes = uploaded_bytes
                    on_progress(files, moved + extra)
    except KeyboardInterrupt:
        raise UploadInterrupted(uploaded, len(items) - uploaded) from None
    return uploaded, uploaded_bytes


#: What to do after an upload failed part-way: the same command resumes.
RERUN_ADVICE = "Run the same command again: files already uploaded are not uploaded again."
#: CRT error names (prefixes) that mean the local file changed, went away or could not be read during the upload.
_CRT_FILE_ERRORS = ("AWS_ERROR_FILE", "AWS_IO_FILE", "AWS_ERROR_S3_INCORRECT_CONTENT_LENGTH", "AWS_ERROR_STREAM")
#: CRT error names (prefixes) that mean S3 could not be reached or the connection broke.
_CRT_CONNECTION_ERRORS = ("AWS_IO_SOCKET", "AWS_IO_DNS", "AWS_IO_TLS", "AWS_ERROR_HTTP_CONNECTION", "AWS_IO_CHANNEL")


def _upload_error(bucket: str, item: UploadItem, error: BaseException) -> OpsError:
    operation = f"upload '{item.path}' to s3://{bucket}/{item.key}"
    if isinstance(error, OpsError):
        return error
    if isinstance(error, botocore.exceptions.ClientError):
        result = client_error_to_ops_error(operation, error)
        if not str(result).rstrip().endswith("again."):
            result = type(result)(f"{result} {RERUN_ADVICE}")
            result.aws_error_code = error_code(error) or None
        return result
    if isinstance(error, botocore.exceptions.NoCredentialsError):
        return AwsAccessError(f"{operation}: no AWS credentials were found; sign in with `aws sso login`.")
    if isinstance(error, OSError):
        return ServiceError(
            f"{operation}: the file could not be read ({error.strerror or type(error).__name__}): it changed or "
            f"went away during the upload. {RERUN_ADVICE}"
        )
    name = str(getattr(error, "name", "") or "")
    detail = str(getattr(error, "message", "") or "").strip().rstrip(".")
    if not detail:  # never an empty reason
        detail = name or str(error).strip().strip(":").strip() or type(error).__name__
    if name.startswith(_CRT_FILE_ERRORS):
        return ServiceError(
            f"{operation}: the file could not be read to the end ({detail}; {name}): it changed or went away during "
            f"the upload. Leave the folder alone while it is imported; {RERUN_ADVICE}"
        )
    if name.startswith(_CRT_CONNECTION_ERRORS):
        return ServiceError(
            f"{operation}: S3 could not be reached ({detail}; {name}). Check the network and any AWS_ENDPOINT_URL_S3 "
            f"variable; {RERUN_ADVICE}"
        )
    shown = f"{detail} ({name})" if name and name not in detail else detail
    return ServiceError(f"{operation} failed: {shown}. {RERUN_ADVICE}")
