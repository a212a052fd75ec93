"""The components as other languages see them: the schema Pulumi infers from their annotations."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pulumi.provider.experimental.component import ComponentProvider

from components import (
    AuditTrail,
    AutoImport,
    DicomwebAuthorizer,
    HealthImagingAccess,
    ImagingBucketPair,
    ImagingDatastore,
    ImagingViewer,
    ImportJobAlerts,
    ImportJobRole,
)
from testkit.provider_harness import plugin

#: The components the provider plugin hosts, read from the plugin itself (not run as a host).
COMPONENTS = plugin()["COMPONENTS"]


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    provider = ComponentProvider(COMPONENTS, "healthimaging")
    assert provider.schema is not None
    return json.loads(provider.schema)


def test_the_plugin_hosts_every_component() -> None:
    assert [
        ImagingBucketPair,
        ImagingDatastore,
        ImportJobRole,
        HealthImagingAccess,
        ImportJobAlerts,
        AuditTrail,
        AutoImport,
        DicomwebAuthorizer,
        ImagingViewer,
    ] == COMPONENTS


def test_every_component_is_in_the_schema_under_the_healthimaging_package(schema: dict[str, Any]) -> None:
    assert set(schema["resources"]) == {
        "healthimaging:index:HealthImagingAccess",
        "healthimaging:index:ImagingBucketPair",
        "healthimaging:index:ImagingDatastore",
        "healthimaging:index:ImportJobRole",
        "healthimaging:index:ImportJobAlerts",
        "healthimaging:index:AuditTrail",
        "healthimaging:index:AutoImport",
        "healthimaging:index:DicomwebAuthorizer",
        "healthimaging:index:ImagingViewer",
    }
    assert all(resource["isComponent"] for resource in schema["resources"].values())


@pytest.mark.parametrize(
    ("token", "required", "outputs"),
    [
        (
            "healthimaging:index:ImagingBucketPair",
            ["accountId", "namePrefix", "region"],
            ["inputBucketArn", "inputBucketName", "kmsKeyArn", "logBucketName", "outputBucketArn", "outputBucketName"],
        ),
        (
            "healthimaging:index:ImagingDatastore",
            ["accountId", "datastoreName", "region"],
            [
                "authorizerFunctionArn",
                "datastoreArn",
                "datastoreId",
                "datastoreStatus",
                "dicomwebUrl",
                "kmsKeyArn",
                "personaRoleArns",
            ],
        ),
        (
            "healthimaging:index:ImportJobAlerts",
            ["accountId", "datastoreArn", "datastoreId", "namePrefix", "outputBucketArn", "region"],
            ["deadLetterQueueUrl", "functionName", "kmsKeyArn", "topicArn"],
        ),
        (
            "healthimaging:index:AuditTrail",
            ["accountId", "datastoreArn", "inputBucketArn", "namePrefix", "outputBucketArn", "region"],
            ["bucketName", "kmsKeyArn", "logGroupName", "trailArn"],
        ),
        (
            "healthimaging:index:AutoImport",
            [
                "accountId",
                "datastoreArn",
                "datastoreId",
                "importRoleArn",
                "inputBucketArn",
                "inputBucketName",
                "namePrefix",
                "outputBucketArn",
                "outputBucketName",
                "region",
            ],
            ["deadLetterQueueUrl", "functionName", "kmsKeyArn", "queueUrl"],
        ),
        (
            "healthimaging:index:DicomwebAuthorizer",
            ["accountId", "audiences", "datastoreArn", "issuer", "namePrefix", "personas", "region"],
            ["functionArn", "functionName", "personaRoleArns"],
        ),
        (
            "healthimaging:index:ImportJobRole",
            ["accountId", "datastoreArn", "inputBucketArn", "outputBucketArn", "region", "roleName"],
            ["roleArn", "roleName"],
        ),
    ],
)
def test_required_inputs_and_outputs(
    schema: dict[str, Any], token: str, required: list[str], outputs: list[str]
) -> None:
    resource = schema["resources"][token]
    assert sorted(resource["requiredInputs"]) == required
    assert sorted(resource["properties"]) == outputs


def test_every_input_is_documented_with_its_default(schema: dict[str, Any]) -> None:
    for token, resource in schema["resources"].items():
        required = set(resource["requiredInputs"])
        for name, prop in resource["inputProperties"].items():
            assert prop.get("description"), f"{token}.{name} has no description"
            if name not in required:
                assert "Default" in prop["description"], f"{token}.{name} does not state its default"


def test_structural_switches_are_plain_values(schema: dict[str, Any]) -> None:
    pair = schema["resources"]["healthimaging:index:ImagingBucketPair"]["inputProperties"]
    for switch in ("accessLogging", "encryption", "naming", "protectData", "versioning"):
        assert pair[switch].get("plain") is True, switch
