"""A DICOMweb origin for the viewer's tests: QIDO-RS and WADO-RS of one study under ``/datastore/<id>``, answering
only requests signed with SigV4 (service ``medical-imaging``) by the expected credentials, and recording each one.

The study is pydicom's ``CT_small.dcm`` (128 x 128, 16-bit, Explicit VR Little Endian) as ``instances`` slices
with UIDs of their own. Served as OHIF asks for it: study and series searches (with filters on StudyInstanceUID,
PatientID and SeriesInstanceUID), series and study metadata (DICOM JSON without the pixel data), and frames
(``multipart/related``, the uncompressed pixel bytes). Anything else is 404; an unsigned or wrongly signed request
403. ``frame_bytes`` serves frames of that size instead (the pixels repeated) and ``latency_seconds`` delays every
answer, for throughput figures.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

import pydicom
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from sandbox import DUMMY_ACCESS_KEY_ID, DUMMY_SECRET_ACCESS_KEY, TEST_REGION
from sandbox.rest_json import HttpRequest, HttpResponse
from testkit.dicom_samples import sample

DATASTORE_ID = "0123456789abcdef0123456789abcdef"
SIGNING_NAME = "medical-imaging"
#: How far a request's X-Amz-Date may be from now, as AWS allows.
MAX_CLOCK_SKEW = dt.timedelta(minutes=5)
BOUNDARY = "dicomweb-origin-boundary"
_AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request, "
    r"SignedHeaders=(?P<signed>[a-z0-9;-]+), Signature=(?P<signature>[0-9a-f]{64})"
)
_PREFIX = re.compile(r"/datastore/(?P<id>[0-9a-z]{32})(?P<rest>/.*)")


@dataclass(frozen=True)
class SeenRequest:
    """One request the origin received: whether it was signed as expected, and if not, why."""

    method: str
    path: str
    query: str
    #: The request's header names (lower case).
    header_names: frozenset[str]
    signed: bool
    problem: str


@dataclass
class DicomwebOrigin:
    """The origin on 127.0.0.1 (a free port): :meth:`start`, then :attr:`root` is the data store's DICOMweb root."""

    datastore_id: str = DATASTORE_ID
    region: str = TEST_REGION
    access_key: str = DUMMY_ACCESS_KEY_ID
    secret_key: str = DUMMY_SECRET_ACCESS_KEY
    #: The session token a signed request must carry (None: none).
    token: str | None = None
    instances: int = 5
    frame_bytes: int | None = None
    #: Seconds each answer waits before it is sent (a distant service's latency, for throughput figures).
    latency_seconds: float = 0.0
    seen: list[SeenRequest] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._server = _Server(self._answer)
        base = pydicom.dcmread(sample("CT_small.dcm"))
        self.study_uid = generate_uid(entropy_srcs=["dicomweb-origin-study"])
        self.series_uid = generate_uid(entropy_srcs=["dicomweb-origin-series"])
        self.slices: list[Dataset] = []
        for number in range(1, self.instances + 1):
            instance = copy.deepcopy(base)
            instance.StudyInstanceUID = self.study_uid
            instance.SeriesInstanceUID = self.series_uid
            instance.SOPInstanceUID = generate_uid(entropy_srcs=["dicomweb-origin-instance", str(number)])
            instance.InstanceNumber = number
            x, y, z = (float(value) for value in base.ImagePositionPatient)
            instance.ImagePositionPatient = [x, y, z + number * float(base.SliceThickness or 1)]
            self.slices.append(instance)
        pixels = bytes(base.PixelData)
        self._frame = (
            pixels if self.frame_bytes is None else (pixels * (self.frame_bytes // len(pixels) + 1))[: self.frame_bytes]
        )
        self._transfer_syntax = str(base.file_meta.TransferSyntaxUID)

    # --- life cycle and what a test reads -------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="dicomweb-origin", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    @property
    def root(self) -> str:
        """``http://127.0.0.1:<port>/datastore/<id>``."""
        return f"http://127.0.0.1:{self._server.server_address[1]}/datastore/{self.datastore_id}"

    def requests(self) -> list[SeenRequest]:
        with self._lock:
            return list(self.seen)

    def frame_path(self, index: int = 0) -> str:
        """The WADO-RS path (below :attr:`root`) of frame 1 of slice ``index``."""
        return (
            f"/studies/{self.study_uid}/series/{self.series_uid}/instances/{self.slices[index].SOPInstanceUID}/frames/1"
        )

    # --- the HTTP application ------------------------------------------------------------------------------
    def _answer(self, request: HttpRequest) -> HttpResponse:
        problem = self._signature_problem(request)
        with self._lock:
            self.seen.append(
                SeenRequest(
                    request.method, request.path, request.query, frozenset(request.headers), not problem, problem
                )
            )
        if self.latency_seconds:
            time.sleep(self.latency_seconds)
        if problem:
            return _json(403, {"message": problem})
        match = _PREFIX.fullmatch(request.path)
        if request.method not in ("GET", "HEAD") or match is None or match.group("id") != self.datastore_id:
            return _json(404, {"message": "not found"})
        return self._dicomweb(match.group("rest"), dict(parse_qsl(request.query)))

    def _signature_problem(self, request: HttpRequest) -> str:
        """Why the request is not signed by the expected credentials for this origin ('' when it is)."""
        authorization = _AUTHORIZATION.fullmatch(request.headers.get("authorization", ""))
        if authorization is None:
            return "no SigV4 Authorization header"
        scope = (authorization["key"], authorization["region"], authorization["service"])
        if scope != (self.access_key, self.region, SIGNING_NAME):
            return f"signed for {scope}, not ({self.access_key}, {self.region}, {SIGNING_NAME})"
        stamp = request.headers.get("x-amz-date", "")
        try:
            when = dt.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
        except ValueError:
            return "no X-Amz-Date"
        if abs(dt.datetime.now(dt.UTC) - when) > MAX_CLOCK_SKEW or authorization["date"] != stamp[:8]:
            return "X-Amz-Date is not now"
        signed = authorization["signed"].split(";")
        if "host" not in signed or "x-amz-date" not in signed:
            return "the signature does not cover Host and X-Amz-Date"
        if self.token is not None and (
            "x-amz-security-token" not in signed or request.headers.get("x-amz-security-token") != self.token
        ):
            return "the session token is missing or not signed"
        target = request.path + (f"?{request.query}" if request.query else "")
        headers = {name: request.headers.get(name, "") for name in signed}
        rebuilt = AWSRequest(method=request.method, url=f"http://{headers['host']}{target}", headers=headers)
        rebuilt.context["timestamp"] = stamp
        signer = SigV4Auth(Credentials(self.access_key, self.secret_key, self.token), SIGNING_NAME, self.region)
        expected = signer.signature(signer.string_to_sign(rebuilt, signer.canonical_request(rebuilt)), rebuilt)
        if expected != authorization["signature"]:
            return "the signature does not match"
        return ""

    def _dicomweb(self, rest: str, query: dict[str, str]) -> HttpResponse:
        parts = rest.strip("/").split("/")
        study_ok = len(parts) < 2 or parts[1] == self.study_uid
        series_ok = len(parts) < 4 or parts[3] == self.series_uid
        if parts[0] != "studies" or not study_ok or not series_ok:
            return _json(404, {"message": "not found"})
        if parts == ["studies"]:
            wanted = {"StudyInstanceUID": self.study_uid, "PatientID": str(self.slices[0].PatientID)}
            if any(query.get(key, value) not in (value, "") for key, value in wanted.items()):
                return _json(200, [])
            return _json(200, [self._study_record()])
        if parts[2:] == ["series"]:
            if query.get("SeriesInstanceUID", self.series_uid) != self.series_uid:
                return _json(200, [])
            return _json(200, [self._series_record()])
        if parts[2:] == ["metadata"] or (len(parts) == 5 and parts[4] == "metadata"):
            return _json(200, [self._metadata(instance) for instance in self.slices])
        if len(parts) == 5 and parts[4] == "instances":
            return _json(200, [self._metadata(instance) for instance in self.slices])
        if len(parts) == 8 and parts[4] == "instances" and parts[6] == "frames" and parts[7] == "1":
            if not any(str(instance.SOPInstanceUID) == parts[5] for instance in self.slices):
                return _json(404, {"message": "no such instance"})
            return self._frame_response()
        return _json(404, {"message": "not found"})

    def _study_record(self) -> dict[str, Any]:
        first = self.slices[0]
        record = Dataset()
        for keyword in ("StudyInstanceUID", "StudyDate", "StudyTime", "AccessionNumber", "PatientName", "PatientID"):
            setattr(record, keyword, first.get(keyword, ""))
        record.StudyDescription = "CT_small"
        record.ModalitiesInStudy = first.Modality
        record.NumberOfStudyRelatedSeries = 1
        record.NumberOfStudyRelatedInstances = len(self.slices)
        return dict(record.to_json_dict())

    def _series_record(self) -> dict[str, Any]:
        first = self.slices[0]
        record = Dataset()
        record.StudyInstanceUID = self.study_uid
        record.SeriesInstanceUID = self.series_uid
        record.Modality = first.Modality
        record.SeriesNumber = first.get("SeriesNumber", 1)
        record.SeriesDescription = "CT_small slices"
        record.NumberOfSeriesRelatedInstances = len(self.slices)
        return dict(record.to_json_dict())

    def _metadata(self, instance: Dataset) -> dict[str, Any]:
        without_pixels = copy.copy(instance)
        del without_pixels.PixelData
        document = dict(without_pixels.to_json_dict())
        document["00020010"] = {"vr": "UI", "Value": [self._transfer_syntax]}
        document["00083002"] = {"vr": "UI", "Value": [self._transfer_syntax]}
        return document

    def _frame_response(self) -> HttpResponse:
        part_type = f"application/octet-stream; transfer-syntax={self._transfer_syntax}"
        body = (
            f"--{BOUNDARY}\r\nContent-Type: {part_type}\r\n\r\n".encode()
            + self._frame
            + f"\r\n--{BOUNDARY}--\r\n".encode()
        )
        content_type = (
            f'multipart/related; type="application/octet-stream"; transfer-syntax={self._transfer_syntax}; '
            f"boundary={BOUNDARY}"
        )
        return HttpResponse(200, {"Content-Type": content_type}, body)


def _json(status: int, document: Any) -> HttpResponse:
    return HttpResponse(status, {"Content-Type": "application/dicom+json"}, json.dumps(document).encode())


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, application: Callable[[HttpRequest], HttpResponse]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.application = application


class _Handler(BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive; TCP_NODELAY, as a service's front end: the body, written after the head, does not
    wait for the client's delayed ACK."""

    protocol_version = "HTTP/1.1"
    timeout = 30
    disable_nagle_algorithm = True
    server: _Server

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path, _, query = self.path.partition("?")
        headers = {name.lower(): value for name, value in self.headers.items()}
        response = self.server.application(HttpRequest(self.command, path, query, headers, body))
        try:
            self.send_response(response.status)
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = _serve  # noqa: N815 - http.server's names

    def log_message(self, format: str, *args: object) -> None:
        return
