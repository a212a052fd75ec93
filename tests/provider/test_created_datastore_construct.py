"""ImagingDatastore with its creation-time options, constructed the way another language constructs it: the nested
``dicomwebOidc`` object arrives camelCase with floats, the deferred data store ARN resolves, and the registrations
equal a Python caller's."""

from __future__ import annotations

from typing import Any

from components import ImagingDatastore
from testkit.provider_harness import (
    build_provider,
    construct_request,
    registrations,
    run_construct,
    run_in_process,
    schema_camel_case,
)

ACCOUNT = "111122223333"
REGION = "us-east-1"
PYTHON_ARGS: dict[str, Any] = {
    "account_id": ACCOUNT,
    "region": REGION,
    "datastore_name": "ahi-dev",
    "name_prefix": "ahi-dev",
    "lossless_storage_format": "JPEG_2000_LOSSLESS",
    "dicomweb_oidc": {
        "issuer": "https://login.example.org",
        "audiences": ["viewer"],
        "jwks_uri": "https://login.example.org/keys",
        "groups_claim": "groups",
        "personas": {"reader": ["radiology"]},
        "provisioned_concurrency": 1,
    },
    "log_retention_days": 400,
}


def test_construct_with_dicomweb_oidc_registers_what_python_registers_and_resolves_the_outputs() -> None:
    provider = build_provider()
    inputs = schema_camel_case(PYTHON_ARGS, provider, "ImagingDatastore")
    oidc = PYTHON_ARGS["dicomweb_oidc"]
    inputs["dicomwebOidc"] = {  # the nested type's schema names
        "issuer": oidc["issuer"],
        "audiences": oidc["audiences"],
        "jwksUri": oidc["jwks_uri"],
        "groupsClaim": oidc["groups_claim"],
        "personas": oidc["personas"],
        "provisionedConcurrency": oidc["provisioned_concurrency"],
    }
    assert inputs["dicomwebOidc"]["provisionedConcurrency"] == 1
    request = construct_request("healthimaging:index:ImagingDatastore", "from-another-language", inputs)
    assert request.inputs["dicomwebOidc"]["provisionedConcurrency"] == 1.0  # a float on the wire

    wire_run, state = run_construct(request)
    python_run = run_in_process(lambda: ImagingDatastore("from-another-language", dict(PYTHON_ARGS)))  # type: ignore[arg-type]

    assert registrations(wire_run) == registrations(python_run)
    assert [r.id for r in wire_run.reads] == [r.id for r in python_run.reads] != [""]
    assert state["datastoreArn"].endswith(f"datastore/{state['datastoreId']}")
    assert (
        state["dicomwebUrl"] == f"https://dicom-medical-imaging.{REGION}.amazonaws.com/datastore/{state['datastoreId']}"
    )
    assert set(state["personaRoleArns"]) == {"reader"}  # known only once the deferred data store ARN resolved
    assert state["authorizerFunctionArn"].startswith(f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:")
