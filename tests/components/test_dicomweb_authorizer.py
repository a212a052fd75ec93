"""DicomwebAuthorizer under Pulumi's mocks: the exact trust, permission and persona documents, the function's
settings, provisioned concurrency, the data store ARN given as a deferred output resolved later; and its validation
(pure functions, every problem at once, naming the argument)."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pytest
from policy_sentry.querying.actions import get_actions_for_service

from ahictl.mockrun import ProgramRun
from components import DicomwebAuthorizer, InvalidInputError
from components.dicomweb_authorizer import validate_dicomweb_authorizer_args
from components.dicomweb_authorizer_policies import PERSONA_DICOMWEB_ACTIONS
from healthimaging_functions.dicomweb_authorizer import config as function_config
from testkit.mock_runs import DEV_ACCOUNT, DEV_REGION, policy_of, run_component

DATASTORE_ARN = f"arn:aws:medical-imaging:{DEV_REGION}:{DEV_ACCOUNT}:datastore/{'a' * 32}"
FUNCTION_ARN = f"arn:aws:lambda:{DEV_REGION}:{DEV_ACCOUNT}:function:ahi-dev-dicomweb-authorizer"
ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Example1"
READS = [
    "medical-imaging:GetDICOMBulkdata",
    "medical-imaging:GetDICOMInstance",
    "medical-imaging:GetDICOMInstanceFrames",
    "medical-imaging:GetDICOMInstanceMetadata",
    "medical-imaging:GetDICOMSeriesMetadata",
    "medical-imaging:SearchDICOMInstances",
    "medical-imaging:SearchDICOMSeries",
    "medical-imaging:SearchDICOMStudies",
]
STORES = ["medical-imaging:StoreDICOM", "medical-imaging:StoreDICOMStudy"]


def arguments(**overrides: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "account_id": DEV_ACCOUNT,
        "region": DEV_REGION,
        "name_prefix": "ahi-dev",
        "issuer": ISSUER,
        "audiences": ["viewer-client"],
        "personas": {"reader": ["radiology"], "importer": ["imaging-importers"], "admin": ["imaging-admins"]},
        "datastore_arn": DATASTORE_ARN,
    }
    args.update(overrides)
    return {k: v for k, v in args.items() if v is not None}


def run(**overrides: Any) -> ProgramRun:
    outputs: dict[str, Any] = {}

    def build() -> None:
        authorizer = DicomwebAuthorizer("dicomweb", arguments(**overrides))  # type: ignore[arg-type]
        pulumi.export("functionArn", authorizer.function_arn)
        pulumi.export("personaRoleArns", authorizer.persona_role_arns)
        outputs["component"] = authorizer

    return run_component(build)


@pytest.fixture(scope="module")
def default_run() -> ProgramRun:
    return run()


def trust(datastore_arn: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AllowHealthImagingDicomwebForThisDatastore",
                "Effect": "Allow",
                "Principal": {"Service": "medical-imaging.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": DEV_ACCOUNT},
                    "ArnEquals": {"aws:SourceArn": datastore_arn},
                },
            }
        ],
    }


def persona_policy(actions: list[str], datastore_arn: str = DATASTORE_ARN) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "DicomwebOnThisDatastore", "Effect": "Allow", "Action": actions, "Resource": datastore_arn}
        ],
    }


# --- Persona roles -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["reader", "importer", "admin"])
def test_each_persona_role_trusts_healthimaging_for_this_data_store_only(default_run: ProgramRun, persona: str) -> None:
    role = default_run.one("aws:iam/role:Role", f"dicomweb-{persona}-role")
    assert role.inputs["name"] == f"ahi-dev-dicomweb-{persona}"
    assert policy_of(role, "assumeRolePolicy") == trust(DATASTORE_ARN)


@pytest.mark.parametrize(
    ("persona", "actions"), [("reader", READS), ("importer", sorted(READS + STORES)), ("admin", sorted(READS + STORES))]
)
def test_each_persona_may_only_run_its_dicomweb_actions_on_this_data_store(
    default_run: ProgramRun, persona: str, actions: list[str]
) -> None:
    permissions = default_run.one("aws:iam/rolePolicy:RolePolicy", f"dicomweb-{persona}-permissions")
    assert permissions.inputs["role"] == f"ahi-dev-dicomweb-{persona}"
    assert policy_of(permissions) == persona_policy(actions)


def test_admin_holds_every_dicomweb_action_iams_database_knows() -> None:
    dicomweb = {a for a in get_actions_for_service("medical-imaging") if "DICOM" in a and "ImportJob" not in a}
    assert set(PERSONA_DICOMWEB_ACTIONS["admin"]) == dicomweb


def test_only_the_personas_given_get_a_role(default_run: ProgramRun) -> None:
    reader_only = run(personas={"reader": ["radiology"]})
    # Resources register concurrently under the mocks: their order is not the program's.
    assert sorted(r.name for r in reader_only.by_type("aws:iam/role:Role")) == [
        "dicomweb-function-role",
        "dicomweb-reader-role",
    ]
    assert reader_only.outputs["personaRoleArns"] == {
        "reader": f"arn:aws:iam::{DEV_ACCOUNT}:role/ahi-dev-dicomweb-reader"
    }


def test_the_roles_take_the_path_boundary_and_tags() -> None:
    boundary = f"arn:aws:iam::{DEV_ACCOUNT}:policy/Boundary"
    tagged = run(path="/imaging/", permissions_boundary_arn=boundary, tags={"team": "imaging"})
    for role in tagged.by_type("aws:iam/role:Role"):
        assert (role.inputs["path"], role.inputs["permissionsBoundary"], role.inputs["tags"]) == (
            "/imaging/",
            boundary,
            {"team": "imaging"},
        )
    assert (
        tagged.outputs["personaRoleArns"]["admin"] == f"arn:aws:iam::{DEV_ACCOUNT}:role/imaging/ahi-dev-dicomweb-admin"
    )


# --- The function --------------------------------------------------------------------------------------------------


def test_the_function_reads_its_settings_from_its_environment(default_run: ProgramRun) -> None:
    function = default_run.one("aws:lambda/function:Function", "dicomweb-function")
    variables = function.inputs["environment"]["variables"]
    assert variables == {
        "OIDC_ISSUER": ISSUER,
        "OIDC_AUDIENCES": '["viewer-client"]',
        "OIDC_JWKS_URI": f"{ISSUER}/.well-known/jwks.json",
        "OIDC_GROUPS_CLAIM": "cognito:groups",
        "OIDC_TOKEN_USES": "access",
        "PERSONA_GROUPS": json.dumps(
            {"admin": ["imaging-admins"], "importer": ["imaging-importers"], "reader": ["radiology"]}
        ),
        "PERSONA_ROLE_ARNS": json.dumps(
            {p: f"arn:aws:iam::{DEV_ACCOUNT}:role/ahi-dev-dicomweb-{p}" for p in ("admin", "importer", "reader")}
        ),
    }
    settings = function_config.AuthorizerConfig.from_environment(variables)
    assert settings.persona_role_arns["admin"] == default_run.outputs["personaRoleArns"]["admin"]


def test_the_function_runs_the_packaged_handler_with_a_published_version(default_run: ProgramRun) -> None:
    function = default_run.one("aws:lambda/function:Function", "dicomweb-function")
    assert function.inputs["handler"] == "dicomweb_authorizer.handler.handle"
    assert function.inputs["publish"] is True
    assert (function.inputs["runtime"], function.inputs["architectures"]) == ("python3.12", ["arm64"])
    assert function.inputs["reservedConcurrentExecutions"] == 10


def test_the_function_role_only_decrypts_its_environment_and_writes_its_logs(default_run: ProgramRun) -> None:
    key_arn = default_run.one("aws:kms/key:Key", "dicomweb-key").outputs["arn"]
    permissions = default_run.one("aws:iam/rolePolicy:RolePolicy", "dicomweb-function-permissions")
    assert policy_of(permissions)["Statement"] == [
        {
            "Sid": "DecryptOwnEnvironmentThroughLambda",
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": key_arn,
            "Condition": {"StringEquals": {"kms:ViaService": f"lambda.{DEV_REGION}.amazonaws.com"}},
        },
        {
            "Sid": "WriteOwnLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": f"arn:aws:logs:{DEV_REGION}:{DEV_ACCOUNT}:log-group:/aws/lambda/ahi-dev-dicomweb-authorizer:*",
        },
    ]


def test_provisioned_concurrency_keeps_the_alias_warm_and_the_arn_names_the_alias(default_run: ProgramRun) -> None:
    alias = default_run.one("aws:lambda/alias:Alias", "dicomweb-alias")
    assert (alias.inputs["name"], alias.inputs["functionName"]) == ("live", "ahi-dev-dicomweb-authorizer")
    warm = default_run.one("aws:lambda/provisionedConcurrencyConfig:ProvisionedConcurrencyConfig")
    assert warm.inputs == {
        "functionName": "ahi-dev-dicomweb-authorizer",
        "qualifier": "live",
        "provisionedConcurrentExecutions": 1,
    }
    assert default_run.outputs["functionArn"] == f"{FUNCTION_ARN}:live"


def test_without_provisioned_concurrency_the_alias_is_still_invoked_and_a_warning_says_why_not() -> None:
    cold = run(provisioned_concurrency=0.0)
    assert cold.one("aws:lambda/alias:Alias", "dicomweb-alias").inputs["name"] == "live"
    assert not cold.by_type("aws:lambda/provisionedConcurrencyConfig:ProvisionedConcurrencyConfig")
    assert cold.one("aws:lambda/function:Function").inputs["publish"] is True
    assert cold.one("aws:lambda/permission:Permission").inputs["qualifier"] == "live"
    assert cold.outputs["functionArn"] == f"{FUNCTION_ARN}:live"
    [warning] = [w for w in cold.warnings if "no provisioned concurrency" in w]
    assert "dicomwebOidc.provisionedConcurrency = 0" in warning
    assert "HealthImaging waits one second for its answer" in warning


def test_the_arn_fixed_at_creation_does_not_depend_on_provisioned_concurrency(default_run: ProgramRun) -> None:
    for provisioned in (0, 3):
        other = run(provisioned_concurrency=provisioned)
        assert other.outputs["functionArn"] == default_run.outputs["functionArn"]
        assert (
            other.one("aws:lambda/permission:Permission").inputs
            == default_run.one("aws:lambda/permission:Permission").inputs
        )


def test_only_healthimaging_may_invoke_it_for_this_account_and_data_store(default_run: ProgramRun) -> None:
    permission = default_run.one("aws:lambda/permission:Permission", "dicomweb-healthimaging-invoke")
    assert permission.inputs == {
        "action": "lambda:InvokeFunction",
        "function": "ahi-dev-dicomweb-authorizer",
        "qualifier": "live",
        "principal": f"medical-imaging.{DEV_REGION}.amazonaws.com",
        "sourceArn": DATASTORE_ARN,
        "sourceAccount": DEV_ACCOUNT,
    }


# --- The data store ARN as a deferred output -----------------------------------------------------------------------


def test_a_deferred_data_store_arn_resolved_later_reaches_the_trust_and_the_permission() -> None:
    """The data store needs ``function_arn`` before it exists; its ARN reaches the roles and the permission later."""
    later_arn = f"arn:aws:medical-imaging:{DEV_REGION}:{DEV_ACCOUNT}:datastore/{'b' * 32}"

    def build() -> None:
        datastore_arn, resolve = pulumi.deferred_output()
        authorizer = DicomwebAuthorizer("dicomweb", arguments(datastore_arn=datastore_arn))  # type: ignore[arg-type]
        # Stands for the data store created with the authorizer's ARN, whose own ARN then resolves the deferred one.
        created = authorizer.function_arn.apply(lambda arn: later_arn if arn.endswith(":live") else "unexpected")
        resolve(created)
        pulumi.export("functionArn", authorizer.function_arn)

    deferred = run_component(build)
    for persona in ("reader", "importer", "admin"):
        role = deferred.one("aws:iam/role:Role", f"dicomweb-{persona}-role")
        assert policy_of(role, "assumeRolePolicy") == trust(later_arn)
        assert (
            policy_of(deferred.one("aws:iam/rolePolicy:RolePolicy", f"dicomweb-{persona}-permissions"))["Statement"][0][
                "Resource"
            ]
            == later_arn
        )
    assert deferred.one("aws:lambda/permission:Permission").inputs["sourceArn"] == later_arn
    assert deferred.outputs["functionArn"] == f"{FUNCTION_ARN}:live"


# --- Validation ----------------------------------------------------------------------------------------------------


def test_valid_arguments_have_no_problem() -> None:
    assert validate_dicomweb_authorizer_args(arguments(provisioned_concurrency=1.0, reserved_concurrency=5.0)) == []


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"issuer": "http://idp.example.org"}, "issuer = 'http://idp.example.org': the issuer must be an https URL"),
        ({"audiences": []}, "audiences = []: give at least one audience (the app client IDs a token may name"),
        ({"audiences": "viewer-client"}, "audiences = 'viewer-client': give at least one audience"),
        (
            {"jwks_uri": "ftp://idp.example.org/keys"},
            "jwks_uri = 'ftp://idp.example.org/keys': the JWKS location must be an https URL",
        ),
        ({"personas": {}}, "personas = {}: map at least one persona"),
        (
            {"personas": {"owner": ["x"]}},
            "personas names the persona 'owner', which does not exist; the personas are 'admin', 'importer', 'reader'",
        ),
        ({"personas": {"reader": []}}, "personas.reader = []: give at least one group as a list"),
        ({"provisioned_concurrency": -1}, "provisioned_concurrency = -1: expected a whole number from 0 to 1000"),
        ({"provisioned_concurrency": 1.5}, "provisioned_concurrency = 1.5: expected a whole number from 0 to 1000"),
        (
            {"provisioned_concurrency": 20},
            "provisioned_concurrency = 20 exceeds reserved_concurrency = 10: Lambda cannot keep more copies ready",
        ),
        ({"groups_claim": ""}, "groups_claim = '': give the name of the claim that lists the groups"),
        ({"datastore_arn": "arn:aws:s3:::bucket"}, "datastore_arn = 'arn:aws:s3:::bucket' is not a data store ARN"),
        (
            {"datastore_arn": DATASTORE_ARN.replace(DEV_ACCOUNT, "444455556666")},
            f"is not a data store of account {DEV_ACCOUNT} in {DEV_REGION}",
        ),
    ],
)
def test_a_bad_argument_is_named(overrides: dict[str, Any], problem: str) -> None:
    problems = validate_dicomweb_authorizer_args(arguments(**overrides))
    assert len(problems) == 1, problems
    assert problem in problems[0]


def test_every_problem_is_reported_at_once_before_anything_is_created() -> None:
    created: list[str] = []

    def build() -> None:
        try:
            DicomwebAuthorizer(
                "dicomweb",
                arguments(issuer="http://x", audiences=[], personas={"guest": ["g"]}),  # type: ignore[arg-type]
            )
        except InvalidInputError as error:
            created.append(str(error))

    recorded = run_component(build)
    assert not recorded.resources
    assert created[0].startswith("DicomwebAuthorizer 'dicomweb': 3 problems found; nothing was created.")


def test_stack_key_names_are_shown_when_given() -> None:
    problems = validate_dicomweb_authorizer_args(arguments(issuer="http://x"), {"issuer": "dicomwebOidc.issuer"})
    assert problems[0].startswith("dicomwebOidc.issuer = 'http://x'")


def test_settings_too_long_for_lambdas_environment_are_refused() -> None:
    many = {"reader": [f"group-with-a-rather-long-name-{i}" for i in range(150)]}
    problems = validate_dicomweb_authorizer_args(arguments(personas=many))
    assert len(problems) == 1
    assert "more than the 4096 Lambda allows" in problems[0]
