"""DICOMweb (PS3.18) under ``/datastore/<datastoreId>`` on the emulator's endpoint, over its primary image sets.

Services (HealthImaging's operation names, used for the authorizer event and the request records):

- QIDO-RS ``GET /studies`` (SearchDICOMStudies), ``/studies/{study}/series`` (SearchDICOMSeries),
  ``/studies/{study}/series/{series}/instances`` (SearchDICOMInstances). Matching on attributes given by keyword
  or tag: exact (person names case-insensitive), a list of UIDs separated by ``,`` or ``\\``, ``*`` and ``?``
  wildcards, and ``-`` ranges on DA, TM and DT; an empty value matches everything and returns the attribute.
  ``includefield`` (keywords or tags, repeated or comma-separated, or ``all``), ``limit`` and ``offset``
  (at most 10,000 records, as HealthImaging). ``fuzzymatching`` is accepted and ignored.
- WADO-RS ``.../series/{series}/metadata`` (GetDICOMSeriesMetadata), ``.../instances/{sop}/metadata``
  (GetDICOMInstanceMetadata): DICOM JSON without the pixel data; ``.../instances/{sop}`` (GetDICOMInstance):
  multipart ``application/dicom``, the file as imported; ``.../instances/{sop}/frames/{n,m,...}``
  (GetDICOMInstanceFrames): multipart ``application/octet-stream``, each frame as stored (uncompressed little
  endian for native files; the original compressed bytes with their transfer syntax otherwise) or, when asked for,
  in HTJ2K (sandbox/htj2k.py); nothing is decoded.
- STOW-RS ``POST /studies`` (StoreDICOM) and ``POST /studies/{study}`` (StoreDICOMStudy): multipart
  ``application/dicom`` parts added to image sets by the import jobs' grouping rule.

Every request is authenticated first (:mod:`sandbox.sigv4`): a SigV4 signature for ``medical-imaging``, or a bearer
token the configured authorizer accepts; anything else is answered 403. A bearer token's request is then carried out
as the role the authorizer named, when the emulator checks roles (``check_dicomweb_roles``): a role HealthImaging
could not assume, or whose policies do not allow the operation on the data store, is answered 403 too.

CORS, so that a viewer on another origin reads DICOMweb with a bearer token (as OHIF does against HealthImaging; AWS
documents no CORS rules for the DICOMweb host, so these are the emulator's): a preflight ``OPTIONS`` is answered 204
without authentication, allowing any origin, ``GET``, ``HEAD`` and ``POST`` and the ``Authorization``, ``Accept`` and
``Content-Type`` headers; every answer to a request with an ``Origin`` allows that origin to read it. No cookies
are involved (``Access-Control-Allow-Credentials`` is never sent).
"""

from __future__ import annotations

import fnmatch
import json
import re
import threading
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from pydicom.datadict import dictionary_VR, keyword_for_tag, tag_for_keyword
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from . import htj2k
from .dicom_store import NATIVE_TRANSFER_SYNTAX, DicomStore, StoredInstance, UnimportableFileError, parse_part10
from .dicomweb_media import multipart_related, negotiate_multipart, split_multipart
from .rest_json import HttpRequest, HttpResponse
from .sigv4 import AuthenticationError, Authorizer, Caller, bearer_token, verify_bearer, verify_sigv4

#: The most records one QIDO-RS answer holds (HealthImaging's limit).
MAX_QIDO_RESULTS = 10_000
DICOM_JSON = "application/dicom+json"
_PATH = re.compile(r"/datastore/(?P<datastore>[0-9a-z]{32})(?P<rest>/studies(?:/.*)?)")

STUDY_RETURN_KEYWORDS = (
    "SpecificCharacterSet",
    "StudyDate",
    "StudyTime",
    "AccessionNumber",
    "ReferringPhysicianName",
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "StudyInstanceUID",
    "StudyID",
    "StudyDescription",
)
SERIES_RETURN_KEYWORDS = (
    "SpecificCharacterSet",
    "Modality",
    "SeriesDescription",
    "SeriesNumber",
    "SeriesInstanceUID",
    "PerformedProcedureStepStartDate",
    "PerformedProcedureStepStartTime",
)
INSTANCE_RETURN_KEYWORDS = (
    "SpecificCharacterSet",
    "SOPClassUID",
    "SOPInstanceUID",
    "InstanceNumber",
    "Rows",
    "Columns",
    "BitsAllocated",
    "NumberOfFrames",
)
_QIDO_CONTROL = frozenset({"includefield", "limit", "offset", "fuzzymatching"})


class DatastoreDirectory(Protocol):
    """What DICOMweb needs to know of the emulator's data stores."""

    def dicomweb_datastore_ready(self, datastore_id: str, region: str | None) -> bool: ...

    def dicomweb_role_problem(self, role_arn: str, datastore_id: str, operation: str) -> str | None: ...


@dataclass(frozen=True)
class DicomwebRequestRecord:
    """One DICOMweb request as the emulator answered it."""

    method: str
    path: str
    operation: str
    #: "sigv4", "bearer", or "" when refused before a caller was known.
    auth: str
    status: int
    #: The role a bearer token's request was carried out as (the authorizer's ``roleArn``); "" otherwise.
    role_arn: str = ""

    @property
    def signed(self) -> bool:
        return self.auth == "sigv4"


#: The answer to a CORS preflight (see the module docstring).
CORS_PREFLIGHT_HEADERS = {
    "access-control-allow-origin": "*",
    "access-control-allow-methods": "GET, HEAD, POST",
    "access-control-allow-headers": "authorization, accept, content-type",
    "access-control-max-age": "600",
}
#: Added to every answer to a request that names its origin.
CORS_RESPONSE_HEADERS = {"access-control-allow-origin": "*", "access-control-expose-headers": "content-type"}


class DicomwebError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class DicomWeb:
    """The DICOMweb service of one emulator (``handles(path)``, ``handle(request)``)."""

    def __init__(
        self,
        store: DicomStore,
        datastores: DatastoreDirectory,
        base_url: Callable[[], str],
        htj2k_cache: htj2k.Htj2kCache,
    ) -> None:
        self.store = store
        self.htj2k = htj2k_cache
        self._datastores = datastores
        self._base_url = base_url
        self._lock = threading.Lock()
        #: datastore id (or None for every data store) -> authorizer called for bearer tokens.
        self.authorizers: dict[str | None, Authorizer] = {}
        #: secrets of access key ids for SigV4 (None: every key id with the sandbox's dummy secret).
        self.secrets: dict[str, str] | None = None
        self.requests: list[DicomwebRequestRecord] = []

    @staticmethod
    def handles(path: str) -> bool:
        return _PATH.fullmatch(path) is not None

    # --- entry -----------------------------------------------------------------------------------------

    def handle(self, request: HttpRequest) -> HttpResponse:
        if request.method == "OPTIONS":
            return HttpResponse(204, dict(CORS_PREFLIGHT_HEADERS))
        response = self._answer(request)
        if "origin" in request.headers:
            response.headers.update(CORS_RESPONSE_HEADERS)
        return response

    def _answer(self, request: HttpRequest) -> HttpResponse:
        match = _PATH.fullmatch(request.path)
        assert match is not None, "call handles(path) first"
        datastore_id = match["datastore"]
        segments = [urllib.parse.unquote(s) for s in match["rest"].strip("/").split("/")]
        operation = _operation(request.method, segments)
        auth = role_arn = ""
        try:
            if operation is None:
                raise DicomwebError(
                    404 if request.method in ("GET", "HEAD") else 405,
                    f"No DICOMweb service at {request.method} {request.path}",
                )
            caller = self._authenticate(request, datastore_id, operation)
            auth, role_arn = caller.method, caller.role_arn
            if not self._datastores.dicomweb_datastore_ready(datastore_id, caller.region or None):
                raise DicomwebError(404, f"Datastore {datastore_id} not found or not ACTIVE")
            if caller.method == "bearer":
                problem = self._datastores.dicomweb_role_problem(caller.role_arn, datastore_id, operation)
                if problem is not None:
                    raise AuthenticationError("AccessDeniedException", problem)
            response = self._dispatch(request, datastore_id, operation, segments)
        except AuthenticationError as error:
            response = _error(403, f"{error.code}: {error.message}")
        except DicomwebError as error:
            response = _error(error.status, error.message)
        with self._lock:
            self.requests.append(
                DicomwebRequestRecord(request.method, request.path, operation or "", auth, response.status, role_arn)
            )
        return response

    def _authenticate(self, request: HttpRequest, datastore_id: str, operation: str) -> Caller:
        token = bearer_token(request)
        if token is not None:
            authorizer = self.authorizers.get(datastore_id) or self.authorizers.get(None)
            return verify_bearer(token, datastore_id, operation, authorizer)
        return verify_sigv4(request, secrets=self.secrets)

    def _dispatch(self, request: HttpRequest, datastore_id: str, operation: str, segments: list[str]) -> HttpResponse:
        query = urllib.parse.parse_qs(request.query, keep_blank_values=True)
        accept = request.headers.get("accept", "")
        if operation == "SearchDICOMStudies":
            return self._qido(accept, query, self._studies(datastore_id))
        if operation == "SearchDICOMSeries":
            return self._qido(accept, query, self._series(datastore_id, segments[1]))
        if operation == "SearchDICOMInstances":
            return self._qido(accept, query, self._instances(datastore_id, segments[1], segments[3]))
        if operation == "GetDICOMSeriesMetadata":
            instances = self._series_instances(datastore_id, segments[1], segments[3])
            return _json_answer(accept, [instance.dicom_json for instance in instances])
        if operation == "GetDICOMInstanceMetadata":
            instance = self._instance(datastore_id, segments[1], segments[3], segments[5])
            return _json_answer(accept, [instance.dicom_json])
        if operation == "GetDICOMInstance":
            instance = self._instance(datastore_id, segments[1], segments[3], segments[5])
            syntax = instance.original_transfer_syntax_uid
            negotiated = negotiate_multipart(accept, "application/dicom", [syntax], syntax)
            if negotiated is None:
                raise DicomwebError(406, f"The instance is kept in {syntax}; the emulator does not transcode")
            content_type, body = multipart_related([(negotiated[0], instance.part10)], "application/dicom")
            return HttpResponse(200, {"Content-Type": content_type}, body)
        if operation == "GetDICOMInstanceFrames":
            instance = self._instance(datastore_id, segments[1], segments[3], segments[5])
            return self._frames(accept, instance, segments[7])
        return self._store(request, datastore_id, segments[1] if len(segments) > 1 else None)

    # --- QIDO-RS ---------------------------------------------------------------------------------------

    def _studies(self, datastore_id: str) -> list[Dataset]:
        by_study: dict[str, list[StoredInstance]] = {}
        series_of: dict[str, set[str]] = {}
        for instance in self.store.primary_instances(datastore_id):
            by_study.setdefault(instance.study_instance_uid, []).append(instance)
            series_of.setdefault(instance.study_instance_uid, set()).add(instance.series_instance_uid)
        results = []
        for study, instances in by_study.items():
            record = _copy(instances[0].dataset)
            modalities = sorted({str(i.dataset.get("Modality", "")) for i in instances} - {""})
            record.ModalitiesInStudy = modalities
            record.NumberOfStudyRelatedSeries = len(series_of[study])
            record.NumberOfStudyRelatedInstances = len(instances)
            record.RetrieveURL = self._url(datastore_id, f"studies/{study}")
            results.append(record)
        return results

    def _series(self, datastore_id: str, study: str) -> list[Dataset]:
        by_series: dict[str, list[StoredInstance]] = {}
        for instance in self.store.primary_instances(datastore_id):
            if instance.study_instance_uid == study:
                by_series.setdefault(instance.series_instance_uid, []).append(instance)
        results = []
        for series, instances in by_series.items():
            record = _copy(instances[0].dataset)
            record.NumberOfSeriesRelatedInstances = len(instances)
            record.RetrieveURL = self._url(datastore_id, f"studies/{study}/series/{series}")
            results.append(record)
        return results

    def _instances(self, datastore_id: str, study: str, series: str) -> list[Dataset]:
        results = []
        for instance in self._series_instances(datastore_id, study, series, missing_ok=True):
            record = _copy(instance.dataset)
            record.RetrieveURL = self._url(
                datastore_id, f"studies/{study}/series/{series}/instances/{instance.sop_instance_uid}"
            )
            results.append(record)
        return results

    def _qido(self, accept: str, query: dict[str, list[str]], records: list[Dataset]) -> HttpResponse:
        level_keywords = _level_keywords(records)
        matchers, returned = _query(query, level_keywords)
        limit = _non_negative(query, "limit", MAX_QIDO_RESULTS)
        offset = _non_negative(query, "offset", 0)
        found = [record for record in records if all(matcher(record) for matcher in matchers)]
        page = found[offset : offset + min(limit, MAX_QIDO_RESULTS)]
        return _json_answer(accept, [_select(record, returned) for record in page])

    # --- WADO-RS ---------------------------------------------------------------------------------------

    def _series_instances(
        self, datastore_id: str, study: str, series: str, *, missing_ok: bool = False
    ) -> list[StoredInstance]:
        instances = [
            instance
            for instance in self.store.primary_instances(datastore_id)
            if instance.study_instance_uid == study and instance.series_instance_uid == series
        ]
        if not instances and not missing_ok:
            raise DicomwebError(404, f"Series {series} of study {study} not found")
        return sorted(instances, key=_instance_number)

    def _instance(self, datastore_id: str, study: str, series: str, sop: str) -> StoredInstance:
        instance = self.store.primary_instance(datastore_id, study, series, sop)
        if instance is None:
            raise DicomwebError(404, f"Instance {sop} of series {series} of study {study} not found")
        return instance

    def _frames(self, accept: str, instance: StoredInstance, numbers: str) -> HttpResponse:
        try:
            wanted = [int(number) for number in numbers.split(",")]
        except ValueError:
            raise DicomwebError(400, f"Frame numbers are integers separated by commas, not {numbers!r}") from None
        if not instance.frames:
            raise DicomwebError(404, f"Instance {instance.sop_instance_uid} has no pixel data")
        bad = [number for number in wanted if not 1 <= number <= len(instance.frames)]
        if bad:
            raise DicomwebError(404, f"Instance {instance.sop_instance_uid} has frames 1 to {len(instance.frames)}")
        syntaxes = [instance.transfer_syntax_uid]
        if htj2k.encodable(instance):
            syntaxes += [htj2k.HTJ2K_LOSSLESS_RPCL, htj2k.HTJ2K_LOSSLESS]
        negotiated = negotiate_multipart(accept, "application/octet-stream", syntaxes, NATIVE_TRANSFER_SYNTAX)
        if negotiated is None:
            raise DicomwebError(
                406,
                f"Frames of this instance can be answered in {', '.join(syntaxes)} or with transfer-syntax=*; "
                "the emulator does not transcode otherwise",
            )
        part_type, syntax = negotiated
        if syntax == instance.transfer_syntax_uid:
            parts = [(part_type, instance.frames[number - 1]) for number in wanted]
        else:
            parts = [(part_type, self.htj2k.frame(instance, number - 1)) for number in wanted]
        content_type, body = multipart_related(parts, "application/octet-stream")
        return HttpResponse(200, {"Content-Type": content_type}, body)

    # --- STOW-RS ---------------------------------------------------------------------------------------

    def _store(self, request: HttpRequest, datastore_id: str, study: str | None) -> HttpResponse:
        try:
            parts = split_multipart(request.headers.get("content-type", ""), request.body)
        except ValueError as error:
            raise DicomwebError(415 if "not multipart" in str(error) else 400, f"STOW-RS body: {error}") from None
        stored: list[StoredInstance] = []
        failed: list[Dataset] = []
        for headers, payload in parts:
            media_type = headers.get("content-type", "application/dicom").split(";")[0].strip().lower()
            try:
                if media_type != "application/dicom":
                    raise UnimportableFileError("ValidationException", f"a part is {media_type}, not application/dicom")
                instance = parse_part10(payload)
                if study is not None and instance.study_instance_uid != study:
                    raise UnimportableFileError("ValidationException", f"the instance is not of study {study}")
                stored.append(instance)
            except UnimportableFileError as failure:
                item = Dataset()
                item.FailureReason = 0xC000  # Error: cannot understand
                item.TextValue = failure.message[:1024]
                failed.append(item)
        if stored:
            self.store.add(datastore_id, stored)
        answer = Dataset()
        answer.RetrieveURL = self._url(datastore_id, f"studies/{study}" if study else "studies")
        referenced = []
        for instance in stored:
            item = Dataset()
            item.ReferencedSOPClassUID = instance.sop_class_uid
            item.ReferencedSOPInstanceUID = instance.sop_instance_uid
            item.RetrieveURL = self._url(
                datastore_id,
                f"studies/{instance.study_instance_uid}/series/{instance.series_instance_uid}"
                f"/instances/{instance.sop_instance_uid}",
            )
            referenced.append(item)
        if referenced:
            answer.ReferencedSOPSequence = referenced
        if failed:
            answer.FailedSOPSequence = failed
        status = 200 if not failed else (202 if stored else 409)
        return HttpResponse(status, {"Content-Type": DICOM_JSON}, json.dumps(answer.to_json_dict()).encode())

    def _url(self, datastore_id: str, rest: str) -> str:
        return f"{self._base_url()}/datastore/{datastore_id}/{rest}"


def _operation(method: str, segments: list[str]) -> str | None:
    """HealthImaging's DICOMweb operation for a path under ``/datastore/<id>`` (None: no such service)."""
    shape = tuple(segment if index % 2 == 0 else "{}" for index, segment in enumerate(segments))
    if method in ("GET", "HEAD"):
        return {
            ("studies",): "SearchDICOMStudies",
            ("studies", "{}", "series"): "SearchDICOMSeries",
            ("studies", "{}", "series", "{}", "instances"): "SearchDICOMInstances",
            ("studies", "{}", "series", "{}", "metadata"): "GetDICOMSeriesMetadata",
            ("studies", "{}", "series", "{}", "instances", "{}"): "GetDICOMInstance",
            ("studies", "{}", "series", "{}", "instances", "{}", "metadata"): "GetDICOMInstanceMetadata",
            ("studies", "{}", "series", "{}", "instances", "{}", "frames", "{}"): "GetDICOMInstanceFrames",
        }.get(shape)
    if method == "POST":
        return {("studies",): "StoreDICOM", ("studies", "{}"): "StoreDICOMStudy"}.get(shape)
    return None


def _copy(dataset: Dataset) -> Dataset:
    record = Dataset()
    for element in dataset:
        record.add(element)
    return record


def _instance_number(instance: StoredInstance) -> tuple[int, str]:
    try:
        return (int(instance.dataset.get("InstanceNumber", 0) or 0), instance.sop_instance_uid)
    except (TypeError, ValueError):
        return (0, instance.sop_instance_uid)


def _level_keywords(records: list[Dataset]) -> tuple[str, ...]:
    if records and "NumberOfStudyRelatedSeries" in records[0]:
        return (
            *STUDY_RETURN_KEYWORDS,
            "ModalitiesInStudy",
            "NumberOfStudyRelatedSeries",
            "NumberOfStudyRelatedInstances",
            "RetrieveURL",
        )
    if records and "NumberOfSeriesRelatedInstances" in records[0]:
        return (*SERIES_RETURN_KEYWORDS, "NumberOfSeriesRelatedInstances", "RetrieveURL")
    return (*INSTANCE_RETURN_KEYWORDS, "RetrieveURL")


def _keyword(name: str) -> str:
    """A query key (keyword or 8 hex digits) as a keyword; DicomwebError 400 when it names no attribute."""
    if re.fullmatch(r"[0-9A-Fa-f]{8}", name):
        keyword = keyword_for_tag(int(name, 16))
        if keyword:
            return str(keyword)
    elif tag_for_keyword(name) is not None:
        return name
    raise DicomwebError(400, f"Unknown attribute {name!r} in the query: use a DICOM keyword or an 8-digit hex tag")


def _query(
    query: dict[str, list[str]], level_keywords: tuple[str, ...]
) -> tuple[list[Callable[[Dataset], bool]], set[str] | None]:
    """The matchers of the query's attribute keys, and the keywords to return (None: every attribute)."""
    returned: set[str] | None = set(level_keywords)
    for value in query.get("includefield", []):
        for name in value.split(","):
            name = name.strip()
            if not name:
                continue
            if name == "all":
                returned = None
            elif returned is not None:
                returned.add(_keyword(name))
    matchers = []
    for name, values in query.items():
        if name in _QIDO_CONTROL:
            continue
        keyword = _keyword(name)
        if returned is not None:
            returned.add(keyword)
        matchers.append(_matcher(keyword, values[-1]))
    return matchers, returned


def _matcher(keyword: str, wanted: str) -> Callable[[Dataset], bool]:
    vr = dictionary_VR(keyword)
    if wanted == "":
        return lambda record: True

    def values(record: Dataset) -> list[str]:
        if keyword not in record or record[keyword].value is None:
            return []
        value = record[keyword].value
        items: Iterable[Any] = value if isinstance(value, (MultiValue, list, tuple)) else [value]
        return [str(item) for item in items]

    if vr == "UI":
        allowed = set(re.split(r"[,\\]", wanted))
        return lambda record: any(value in allowed for value in values(record))
    if vr in ("DA", "TM", "DT") and "-" in wanted:
        low, _, high = wanted.partition("-")
        return lambda record: any((not low or value >= low) and (not high or value <= high) for value in values(record))
    if "*" in wanted or "?" in wanted:
        pattern = wanted.lower() if vr == "PN" else wanted
        return lambda record: any(
            fnmatch.fnmatchcase(value.lower() if vr == "PN" else value, pattern) for value in values(record)
        )
    if vr == "PN":
        return lambda record: any(value.lower() == wanted.lower() for value in values(record))
    return lambda record: any(value == wanted for value in values(record))


def _non_negative(query: dict[str, list[str]], name: str, default: int) -> int:
    if name not in query:
        return default
    text = query[name][-1]
    if not text.isdigit():
        raise DicomwebError(400, f"{name} must be a non-negative integer, not {text!r}")
    return int(text)


def _select(record: Dataset, keywords: set[str] | None) -> dict[str, Any]:
    selected = Dataset()
    for element in record:
        if keywords is None or element.keyword in keywords:
            selected.add(element)
    return selected.to_json_dict(suppress_invalid_tags=True)


def _json_answer(accept: str, document: list[dict[str, Any]]) -> HttpResponse:
    acceptable = ("", "*/*", "application/*", DICOM_JSON, "application/json")
    types = [part.split(";")[0].strip().lower() for part in accept.split(",")] if accept.strip() else [""]
    if not any(media in acceptable for media in types):
        raise DicomwebError(406, f"This answer is {DICOM_JSON}; the request accepts only {accept}")
    return HttpResponse(200, {"Content-Type": DICOM_JSON}, json.dumps(document).encode())


def _error(status: int, message: str) -> HttpResponse:
    return HttpResponse(status, {"Content-Type": "application/json"}, json.dumps({"message": message}).encode())
