"""A minimal S3-compatible endpoint on loopback that accepts uploads, keeps each object's size and discards its bytes.

It exists so that a staging benchmark measures the clients, not the server: moto's server (one Python process that
stores every byte) saturates near 190 PUTs/s and costs 12-15 CPU-seconds per GB, so every client looks alike
against it. This endpoint is one asyncio process that parses HTTP/1.1 by hand and only counts payload bytes.

What it answers (path-style addressing, no authentication: signatures are accepted unchecked):

- CreateBucket, HeadBucket, GetBucketLocation, ListObjectsV2 (prefix, delimiter, start-after, max-keys,
  continuation tokens, ``encoding-type=url``);
- PutObject, HeadObject (size, ETag, and with ``x-amz-checksum-mode: ENABLED`` the checksum the client sent),
  DeleteObject;
- CreateMultipartUpload, UploadPart, CompleteMultipartUpload (parts checked against what was uploaded),
  AbortMultipartUpload;
- request bodies framed by Content-Length or ``Transfer-Encoding: chunked``, and ``aws-chunked`` payloads
  (signed chunks or unsigned with checksum trailers, as boto3 1.36+, the CRT and the SDKs send them), whose decoded
  length must match ``x-amz-decoded-content-length``; ``Expect: 100-continue`` is answered at once.

Anything else (GetObject among them: the bytes are gone) is an error response that is also counted, so a client
that depends on something missing fails visibly instead of being measured as fast. ``GET /_sink/stats`` returns
JSON: per bucket the number of objects and their total size, operations and errors by name, payload bytes received
and the endpoint's own CPU-seconds.

Usage: ``python -m testkit.fakes.s3_sink [--port 0] [--max-seconds 3600]`` prints ``http://127.0.0.1:PORT`` on its
first line, then serves until SIGINT/SIGTERM or ``--max-seconds``. In Python: ``with running_sink() as sink:``
serves from a background thread (``sink.url``, ``sink.stats()``).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import bisect
import contextlib
import email.utils
import hashlib
import itertools
import json
import resource
import signal
import threading
import time
import urllib.parse
import urllib.request
import uuid
import xml.etree.ElementTree as ElementTree
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Final
from xml.sax.saxutils import escape

HOST: Final = "127.0.0.1"
S3_XMLNS: Final = "http://s3.amazonaws.com/doc/2006-03-01/"
MAX_HEADER_BYTES: Final = 64 * 1024
MAX_LINE_BYTES: Final = 8 * 1024
MAX_KEPT_BODY_BYTES: Final = 8 * 1024 * 1024  # request bodies that are read (CompleteMultipartUpload), not counted
STATS_PATH: Final = "/_sink/stats"
CHECKSUM_HEADER_PREFIX: Final = "x-amz-checksum-"
NOT_CHECKSUM_VALUES: Final = frozenset({"x-amz-checksum-mode", "x-amz-checksum-type", "x-amz-checksum-algorithm"})
REASONS: Final = {
    100: "Continue",
    200: "OK",
    204: "No Content",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    411: "Length Required",
    500: "Internal Server Error",
    501: "Not Implemented",
}


class S3Error(Exception):
    """An S3 error response: HTTP status, S3 error code and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class FramingError(S3Error):
    """A request whose bytes cannot be parsed; the connection is closed after the error response."""

    def __init__(self, message: str) -> None:
        super().__init__(400, "BadRequest", message)


# --------------------------------------------------------------------------------------------------------------
# State: buckets of key -> object record, open multipart uploads, counters.


@dataclass
class StoredObject:
    size: int
    etag: str
    last_modified: float
    checksums: dict[str, str]  # "crc32" -> base64 value, as the client sent it
    checksum_type: str | None = None  # "FULL_OBJECT" or "COMPOSITE" when a checksum is kept


@dataclass
class Part:
    size: int
    etag: str
    checksums: dict[str, str]


@dataclass
class MultipartUpload:
    bucket: str
    key: str
    checksum_algorithm: str | None
    checksum_type: str | None
    parts: dict[int, Part] = field(default_factory=dict)


@dataclass
class SinkState:
    buckets: dict[str, dict[str, StoredObject]] = field(default_factory=dict)
    uploads: dict[str, MultipartUpload] = field(default_factory=dict)
    operations: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    payload_bytes: int = 0
    connections: int = 0
    _sorted_keys: dict[str, list[str]] = field(default_factory=dict)
    _etags: Iterator[int] = field(default_factory=itertools.count)

    def new_etag(self, key: str, size: int) -> str:
        """A unique quoted ETag without hashing the (discarded) content; the form of S3's, not its value."""
        seed = f"{key}\0{size}\0{next(self._etags)}".encode()
        return '"' + hashlib.md5(seed, usedforsecurity=False).hexdigest() + '"'

    def bucket(self, name: str) -> dict[str, StoredObject]:
        try:
            return self.buckets[name]
        except KeyError:
            raise S3Error(404, "NoSuchBucket", f"The specified bucket does not exist: {name}") from None

    def store(self, bucket: str, key: str, stored: StoredObject) -> None:
        objects = self.bucket(bucket)
        if key not in objects:
            self._sorted_keys.pop(bucket, None)
        objects[key] = stored

    def delete(self, bucket: str, key: str) -> None:
        if self.bucket(bucket).pop(key, None) is not None:
            self._sorted_keys.pop(bucket, None)

    def sorted_keys(self, bucket: str) -> list[str]:
        keys = self._sorted_keys.get(bucket)
        if keys is None:
            keys = self._sorted_keys[bucket] = sorted(self.bucket(bucket))
        return keys

    def stats(self) -> dict[str, object]:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return {
            "buckets": {
                name: {"objects": len(objects), "bytes": sum(item.size for item in objects.values())}
                for name, objects in self.buckets.items()
            },
            "operations": dict(self.operations),
            "errors": dict(self.errors),
            "open_multipart_uploads": len(self.uploads),
            "payload_bytes": self.payload_bytes,
            "connections": self.connections,
            "cpu_seconds": usage.ru_utime + usage.ru_stime,
        }


# --------------------------------------------------------------------------------------------------------------
# Body framing: Content-Length or Transfer-Encoding: chunked outside, optionally aws-chunked inside.


class PayloadCounter:
    """The end of the chain: counts payload bytes and keeps them only when asked (small XML bodies)."""

    def __init__(self, keep: bool) -> None:
        self.size = 0
        self.kept: bytearray | None = bytearray() if keep else None

    def feed(self, view: memoryview) -> None:
        self.size += len(view)
        if self.kept is not None:
            if len(self.kept) + len(view) > MAX_KEPT_BODY_BYTES:
                raise S3Error(400, "MaxMessageLengthExceeded", "request body too large for this operation")
            self.kept += view


class ChunkedDecoder:
    """Decodes the ``size[;ext]\\r\\ndata\\r\\n ... 0\\r\\ntrailers\\r\\n\\r\\n`` framing that both HTTP chunked
    transfer coding and S3's aws-chunked content coding use, passing the data on and collecting the trailers."""

    SIZE, DATA, DATA_END, TRAILER = range(4)

    def __init__(self, out: PayloadCounter | ChunkedDecoder, name: str) -> None:
        self.out = out
        self.name = name
        self.state = self.SIZE
        self.line = bytearray()
        self.remaining = 0
        self.trailers: dict[str, str] = {}
        self.done = False

    def feed(self, view: memoryview) -> int:
        """Consume the start of ``view`` (stopping at the end of the framing); return how many bytes were used."""
        position, length = 0, len(view)
        while position < length and not self.done:
            if self.state == self.DATA:
                take = min(self.remaining, length - position)
                self.out.feed(view[position : position + take])
                position += take
                self.remaining -= take
                if self.remaining == 0:
                    self.state = self.DATA_END
                continue
            window = bytes(view[position : position + MAX_LINE_BYTES + 2])
            newline = window.find(b"\n")
            if newline < 0:
                self.line += window
                position += len(window)
                if len(self.line) > MAX_LINE_BYTES:
                    raise FramingError(f"{self.name}: framing line longer than {MAX_LINE_BYTES} bytes")
                continue
            self.line += window[:newline]
            position += newline + 1
            line = bytes(self.line).rstrip(b"\r")
            self.line.clear()
            self._line(line)
        return position

    def _line(self, line: bytes) -> None:
        if self.state == self.SIZE:
            size_text = line.split(b";", 1)[0].strip()
            try:
                self.remaining = int(size_text, 16)
            except ValueError:
                raise FramingError(f"{self.name}: chunk size {size_text[:40]!r} is not hexadecimal") from None
            self.state = self.DATA if self.remaining else self.TRAILER
        elif self.state == self.DATA_END:
            if line:
                raise FramingError(f"{self.name}: chunk data longer than its declared size")
            self.state = self.SIZE
        elif not line:  # TRAILER: an empty line ends the message
            self.done = True
        else:
            name, separator, value = line.decode("latin-1").partition(":")
            if not separator:
                raise FramingError(f"{self.name}: trailer line {line[:60]!r} has no ':'")
            self.trailers[name.strip().lower()] = value.strip()


class LengthBody:
    """Content-Length framing."""

    def __init__(self, length: int, out: PayloadCounter | ChunkedDecoder) -> None:
        self.remaining = length
        self.out = out
        self.done = length == 0

    def feed(self, view: memoryview) -> int:
        take = min(self.remaining, len(view))
        if take:
            self.out.feed(view[:take])
            self.remaining -= take
        if self.remaining == 0:
            self.done = True
        return take


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes = b""
    payload_size: int = 0
    trailers: dict[str, str] = field(default_factory=dict)

    @property
    def checksums(self) -> dict[str, str]:
        """The checksums the client sent, from headers or aws-chunked trailers: algorithm -> base64 value."""
        found: dict[str, str] = {}
        for source in (self.headers, self.trailers):
            for name, value in source.items():
                if name.startswith(CHECKSUM_HEADER_PREFIX) and name not in NOT_CHECKSUM_VALUES:
                    found[name.removeprefix(CHECKSUM_HEADER_PREFIX)] = value
        return found


# --------------------------------------------------------------------------------------------------------------
# Operations.


@dataclass
class Response:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    head_length: int | None = None  # Content-Length of a HEAD response (no body is sent)


def _xml(root: str, inner: str) -> bytes:
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<{root} xmlns="{S3_XMLNS}">{inner}</{root}>'.encode()


def _xml_response(root: str, inner: str, headers: dict[str, str] | None = None) -> Response:
    return Response(200, {"Content-Type": "application/xml", **(headers or {})}, _xml(root, inner))


def _iso(timestamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(timestamp))


def _checksum_headers(checksums: dict[str, str], checksum_type: str | None) -> dict[str, str]:
    headers = {CHECKSUM_HEADER_PREFIX + name: value for name, value in checksums.items()}
    if checksums and checksum_type:
        headers["x-amz-checksum-type"] = checksum_type
    return headers


class S3Handler:
    """Maps parsed requests to S3 operations on a :class:`SinkState`."""

    def __init__(self, state: SinkState) -> None:
        self.state = state

    def handle(self, request: Request) -> Response:
        """The response to ``request``; S3 errors become error responses and are counted as ``Operation:Code``."""
        if request.path == STATS_PATH and request.method == "GET":
            return Response(200, {"Content-Type": "application/json"}, json.dumps(self.state.stats()).encode())
        operation = "Unsupported"
        try:
            bucket, _, key = request.path.lstrip("/").partition("/")
            operation, action = self._route(request, bucket, key)
            self.state.operations[operation] += 1
            return action()
        except S3Error as error:
            self.state.errors[f"{operation}:{error.code}"] += 1
            return error_response(error, request.path)

    def _route(self, request: Request, bucket: str, key: str) -> tuple[str, Callable[[], Response]]:
        method, query = request.method, request.query
        if not bucket:
            raise S3Error(405, "MethodNotAllowed", f"{method} / is not supported by this endpoint (no ListBuckets)")
        if not key:
            if method == "PUT" and not query:
                return "CreateBucket", lambda: self.create_bucket(bucket)
            if method == "HEAD" and not query:
                return "HeadBucket", lambda: self.head_bucket(bucket)
            if method == "GET" and query.get("list-type") == "2":
                return "ListObjectsV2", lambda: self.list_objects_v2(bucket, query)
            if method == "GET" and set(query) == {"location"}:
                return "GetBucketLocation", lambda: self.bucket_location(bucket)
        else:
            if method == "PUT" and not query:
                if "x-amz-copy-source" in request.headers:
                    raise S3Error(501, "NotImplemented", "CopyObject is not supported by this endpoint")
                return "PutObject", lambda: self.put_object(bucket, key, request)
            if method == "HEAD" and not query.keys() - {"partNumber", "versionId"}:
                return "HeadObject", lambda: self.head_object(bucket, key, request)
            if method == "DELETE" and not query:
                return "DeleteObject", lambda: self.delete_object(bucket, key)
            if method == "POST" and set(query) == {"uploads"}:
                return "CreateMultipartUpload", lambda: self.create_multipart(bucket, key, request)
            if method == "PUT" and set(query) == {"partNumber", "uploadId"}:
                return "UploadPart", lambda: self.upload_part(bucket, key, request)
            if method == "POST" and set(query) == {"uploadId"}:
                return "CompleteMultipartUpload", lambda: self.complete_multipart(bucket, key, request)
            if method == "DELETE" and set(query) == {"uploadId"}:
                return "AbortMultipartUpload", lambda: self.abort_multipart(bucket, key, query["uploadId"])
        described = f"{method} /{bucket}{'/' + key if key else ''}" + (f"?{'&'.join(sorted(query))}" if query else "")
        raise S3Error(501, "NotImplemented", f"{described} is not supported by this endpoint (it discards bytes)")

    # Buckets -------------------------------------------------------------------------------------------------

    def create_bucket(self, bucket: str) -> Response:
        self.state.buckets.setdefault(bucket, {})
        return Response(200, {"Location": f"/{bucket}"})

    def head_bucket(self, bucket: str) -> Response:
        self.state.bucket(bucket)
        return Response(200, {"x-amz-bucket-region": "us-east-1"})

    def bucket_location(self, bucket: str) -> Response:
        self.state.bucket(bucket)
        return Response(200, {"Content-Type": "application/xml"}, _xml("LocationConstraint", ""))

    def list_objects_v2(self, bucket: str, query: dict[str, str]) -> Response:
        objects = self.state.bucket(bucket)
        keys = self.state.sorted_keys(bucket)
        prefix = query.get("prefix", "")
        delimiter = query.get("delimiter", "")
        try:
            max_keys = min(int(query.get("max-keys", "1000")), 1000)
        except ValueError:
            raise S3Error(400, "InvalidArgument", "max-keys must be an integer") from None
        token = query.get("continuation-token")
        start_after = query.get("start-after", "")
        if token is not None:
            try:
                start_after = base64.urlsafe_b64decode(token.encode()).decode()
            except ValueError:
                raise S3Error(400, "InvalidArgument", "The continuation token provided is incorrect") from None
        url_encoded = query.get("encoding-type") == "url"

        def shown(value: str) -> str:
            return escape(urllib.parse.quote(value, safe="/") if url_encoded else value)

        contents: list[str] = []
        prefixes: list[str] = []
        seen_prefixes: set[str] = set()
        last = ""
        truncated = False
        index = bisect.bisect_right(keys, start_after) if start_after >= prefix else bisect.bisect_left(keys, prefix)
        for key in keys[index:]:
            if not key.startswith(prefix):
                break
            if len(contents) + len(prefixes) >= max_keys:
                truncated = True
                break
            if delimiter and delimiter in key[len(prefix) :]:
                common = key[: len(prefix) + key[len(prefix) :].index(delimiter) + len(delimiter)]
                if common in seen_prefixes:
                    last = key
                    continue
                seen_prefixes.add(common)
                prefixes.append(f"<CommonPrefixes><Prefix>{shown(common)}</Prefix></CommonPrefixes>")
            else:
                item = objects[key]
                algorithm = "".join(
                    f"<ChecksumAlgorithm>{name.upper()}</ChecksumAlgorithm>" for name in sorted(item.checksums)
                )
                contents.append(
                    f"<Contents><Key>{shown(key)}</Key><LastModified>{_iso(item.last_modified)}</LastModified>"
                    f"<ETag>{escape(item.etag)}</ETag>{algorithm}<Size>{item.size}</Size>"
                    "<StorageClass>STANDARD</StorageClass></Contents>"
                )
            last = key
        inner = (
            f"<Name>{escape(bucket)}</Name><Prefix>{shown(prefix)}</Prefix>"
            + (f"<Delimiter>{shown(delimiter)}</Delimiter>" if delimiter else "")
            + f"<MaxKeys>{max_keys}</MaxKeys><KeyCount>{len(contents) + len(prefixes)}</KeyCount>"
            + f"<IsTruncated>{'true' if truncated else 'false'}</IsTruncated>"
            + ("<EncodingType>url</EncodingType>" if url_encoded else "")
            + (f"<ContinuationToken>{escape(token)}</ContinuationToken>" if token is not None else "")
            + (f"<StartAfter>{shown(query['start-after'])}</StartAfter>" if "start-after" in query else "")
            + (
                f"<NextContinuationToken>{base64.urlsafe_b64encode(last.encode()).decode()}</NextContinuationToken>"
                if truncated
                else ""
            )
            + "".join(contents)
            + "".join(prefixes)
        )
        return _xml_response("ListBucketResult", inner)

    # Objects -------------------------------------------------------------------------------------------------

    def put_object(self, bucket: str, key: str, request: Request) -> Response:
        self.state.bucket(bucket)
        checksums = request.checksums
        stored = StoredObject(
            size=request.payload_size,
            etag=self.state.new_etag(key, request.payload_size),
            last_modified=time.time(),
            checksums=checksums,
            checksum_type="FULL_OBJECT" if checksums else None,
        )
        self.state.store(bucket, key, stored)
        return Response(200, {"ETag": stored.etag, **_checksum_headers(checksums, stored.checksum_type)})

    def head_object(self, bucket: str, key: str, request: Request) -> Response:
        stored = self.state.bucket(bucket).get(key)
        if stored is None:
            raise S3Error(404, "NoSuchKey", f"The specified key does not exist: {key}")
        headers = {
            "ETag": stored.etag,
            "Last-Modified": email.utils.formatdate(stored.last_modified, usegmt=True),
            "Content-Type": "binary/octet-stream",
            "Accept-Ranges": "bytes",
        }
        if request.headers.get("x-amz-checksum-mode", "").upper() == "ENABLED":
            headers.update(_checksum_headers(stored.checksums, stored.checksum_type))
        return Response(200, headers, head_length=stored.size)

    def delete_object(self, bucket: str, key: str) -> Response:
        self.state.delete(bucket, key)
        return Response(204)

    def create_multipart(self, bucket: str, key: str, request: Request) -> Response:
        self.state.bucket(bucket)
        upload_id = uuid.uuid4().hex
        algorithm = request.headers.get("x-amz-checksum-algorithm")
        checksum_type = request.headers.get("x-amz-checksum-type") or ("COMPOSITE" if algorithm else None)
        self.state.uploads[upload_id] = MultipartUpload(bucket, key, algorithm, checksum_type)
        headers = {"x-amz-checksum-algorithm": algorithm} if algorithm else {}
        if checksum_type:
            headers["x-amz-checksum-type"] = checksum_type
        inner = f"<Bucket>{escape(bucket)}</Bucket><Key>{escape(key)}</Key><UploadId>{upload_id}</UploadId>"
        return _xml_response("InitiateMultipartUploadResult", inner, headers)

    def _upload(self, bucket: str, key: str, upload_id: str) -> MultipartUpload:
        upload = self.state.uploads.get(upload_id)
        if upload is None or (upload.bucket, upload.key) != (bucket, key):
            raise S3Error(404, "NoSuchUpload", f"The specified multipart upload does not exist: {upload_id}")
        return upload

    def upload_part(self, bucket: str, key: str, request: Request) -> Response:
        upload = self._upload(bucket, key, request.query["uploadId"])
        try:
            number = int(request.query["partNumber"])
        except ValueError:
            number = 0
        if not 1 <= number <= 10000:
            raise S3Error(400, "InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive")
        checksums = request.checksums
        part = Part(request.payload_size, self.state.new_etag(f"{key}#{number}", request.payload_size), checksums)
        upload.parts[number] = part
        return Response(200, {"ETag": part.etag, **_checksum_headers(checksums, None)})

    def complete_multipart(self, bucket: str, key: str, request: Request) -> Response:
        upload = self._upload(bucket, key, request.query["uploadId"])
        try:
            # The body comes from a loopback benchmark client; it is small and parsed once.
            root = ElementTree.fromstring(request.body)
        except ElementTree.ParseError as error:
            raise S3Error(400, "MalformedXML", f"CompleteMultipartUpload body is not XML: {error}") from None
        listed: list[tuple[int, str, dict[str, str]]] = []
        for element in root:
            if _local(element.tag) != "Part":
                continue
            fields = {_local(child.tag): (child.text or "").strip() for child in element}
            try:
                number = int(fields.get("PartNumber", ""))
            except ValueError:
                raise S3Error(400, "MalformedXML", "a Part without an integer PartNumber") from None
            checksums = {
                name.removeprefix("Checksum").lower(): value
                for name, value in fields.items()
                if name.startswith("Checksum") and name != "ChecksumType"
            }
            listed.append((number, fields.get("ETag", ""), checksums))
        if not listed:
            raise S3Error(400, "MalformedXML", "CompleteMultipartUpload lists no parts")
        if [number for number, _, _ in listed] != sorted({number for number, _, _ in listed}):
            raise S3Error(400, "InvalidPartOrder", "The list of parts was not in ascending order")
        size = 0
        for number, etag, _ in listed:
            part = upload.parts.get(number)
            if part is None or etag.strip('"') != part.etag.strip('"'):
                raise S3Error(400, "InvalidPart", f"part {number} was not uploaded or its ETag does not match")
            size += part.size
        checksums = request.checksums  # a full-object checksum sent with CompleteMultipartUpload
        checksum_type = upload.checksum_type
        if not checksums and upload.checksum_algorithm:
            checksums = _composite_checksum(upload.checksum_algorithm.lower(), [upload.parts[n] for n, _, _ in listed])
            checksum_type = "COMPOSITE" if checksums else None
        stored = StoredObject(
            size=size,
            etag=self.state.new_etag(key, size).rstrip('"') + f'-{len(listed)}"',
            last_modified=time.time(),
            checksums=checksums,
            checksum_type=checksum_type if checksums else None,
        )
        self.state.store(bucket, key, stored)
        del self.state.uploads[request.query["uploadId"]]
        checksum_xml = "".join(
            f"<Checksum{name.upper()}>{value}</Checksum{name.upper()}>" for name, value in checksums.items()
        )
        inner = (
            f"<Location>/{escape(bucket)}/{escape(key)}</Location><Bucket>{escape(bucket)}</Bucket>"
            f"<Key>{escape(key)}</Key><ETag>{escape(stored.etag)}</ETag>{checksum_xml}"
        )
        return _xml_response("CompleteMultipartUploadResult", inner)

    def abort_multipart(self, bucket: str, key: str, upload_id: str) -> Response:
        self._upload(bucket, key, upload_id)
        del self.state.uploads[upload_id]
        return Response(204)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _composite_checksum(algorithm: str, parts: list[Part]) -> dict[str, str]:
    """S3's composite checksum: the checksum of the concatenated part checksums, suffixed with the part count.
    Only for algorithms the standard library computes (crc32, sha1, sha256); others keep no object checksum."""
    raw = b""
    for part in parts:
        value = part.checksums.get(algorithm)
        if value is None:
            return {}
        raw += base64.b64decode(value)
    if algorithm == "crc32":
        digest = zlib.crc32(raw).to_bytes(4, "big")
    elif algorithm in ("sha1", "sha256"):
        digest = hashlib.new(algorithm, raw).digest()
    else:
        return {}
    return {algorithm: f"{base64.b64encode(digest).decode()}-{len(parts)}"}


def error_response(error: S3Error, resource_path: str) -> Response:
    inner = (
        f"<Code>{escape(error.code)}</Code><Message>{escape(error.message)}</Message>"
        f"<Resource>{escape(resource_path)}</Resource><RequestId>{uuid.uuid4().hex[:16]}</RequestId>"
    )
    body = f'<?xml version="1.0" encoding="UTF-8"?>\n<Error>{inner}</Error>'.encode()
    return Response(error.status, {"Content-Type": "application/xml"}, body)


# --------------------------------------------------------------------------------------------------------------
# HTTP/1.1 over asyncio: one protocol instance per connection, requests handled in order (keep-alive).


class SinkConnection(asyncio.Protocol):
    def __init__(self, handler: S3Handler) -> None:
        self.handler = handler
        self.transport: asyncio.Transport | None = None
        self.head = bytearray()
        self.request: Request | None = None
        self.body: LengthBody | ChunkedDecoder = LengthBody(0, PayloadCounter(keep=False))
        self.counter = PayloadCounter(keep=False)
        self.aws_chunked: ChunkedDecoder | None = None
        self.keep_alive = True
        self.closing = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.handler.state.connections += 1

    def data_received(self, data: bytes) -> None:
        if self.closing:
            return
        try:
            self._receive(memoryview(data))
        except FramingError as error:
            self.handler.state.errors[f"Framing:{error.code}"] += 1
            self.keep_alive = False
            self._send(error_response(error, self.request.path if self.request else "/"), head_only=False)

    def _receive(self, view: memoryview) -> None:
        while view and not self.closing:
            if self.request is None:
                search_from = max(0, len(self.head) - 3)
                self.head += view
                end = self.head.find(b"\r\n\r\n", search_from)
                if end < 0:
                    if len(self.head) > MAX_HEADER_BYTES:
                        raise FramingError(f"request headers longer than {MAX_HEADER_BYTES} bytes")
                    return
                view = memoryview(bytes(self.head[end + 4 :]))
                head = bytes(self.head[:end])
                self.head.clear()
                self._start(head)
            else:
                view = view[self.body.feed(view) :]
            if self.request is not None and self.body.done:
                self._finish()

    def _start(self, head: bytes) -> None:
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            raise FramingError(f"not an HTTP/1.x request line: {lines[0][:80]!r}")
        method, target, version = parts
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, separator, value = line.partition(":")
            if not separator:
                raise FramingError(f"header line without ':': {line[:80]!r}")
            name, value = name.strip().lower(), value.strip()
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        url = urllib.parse.urlsplit(target)
        self.request = Request(
            method=method.upper(),
            path=urllib.parse.unquote(url.path),
            query=dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True)),
            headers=headers,
        )
        connection = headers.get("connection", "").lower()
        self.keep_alive = "close" not in connection if version == "HTTP/1.1" else "keep-alive" in connection
        self.counter = PayloadCounter(keep=self.request.method == "POST")
        inner: PayloadCounter | ChunkedDecoder = self.counter
        self.aws_chunked = None
        if "aws-chunked" in headers.get("content-encoding", "").lower() or headers.get(
            "x-amz-content-sha256", ""
        ).startswith("STREAMING-"):
            self.aws_chunked = inner = ChunkedDecoder(self.counter, "aws-chunked body")
        if "chunked" in headers.get("transfer-encoding", "").lower():
            self.body = ChunkedDecoder(inner, "chunked transfer coding")
        else:
            try:
                length = int(headers.get("content-length", "0"))
            except ValueError:
                raise FramingError(f"Content-Length {headers['content-length'][:40]!r} is not an integer") from None
            if length < 0:
                raise FramingError("negative Content-Length")
            self.body = LengthBody(length, inner)
        if headers.get("expect", "").lower() == "100-continue" and not self.body.done:
            assert self.transport is not None
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def _finish(self) -> None:
        request = self.request
        assert request is not None
        request.payload_size = self.counter.size
        if self.counter.kept is not None:
            request.body = bytes(self.counter.kept)
        if isinstance(self.body, ChunkedDecoder):
            request.trailers.update(self.body.trailers)
        if self.aws_chunked is not None:
            if not self.aws_chunked.done:
                raise FramingError("aws-chunked body ended before its final chunk and trailers")
            request.trailers.update(self.aws_chunked.trailers)
            declared = request.headers.get("x-amz-decoded-content-length")
            if declared is not None and declared.strip() != str(request.payload_size):
                raise FramingError(
                    f"aws-chunked body decoded to {request.payload_size} bytes, "
                    f"x-amz-decoded-content-length says {declared}"
                )
        self.handler.state.payload_bytes += request.payload_size
        try:
            response = self.handler.handle(request)
        except Exception as error:  # a bug here must answer 500, not hang the client
            self.handler.state.errors[f"Internal:{type(error).__name__}"] += 1
            response = error_response(S3Error(500, "InternalError", repr(error)), request.path)
        self._send(response, head_only=request.method == "HEAD")
        self.request = None

    def _send(self, response: Response, *, head_only: bool) -> None:
        assert self.transport is not None
        length = response.head_length if head_only and response.head_length is not None else len(response.body)
        lines = [f"HTTP/1.1 {response.status} {REASONS.get(response.status, 'Unknown')}"]
        lines += [f"{name}: {value}" for name, value in response.headers.items()]
        lines.append(f"Content-Length: {length}" if response.status not in (100, 204) else "Content-Length: 0")
        lines.append(f"x-amz-request-id: {uuid.uuid4().hex[:16]}")
        lines.append("Server: s3-sink")
        if not self.keep_alive:
            lines.append("Connection: close")
        data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        if not head_only and response.status != 204:
            data += response.body
        self.transport.write(data)
        if not self.keep_alive:
            self.closing = True
            self.transport.close()


async def serve(state: SinkState, *, host: str, port: int, stop: asyncio.Event, ready: Callable[[int], None]) -> None:
    """Serve ``state`` on ``host:port`` (0: a free port, passed to ``ready``) until ``stop`` is set."""
    handler = S3Handler(state)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SinkConnection(handler), host, port, backlog=1024)
    ready(server.sockets[0].getsockname()[1])
    async with server:
        await stop.wait()


def require_loopback(host: str) -> str:
    """``host`` when it is a loopback address; this endpoint must never listen anywhere else."""
    if host != "localhost" and not host.startswith("127."):
        raise ValueError(f"--host {host!r}: the sink listens on loopback only (127.0.0.1 or another 127.x address)")
    return host


class SinkServer:
    """The sink served from a background thread of this process (for tests): ``start()``, ``url``, ``stop()``."""

    def __init__(self, host: str = HOST, port: int = 0) -> None:
        self.host = require_loopback(host)
        self.port = port
        self.state = SinkState()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="s3-sink", daemon=True)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._failure: BaseException | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> SinkServer:
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError(f"the S3 sink did not start within {timeout} s")
        if self._failure is not None:
            raise RuntimeError(f"the S3 sink failed to start: {self._failure!r}")
        return self

    def stop(self, timeout: float = 10.0) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout)

    def stats(self) -> dict[str, object]:
        return fetch_stats(self.url)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as error:  # reported by start()
            self._failure = error
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()

        def ready(port: int) -> None:
            self.port = port
            self._ready.set()

        await serve(self.state, host=self.host, port=self.port, stop=self._stop, ready=ready)


@contextlib.contextmanager
def running_sink(host: str = HOST, port: int = 0) -> Iterator[SinkServer]:
    """A started :class:`SinkServer`, stopped on exit."""
    server = SinkServer(host, port).start()
    try:
        yield server
    finally:
        server.stop()


def fetch_stats(url: str, timeout: float = 10.0) -> dict[str, object]:
    """The JSON of ``GET /_sink/stats`` of the sink at ``url``."""
    with urllib.request.urlopen(url.rstrip("/") + STATS_PATH, timeout=timeout) as response:
        result: dict[str, object] = json.load(response)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=HOST, help="loopback address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port (default: 0, a free one)")
    parser.add_argument("--max-seconds", type=float, default=3600.0, help="stop by itself after this (default: 3600)")
    args = parser.parse_args(argv)
    try:
        host = require_loopback(args.host)
    except ValueError as error:
        parser.error(str(error))

    async def run() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for signal_number in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signal_number, stop.set)
        loop.call_later(args.max_seconds, stop.set)

        def ready(port: int) -> None:
            print(f"http://{host}:{port}", flush=True)

        await serve(SinkState(), host=host, port=args.port, stop=stop, ready=ready)

    asyncio.run(run())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
