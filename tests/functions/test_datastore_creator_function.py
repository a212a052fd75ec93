"""The data store creator function against the HealthImaging stand-in on loopback: create and wait, CREATE_FAILED and
errors surfaced with HealthImaging's message, idempotent retries, update as a re-read, delete leaves the store."""

from __future__ import annotations

import json
from typing import Any

import pytest

from healthimaging_functions.datastore_creator import handler
from healthimaging_functions.datastore_creator.request import (
    IDENTITY_MEMBER,
    LIFECYCLE_KEY,
    InvalidRequestError,
    client_token,
    parse_event,
)
from sandbox.healthimaging import HealthImagingEmulator
from testkit.fakes import MOTO_ACCOUNT_ID
from testkit.fakes.environment import AwsEnv

AUTHORIZER_ARN = f"arn:aws:lambda:us-east-1:{MOTO_ACCOUNT_ID}:function:ahi-dev-dicomweb-authorizer"
KEY_ARN = f"arn:aws:kms:us-east-1:{MOTO_ACCOUNT_ID}:key/11111111-2222-3333-4444-555555555555"
INPUT: dict[str, Any] = {
    IDENTITY_MEMBER: "healthimaging-setup/dev/datastore",
    "datastoreName": "ahi-dev-datastore",
    "kmsKeyArn": KEY_ARN,
    "tags": {"team": "imaging"},
    "losslessStorageFormat": "JPEG_2000_LOSSLESS",
    "lambdaAuthorizerArn": AUTHORIZER_ARN,
}


class Context:
    """Lambda's context object: only the remaining time is read."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def get_remaining_time_in_millis(self) -> int:
        return int(self.seconds * 1000)


def event(
    action: str, document: dict[str, Any] | None = None, previous: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The input as ``aws.lambda_.Invocation(lifecycle_scope="CRUD")`` passes it: the lifecycle object added."""
    document = dict(INPUT if document is None else document)
    lifecycle: dict[str, Any] = {"action": action}
    if previous is not None:
        lifecycle["prev_input"] = previous
    return {**document, LIFECYCLE_KEY: lifecycle}


@pytest.fixture
def quick_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(handler.POLL_SECONDS_VARIABLE, "0.05")


def creates(fake: HealthImagingEmulator) -> list[dict[str, Any]]:
    return [params for operation, params in fake.requests if operation == "CreateDatastore"]


def test_create_sends_every_option_with_a_derived_token_and_waits_for_active(
    aws_env: AwsEnv, healthimaging: HealthImagingEmulator, quick_polls: None
) -> None:
    healthimaging.seconds_until_datastore_active = 0.3
    result = handler.handle(event("create"), Context(120))
    assert result["datastoreStatus"] == "ACTIVE"
    stored = healthimaging.datastores[result["datastoreId"]]
    assert result["datastoreArn"] == stored.arn
    assert (stored.lossless_storage_format, stored.lambda_authorizer_arn, stored.kms_key_arn) == (
        "JPEG_2000_LOSSLESS",
        AUTHORIZER_ARN,
        KEY_ARN,
    )
    members = {key: value for key, value in INPUT.items() if key != IDENTITY_MEMBER}
    assert creates(healthimaging) == [{**members, "clientToken": client_token(INPUT[IDENTITY_MEMBER], members)}]
    polls = [operation for operation, _ in healthimaging.requests if operation == "GetDatastore"]
    assert len(polls) >= 2  # CREATING at least once, then ACTIVE


def test_only_the_options_set_are_sent(
    aws_env: AwsEnv, healthimaging: HealthImagingEmulator, quick_polls: None
) -> None:
    handler.handle(event("create", {IDENTITY_MEMBER: "p/s/d", "datastoreName": "plain", "kmsKeyArn": ""}))
    [sent] = creates(healthimaging)
    assert set(sent) == {"datastoreName", "clientToken"}


def test_create_failed_fails_the_invocation_naming_the_data_store_and_where_the_reason_is(
    aws_env: AwsEnv, healthimaging: HealthImagingEmulator, quick_polls: None
) -> None:
    healthimaging.fail_datastore_creation_when(lambda params: "KMS key is disabled")
    with pytest.raises(handler.DatastoreCreationError, match="ended in CREATE_FAILED, not ACTIVE") as error:
        handler.handle(event("create"), Context(120))
    [datastore_id] = healthimaging.datastores
    assert datastore_id in str(error.value)
    assert "Data Store Creation Failed" in str(error.value)


def test_an_error_of_create_datastore_fails_with_healthimagings_own_message(
    aws_env: AwsEnv, healthimaging: HealthImagingEmulator, quick_polls: None
) -> None:
    healthimaging.inject_error(
        "CreateDatastore", "AccessDeniedException", message="not authorized to perform kms:CreateGrant on the key"
    )
    with pytest.raises(handler.DatastoreCreationError) as error:
        handler.handle(event("create"), Context(120))
    assert "AccessDeniedException" in str(error.value)
    assert "not authorized to perform kms:CreateGrant on the key" in str(error.value)
    assert healthimaging.datastores == {}


def test_a_retried_create_returns_the_same_data_store_and_creates_no_second(
    aws_env: AwsEnv, healthimaging: HealthImagingEmulator, quick_polls: None
) -> None:
    healthimaging.seconds_until_datastore_active = 0.5
    # The first attempt runs out of time while the data store is CREATING, as a Lambda timeout would.
    with pytest.raises(handler.DatastoreCreationError, match="still CREATING; run pulumi up again"):
        handler.handle(event("create"), Context(handler.SAFETY_MARGIN_SECONDS))
    retried = handler.handle(event("create"), Context(120))
    assert list(healthimaging.datastores) == [retried["datastoreId"]]
    assert retried["datastoreStatus"] == "ACTIVE"
    first, second = creates(healthimaging)
    assert first["clientToken"] == second["clientToken"]


def test_another_resource_asking_for_the_same_data_store_gets_its_own(
    aws_env: AwsEnv, healthimaging: HealthImagingEmulator, quick_polls: None
) -> None:
    one = handler.handle(event("create"))
    other = handler.handle(event("create", {**INPUT, IDENTITY_MEMBER: "healthimaging-setup/prod/datastore"}))
    assert one["datastoreId"] != other["datastoreId"]


def test_delete_leaves_the_data_store_and_its_images_in_the_account(
    aws_env: AwsEnv, healthimaging: HealthImagingEmulator, quick_polls: None
) -> None:
    created = handler.handle(event("create"))
    result = handler.handle(event("delete", previous=INPUT))
    assert result == {"action": "delete", "retained": True, "datastoreName": INPUT["datastoreName"]}
    assert healthimaging.datastores[created["datastoreId"]].status == "ACTIVE"
    assert [op for op, _ in healthimaging.requests if op not in ("CreateDatastore", "GetDatastore")] == []


def test_an_update_with_the_same_input_rereads_the_data_store_without_creating(
    aws_env: AwsEnv, healthimaging: HealthImagingEmulator, quick_polls: None
) -> None:
    created = handler.handle(event("create"))
    healthimaging.create_datastore("someone-elses")  # another data store in the account is left alone
    assert handler.handle(event("update", previous=INPUT)) == created
    assert len(creates(healthimaging)) == 1


def test_an_update_with_other_options_is_refused_and_changes_nothing(
    aws_env: AwsEnv, healthimaging: HealthImagingEmulator, quick_polls: None
) -> None:
    handler.handle(event("create"))
    changed = {**INPUT, "losslessStorageFormat": "HTJ2K"}
    with pytest.raises(handler.DatastoreCreationError, match=r"cannot be changed in place \(losslessStorageFormat"):
        handler.handle(event("update", changed, previous=INPUT))
    assert len(creates(healthimaging)) == 1


def test_an_update_that_finds_no_such_data_store_creates_none(
    aws_env: AwsEnv, healthimaging: HealthImagingEmulator, quick_polls: None
) -> None:
    with pytest.raises(handler.DatastoreCreationError, match=r"found 0 .*nothing was created"):
        handler.handle(event("update", previous=INPUT))
    assert creates(healthimaging) == []


def test_an_input_the_component_never_sends_is_refused_before_any_call() -> None:
    with pytest.raises(InvalidRequestError, match="lacks 'resourceIdentity'"):
        parse_event({"datastoreName": "x"})
    with pytest.raises(InvalidRequestError, match="does not take: datastoreId"):
        parse_event({IDENTITY_MEMBER: "a", "datastoreName": "x", "datastoreId": "y"})
    with pytest.raises(InvalidRequestError, match="unknown lifecycle action 'read'"):
        parse_event({IDENTITY_MEMBER: "a", "datastoreName": "x", LIFECYCLE_KEY: {"action": "read"}})


def test_the_token_depends_on_every_member_and_fits_the_model() -> None:
    members = {key: value for key, value in INPUT.items() if key != IDENTITY_MEMBER}
    token = client_token("a", members)
    assert len(token) == 64
    assert token.isalnum()
    assert token == client_token("a", json.loads(json.dumps(members)))
    assert token != client_token("a", {**members, "losslessStorageFormat": "HTJ2K"})
    assert token != client_token("b", members)


def test_a_retry_answered_with_the_failed_data_store_says_to_change_an_input(
    aws_env: AwsEnv, healthimaging: HealthImagingEmulator, quick_polls: None
) -> None:
    healthimaging.fail_datastore_creation_when(lambda params: "KMS key is disabled")
    with pytest.raises(handler.DatastoreCreationError, match="change an input") as first:
        handler.handle(event("create"), Context(120))
    with pytest.raises(handler.DatastoreCreationError) as retried:
        handler.handle(event("create"), Context(120))
    [datastore_id] = healthimaging.datastores
    assert str(retried.value).startswith(
        f"HealthImaging answered this request with the data store {datastore_id} ('ahi-dev-datastore') of an earlier "
        "attempt, which is CREATE_FAILED: the same inputs give the same client token."
    )
    assert "for example add a tag" in str(retried.value)
    assert "client token is derived from the inputs" in str(first.value)
