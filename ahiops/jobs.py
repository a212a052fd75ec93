"""Start HealthImaging DICOM import jobs safely and wait for them to end.

- :func:`validate_start_request`: every StartDICOMImportJob value is checked locally against the patterns and
  lengths of botocore's own service model (botocore itself checks only required members and minimum lengths),
  so a bad value is a clear error before anything is uploaded or started.
- :func:`start_job`: starts one job with its content-derived client token (a retried or repeated start returns
  the same job, never a second one), paced by a :class:`~ahiops.pacing.TokenBucket`; ThrottlingException,
  ServiceQuotaExceededException (too many running jobs) and InternalServerException mean wait and retry, with a
  message through ``on_message`` when the wait gets long. Retrying is safe because the token is the same.
- :func:`get_job` / :func:`wait_for_job`: poll GetDICOMImportJob with backoff until COMPLETED or FAILED (never
  stopping on SUBMITTED or IN_PROGRESS; a FAILED job is reported, never restarted).

``client`` is a boto3 ``medical-imaging`` client. Give it no retries of its own for starts (botocore's
``retries={"max_attempts": 0}``) when the retries here should be the only ones (their waits then follow the
injected clock).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import botocore.exceptions
import botocore.session

from .errors import AwsAccessError, OpsError, ServiceError, UsageError
from .pacing import Backoff, Clock, SystemClock, TokenBucket
from .session import client_error_to_ops_error, error_code, error_message, translate_client_errors

SERVICE = "medical-imaging"
START_OPERATION = "StartDICOMImportJob"
TERMINAL_STATUSES = frozenset({"COMPLETED", "FAILED"})
#: Errors after which the same start (same client token) is retried.
RETRYABLE_START_CODES = frozenset({"ThrottlingException", "ServiceQuotaExceededException", "InternalServerException"})
#: How many times an InternalServerException (or a dropped connection) is retried before giving up.
MAX_SERVER_ERROR_RETRIES = 5
#: How many times a start whose answer was lost (read timeout: it may have gone through) is asked again, with the
#: same client token, before giving up for this run.
MAX_LOST_ANSWER_RETRIES = 3

MessageCallback = Callable[[str], None]


class StartAnswerLostError(ServiceError):
    """StartDICOMImportJob timed out waiting for its answer (every time it was asked): the job may have started.
    Asking again with the same client token returns it if so, and never starts a second one."""


class StartRefusedError(ServiceError):
    """StartDICOMImportJob kept answering a retryable error (``aws_error_code``: throttling, the job quota, a server
    error; None for a failed connection) for longer than the caller allowed. Starting again later with the same client
    token is safe: it returns the job if one was started."""


@dataclass(frozen=True)
class StartRequest:
    """The values of one StartDICOMImportJob call."""

    datastore_id: str
    client_token: str
    job_name: str
    data_access_role_arn: str
    input_s3_uri: str
    output_s3_uri: str
    input_owner_account_id: str

    def to_params(self) -> dict[str, str]:
        return {
            "datastoreId": self.datastore_id,
            "clientToken": self.client_token,
            "jobName": self.job_name,
            "dataAccessRoleArn": self.data_access_role_arn,
            "inputS3Uri": self.input_s3_uri,
            "outputS3Uri": self.output_s3_uri,
            "inputOwnerAccountId": self.input_owner_account_id,
        }


@dataclass(frozen=True)
class JobStatus:
    """What GetDICOMImportJob says about a job."""

    job_id: str
    job_status: str
    datastore_id: str
    job_name: str | None = None
    input_s3_uri: str | None = None
    output_s3_uri: str | None = None
    message: str | None = None
    submitted_at: str | None = None
    ended_at: str | None = None

    @property
    def finished(self) -> bool:
        return self.job_status in TERMINAL_STATUSES


# ---------------------------------------------------------------- validation against botocore's model


@functools.cache
def _start_rules() -> tuple[frozenset[str], dict[str, dict[str, Any]]]:
    model = botocore.session.get_session().get_service_model(SERVICE)
    shape = model.operation_model(START_OPERATION).input_shape
    rules = {name: dict(member.metadata) for name, member in shape.members.items() if member.type_name == "string"}
    return frozenset(shape.required_members), rules


def validate_start_request(params: Mapping[str, str], *, sources: Mapping[str, str] | None = None) -> None:
    """Check every value against the service model's required members, lengths and patterns.

    Raises UsageError naming the member, the value, the rule and (from ``sources``, member -> where the value
    came from) what to fix."""
    required, rules = _start_rules()
    problems = []
    for member in sorted(required):
        if member in rules and not params.get(member):
            problems.append(f"{member} is required but empty")
    for member, value in params.items():
        rule = rules.get(member)
        if rule is None:
            raise ValueError(f"{START_OPERATION} has no string member {member!r}")
        if value is None or value == "":
            continue
        low, high, pattern = rule.get("min"), rule.get("max"), rule.get("pattern")
        where = f" (from {sources[member]})" if sources and member in sources else ""
        if low is not None and len(value) < low:
            problems.append(f"{member} {value!r}{where} is shorter than {low} characters")
        elif high is not None and len(value) > high:
            problems.append(f"{member} {value[:80]!r}...{where} is longer than {high} characters")
        elif pattern is not None and re.fullmatch(pattern, value) is None:
            problems.append(f"{member} {value!r}{where} does not match the service's pattern {pattern}")
    if problems:
        raise UsageError(
            f"{START_OPERATION} would be refused: "
            + "; ".join(problems)
            + ". Check the stack outputs (or the file/folder names that make up the value)."
        )


# ---------------------------------------------------------------- starting


def start_job(
    client: Any,
    request: StartRequest,
    *,
    pacer: TokenBucket | None = None,
    clock: Clock | None = None,
    on_message: MessageCallback | None = None,
    message_after_seconds: float = 10.0,
    max_wait_seconds: float = 3600.0,
    backoff: Backoff | None = None,
) -> str:
    """Start one import job (or get back the job its client token already started); returns the job id."""
    params = request.to_params()
    validate_start_request(params)
    clock = clock or SystemClock()
    backoff = backoff or Backoff(initial=1.0, factor=2.0, maximum=30.0)
    waited = 0.0
    told_at = 0.0
    server_errors = 0
    lost_answers = 0
    last_code: str | None = None
    while True:
        if pacer is not None:
            waited += pacer.acquire()
        try:
            response = client.start_dicom_import_job(**params)
            return str(response["jobId"])
        except botocore.exceptions.ClientError as error:
            code = error_code(error)
            if code not in RETRYABLE_START_CODES:
                raise _start_error(request, error) from None
            if code == "InternalServerException":
                server_errors += 1
                if server_errors > MAX_SERVER_ERROR_RETRIES:
                    raise _start_error(request, error) from None
            reason = _wait_reason(code, error)
            last_code = code
        except botocore.exceptions.ReadTimeoutError:
            # The request was sent and may have started the job: only the same client token may ask again.
            lost_answers += 1
            if lost_answers > MAX_LOST_ANSWER_RETRIES:
                raise StartAnswerLostError(
                    f"{START_OPERATION} for {request.job_name} got no answer in time ({lost_answers} tries with the "
                    "same client token); the job may have started. Run the same command again: it asks first with "
                    "the same client token, which returns that job if it started and never starts a second one."
                ) from None
            reason = "the answer did not come in time (read timeout); asking again with the same client token"
            last_code = None
        except (botocore.exceptions.ConnectionError, botocore.exceptions.HTTPClientError) as error:
            # Could not connect (refused, timed out, TLS, proxy) or the connection broke: the same token is safe.
            server_errors += 1
            if server_errors > MAX_SERVER_ERROR_RETRIES:
                with translate_client_errors(START_OPERATION):
                    raise
            reason = f"the connection failed ({error})"
            last_code = None
        delay = backoff.next_delay()
        if waited + delay > max_wait_seconds:
            refused = StartRefusedError(
                f"{START_OPERATION} for {request.job_name} did not succeed within {max_wait_seconds:.0f} s: "
                f"{reason}. Run the same command again later: files already uploaded are not uploaded again and "
                "jobs already started are not started twice."
            )
            refused.aws_error_code = last_code
            raise refused
        if on_message is not None and waited + delay - told_at >= message_after_seconds:
            told_at = waited + delay
            on_message(f"{request.job_name}: {reason}; still retrying (waited {waited + delay:.0f} s so far)")
        clock.sleep(delay)
        waited += delay


def _wait_reason(code: str, error: botocore.exceptions.ClientError) -> str:
    if code == "ThrottlingException":
        return "HealthImaging is throttling job starts (ThrottlingException)"
    if code == "ServiceQuotaExceededException":
        return (
            "the data store has as many running import jobs as its quota allows "
            f"(ServiceQuotaExceededException: {error_message(error)}); waiting for some to finish"
        )
    return f"HealthImaging answered {code}: {error_message(error)}"


def _start_error(request: StartRequest, error: botocore.exceptions.ClientError) -> OpsError:
    code = error_code(error)
    message = error_message(error)
    operation = f"{START_OPERATION} ({request.job_name})"
    result: OpsError
    if code == "AccessDeniedException":
        result = AwsAccessError(
            f"{operation}: access denied ({message}). The caller needs medical-imaging:StartDICOMImportJob on the "
            f"data store and iam:PassRole on {request.data_access_role_arn}; use the importer identity."
        )
    elif code == "ResourceNotFoundException":
        result = ServiceError(
            f"{operation}: data store {request.datastore_id} was not found ({message}). Check the stack outputs, "
            "the account and the region."
        )
    elif code == "ConflictException":
        result = ServiceError(
            f"{operation}: ConflictException: {message}. The data store may not be ACTIVE, or a job with the same "
            "client token was started with other values."
        )
    else:
        result = client_error_to_ops_error(operation, error)
    result.aws_error_code = code or None
    return result


# ---------------------------------------------------------------- waiting


def get_job(client: Any, datastore_id: str, job_id: str) -> JobStatus:
    with translate_client_errors(f"GetDICOMImportJob {job_id}"):
        properties = client.get_dicom_import_job(datastoreId=datastore_id, jobId=job_id)["jobProperties"]
    return job_status_from_properties(properties)


def job_status_from_properties(properties: Mapping[str, Any]) -> JobStatus:
    """A :class:`JobStatus` from GetDICOMImportJob's ``jobProperties`` (or a ListDICOMImportJobs summary)."""

    def text(key: str) -> str | None:
        value = properties.get(key)
        return None if value is None else str(value)

    return JobStatus(
        job_id=str(properties["jobId"]),
        job_status=str(properties["jobStatus"]),
        datastore_id=str(properties.get("datastoreId", "")),
        job_name=text("jobName"),
        input_s3_uri=text("inputS3Uri"),
        output_s3_uri=text("outputS3Uri"),
        message=text("message"),
        submitted_at=text("submittedAt"),
        ended_at=text("endedAt"),
    )


def wait_for_job(
    client: Any,
    datastore_id: str,
    job_id: str,
    *,
    clock: Clock | None = None,
    backoff: Backoff | None = None,
    on_status: Callable[[JobStatus], None] | None = None,
    timeout_seconds: float | None = None,
) -> JobStatus:
    """Poll until the job is COMPLETED or FAILED (SUBMITTED and IN_PROGRESS mean keep waiting); ``on_status`` is
    called on every status change. Raises ServiceError after ``timeout_seconds`` (None: no limit)."""
    clock = clock or SystemClock()
    backoff = backoff or Backoff(initial=2.0, factor=1.5, maximum=30.0)
    started = clock.monotonic()
    last: str | None = None
    while True:
        status = get_job(client, datastore_id, job_id)
        if status.job_status != last:
            last = status.job_status
            if on_status is not None:
                on_status(status)
        if status.finished:
            return status
        if timeout_seconds is not None and clock.monotonic() - started >= timeout_seconds:
            raise ServiceError(
                f"import job {job_id} is still {status.job_status} after {timeout_seconds:.0f} s. It goes on in "
                f"HealthImaging: run the same command again (it waits for the same job) or `python -m ahictl jobs "
                f"{job_id}`."
            )
        clock.sleep(backoff.next_delay())
