"""A DICOMweb client for tests of the sandbox: SigV4-signed (or unsigned) requests over http.client, multipart reading;
and the emulator serving pydicom's sample CT with a record of each request as it arrived (:class:`ServedSample`)."""

from __future__ import annotations

import email.parser
import email.policy
import http.client
import io
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydicom
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from sandbox import DUMMY_ACCESS_KEY_ID, DUMMY_SECRET_ACCESS_KEY, TEST_REGION
from sandbox.dicom_store import parse_part10
from sandbox.healthimaging import HealthImagingEmulator
from sandbox.rest_json import HttpRequest, HttpResponse
from testkit.dicom_samples import sample

#: What OHIF sends for frames (the sandbox's viewer relies on it).
OHIF_FRAMES_ACCEPT = "multipart/related; type=application/octet-stream; transfer-syntax=*"
REQUEST_TIMEOUT_SECONDS = 10


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        import json

        return json.loads(self.body)

    def parts(self) -> list[tuple[str, bytes]]:
        """The parts of a multipart/related answer, read with the standard library's MIME parser."""
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + self.headers["content-type"].encode() + b"\r\n\r\n" + self.body
        )
        assert message.is_multipart(), self.headers["content-type"]
        return [
            (str(part["Content-Type"]).replace('"', ""), part.get_payload(decode=True))  # type: ignore[misc]
            for part in message.iter_parts()
        ]


def sign(
    method: str, url: str, headers: dict[str, str], body: bytes, service: str = "medical-imaging"
) -> dict[str, str]:
    """``headers`` plus botocore's SigV4 headers for the sandbox's dummy credentials."""
    request = AWSRequest(method=method, url=url, headers=headers, data=body)
    SigV4Auth(Credentials(DUMMY_ACCESS_KEY_ID, DUMMY_SECRET_ACCESS_KEY), service, TEST_REGION).add_auth(request)
    return {name: str(value) for name, value in request.headers.items()}


def send(
    url: str,
    method: str = "GET",
    *,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    signed: bool = True,
    service: str = "medical-imaging",
    connection: http.client.HTTPConnection | None = None,
) -> Answer:
    """One request (on ``connection`` when given: keep-alive), signed with SigV4 unless ``signed`` is False."""
    parsed = urllib.parse.urlsplit(url)
    headers = dict(headers or {})
    if signed:
        headers = sign(method, url, headers, body, service)
    own = connection is None
    conn = connection or http.client.HTTPConnection(str(parsed.hostname), parsed.port, timeout=REQUEST_TIMEOUT_SECONDS)
    try:
        target = parsed.path + (f"?{parsed.query}" if parsed.query else "")
        conn.request(method, target, body=body or None, headers=headers)
        response = conn.getresponse()
        data = response.read()
        return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, data)
    finally:
        if own:
            conn.close()


def pixel_data(path: Path) -> bytes:
    return bytes(pydicom.dcmread(path).PixelData)


def stow_body(files: list[bytes], boundary: str = "stow-boundary-0001") -> tuple[str, bytes]:
    chunks = io.BytesIO()
    for data in files:
        chunks.write(f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode())
        chunks.write(data)
        chunks.write(b"\r\n")
    chunks.write(f"--{boundary}--\r\n".encode())
    return f'multipart/related; type="application/dicom"; boundary={boundary}', chunks.getvalue()


@dataclass(frozen=True)
class ArrivedRequest:
    """A DICOMweb request as it reached the emulator: what a client forwarded, before the emulator judged it."""

    method: str
    path: str
    query: str
    #: The request's headers (lower-case names).
    headers: dict[str, str]


class ServedSample:
    """The emulator's DICOMweb serving one ACTIVE data store that holds pydicom's ``CT_small.dcm`` (added as a
    STOW or an import would), recording each DICOMweb request as it arrived (:attr:`arrived`) next to the
    emulator's own records (``emulator.dicomweb.requests``). ``extra_response_headers`` are added to every
    DICOMweb answer (what a service's front end may add). :meth:`start` and :meth:`stop` serve it on 127.0.0.1."""

    def __init__(self) -> None:
        self.emulator = HealthImagingEmulator()
        self.arrived: list[ArrivedRequest] = []
        self.extra_response_headers: dict[str, str] = {}
        self.sample = pydicom.dcmread(sample("CT_small.dcm"))
        self.study_uid = str(self.sample.StudyInstanceUID)
        self._handle = self.emulator.dicomweb.handle
        self.emulator.dicomweb.handle = self._record_and_handle  # type: ignore[method-assign]
        self.datastore_id = ""

    def start(self) -> None:
        self.emulator.start()
        self.datastore_id, _ = self.emulator.create_datastore("viewer-sample")
        self.emulator.store.add(self.datastore_id, [parse_part10(sample("CT_small.dcm").read_bytes())])

    def stop(self) -> None:
        self.emulator.stop()

    @property
    def root(self) -> str:
        """The data store's DICOMweb root, ``http://127.0.0.1:<port>/datastore/<id>``."""
        return self.emulator.dicomweb_url(self.datastore_id)

    def frame_path(self) -> str:
        """The WADO-RS path (below :attr:`root`) of the sample's frame 1."""
        ct = self.sample
        return f"/studies/{ct.StudyInstanceUID}/series/{ct.SeriesInstanceUID}/instances/{ct.SOPInstanceUID}/frames/1"

    def _record_and_handle(self, request: HttpRequest) -> HttpResponse:
        self.arrived.append(ArrivedRequest(request.method, request.path, request.query, dict(request.headers)))
        response = self._handle(request)
        response.headers.update(self.extra_response_headers)
        return response
