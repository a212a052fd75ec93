"""The HealthImaging stand-in's CreateDatastore: the creation-time options, idempotency, CREATING -> ACTIVE or
CREATE_FAILED, and GetDatastore/ListDatastores shaped as botocore's model says."""

from __future__ import annotations

import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from sandbox.healthimaging import HealthImagingEmulator
from testkit.fakes import MOTO_ACCOUNT_ID
from testkit.fakes.environment import AwsEnv

AUTHORIZER_ARN = f"arn:aws:lambda:us-east-1:{MOTO_ACCOUNT_ID}:function:ahi-dev-dicomweb-authorizer:live"
KEY_ARN = f"arn:aws:kms:us-east-1:{MOTO_ACCOUNT_ID}:key/11111111-2222-3333-4444-555555555555"


@pytest.fixture
def medical_imaging(aws_env: AwsEnv) -> Any:
    return aws_env.client("medical-imaging")


def test_create_datastore_keeps_every_option_and_get_datastore_returns_both_new_fields(
    healthimaging: HealthImagingEmulator, medical_imaging: Any
) -> None:
    created = medical_imaging.create_datastore(
        datastoreName="images",
        clientToken="token-1",
        kmsKeyArn=KEY_ARN,
        tags={"team": "imaging"},
        losslessStorageFormat="JPEG_2000_LOSSLESS",
        lambdaAuthorizerArn=AUTHORIZER_ARN,
    )
    properties = medical_imaging.get_datastore(datastoreId=created["datastoreId"])["datastoreProperties"]
    assert {key: properties[key] for key in ("datastoreName", "kmsKeyArn", "losslessStorageFormat")} == {
        "datastoreName": "images",
        "kmsKeyArn": KEY_ARN,
        "losslessStorageFormat": "JPEG_2000_LOSSLESS",
    }
    assert properties["lambdaAuthorizerArn"] == AUTHORIZER_ARN
    assert healthimaging.requests[0] == (
        "CreateDatastore",
        {
            "datastoreName": "images",
            "clientToken": "token-1",
            "kmsKeyArn": KEY_ARN,
            "tags": {"team": "imaging"},
            "losslessStorageFormat": "JPEG_2000_LOSSLESS",
            "lambdaAuthorizerArn": AUTHORIZER_ARN,
        },
    )


def test_without_options_the_format_is_htj2k_and_there_is_no_authorizer(medical_imaging: Any) -> None:
    created = medical_imaging.create_datastore(datastoreName="plain", clientToken="t")
    properties = medical_imaging.get_datastore(datastoreId=created["datastoreId"])["datastoreProperties"]
    assert properties["losslessStorageFormat"] == "HTJ2K"
    assert "lambdaAuthorizerArn" not in properties


def test_list_datastores_answers_summaries_without_the_fields_the_summary_lacks(medical_imaging: Any) -> None:
    medical_imaging.create_datastore(
        datastoreName="images", clientToken="t", losslessStorageFormat="JPEG_2000_LOSSLESS"
    )
    [summary] = medical_imaging.list_datastores()["datastoreSummaries"]
    assert summary["datastoreName"] == "images"
    assert not {"losslessStorageFormat", "lambdaAuthorizerArn", "kmsKeyArn"} & set(summary)


def test_a_data_store_is_creating_until_its_delay_has_passed_then_active(
    healthimaging: HealthImagingEmulator, medical_imaging: Any
) -> None:
    healthimaging.seconds_until_datastore_active = 0.3
    created = medical_imaging.create_datastore(datastoreName="slow", clientToken="t")
    assert created["datastoreStatus"] == "CREATING"
    assert medical_imaging.get_datastore(datastoreId=created["datastoreId"])["datastoreProperties"][
        "datastoreStatus"
    ] == ("CREATING")
    time.sleep(0.35)
    status = medical_imaging.get_datastore(datastoreId=created["datastoreId"])["datastoreProperties"]
    assert status["datastoreStatus"] == "ACTIVE"


def test_the_same_token_and_input_return_the_same_data_store_and_create_no_second(medical_imaging: Any) -> None:
    first = medical_imaging.create_datastore(datastoreName="once", clientToken="same")
    again = medical_imaging.create_datastore(datastoreName="once", clientToken="same")
    assert again["datastoreId"] == first["datastoreId"]
    assert len(medical_imaging.list_datastores()["datastoreSummaries"]) == 1


def test_the_same_token_with_other_input_is_a_conflict(medical_imaging: Any) -> None:
    medical_imaging.create_datastore(datastoreName="once", clientToken="same")
    with pytest.raises(ClientError) as error:
        medical_imaging.create_datastore(datastoreName="other", clientToken="same")
    assert error.value.response["Error"]["Code"] == "ConflictException"
    assert "already used" in error.value.response["Error"]["Message"]


def test_a_hook_makes_creation_end_in_create_failed_and_keeps_the_reason(
    healthimaging: HealthImagingEmulator, medical_imaging: Any
) -> None:
    healthimaging.fail_datastore_creation_when(
        lambda params: "KMS key is disabled" if params["datastoreName"] == "doomed" else None
    )
    doomed = medical_imaging.create_datastore(datastoreName="doomed", clientToken="a")
    fine = medical_imaging.create_datastore(datastoreName="fine", clientToken="b")
    statuses = {
        d["datastoreName"]: d["datastoreStatus"] for d in medical_imaging.list_datastores()["datastoreSummaries"]
    }
    assert statuses == {"doomed": "CREATE_FAILED", "fine": "ACTIVE"}
    assert healthimaging.datastores[doomed["datastoreId"]].failure_message == "KMS key is disabled"
    assert healthimaging.datastores[fine["datastoreId"]].failure_message is None


def test_an_option_outside_the_model_is_a_validation_error(medical_imaging: Any) -> None:
    with pytest.raises(ClientError) as error:
        medical_imaging.create_datastore(datastoreName="x", clientToken="t", losslessStorageFormat="PNG")
    assert error.value.response["Error"]["Code"] == "ValidationException"
    assert "losslessStorageFormat" in error.value.response["Error"]["Message"]


def test_the_control_api_creates_data_stores_with_the_options_too(
    healthimaging: HealthImagingEmulator, medical_imaging: Any
) -> None:
    datastore_id, _ = healthimaging.create_datastore(
        "direct", lossless_storage_format="JPEG_2000_LOSSLESS", lambda_authorizer_arn=AUTHORIZER_ARN
    )
    properties = medical_imaging.get_datastore(datastoreId=datastore_id)["datastoreProperties"]
    assert (properties["losslessStorageFormat"], properties["lambdaAuthorizerArn"]) == (
        "JPEG_2000_LOSSLESS",
        AUTHORIZER_ARN,
    )
    with pytest.raises(ValueError, match="LosslessStorageFormat"):
        healthimaging.create_datastore("bad", lossless_storage_format="PNG")
