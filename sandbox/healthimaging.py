"""An emulator of AWS HealthImaging on loopback, for the sandbox and offline tests: control plane, runtime, DICOMweb.

It speaks rest-json exactly as botocore's model ``medical-imaging/2023-07-19`` describes (routes, members,
status codes; every request validated against the model, every response checked against it), keeps data
stores, import jobs and image sets in memory, and runs an import job against the S3 it is given (moto):
it reads every object under ``inputS3Uri``, parses each file with pydicom, adds the instances to image sets as
HealthImaging groups them (sandbox/dicom_store.py), and writes the job's folder
``<outputS3Uri>/<datastoreId>-DicomImport-<jobId>/`` (``job-output-manifest.json``, ``SUCCESS/success.ndjson``,
``FAILURE/failure.ndjson``, and ``WARNING/warning.ndjson`` when a file has warnings). The runtime operations
are in sandbox/imaging_runtime.py, DICOMweb under ``/datastore/<id>`` in sandbox/dicomweb.py; every request must
be signed with SigV4 for ``medical-imaging`` (sandbox/sigv4.py). What is not emulated: docs/sandbox.md.

Tests steer it in-process: see the control methods and attributes of :class:`HealthImagingEmulator`.

Choices where AWS documents nothing (so the code under test must not rely on them):
- ``inputFile`` in the ndjson files is the object's full ``s3://bucket/key`` URI.
- A FAILED job writes no output folder.
- A job whose input prefix holds no object FAILS; a file with warnings is imported (listed in SUCCESS and WARNING).
- The same ``clientToken`` with different parameters is a ConflictException.
- ListDICOMImportJobs lists the newest job first; without ``maxResults`` a page holds 50 jobs.
- A job started without ``jobName`` is named after its job id.
- Requests signed for another region see none of this region's data stores (as a regional endpoint would).
- CreateDatastore: a data store is CREATING until ``seconds_until_datastore_active`` have passed, then ACTIVE (or
  CREATE_FAILED, see ``fail_datastore_creation_when``). The same ``clientToken`` with the same parameters returns the
  same data store; with other parameters it is a ConflictException. GetDatastore has no member for why creation
  failed (the model has none): the stand-in keeps the reason in ``Datastore.failure_message`` only.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import json
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from . import MOTO_ACCOUNT_ID, TEST_REGION
from .dicom_store import DicomStore, ImageSet, StoredInstance, UnimportableFileError, parse_part10
from .dicomweb import DicomWeb
from .htj2k import Htj2kCache
from .http_server import LoopbackHttpServer
from .iam_simulator import IamError, principal_policies
from .imaging_runtime import ImagingRuntime
from .moto_server import ObservedMotoServer
from .policy_evaluator import ALLOWED, PolicySource, Request, evaluate
from .rest_json import HttpRequest, HttpResponse, ParsedRequest, RestJsonService, ServiceError
from .sessions import stand_in_client
from .sigv4 import AuthenticationError, Authorizer, verify_sigv4

SERVICE_NAME = "medical-imaging"
MANIFEST_NAME = "job-output-manifest.json"
FINAL_JOB_STATUSES = ("COMPLETED", "FAILED")
#: The documented request rates (per second, burst), for tests that switch rate limiting on.
AWS_RATE_LIMITS: dict[str, tuple[float, int]] = {
    "StartDICOMImportJob": (1.0, 2),
    "GetDICOMImportJob": (25.0, 25),
    "ListDICOMImportJobs": (10.0, 10),
}
DEFAULT_PAGE_SIZE = 50
GIB = 1024**3
#: The longest a frozen answer is held back (the loopback server's connections time out after 10 s).
MAX_FREEZE_SECONDS = 5.0


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _new_id() -> str:
    return uuid.uuid4().hex  # 32 characters of 0-9a-f: fits DatastoreId, JobId and ImageSetId


@dataclass
class Datastore:
    datastore_id: str
    name: str
    arn: str
    status: str
    kms_key_arn: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    lossless_storage_format: str = "HTJ2K"
    lambda_authorizer_arn: str | None = None
    #: A CREATING data store created through CreateDatastore: when (time.monotonic()) its creation ends.
    ready_at: float | None = None
    #: Why creation ends in CREATE_FAILED (``fail_datastore_creation_when``); None: it becomes ACTIVE.
    failure_message: str | None = None


@dataclass
class FileResult:
    """What the job made of one input object."""

    input_file: str  # s3://bucket/key
    key: str
    image_set_id: str | None = None
    exception_type: str | None = None
    message: str | None = None
    server_error: bool = False
    warnings: list[str] = field(default_factory=list)
    #: (StudyInstanceUID, SeriesInstanceUID, SOPInstanceUID) of an imported file.
    uids: tuple[str, str, str] | None = None
    #: The parsed file, until the job adds it to an image set.
    instance: StoredInstance | None = None
    is_primary: bool = True

    @property
    def imported(self) -> bool:
        return self.exception_type is None


@dataclass
class ImportJob:
    """One import job as the stand-in keeps it (``HealthImagingEmulator.jobs[job_id]``)."""

    job_id: str
    datastore_id: str
    job_name: str
    client_token: str
    data_access_role_arn: str
    input_s3_uri: str
    #: The outputS3Uri the caller gave; GetDICOMImportJob answers with :attr:`job_folder_uri`.
    output_s3_uri: str
    input_owner_account_id: str | None
    import_configuration: dict[str, Any] | None
    #: Every request member except clientToken: a repeated token must come with the same values.
    start_params: dict[str, Any]
    submitted_at: dt.datetime
    submitted_monotonic: float
    status: str = "SUBMITTED"
    ended_at: dt.datetime | None = None
    message: str | None = None
    #: GetDICOMImportJob calls answered so far.
    polls: int = 0
    #: Per input object, once the job has run.
    files: list[FileResult] = field(default_factory=list)
    #: The manifest written (or to be written) to the job folder, once COMPLETED.
    manifest: dict[str, Any] | None = None
    outputs_written: bool = False

    @property
    def job_folder_uri(self) -> str:
        return f"{self.output_s3_uri.rstrip('/')}/{self.datastore_id}-DicomImport-{self.job_id}/"


@dataclass
class _PendingOutput:
    """A completed job's folder, written once enough reads of it have missed (``manifest_delay_polls``)."""

    job: ImportJob
    bucket: str
    folder_key: str
    objects: list[tuple[str, bytes]]
    remaining_misses: int


@functools.cache
def medical_imaging_service() -> RestJsonService:
    """The wire format of HealthImaging (built once: it only reads botocore's model)."""
    return RestJsonService(SERVICE_NAME)


def split_s3_uri(uri: str) -> tuple[str, str]:
    parsed = urllib.parse.urlsplit(uri)
    return parsed.netloc, parsed.path.lstrip("/")


class HealthImagingEmulator:
    """The HealthImaging emulator. ``start()`` serves it on 127.0.0.1 (free port) and returns the endpoint URL;
    ``stop()`` ends it. ``dicomweb_url(datastore_id)`` is a data store's DICOMweb root on the same endpoint;
    ``set_authorizer(callable, datastore_id=None)`` sets the function bearer tokens go to.

    Control attributes (set them in a test; each takes effect at the next request):

    - ``max_concurrent_jobs`` (100): a start while this many jobs of the data store are SUBMITTED or
      IN_PROGRESS answers ServiceQuotaExceededException.
    - ``polls_until_done`` (2): GetDICOMImportJob calls that see the job unfinished. The first of them sees
      SUBMITTED, the others IN_PROGRESS; the next call finishes the job (COMPLETED or FAILED). 0: the first
      call finishes it.
    - ``seconds_until_done`` (None): if set, a job also finishes once this much wall time has passed since its
      start, at the next GetDICOMImportJob or ListDICOMImportJobs.
    - ``manifest_delay_polls`` (0): the job folder appears in S3 only after this many reads of it (GET or HEAD
      of a key in it, or a listing whose prefix overlaps it) have missed it; needs the moto server's observers.
    - ``max_files_per_job`` (5,000), ``max_bytes_per_job`` (10 GiB), ``max_nested_folders`` (10,000): a job
      over a limit FAILS, as AWS's does.
    - ``check_data_access_role`` (False): the job assumes ``dataAccessRoleArn`` as HealthImaging would: it FAILS
      unless the role exists in IAM (moto), its trust policy lets ``medical-imaging.amazonaws.com`` assume it for
      this account and data store (``aws:SourceAccount``, ``aws:SourceArn``), and its policies allow
      s3:ListBucket on both buckets and s3:PutObject in the output folder; a file the role may not s3:GetObject
      fails alone (AccessDeniedException). Policies are judged by :mod:`sandbox.policy_evaluator`.
    - ``check_dicomweb_roles`` (False): a DICOMweb request with a bearer token is carried out as the role the
      authorizer named, as HealthImaging assumes it: refused (403, AccessDeniedException) unless the role exists in
      IAM (moto), its trust policy lets ``medical-imaging.amazonaws.com`` assume it for this account and data store,
      and its policies allow ``medical-imaging:<operation>`` (SearchDICOMStudies, GetDICOMInstanceFrames, ...) on
      the data store. Off, the role is only recorded.
    - ``rate_limits`` ({}): operation -> (requests per second, burst); beyond it ThrottlingException.
      ``AWS_RATE_LIMITS`` holds the documented ones.
    - ``seconds_until_datastore_active`` (0.0): a data store created by CreateDatastore stays CREATING this long.
    - ``fail_datastore_creation_when(predicate)``: a truthy ``predicate(params)`` (the CreateDatastore request's
      members) makes that data store end in CREATE_FAILED instead of ACTIVE (a string is the reason kept).
    - ``freeze(operation, seconds, times)``: the next ``times`` calls of the operation are carried out at once but
      answered only after ``seconds`` (at most :data:`MAX_FREEZE_SECONDS`): a client with a shorter read timeout
      loses the answer of a request that took effect.

    Records: ``requests`` [(operation, params)] for every request routed to an operation (also those answered
    with an error), ``request_log`` (the same with the caller's access key id and signing region), ``jobs``
    {job_id: ImportJob}, ``datastores`` {datastore_id: Datastore}, ``image_sets`` {image_set_id: ImageSet} (with
    their instances and frames: ``store``, a :class:`sandbox.dicom_store.DicomStore`), ``refused`` [(method, path,
    error code)] for requests refused before routing (unsigned, wrong signature), ``dicomweb.requests`` for every
    DICOMweb request (operation, how it was authenticated, status).
    """

    def __init__(
        self,
        *,
        s3_endpoint_url: str | None = None,
        moto_server: ObservedMotoServer | None = None,
        region: str = TEST_REGION,
        account_id: str = MOTO_ACCOUNT_ID,
        port: int = 0,
    ) -> None:
        self.port = port  # 0: a free port
        self.region = region
        self.account_id = account_id
        self._s3_endpoint_url = s3_endpoint_url or (moto_server.url if moto_server else None)
        self._moto_server = moto_server
        self.service = medical_imaging_service()
        self._lock = threading.RLock()
        self._pending_lock = threading.Lock()
        self._pending: list[_PendingOutput] = []
        self._server: LoopbackHttpServer | None = None

        self.max_concurrent_jobs = 100
        self.polls_until_done = 2
        self.seconds_until_done: float | None = None
        self.manifest_delay_polls = 0
        self.max_files_per_job = 5_000
        self.max_bytes_per_job = 10 * GIB
        self.max_nested_folders = 10_000
        self.check_data_access_role = False
        self.check_dicomweb_roles = False
        self.rate_limits: dict[str, tuple[float, int]] = {}
        self.seconds_until_datastore_active = 0.0

        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.request_log: list[ParsedRequest] = []
        self.jobs: dict[str, ImportJob] = {}
        self.datastores: dict[str, Datastore] = {}
        #: Image sets with their instances and frames (sandbox/dicom_store.py); ``image_sets`` is its registry.
        self.store = DicomStore(region, account_id)
        self.image_sets: dict[str, ImageSet] = self.store.image_sets
        #: DICOMweb under /datastore/<id> on the same endpoint (sandbox/dicomweb.py), with its request records.
        self.htj2k = Htj2kCache()
        self.dicomweb = DicomWeb(self.store, self, lambda: self.endpoint_url, self.htj2k)
        #: Every request refused before routing: (method, path, error code).
        self.refused: list[tuple[str, str, str]] = []

        self._tokens: dict[tuple[str, str], str] = {}
        #: CreateDatastore's clientToken -> (data store id, the request's other members).
        self._datastore_tokens: dict[str, tuple[str, dict[str, Any]]] = {}
        self._datastore_failure_predicates: list[Callable[[dict[str, Any]], str | bool | None]] = []
        self._injected: dict[str, list[tuple[str, str | None]]] = {}
        self._frozen: dict[str, list[float]] = {}
        self._buckets: dict[str, tuple[float, float]] = {}
        self._job_failure_predicates: list[Callable[[ImportJob], str | bool | None]] = []
        self._file_failure_predicates: list[Callable[[str], str | None]] = []
        self._file_warning_predicates: list[Callable[[str], str | None]] = []
        self._handlers: dict[str, Callable[[ParsedRequest], dict[str, Any]]] = {
            "CreateDatastore": self._create_datastore,
            "GetDatastore": self._get_datastore,
            "ListDatastores": self._list_datastores,
            "StartDICOMImportJob": self._start_import_job,
            "GetDICOMImportJob": self._get_import_job,
            "ListDICOMImportJobs": self._list_import_jobs,
            "GetImageSet": self._get_image_set,
            "DeleteImageSet": self._delete_image_set,
        }
        runtime = ImagingRuntime(
            self.store, image_set=self._image_set, datastore=self._datastore, page=self._page, htj2k_cache=self.htj2k
        )
        self._handlers.update(runtime.handlers())

    # --- lifecycle -------------------------------------------------------------------------------------

    def start(self) -> str:
        """Serve on 127.0.0.1 and a free port; returns the endpoint URL."""
        self._server = LoopbackHttpServer(self._handle, self.port)
        if self._moto_server is not None:
            self._moto_server.add_observer(self._observe_s3)
        return self._server.start()

    def stop(self) -> None:
        if self._moto_server is not None:
            self._moto_server.remove_observer(self._observe_s3)
        if self._server is not None:
            self._server.stop()
            self._server = None

    @property
    def endpoint_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the HealthImaging stand-in is not started")
        return self._server.url

    @property
    def supported_operations(self) -> tuple[str, ...]:
        return tuple(self._handlers)

    def dicomweb_url(self, datastore_id: str) -> str:
        """The DICOMweb root of a data store (QIDO-RS, WADO-RS, STOW-RS paths go below it)."""
        return f"{self.endpoint_url}/datastore/{datastore_id}"

    def set_authorizer(self, authorizer: Authorizer | None, datastore_id: str | None = None) -> None:
        """The function bearer tokens go to for DICOMweb (HealthImaging's Lambda authorizer contract, in-process):
        for one data store, or for every data store without one of its own (``datastore_id`` None)."""
        if authorizer is None:
            self.dicomweb.authorizers.pop(datastore_id, None)
        else:
            self.dicomweb.authorizers[datastore_id] = authorizer

    def dicomweb_datastore_ready(self, datastore_id: str, region: str | None) -> bool:
        """Whether DICOMweb serves this data store (it exists, is ACTIVE, and the request's region is its own)."""
        datastore = self.datastores.get(datastore_id)
        return datastore is not None and datastore.status == "ACTIVE" and region in (None, self.region)

    def dicomweb_role_problem(self, role_arn: str, datastore_id: str, operation: str) -> str | None:
        """Why the role a bearer token maps to may not carry out ``operation`` on the data store (None: it may, or
        ``check_dicomweb_roles`` is off)."""
        if not self.check_dicomweb_roles:
            return None
        datastore_arn = self.datastores[datastore_id].arn
        may, problem = self._assume_role(role_arn, datastore_arn)
        if may is None:
            return problem
        if not may(f"medical-imaging:{operation}", datastore_arn, {}):
            return f"The role {role_arn} may not {operation} on datastore {datastore_id}"
        return None

    # --- control API -----------------------------------------------------------------------------------

    def create_datastore(
        self,
        name: str,
        kms_key_arn: str | None = None,
        status: str = "ACTIVE",
        *,
        lossless_storage_format: str = "HTJ2K",
        lambda_authorizer_arn: str | None = None,
    ) -> tuple[str, str]:
        """A data store of this account and region; returns (datastore_id, datastore_arn)."""
        self._check("DatastoreName", name)
        self._check("DatastoreStatus", status)
        self._check("LosslessStorageFormat", lossless_storage_format)
        if kms_key_arn is not None:
            self._check("KmsKeyArn", kms_key_arn)
        if lambda_authorizer_arn is not None:
            self._check("LambdaArn", lambda_authorizer_arn)
        datastore_id = _new_id()
        arn = f"arn:aws:medical-imaging:{self.region}:{self.account_id}:datastore/{datastore_id}"
        now = _now()
        with self._lock:
            self.datastores[datastore_id] = Datastore(
                datastore_id,
                name,
                arn,
                status,
                kms_key_arn,
                now,
                now,
                lossless_storage_format=lossless_storage_format,
                lambda_authorizer_arn=lambda_authorizer_arn,
            )
        return datastore_id, arn

    def fail_datastore_creation_when(self, predicate: Callable[[dict[str, Any]], str | bool | None]) -> None:
        """A truthy ``predicate(params)`` (CreateDatastore's members) makes that data store end in CREATE_FAILED; a
        string is the reason, kept in ``Datastore.failure_message`` (GetDatastore has no member for it)."""
        self._datastore_failure_predicates.append(predicate)

    def set_datastore_status(self, datastore_id: str, status: str) -> None:
        self._check("DatastoreStatus", status)
        with self._lock:
            datastore = self.datastores[datastore_id]
            datastore.status = status
            datastore.updated_at = _now()

    def inject_error(self, operation_name: str, code: str, times: int = 1, message: str | None = None) -> None:
        """The next ``times`` calls of the operation answer error ``code`` (status from the model's error shape)."""
        if operation_name not in self.service.model.operation_names:
            raise ValueError(f"{operation_name!r} is not an operation of {SERVICE_NAME}")
        with self._lock:
            self._injected.setdefault(operation_name, []).extend([(code, message)] * times)

    def freeze(self, operation_name: str, seconds: float, times: int = 1) -> None:
        """The next ``times`` calls of the operation take effect at once but are answered after ``seconds``."""
        if operation_name not in self.service.model.operation_names:
            raise ValueError(f"{operation_name!r} is not an operation of {SERVICE_NAME}")
        if not 0 < seconds <= MAX_FREEZE_SECONDS:
            raise ValueError(f"freeze for 0 to {MAX_FREEZE_SECONDS} seconds, not {seconds}")
        with self._lock:
            self._frozen.setdefault(operation_name, []).extend([seconds] * times)

    def throttle(self, operation_name: str, times: int = 1) -> None:
        """The next ``times`` calls of the operation answer ThrottlingException (429, as the model says)."""
        self.inject_error(operation_name, "ThrottlingException", times, "Rate exceeded")

    def quota_exceeded(self, operation_name: str, times: int = 1) -> None:
        """The next ``times`` calls of the operation answer ServiceQuotaExceededException (402)."""
        self.inject_error(operation_name, "ServiceQuotaExceededException", times, "Service quota exceeded")

    def fail_job_when(self, predicate: Callable[[ImportJob], str | bool | None]) -> None:
        """When a job finishes, a truthy ``predicate(job)`` makes it FAILED (a string is its message)."""
        self._job_failure_predicates.append(predicate)

    def fail_file_when(self, predicate: Callable[[str], str | None]) -> None:
        """``predicate(key)`` returning a message makes that input file a server-side failure."""
        self._file_failure_predicates.append(predicate)

    def warn_file_when(self, predicate: Callable[[str], str | None]) -> None:
        """``predicate(key)`` returning a message adds that warning to the imported file."""
        self._file_warning_predicates.append(predicate)

    def complete_job(self, job_id: str) -> ImportJob:
        """Finish a job now (as if its last poll had come)."""
        with self._lock:
            job = self.jobs[job_id]
            if job.status not in FINAL_JOB_STATUSES:
                self._finish(job)
            return job

    # --- HTTP ------------------------------------------------------------------------------------------

    def _handle(self, request: HttpRequest) -> HttpResponse:
        if self.dicomweb.handles(request.path):
            return self.dicomweb.handle(request)
        try:
            verify_sigv4(request, secrets=self.dicomweb.secrets)
        except AuthenticationError as error:
            with self._lock:
                self.refused.append((request.method, request.path, error.code))
            return self.service.error_response(ServiceError(error.code, error.message, status=403))
        try:
            parsed = self.service.parse(request)
        except ServiceError as error:
            with self._lock:
                self.requests.append((f"{request.method} {request.path}", {}))
            return self.service.error_response(error)
        with self._lock:
            self.requests.append((parsed.operation, dict(parsed.params)))
            self.request_log.append(parsed)
            frozen = self._frozen.get(parsed.operation)
            delay = frozen.pop(0) if frozen else 0.0
            try:
                response = self._answer(parsed)
            except ServiceError as error:
                response = self.service.error_response(error)
        if delay:
            time.sleep(delay)  # outside the lock: other requests are answered meanwhile
        return response

    def _answer(self, parsed: ParsedRequest) -> HttpResponse:
        operation = parsed.operation
        if parsed.service != SERVICE_NAME:
            raise ServiceError(
                "AccessDeniedException",
                f"the request is not signed with SigV4 for {SERVICE_NAME} (credential scope service: "
                f"{parsed.service or 'none'})",
            )
        injected = self._injected.get(operation)
        if injected:
            code, message = injected.pop(0)
            raise ServiceError(code, message or f"{code} injected by the test")
        self._take_rate_token(operation)
        handler = self._handlers.get(operation)
        if handler is None:
            raise ServiceError(
                "UnsupportedOperationException",
                f"the HealthImaging stand-in does not implement {operation}; it answers {', '.join(self._handlers)}",
                status=400,
            )
        self.service.validate_input(operation, parsed.params)
        return self.service.response(operation, handler(parsed))

    def _take_rate_token(self, operation: str) -> None:
        limit = self.rate_limits.get(operation)
        if limit is None:
            return
        rate, burst = limit
        now = time.monotonic()
        tokens, last = self._buckets.get(operation, (float(burst), now))
        tokens = min(float(burst), tokens + (now - last) * rate)
        if tokens < 1.0:
            self._buckets[operation] = (tokens, now)
            raise ServiceError("ThrottlingException", f"Rate exceeded for {operation}")
        self._buckets[operation] = (tokens - 1.0, now)

    # --- data stores -----------------------------------------------------------------------------------

    def _datastore(self, parsed: ParsedRequest) -> Datastore:
        datastore = self.datastores.get(parsed.params["datastoreId"])
        if datastore is None or parsed.region != self.region:
            raise ServiceError("ResourceNotFoundException", f"Datastore {parsed.params['datastoreId']} not found")
        self._end_creation_if_due(datastore)
        return datastore

    @staticmethod
    def _end_creation_if_due(datastore: Datastore) -> None:
        """A CREATING data store whose creation time is up becomes ACTIVE, or CREATE_FAILED with a reason."""
        if datastore.status == "CREATING" and datastore.ready_at is not None and time.monotonic() >= datastore.ready_at:
            datastore.status = "CREATE_FAILED" if datastore.failure_message is not None else "ACTIVE"
            datastore.ready_at = None
            datastore.updated_at = _now()

    @staticmethod
    def _datastore_properties(datastore: Datastore) -> dict[str, Any]:
        return {
            "datastoreId": datastore.datastore_id,
            "datastoreName": datastore.name,
            "datastoreStatus": datastore.status,
            "kmsKeyArn": datastore.kms_key_arn,
            "lambdaAuthorizerArn": datastore.lambda_authorizer_arn,
            "losslessStorageFormat": datastore.lossless_storage_format,
            "datastoreArn": datastore.arn,
            "createdAt": datastore.created_at,
            "updatedAt": datastore.updated_at,
        }

    def _create_datastore(self, parsed: ParsedRequest) -> dict[str, Any]:
        params = parsed.params
        if parsed.region != self.region:
            raise ServiceError("ValidationException", f"the stand-in serves region {self.region}, not {parsed.region}")
        comparable = _without_client_token(params)
        known = self._datastore_tokens.get(params["clientToken"])
        if known is not None:
            datastore_id, earlier = known
            _check_same_request(params["clientToken"], f"datastore {datastore_id}", earlier, comparable)
            datastore = self.datastores[datastore_id]
            self._end_creation_if_due(datastore)
            return {"datastoreId": datastore_id, "datastoreStatus": datastore.status}
        failure: str | None = None
        for predicate in self._datastore_failure_predicates:
            verdict = predicate(dict(params))
            if verdict:
                failure = verdict if isinstance(verdict, str) else "Datastore creation failed"
                break
        datastore_id = _new_id()
        now = _now()
        datastore = Datastore(
            datastore_id,
            params["datastoreName"],
            f"arn:aws:medical-imaging:{self.region}:{self.account_id}:datastore/{datastore_id}",
            "CREATING",
            params.get("kmsKeyArn"),
            now,
            now,
            lossless_storage_format=params.get("losslessStorageFormat", "HTJ2K"),
            lambda_authorizer_arn=params.get("lambdaAuthorizerArn"),
            ready_at=time.monotonic() + self.seconds_until_datastore_active,
            failure_message=failure,
        )
        self.datastores[datastore_id] = datastore
        self._datastore_tokens[params["clientToken"]] = (datastore_id, comparable)
        return {"datastoreId": datastore_id, "datastoreStatus": datastore.status}

    def _get_datastore(self, parsed: ParsedRequest) -> dict[str, Any]:
        return {"datastoreProperties": self._datastore_properties(self._datastore(parsed))}

    def _list_datastores(self, parsed: ParsedRequest) -> dict[str, Any]:
        found = [] if parsed.region != self.region else sorted(self.datastores.values(), key=lambda d: d.created_at)
        for datastore in found:
            self._end_creation_if_due(datastore)
        if "datastoreStatus" in parsed.params:
            found = [d for d in found if d.status == parsed.params["datastoreStatus"]]
        page, next_token = self._page(parsed, found)
        summaries = []
        for datastore in page:
            properties = self._datastore_properties(datastore)
            # DatastoreSummary has none of these members.
            for member in ("kmsKeyArn", "lambdaAuthorizerArn", "losslessStorageFormat"):
                properties.pop(member)
            summaries.append(properties)
        return {"datastoreSummaries": summaries, "nextToken": next_token}

    # --- import jobs -----------------------------------------------------------------------------------

    def _start_import_job(self, parsed: ParsedRequest) -> dict[str, Any]:
        params = parsed.params
        datastore = self._datastore(parsed)
        comparable = _without_client_token(params)
        existing = self._tokens.get((datastore.datastore_id, params["clientToken"]))
        if existing is not None:
            job = self.jobs[existing]
            _check_same_request(params["clientToken"], f"job {job.job_id}", job.start_params, comparable)
            return self._start_response(job)
        if datastore.status != "ACTIVE":
            raise ServiceError(
                "ConflictException", f"Datastore {datastore.datastore_id} is {datastore.status}, not ACTIVE"
            )
        running = [job for job in self._jobs_of(datastore.datastore_id) if job.status not in FINAL_JOB_STATUSES]
        if len(running) >= self.max_concurrent_jobs:
            raise ServiceError(
                "ServiceQuotaExceededException",
                f"{len(running)} import jobs are running on datastore {datastore.datastore_id}: the quota of "
                f"concurrent import jobs is {self.max_concurrent_jobs}",
            )
        job_id = _new_id()
        job = ImportJob(
            job_id=job_id,
            datastore_id=datastore.datastore_id,
            job_name=params.get("jobName") or job_id,
            client_token=params["clientToken"],
            data_access_role_arn=params["dataAccessRoleArn"],
            input_s3_uri=params["inputS3Uri"],
            output_s3_uri=params["outputS3Uri"],
            input_owner_account_id=params.get("inputOwnerAccountId"),
            import_configuration=params.get("importConfiguration"),
            start_params=comparable,
            submitted_at=_now(),
            submitted_monotonic=time.monotonic(),
        )
        self.jobs[job_id] = job
        self._tokens[(datastore.datastore_id, job.client_token)] = job_id
        return self._start_response(job)

    @staticmethod
    def _start_response(job: ImportJob) -> dict[str, Any]:
        return {
            "datastoreId": job.datastore_id,
            "jobId": job.job_id,
            "jobStatus": job.status,
            "submittedAt": job.submitted_at,
        }

    def _jobs_of(self, datastore_id: str) -> list[ImportJob]:
        return [job for job in self.jobs.values() if job.datastore_id == datastore_id]

    def _get_import_job(self, parsed: ParsedRequest) -> dict[str, Any]:
        datastore = self._datastore(parsed)
        job = self.jobs.get(parsed.params["jobId"])
        if job is None or job.datastore_id != datastore.datastore_id:
            raise ServiceError("ResourceNotFoundException", f"Import job {parsed.params['jobId']} not found")
        if job.status not in FINAL_JOB_STATUSES:
            job.polls += 1
            if job.polls > self.polls_until_done or self._time_is_up(job):
                self._finish(job)
            else:
                job.status = "SUBMITTED" if job.polls == 1 else "IN_PROGRESS"
        return {
            "jobProperties": {
                "jobId": job.job_id,
                "jobName": job.job_name,
                "jobStatus": job.status,
                "datastoreId": job.datastore_id,
                "dataAccessRoleArn": job.data_access_role_arn,
                "endedAt": job.ended_at,
                "submittedAt": job.submitted_at,
                "inputS3Uri": job.input_s3_uri,
                "outputS3Uri": job.job_folder_uri,
                "message": job.message,
                "importConfiguration": job.import_configuration,
            }
        }

    def _time_is_up(self, job: ImportJob) -> bool:
        return self.seconds_until_done is not None and time.monotonic() - job.submitted_monotonic >= (
            self.seconds_until_done
        )

    def _list_import_jobs(self, parsed: ParsedRequest) -> dict[str, Any]:
        datastore = self._datastore(parsed)
        jobs = self._jobs_of(datastore.datastore_id)
        for job in jobs:
            if job.status not in FINAL_JOB_STATUSES and self._time_is_up(job):
                self._finish(job)
        jobs.sort(key=lambda job: job.submitted_at, reverse=True)
        if "jobStatus" in parsed.params:
            jobs = [job for job in jobs if job.status == parsed.params["jobStatus"]]
        page, next_token = self._page(parsed, jobs)
        summaries = [
            {
                "jobId": job.job_id,
                "jobName": job.job_name,
                "jobStatus": job.status,
                "datastoreId": job.datastore_id,
                "dataAccessRoleArn": job.data_access_role_arn,
                "endedAt": job.ended_at,
                "submittedAt": job.submitted_at,
                "message": job.message,
            }
            for job in page
        ]
        return {"jobSummaries": summaries, "nextToken": next_token}

    @staticmethod
    def _page(parsed: ParsedRequest, items: list[Any]) -> tuple[list[Any], str | None]:
        """One page of ``items`` (maxResults, nextToken) and the token of the next page (None at the end)."""
        size = parsed.params.get("maxResults", DEFAULT_PAGE_SIZE)
        start = 0
        token = parsed.params.get("nextToken")
        if token is not None:
            try:
                kind, offset = base64.urlsafe_b64decode(token.encode()).decode().split(":")
                start = int(offset)
                if kind != parsed.operation or start < 0:
                    raise ValueError(kind)
            except ValueError:
                raise ServiceError("ValidationException", f"Invalid nextToken {token}") from None
        end = start + size
        next_token = (
            base64.urlsafe_b64encode(f"{parsed.operation}:{end}".encode()).decode() if end < len(items) else None
        )
        return items[start:end], next_token

    # --- running a job ---------------------------------------------------------------------------------

    def _client(self, service: str) -> Any:
        if self._s3_endpoint_url is None:
            raise ServiceError(
                "InternalServerException", "the HealthImaging stand-in was started without an S3 endpoint"
            )
        return stand_in_client(service, self._s3_endpoint_url, self.region)

    def _fail(self, job: ImportJob, message: str) -> None:
        self._check("Message", message, what="a FAILED job's message")
        job.status = "FAILED"
        job.message = message
        job.ended_at = _now()

    def _finish(self, job: ImportJob) -> None:
        for predicate in self._job_failure_predicates:
            verdict = predicate(job)
            if verdict:
                self._fail(job, verdict if isinstance(verdict, str) else "The import job failed")
                return
        if job.input_owner_account_id and job.input_owner_account_id != self.account_id:
            self._fail(job, f"The input bucket is not owned by account {job.input_owner_account_id}")
            return
        bucket, prefix = split_s3_uri(job.input_s3_uri)
        out_bucket, folder_key = split_s3_uri(job.job_folder_uri)
        may: Callable[[str, str], bool] | None = None
        if self.check_data_access_role:
            may, problem = self._role_access(job)
            if may is None:
                self._fail(job, problem or "Could not assume the data access role")
                return
            for name in dict.fromkeys((bucket, out_bucket)):
                if not may("s3:ListBucket", f"arn:aws:s3:::{name}"):
                    self._fail(job, f"The data access role may not list bucket {name}")
                    return
            if not may("s3:PutObject", f"arn:aws:s3:::{out_bucket}/{folder_key}{MANIFEST_NAME}"):
                self._fail(job, f"The data access role may not write to {job.output_s3_uri}")
                return
        try:
            objects = self._list_objects(bucket, prefix)
        except (ClientError, BotoCoreError) as error:
            self._fail(job, f"Could not list {job.input_s3_uri}: {_error_code(error)}")
            return
        limit_problem = self._limit_problem(job, prefix, objects)
        if limit_problem:
            self._fail(job, limit_problem)
            return
        job.files = [self._import_file(bucket, key, may) for key, _ in objects]
        manifest, outputs = self._results(job)
        job.manifest = manifest
        if self.manifest_delay_polls > 0:
            if self._moto_server is None:
                raise ServiceError(
                    "InternalServerException", "manifest_delay_polls needs the stand-in started with the moto server"
                )
            try:
                self._client("s3").head_bucket(Bucket=out_bucket)
            except (ClientError, BotoCoreError) as error:
                self._fail(job, f"Could not write results to {job.output_s3_uri}: {_error_code(error)}")
                return
            with self._pending_lock:
                self._pending.append(_PendingOutput(job, out_bucket, folder_key, outputs, self.manifest_delay_polls))
        else:
            try:
                self._write(out_bucket, outputs)
            except (ClientError, BotoCoreError) as error:
                self._fail(job, f"Could not write results to {job.output_s3_uri}: {_error_code(error)}")
                return
            job.outputs_written = True
        job.status = "COMPLETED"
        job.ended_at = _now()

    def _role_access(self, job: ImportJob) -> tuple[Callable[[str, str], bool] | None, str | None]:
        """Assume the data access role as HealthImaging would: (a check of what the role may do in S3, or a
        problem). S3 requests with ``s3:ResourceAccount`` = this account (moto owns every bucket)."""
        may, problem = self._assume_role(job.data_access_role_arn, self.datastores[job.datastore_id].arn)
        if may is None:
            return None, problem
        assumed = may

        def may_in_s3(action: str, resource: str) -> bool:
            return assumed(action, resource, {"s3:ResourceAccount": [self.account_id]})

        return may_in_s3, None

    def _assume_role(
        self, role_arn: str, datastore_arn: str
    ) -> tuple[Callable[[str, str, Mapping[str, Sequence[str]]], bool] | None, str | None]:
        """Assume ``role_arn`` as HealthImaging would for the data store ``datastore_arn``: (a check of what the role
        may do, given an action, a resource and the request's context keys; or a problem). The trust policy is
        evaluated with the context HealthImaging sends (``aws:SourceAccount``, ``aws:SourceArn`` of the data
        store)."""
        iam = self._client("iam")
        try:
            trust_document = iam.get_role(RoleName=role_arn.rsplit("/", 1)[-1])["Role"]["AssumeRolePolicyDocument"]
            sources, boundaries = principal_policies(iam, role_arn)
        except (ClientError, BotoCoreError, IamError) as error:
            return None, f"Could not assume {role_arn}: {_error_code(error)}"
        trust = PolicySource.parse("trust", "resource", trust_document)
        assume = Request(
            "sts:AssumeRole",
            role_arn,
            {"aws:SourceAccount": [self.account_id], "aws:SourceArn": [datastore_arn]},
            {"Service": "medical-imaging.amazonaws.com"},
        )
        if evaluate([], assume, resource_policies=[trust]).decision != ALLOWED:
            return None, f"Could not assume {role_arn}: its trust policy does not let medical-imaging assume it"

        def may(action: str, resource: str, context: Mapping[str, Sequence[str]]) -> bool:
            request = Request(action, resource, context)
            return evaluate(sources, request, boundaries=boundaries).decision == ALLOWED

        return may, None

    def _list_objects(self, bucket: str, prefix: str) -> list[tuple[str, int]]:
        objects: list[tuple[str, int]] = []
        paginator = self._client("s3").get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                if not item["Key"].endswith("/"):
                    objects.append((item["Key"], int(item["Size"])))
        return objects

    def _limit_problem(self, job: ImportJob, prefix: str, objects: list[tuple[str, int]]) -> str | None:
        if not objects:
            return f"No files found under {job.input_s3_uri}"
        if len(objects) > self.max_files_per_job:
            return f"The input holds {len(objects)} files: an import job takes at most {self.max_files_per_job}"
        total = sum(size for _, size in objects)
        if total > self.max_bytes_per_job:
            return f"The input holds {total} bytes: an import job takes at most {self.max_bytes_per_job}"
        folders = {key[len(prefix) :].rsplit("/", 1)[0] for key, _ in objects if "/" in key[len(prefix) :]}
        if len(folders) > self.max_nested_folders:
            return f"The input holds {len(folders)} folders: an import job takes at most {self.max_nested_folders}"
        return None

    def _import_file(self, bucket: str, key: str, may: Callable[[str, str], bool] | None) -> FileResult:
        result = FileResult(input_file=f"s3://{bucket}/{key}", key=key)
        if may is not None and not may("s3:GetObject", f"arn:aws:s3:::{bucket}/{key}"):
            result.exception_type, result.message = (
                "AccessDeniedException",
                "The data access role may not read the file",
            )
            return result
        for predicate in self._file_failure_predicates:
            message = predicate(key)
            if message:
                result.exception_type, result.message, result.server_error = "InternalServerException", message, True
                return result
        try:
            data = self._client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
        except (ClientError, BotoCoreError) as error:
            result.exception_type, result.message = "AccessDeniedException", f"Could not read the file: {error}"
            return result
        if data[128:132] != b"DICM":
            result.exception_type = "ValidationException"
            result.message = "Not a DICOM Part 10 file: no 128-byte preamble followed by DICM"
            return result
        try:
            instance = parse_part10(data)
        except UnimportableFileError as failure:
            result.exception_type, result.message = failure.exception_type, failure.message
            return result
        result.warnings += [message for predicate in self._file_warning_predicates if (message := predicate(key))]
        result.instance = instance
        result.uids = (instance.study_instance_uid, instance.series_instance_uid, instance.sop_instance_uid)
        return result

    def _results(self, job: ImportJob) -> tuple[dict[str, Any], list[tuple[str, bytes]]]:
        """Add imported files to image sets (sandbox/dicom_store.py); the manifest and the folder's objects (manifest
        last)."""
        added = [r for r in job.files if r.imported and r.instance is not None]
        seen: set[tuple[str, str, str]] = set()
        for result in added:
            if result.uids in seen:
                sop = result.uids[2] if result.uids else result.key
                result.warnings.append(f"Duplicate SOPInstanceUID {sop} in this job: the last file imported wins")
            seen.add(result.uids or ("", "", result.key))
        outcome = self.store.add(job.datastore_id, [r.instance for r in added if r.instance is not None])
        for result, placement in zip(added, outcome.placements, strict=True):
            result.image_set_id, result.is_primary = placement.image_set_id, placement.is_primary
            result.instance = None  # kept by the store now
        summaries = outcome.summaries
        imported = [r for r in job.files if r.imported]
        failed = [r for r in job.files if not r.imported]
        warned = [r for r in imported if r.warnings]
        folder = job.job_folder_uri
        manifest = {
            "jobSummary": {
                "jobId": job.job_id,
                "datastoreId": job.datastore_id,
                "inputS3Uri": job.input_s3_uri,
                "outputS3Uri": folder,
                "successOutputS3Uri": f"{folder}SUCCESS/",
                "failureOutputS3Uri": f"{folder}FAILURE/",
                "warningsOutputS3Uri": f"{folder}WARNING/",
                "numberOfScannedFiles": len(job.files),
                "numberOfImportedFiles": len(imported),
                "numberOfFilesWithCustomerError": sum(1 for r in failed if not r.server_error),
                "numberOfFilesWithServerError": sum(1 for r in failed if r.server_error),
                "numberOfGeneratedImageSets": len(summaries),
                "imageSetsSummary": summaries,
            }
        }
        _, folder_key = split_s3_uri(folder)
        success = [
            {"inputFile": r.input_file, "importResponse": {"imageSetId": r.image_set_id, "isPrimary": r.is_primary}}
            for r in imported
        ]
        failure = [
            {"inputFile": r.input_file, "exception": {"exceptionType": r.exception_type, "message": r.message}}
            for r in failed
        ]
        warning = [
            {
                "inputFile": r.input_file,
                "importResponse": {"imageSetId": r.image_set_id, "isPrimary": r.is_primary},
                "warnings": r.warnings,
            }
            for r in warned
        ]
        outputs = [
            (f"{folder_key}SUCCESS/success.ndjson", _ndjson(success)),
            (f"{folder_key}FAILURE/failure.ndjson", _ndjson(failure)),
        ]
        if warning:
            outputs.append((f"{folder_key}WARNING/warning.ndjson", _ndjson(warning)))
        outputs.append((f"{folder_key}{MANIFEST_NAME}", json.dumps(manifest, indent=2).encode()))
        return manifest, outputs

    def _write(self, bucket: str, objects: list[tuple[str, bytes]]) -> None:
        s3 = self._client("s3")
        for key, body in objects:
            content_type = "application/json" if key.endswith(".json") else "application/x-ndjson"
            s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)

    def _observe_s3(self, method: str, path: str, query: str) -> None:
        """moto observer: count reads that miss a delayed job folder; write it when enough have missed."""
        if method not in ("GET", "HEAD") or not self._pending:
            return
        bucket, _, key = path.lstrip("/").partition("/")
        params = urllib.parse.parse_qs(query, keep_blank_values=True)
        listing_params = {"list-type", "prefix", "delimiter", "continuation-token", "start-after", "max-keys"}
        listing_params |= {"encoding-type", "marker", "fetch-owner", "versions", "key-marker", "version-id-marker"}
        is_listing = not key and set(params) <= listing_params
        prefix = params.get("prefix", [""])[0]
        ready: list[_PendingOutput] = []
        with self._pending_lock:
            for pending in list(self._pending):
                if pending.bucket != bucket:
                    continue
                if key:
                    relevant = key.startswith(pending.folder_key)
                else:
                    relevant = is_listing and (
                        pending.folder_key.startswith(prefix) or prefix.startswith(pending.folder_key)
                    )
                if not relevant:
                    continue
                if pending.remaining_misses > 0:
                    pending.remaining_misses -= 1
                else:
                    self._pending.remove(pending)
                    ready.append(pending)
        for pending in ready:  # outside the lock: these writes pass through this observer too
            self._write(pending.bucket, pending.objects)
            pending.job.outputs_written = True

    # --- image sets ------------------------------------------------------------------------------------

    def _image_set(self, parsed: ParsedRequest) -> ImageSet:
        datastore = self._datastore(parsed)
        image_set = self.image_sets.get(parsed.params["imageSetId"])
        if image_set is None or image_set.deleted or image_set.datastore_id != datastore.datastore_id:
            raise ServiceError("ResourceNotFoundException", f"Image set {parsed.params['imageSetId']} not found")
        return image_set

    def _get_image_set(self, parsed: ParsedRequest) -> dict[str, Any]:
        image_set = self._image_set(parsed)
        version = parsed.params.get("versionId")
        if version is not None and not 1 <= int(version) <= image_set.version:
            raise ServiceError("ResourceNotFoundException", f"Image set version {version} not found")
        return {
            "datastoreId": image_set.datastore_id,
            "imageSetId": image_set.image_set_id,
            "versionId": str(version or image_set.version),
            "imageSetState": "ACTIVE",
            "imageSetWorkflowStatus": "IMPORTED",
            "createdAt": image_set.created_at,
            "updatedAt": image_set.updated_at,
            "imageSetArn": image_set.arn,
            "isPrimary": image_set.is_primary,
        }

    def _delete_image_set(self, parsed: ParsedRequest) -> dict[str, Any]:
        image_set = self._image_set(parsed)
        image_set.deleted = True
        return {
            "datastoreId": image_set.datastore_id,
            "imageSetId": image_set.image_set_id,
            "imageSetState": "LOCKED",
            "imageSetWorkflowStatus": "DELETING",
        }

    # --- helpers ---------------------------------------------------------------------------------------

    def _check(self, shape_name: str, value: str, *, what: str | None = None) -> None:
        """Values given through the control API must fit the model too (a test's typo fails loudly)."""
        problems = self.service.problems(self.service.model.shape_for(shape_name), value, what or shape_name)
        if problems:
            raise ValueError("; ".join(problems))


def _without_client_token(params: Mapping[str, Any]) -> dict[str, Any]:
    """A request's members but ``clientToken``: what a repeated token must come with again."""
    return {key: value for key, value in params.items() if key != "clientToken"}


def _check_same_request(token: str, made: str, earlier: Mapping[str, Any], now: Mapping[str, Any]) -> None:
    """A ``clientToken`` used again must come with the same members as when it ``made`` its resource:
    ConflictException otherwise."""
    if earlier != now:
        raise ServiceError(
            "ConflictException", f"clientToken {token} was already used for {made} with other parameters"
        )


def _ndjson(records: Sequence[Mapping[str, Any]]) -> bytes:
    return b"".join(json.dumps(record).encode() + b"\n" for record in records)


def _error_code(error: Exception) -> str:
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code", "error"))
    return type(error).__name__
