"""StartDICOMImportJob values checked against botocore's model; starts retried safely; waits until the end."""

from __future__ import annotations

from typing import Any

import botocore.session
import pytest
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    ProxyConnectionError,
    ReadTimeoutError,
    SSLError,
)

from ahiops import jobs
from ahiops.errors import AwsAccessError, ServiceError, UsageError
from ahiops.pacing import Backoff, FakeClock

GOOD = jobs.StartRequest(
    datastore_id="0123456789abcdef0123456789abcdef",
    client_token="a" * 64,
    job_name="ahictl-0123456789abcdef-job-0001",
    data_access_role_arn="arn:aws:iam::123456789012:role/import",
    input_s3_uri="s3://input-bucket/imports/d/job-0001/",
    output_s3_uri="s3://output-bucket/imports/d/job-0001/",
    input_owner_account_id="123456789012",
)


def test_rules_come_from_botocores_model() -> None:
    model = botocore.session.get_session().get_service_model("medical-imaging")
    shape = model.operation_model("StartDICOMImportJob").input_shape
    required, rules = jobs._start_rules()
    assert required == set(shape.required_members)
    assert rules["clientToken"]["pattern"] == shape.members["clientToken"].metadata["pattern"]
    assert rules["inputOwnerAccountId"] == {"min": 12, "max": 12, "pattern": "\\d+"}


def test_a_good_request_passes() -> None:
    jobs.validate_start_request(GOOD.to_params())


@pytest.mark.parametrize(
    ("member", "value", "problem"),
    [
        ("clientToken", "a" * 65, "longer than 64"),
        ("clientToken", "has space", "does not match"),
        ("jobName", "bad name!", "does not match"),
        ("dataAccessRoleArn", "arn:aws:iam::123:role/x-long-enough", "does not match"),
        ("inputS3Uri", "s3://Upper_Case/x", "does not match"),
        ("outputS3Uri", "s3://b/" + "k" * 1020, "longer than 1024"),
        ("inputOwnerAccountId", "12345678901", "shorter than 12"),
        ("datastoreId", "not-an-id", "does not match"),
        ("datastoreId", "", "datastoreId is required"),
    ],
)
def test_each_bad_value_is_named(member: str, value: str, problem: str) -> None:
    params = {**GOOD.to_params(), member: value}
    with pytest.raises(UsageError, match=problem) as caught:
        jobs.validate_start_request(params, sources={member: "somewhere"})
    assert member in str(caught.value)
    assert caught.value.exit_code == 2


class FakeClient:
    """Answers start_dicom_import_job from a script of error codes (then a job id) and counts the calls."""

    def __init__(self, errors: list[str], statuses: list[str] | None = None) -> None:
        self.errors = list(errors)
        self.statuses = list(statuses or [])
        self.starts: list[dict[str, Any]] = []
        self.polls = 0

    def start_dicom_import_job(self, **params: Any) -> dict[str, Any]:
        self.starts.append(params)
        if self.errors:
            code = self.errors.pop(0)
            raise ClientError({"Error": {"Code": code, "Message": f"{code} message"}}, "StartDICOMImportJob")
        return {"jobId": "j" * 32, "jobStatus": "SUBMITTED"}

    def get_dicom_import_job(self, **params: Any) -> dict[str, Any]:
        self.polls += 1
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        return {"jobProperties": {"jobId": params["jobId"], "jobStatus": status, "datastoreId": params["datastoreId"]}}


def test_retries_use_the_same_client_token() -> None:
    client = FakeClient(["ThrottlingException", "InternalServerException", "ServiceQuotaExceededException"])
    clock = FakeClock()
    assert jobs.start_job(client, GOOD, clock=clock) == "j" * 32
    assert len(client.starts) == 4
    assert {params["clientToken"] for params in client.starts} == {GOOD.client_token}
    assert clock.sleeps == [1.0, 2.0, 4.0]


def test_server_errors_are_retried_only_a_few_times() -> None:
    client = FakeClient(["InternalServerException"] * 10)
    with pytest.raises(ServiceError, match="InternalServerException"):
        jobs.start_job(client, GOOD, clock=FakeClock())
    assert len(client.starts) == jobs.MAX_SERVER_ERROR_RETRIES + 1


@pytest.mark.parametrize(
    ("code", "error", "words"),
    [
        ("AccessDeniedException", AwsAccessError, "iam:PassRole"),
        ("ResourceNotFoundException", ServiceError, "was not found"),
        ("ConflictException", ServiceError, "not be ACTIVE"),
        ("ValidationException", ServiceError, "ValidationException"),
    ],
)
def test_other_errors_are_not_retried_and_explained(code: str, error: type[Exception], words: str) -> None:
    client = FakeClient([code])
    with pytest.raises(error, match=words):
        jobs.start_job(client, GOOD, clock=FakeClock())
    assert len(client.starts) == 1


def test_long_waits_send_a_message() -> None:
    client = FakeClient(["ThrottlingException"] * 6)
    messages: list[str] = []
    jobs.start_job(client, GOOD, clock=FakeClock(), on_message=messages.append, message_after_seconds=10)
    assert messages
    assert "throttling" in messages[0]


def test_wait_goes_through_submitted_and_in_progress() -> None:
    client = FakeClient([], statuses=["SUBMITTED", "SUBMITTED", "IN_PROGRESS", "IN_PROGRESS", "COMPLETED"])
    seen: list[str] = []
    clock = FakeClock()
    status = jobs.wait_for_job(
        client,
        GOOD.datastore_id,
        "j" * 32,
        clock=clock,
        backoff=Backoff(initial=1, factor=2, maximum=3),
        on_status=lambda s: seen.append(s.job_status),
    )
    assert status.job_status == "COMPLETED"
    assert seen == ["SUBMITTED", "IN_PROGRESS", "COMPLETED"]
    assert client.polls == 5
    assert clock.sleeps == [1, 2, 3, 3]


def test_wait_stops_on_failed_and_has_an_optional_limit() -> None:
    assert jobs.wait_for_job(FakeClient([], ["FAILED"]), GOOD.datastore_id, "x", clock=FakeClock()).finished
    with pytest.raises(ServiceError, match="still IN_PROGRESS after 10 s"):
        jobs.wait_for_job(
            FakeClient([], ["IN_PROGRESS"]), GOOD.datastore_id, "x", clock=FakeClock(), timeout_seconds=10
        )


class LostAnswers(FakeClient):
    """Takes each start (the first one starts the job) but the first ``lost`` answers never arrive."""

    def __init__(self, lost: int) -> None:
        super().__init__([])
        self.lost = lost

    def start_dicom_import_job(self, **params: Any) -> dict[str, Any]:
        answer = super().start_dicom_import_job(**params)
        if self.lost:
            self.lost -= 1
            raise ReadTimeoutError(endpoint_url="http://127.0.0.1:9/")
        return answer


def test_a_start_whose_answer_was_lost_is_asked_again_with_the_same_token() -> None:
    client = LostAnswers(lost=2)
    assert jobs.start_job(client, GOOD, clock=FakeClock()) == "j" * 32
    assert [params["clientToken"] for params in client.starts] == [GOOD.client_token] * 3


def test_a_start_that_never_answers_stops_saying_the_job_may_have_started() -> None:
    client = LostAnswers(lost=50)
    with pytest.raises(jobs.StartAnswerLostError) as caught:
        jobs.start_job(client, GOOD, clock=FakeClock())
    assert len(client.starts) == jobs.MAX_LOST_ANSWER_RETRIES + 1
    assert "the job may have started. Run the same command again: it asks first with the same client token" in str(
        caught.value
    )
    assert caught.value.exit_code == 1


class Unreachable(FakeClient):
    """The first ``failures`` starts fail to connect with ``error`` (nothing reached HealthImaging)."""

    def __init__(self, failures: int, error: Exception) -> None:
        super().__init__([])
        self.failures = failures
        self.error = error

    def start_dicom_import_job(self, **params: Any) -> dict[str, Any]:
        if self.failures:
            self.failures -= 1
            self.starts.append(params)
            raise self.error
        return super().start_dicom_import_job(**params)


@pytest.mark.parametrize(
    "error",
    [
        ConnectTimeoutError(endpoint_url="http://127.0.0.1:9/"),
        SSLError(endpoint_url="http://127.0.0.1:9/", error="certificate verify failed"),
        ProxyConnectionError(proxy_url="http://proxy:3128", error="refused"),
    ],
    ids=["connect-timeout", "ssl", "proxy"],
)
def test_a_start_that_could_not_connect_is_retried_with_the_same_token(error: Exception) -> None:
    client = Unreachable(2, error)
    assert jobs.start_job(client, GOOD, clock=FakeClock()) == "j" * 32
    assert [params["clientToken"] for params in client.starts] == [GOOD.client_token] * 3


def test_a_start_that_never_connects_is_a_clear_error() -> None:
    client = Unreachable(100, SSLError(endpoint_url="http://127.0.0.1:9/", error="certificate verify failed"))
    with pytest.raises(ServiceError, match="certificate verify failed"):
        jobs.start_job(client, GOOD, clock=FakeClock())
