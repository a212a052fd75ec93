"""ImagingDatastore's created path under mocks: the creator function, its invocation, the read-back, the authorizer's
wiring, protection and replacement, and the unchanged aws-native path without the options."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path
from typing import Any

import botocore.session
import pulumi
import pytest

from ahictl.mockrun import ProgramRun
from ahictl.plan import describe_asset
from components import ImagingDatastore, created_datastore, policies
from components.created_datastore import CreatorNames, created_drift_warnings, creator_code, installed_model_path
from components.datastore_creator_policies import creator_key_policy, creator_permission_policy
from components.dicomweb_authorizer import DicomwebAuthorizer
from components.function_policies import function_trust_policy
from testkit.mock_runs import DEV_ACCOUNT, DEV_REGION, policy_of, run_component

INVOCATION = "aws:lambda/invocation:Invocation"
NATIVE = "aws-native:healthimaging:Datastore"
AUTHORIZER_ARN = f"arn:aws:lambda:{DEV_REGION}:{DEV_ACCOUNT}:function:my-authorizer:live"
OIDC: dict[str, Any] = {
    "issuer": "https://login.example.org",
    "audiences": ["viewer"],
    "personas": {"reader": ["radiology"], "admin": ["imaging-admins"]},
}


def datastore(**overrides: Any) -> ProgramRun:
    args: dict[str, Any] = {
        "account_id": DEV_ACCOUNT,
        "region": DEV_REGION,
        "datastore_name": "ahi-test-datastore",
        "name_prefix": "ahi-test",
        "tags": {"team": "imaging"},
        **overrides,
    }

    def build() -> None:
        store = ImagingDatastore("datastore", args)  # type: ignore[arg-type]
        for output in ("datastore_id", "datastore_arn", "datastore_status", "dicomweb_url"):
            pulumi.export(output, getattr(store, output))
        pulumi.export("authorizer_function_arn", store.authorizer_function_arn)
        pulumi.export("persona_role_arns", store.persona_role_arns)

    return run_component(build)


@pytest.fixture(scope="module")
def jpeg() -> ProgramRun:
    return datastore(lossless_storage_format="JPEG_2000_LOSSLESS")


def test_without_options_the_data_store_stays_the_aws_native_resource_with_a_dicomweb_url() -> None:
    run = datastore()
    assert run.by_type(INVOCATION) == []
    assert run.by_type("aws:lambda/function:Function") == []
    assert run.reads == []
    datastore_id = run.one(NATIVE).outputs["datastoreId"]
    assert (
        run.outputs["dicomweb_url"]
        == f"https://dicom-medical-imaging.{DEV_REGION}.amazonaws.com/datastore/{datastore_id}"
    )
    assert (run.outputs["authorizer_function_arn"], run.outputs["persona_role_arns"]) == (None, {})


def test_htj2k_spelled_out_is_the_same_aws_native_data_store() -> None:
    run = datastore(lossless_storage_format="HTJ2K")
    assert run.by_type(INVOCATION) == []
    assert len(run.by_type(NATIVE)) == 1


def test_jpeg_2000_creates_the_data_store_through_a_crud_invocation_of_the_creator(jpeg: ProgramRun) -> None:
    assert jpeg.by_type(NATIVE) == []
    invocation = jpeg.one(INVOCATION)
    key_arn = jpeg.one("aws:kms/key:Key", "datastore-key").outputs["arn"]
    assert invocation.inputs["lifecycleScope"] == "CRUD"
    assert invocation.inputs["terraformKey"] == "tf"
    assert invocation.inputs["functionName"] == "ahi-test-datastore-creator"
    assert json.loads(invocation.inputs["input"]) == {
        "resourceIdentity": "healthimaging-setup/test/datastore",
        "datastoreName": "ahi-test-datastore",
        "kmsKeyArn": key_arn,
        "tags": {"team": "imaging"},
        "losslessStorageFormat": "JPEG_2000_LOSSLESS",
    }
    function = jpeg.one("aws:lambda/function:Function")
    assert function.urn in invocation.property_dependencies["functionName"]


def test_the_invocation_is_protected_retained_and_ignores_input_changes(jpeg: ProgramRun) -> None:
    invocation = jpeg.one(INVOCATION)
    assert (invocation.protect, invocation.retain_on_delete) == (True, True)
    assert invocation.ignore_changes == ["input"]
    assert invocation.replace_on_changes == []


def test_the_outputs_come_from_a_read_of_the_created_data_store(jpeg: ProgramRun) -> None:
    invocation = jpeg.one(INVOCATION)
    created = json.loads(invocation.outputs["result"])
    [read] = jpeg.reads
    assert (read.type, read.name, read.id) == (NATIVE, "datastore-read", created["datastoreId"])
    assert jpeg.outputs["datastore_id"] == created["datastoreId"]
    assert jpeg.outputs["datastore_arn"] == read.outputs["datastoreArn"] == created["datastoreArn"]
    assert jpeg.outputs["datastore_status"] == "ACTIVE"
    assert jpeg.outputs["dicomweb_url"].endswith(f"/datastore/{created['datastoreId']}")


def test_the_key_policy_names_the_created_data_store(jpeg: ProgramRun) -> None:
    key = jpeg.one("aws:kms/key:Key", "datastore-key")
    assert policy_of(jpeg.one("aws:kms/keyPolicy:KeyPolicy")) == policies.datastore_key_policy(
        DEV_ACCOUNT, key.outputs["arn"], jpeg.outputs["datastore_id"]
    )


def test_the_creator_has_least_privilege_its_own_key_and_log_group(jpeg: ProgramRun) -> None:
    names = CreatorNames("ahi-test")
    log_group_arn = f"arn:aws:logs:{DEV_REGION}:{DEV_ACCOUNT}:log-group:{names.log_group}"
    creator_key = jpeg.one("aws:kms/key:Key", "datastore-creator-key")
    datastore_key = jpeg.one("aws:kms/key:Key", "datastore-key")
    assert policy_of(jpeg.one("aws:iam/rolePolicy:RolePolicy")) == creator_permission_policy(
        account_id=DEV_ACCOUNT,
        region=DEV_REGION,
        log_group_arn=log_group_arn,
        creator_key_arn=creator_key.outputs["arn"],
        datastore_key_arn=datastore_key.outputs["arn"],
    )
    role = jpeg.one("aws:iam/role:Role")
    assert (role.inputs["name"], policy_of(role, "assumeRolePolicy")) == (
        names.role,
        function_trust_policy(DEV_ACCOUNT, f"arn:aws:lambda:{DEV_REGION}:{DEV_ACCOUNT}:function:{names.function}"),
    )
    assert policy_of(creator_key) == creator_key_policy(DEV_ACCOUNT, DEV_REGION, log_group_arn)
    log_group = jpeg.one("aws:cloudwatch/logGroup:LogGroup")
    assert (log_group.inputs["name"], log_group.inputs["retentionInDays"]) == (names.log_group, 365)


def test_the_creator_policy_statements_are_exact() -> None:
    document = creator_permission_policy(
        account_id=DEV_ACCOUNT, region=DEV_REGION, log_group_arn="LG", creator_key_arn="CK", datastore_key_arn="DK"
    )
    assert [(s["Sid"], s["Action"], s["Resource"]) for s in document["Statement"]] == [
        ("CreateAndListDatastores", ["medical-imaging:CreateDatastore", "medical-imaging:ListDatastores"], "*"),
        (
            "ReadAndTagDatastoresAsTheyAreCreated",
            ["medical-imaging:GetDatastore", "medical-imaging:TagResource"],
            f"arn:aws:medical-imaging:{DEV_REGION}:{DEV_ACCOUNT}:datastore/*",
        ),
        ("UseDatastoreKeyThroughHealthImaging", list(policies.DATASTORE_KEY_CREATOR_ACTIONS), "DK"),
        ("UseTheCreatorKeyThroughLambdaOnly", "kms:Decrypt", "CK"),
        ("WriteOwnLogs", ["logs:CreateLogStream", "logs:PutLogEvents"], "LG:*"),
    ]
    assert document["Statement"][2]["Condition"] == {
        "StringEquals": {"kms:ViaService": f"medical-imaging.{DEV_REGION}.amazonaws.com"}
    }
    without_key = creator_permission_policy(
        account_id=DEV_ACCOUNT, region=DEV_REGION, log_group_arn="LG", creator_key_arn="CK", datastore_key_arn=None
    )
    assert "UseDatastoreKeyThroughHealthImaging" not in [s["Sid"] for s in without_key["Statement"]]


def test_the_function_archive_carries_the_handler_and_botocores_model_where_aws_data_path_points(
    jpeg: ProgramRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    function = jpeg.one("aws:lambda/function:Function")
    assert function.inputs["handler"] == "datastore_creator.handler.handle"
    assert function.inputs["timeout"] == 900
    data_path = function.inputs["environment"]["variables"]["AWS_DATA_PATH"]
    assert data_path == "/var/task/botocore_data"
    archive = function.inputs["code"]
    names = set(archive.assets)
    assert {"datastore_creator/handler.py", "datastore_creator/request.py", "ahiops/session.py"} <= names
    model_name = "botocore_data/medical-imaging/2023-07-19/service-2.json"
    model_text = archive.assets[model_name].text
    assert json.loads(model_text) == json.loads(gzip.decompress(installed_model_path().read_bytes()))
    assert describe_asset(archive.assets[model_name])["text"]["sha256"]

    # The archive as Lambda unpacks it: botocore finds the bundled model through AWS_DATA_PATH.
    root = tmp_path / "task"
    (root / Path(model_name).parent).mkdir(parents=True)
    (root / model_name).write_text(model_text)
    monkeypatch.setenv("AWS_DATA_PATH", str(root / "botocore_data"))
    loader = botocore.session.Session().get_component("data_loader")
    _, path = loader.load_data_with_path("medical-imaging/2023-07-19/service-2")
    assert Path(path).resolve().is_relative_to(root.resolve())


def test_the_code_archives_no_third_party_package() -> None:
    from components.lambda_package import package_files, third_party_imports

    assert third_party_imports(package_files(creator_code().package)) == set()


def test_an_existing_authorizer_goes_into_create_datastore_and_the_outputs() -> None:
    run = datastore(lambda_authorizer_arn=AUTHORIZER_ARN)
    assert json.loads(run.one(INVOCATION).inputs["input"])["lambdaAuthorizerArn"] == AUTHORIZER_ARN
    assert "losslessStorageFormat" not in json.loads(run.one(INVOCATION).inputs["input"])
    assert run.outputs["authorizer_function_arn"] == AUTHORIZER_ARN
    assert run.by_type("healthimaging:index:DicomwebAuthorizer") == []


def test_dicomweb_oidc_builds_the_authorizer_and_gives_it_the_created_data_stores_arn(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    received: dict[str, Any] = {}

    class Recording(DicomwebAuthorizer):
        def __init__(self, name: str, args: Any, opts: pulumi.ResourceOptions | None = None) -> None:
            received.update(args)
            super().__init__(name, args, opts)
            pulumi.export("authorizer_datastore_arn", args["datastore_arn"])

    monkeypatch.setattr(created_datastore, "DicomwebAuthorizer", Recording)
    run = datastore(dicomweb_oidc={**OIDC, "groups_claim": "groups", "provisioned_concurrency": 2.0}, path="/imaging/")
    authorizer = run.one("healthimaging:index:DicomwebAuthorizer")
    assert authorizer.parent_name == "datastore"
    # The deferred ARN resolves with the read of the created data store: roles and permission can depend on it.
    assert run.outputs["authorizer_datastore_arn"] == run.outputs["datastore_arn"]
    assert {key: value for key, value in received.items() if key != "datastore_arn"} == {
        "account_id": DEV_ACCOUNT,
        "region": DEV_REGION,
        "name_prefix": "ahi-test",
        "issuer": OIDC["issuer"],
        "audiences": ["viewer"],
        "personas": {"reader": ["radiology"], "admin": ["imaging-admins"]},
        "groups_claim": "groups",
        "provisioned_concurrency": 2,
        "path": "/imaging/",
        "tags": {"team": "imaging"},
        # The data store's own protection and log retention reach what it builds.
        "protect_data": True,
        "log_retention_days": 365,
    }
    assert isinstance(received["provisioned_concurrency"], int)
    function_arn = json.loads(run.one(INVOCATION).inputs["input"])["lambdaAuthorizerArn"]
    assert run.outputs["authorizer_function_arn"] == function_arn
    assert set(run.outputs["persona_role_arns"]) == {"reader", "admin"}


def test_allowing_replacement_replaces_the_invocation_on_a_change_and_still_retains() -> None:
    run = datastore(lossless_storage_format="JPEG_2000_LOSSLESS", allow_replacement=True)
    invocation = run.one(INVOCATION)
    assert invocation.replace_on_changes == ["input"]
    assert invocation.ignore_changes == []
    assert (invocation.protect, invocation.retain_on_delete) == (False, True)
    assert any("lossless storage format or authorizer creates a new, EMPTY data store" in w for w in run.warnings)


def test_a_changed_option_of_a_deployed_store_is_reported_not_applied() -> None:
    desired = {"datastoreName": "a", "losslessStorageFormat": "JPEG_2000_LOSSLESS"}
    [warning] = created_drift_warnings(desired, {"datastoreName": "a"})
    assert warning.startswith(
        "The deployed data store's lossless storage format ('HTJ2K') differs from the configuration "
        "('JPEG_2000_LOSSLESS')."
    )
    assert created_drift_warnings(desired, dict(desired)) == []
    assert (
        created_drift_warnings({"datastoreName": "a", "losslessStorageFormat": "HTJ2K"}, {"datastoreName": "a"}) == []
    )


def test_the_created_path_logs_no_warning_by_default(jpeg: ProgramRun) -> None:
    assert jpeg.warnings == []


def test_the_model_text_is_the_installed_botocores() -> None:
    raw = installed_model_path().read_bytes()
    model = json.load(io.BytesIO(gzip.decompress(raw) if installed_model_path().suffix == ".gz" else raw))
    members = model["shapes"]["CreateDatastoreRequest"]["members"]
    assert {"losslessStorageFormat", "lambdaAuthorizerArn"} <= set(members)


def test_every_action_of_the_creators_policy_exists_and_takes_its_resource() -> None:
    from policy_sentry.querying.actions import get_action_data

    document = creator_permission_policy(
        account_id=DEV_ACCOUNT,
        region=DEV_REGION,
        log_group_arn=f"arn:aws:logs:{DEV_REGION}:{DEV_ACCOUNT}:log-group:/aws/lambda/x",
        creator_key_arn=f"arn:aws:kms:{DEV_REGION}:{DEV_ACCOUNT}:key/1",
        datastore_key_arn=f"arn:aws:kms:{DEV_REGION}:{DEV_ACCOUNT}:key/2",
    )
    for statement in document["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        for action in actions:
            service, name = action.split(":")
            if name.endswith("*"):
                continue
            formats = [row["resource_arn_format"] for row in get_action_data(service, name).get(service, [])]
            assert formats, f"{action} is not an IAM action"
            if statement["Resource"] == "*":
                assert "*" in formats, f"{action} takes a resource type: scope it"
            else:
                assert any(f != "*" for f in formats), f"{action} takes no resource type"


def test_an_unprotected_created_data_store_warns_that_destroy_leaves_it() -> None:
    run = datastore(lossless_storage_format="JPEG_2000_LOSSLESS", protect_data=False)
    invocation = run.one(INVOCATION)
    assert (invocation.protect, invocation.retain_on_delete) == (False, False)
    assert any("but NOT the data store, which the data store creator function made" in w for w in run.warnings)


def test_a_deployed_invocation_with_other_options_warns_instead_of_replacing(monkeypatch: pytest.MonkeyPatch) -> None:
    from ahictl import mockrun

    answer = mockrun.PlanMocks.new_resource

    def deployed_with_htj2k(self: mockrun.PlanMocks, args: Any) -> Any:
        resource_id, state = answer(self, args)
        if args.typ == INVOCATION:  # the state as deployed before the format was changed in the configuration
            deployed = json.loads(state["input"])
            deployed.pop("losslessStorageFormat")
            state["input"] = json.dumps(deployed)
        return resource_id, state

    monkeypatch.setattr(mockrun.PlanMocks, "new_resource", deployed_with_htj2k)
    run = datastore(lossless_storage_format="JPEG_2000_LOSSLESS")
    assert run.one(INVOCATION).ignore_changes == ["input"]
    assert [w for w in run.warnings if w.startswith("The deployed data store's")] == [
        "The deployed data store's lossless storage format ('HTJ2K') differs from the configuration "
        "('JPEG_2000_LOSSLESS'). It was fixed when the data store was created and replacing a data store loses access "
        "to its image sets, so the change is ignored. Restore the setting, or see docs/security-and-data-safety.md, "
        "'Changing the data store', to move the images to a new data store deliberately."
    ]


def test_an_authorizer_without_provisioned_concurrency_warns_about_healthimagings_one_second() -> None:
    run = datastore(dicomweb_oidc={**OIDC, "provisioned_concurrency": 0})
    [warning] = [w for w in run.warnings if "no provisioned concurrency" in w]
    assert "dicomwebOidc.provisionedConcurrency = 0" in warning
    assert "HealthImaging waits one second for its answer" in warning
    assert not run.by_type("aws:lambda/provisionedConcurrencyConfig:ProvisionedConcurrencyConfig")
    # The data store is still given the alias, as with provisioned concurrency.
    arn = json.loads(run.one(INVOCATION).inputs["input"])["lambdaAuthorizerArn"]
    assert arn == f"arn:aws:lambda:{DEV_REGION}:{DEV_ACCOUNT}:function:ahi-test-dicomweb-authorizer:live"


@pytest.mark.parametrize(
    "oidc",
    [
        {**OIDC, "provisioned_concurrency": 10.0},
        {**OIDC, "jwks_uri": "https://login.example.org/keys?client_id=viewer", "groups_claim": "groups"},
        {**OIDC, "personas": {"reader": ["r"], "importer": ["i"], "admin": ["a"]}, "audiences": ["a", "b"]},
    ],
)
def test_options_the_data_store_accepts_build_the_authorizer_without_a_later_refusal(oidc: dict[str, Any]) -> None:
    run = datastore(dicomweb_oidc=oidc, permissions_boundary_arn=f"arn:aws:iam::{DEV_ACCOUNT}:policy/boundary")
    assert run.one("healthimaging:index:DicomwebAuthorizer").parent_name == "datastore"
    assert set(run.outputs["persona_role_arns"]) == set(oidc["personas"])
