"""The stack keys of the data store's creation-time options: their rules name the keys, and the example stacks are
planned with and without them (the plan command, as a user runs it)."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from ahictl import mockrun
from components import InvalidInputError
from components.datastore_options import DICOMWEB_OIDC_DEFAULTS
from program.settings import read_settings
from program.settings_spec import DICOMWEB_OIDC_FIELDS
from testkit.mock_runs import PROJECT_DIR, dev_config, run_program

ACCOUNT = "111122223333"
VALID = {"accountId": ACCOUNT, "region": "us-east-1"}
OIDC = {"issuer": "https://login.example.org", "audiences": ["viewer"], "personas": {"reader": ["radiology"]}}


def problems_of(**values: Any) -> list[str]:
    raw = {**VALID, **{key: json.dumps(v) if isinstance(v, (dict, list)) else v for key, v in values.items()}}
    return read_settings("healthimaging-setup", "dev", lambda key: raw.get(key))[1]


def test_the_defaults_keep_the_aws_native_data_store() -> None:
    settings, problems = read_settings("healthimaging-setup", "dev", lambda key: VALID.get(key))
    assert problems == []
    assert (
        settings.datastore_lossless_storage_format,
        settings.dicomweb_oidc,
        settings.datastore_lambda_authorizer_arn,
    ) == ("HTJ2K", {}, "")


def test_a_bad_format_names_the_key() -> None:
    assert problems_of(datastoreLosslessStorageFormat="JPEG2000") == [
        "datastoreLosslessStorageFormat = 'JPEG2000' is not one of: 'HTJ2K', 'JPEG_2000_LOSSLESS'."
    ]


def test_the_oidc_fields_are_named_as_the_stack_writes_them() -> None:
    problems = problems_of(
        dicomwebOidc={**OIDC, "jwksUri": "http://keys", "groupsClaim": "", "provisionedConcurrency": 12}
    )
    assert [p.split(" ", 1)[0] for p in problems] == [
        "dicomwebOidc.jwksUri",
        "dicomwebOidc.groupsClaim",
        "dicomwebOidc.provisionedConcurrency",
    ]


def test_an_unknown_oidc_field_is_named() -> None:
    [problem] = problems_of(dicomwebOidc={**OIDC, "clientSecret": "x"})
    assert problem.startswith(
        "dicomwebOidc.clientSecret is not a field of dicomwebOidc; the fields are dicomwebOidc.issuer"
    )


def test_both_authorizers_are_refused_naming_both_keys() -> None:
    [problem] = problems_of(
        dicomwebOidc=OIDC, datastoreLambdaAuthorizerArn=f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:mine"
    )
    assert problem.startswith("dicomwebOidc and datastoreLambdaAuthorizerArn are both set")


def test_an_authorizer_of_another_region_names_the_key() -> None:
    [problem] = problems_of(datastoreLambdaAuthorizerArn=f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:mine")
    assert problem.startswith(
        f"datastoreLambdaAuthorizerArn = 'arn:aws:lambda:eu-west-1:{ACCOUNT}:function:mine' is a function of region "
        "eu-west-1"
    )


def test_every_problem_stops_the_program_before_any_resource() -> None:
    recorded: list[mockrun.PlannedResource] = []
    config = dev_config(
        datastoreLosslessStorageFormat="PNG",
        dicomwebOidc={"issuer": "http://x", "audiences": [], "personas": {"viewer": ["g"]}},
        datastoreLambdaAuthorizerArn="not-an-arn",
    )
    with pytest.raises(InvalidInputError) as raised:
        mockrun.run(
            PROJECT_DIR / "__main__.py", config=config, project="healthimaging-setup", stack="dev", recorded=recorded
        )
    message = str(raised.value)
    for key in (
        "datastoreLosslessStorageFormat = 'PNG'",
        "dicomwebOidc and datastoreLambdaAuthorizerArn are both set",
        "dicomwebOidc.issuer = 'http://x'",
        "dicomwebOidc.audiences = []",
        "dicomwebOidc.personas names the persona 'viewer'",
        "datastoreLambdaAuthorizerArn = 'not-an-arn' is not a Lambda function ARN",
    ):
        assert key in message
    assert recorded == []


def test_the_program_exports_the_created_data_stores_values() -> None:
    run = run_program(datastoreLosslessStorageFormat="JPEG_2000_LOSSLESS", dicomwebOidc=OIDC)
    [read] = run.reads
    assert run.outputs["datastoreId"] == read.id
    assert run.outputs["dicomwebUrl"] == f"https://dicom-medical-imaging.us-east-1.amazonaws.com/datastore/{read.id}"
    assert run.outputs["datastoreLosslessStorageFormat"] == "JPEG_2000_LOSSLESS"
    assert run.outputs["datastoreLambdaAuthorizerArn"].startswith(f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:")
    assert set(run.outputs["dicomwebPersonaRoleArns"]) == {"reader"}
    # Everything that names the data store names the created one.
    trust = json.loads(run.one("aws:iam/role:Role", "import-job-role").inputs["assumeRolePolicy"])
    assert trust["Statement"][0]["Condition"]["ArnEquals"]["aws:SourceArn"] == run.outputs["datastoreArn"]


def ahictl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ahictl", *args],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_example_stacks_plan_with_the_options_set_on_the_command_line(stack: str) -> None:
    result = ahictl(
        "plan",
        "--stack",
        stack,
        "--format",
        "json",
        "--set",
        "datastoreLosslessStorageFormat=JPEG_2000_LOSSLESS",
        "--set",
        f"dicomwebOidc={json.dumps(OIDC)}",
    )
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    types = {r["type"] for r in plan["resources"]}
    assert {"aws:lambda/invocation:Invocation", "healthimaging:index:DicomwebAuthorizer"} <= types
    assert "aws-native:healthimaging:Datastore" not in types
    assert [read["type"] for read in plan["reads"]] == ["aws-native:healthimaging:Datastore"]
    assert plan["outputs"]["dicomwebUrl"].endswith(plan["reads"][0]["id"])


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_example_stacks_plan_without_the_options_as_before(stack: str) -> None:
    result = ahictl("plan", "--stack", stack, "--format", "json")
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    types = {r["type"] for r in plan["resources"]}
    assert "aws-native:healthimaging:Datastore" in types
    assert "aws:lambda/invocation:Invocation" not in types
    assert "reads" not in plan
    assert plan["outputs"]["datastoreLosslessStorageFormat"] == "HTJ2K"
    assert plan["outputs"]["datastoreLambdaAuthorizerArn"] is None


def test_a_bad_option_on_the_command_line_is_explained_without_a_traceback() -> None:
    result = ahictl("plan", "--stack", "dev", "--set", "datastoreLosslessStorageFormat=PNG")
    assert result.returncode != 0
    assert "datastoreLosslessStorageFormat = 'PNG' is not one of" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_field_spelt_as_the_components_argument_is_refused() -> None:
    assert problems_of(dicomwebOidc={**OIDC, "jwks_uri": "https://keys.example.org"}) == [
        "dicomwebOidc.jwks_uri is spelt as the component's argument; in the stack write it jwksUri."
    ]


def test_every_dicomweb_oidc_field_of_the_component_has_its_stack_spelling() -> None:
    assert sorted(DICOMWEB_OIDC_FIELDS.values()) == sorted(DICOMWEB_OIDC_DEFAULTS)
