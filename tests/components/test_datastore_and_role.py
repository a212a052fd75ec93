"""ImagingDatastore and ImportJobRole on their own, under mocks."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pytest

from ahictl import mockrun
from ahictl.mockrun import ProgramRun
from components import ImagingDatastore, ImagingDatastoreArgs, ImportJobRole, InvalidInputError, policies
from components.datastore import drift_warnings, key_alias_for
from testkit.mock_runs import (
    DEV_ACCOUNT,
    DEV_REGION,
    PROJECT,
    PROJECT_DIR,
    dev_config,
    documentation,
    policy_of,
    run_component,
    run_program,
)

DATASTORE = "aws-native:healthimaging:Datastore"
KEY = "aws:kms/key:Key"
KEY_POLICY = "aws:kms/keyPolicy:KeyPolicy"
KEY_ARN = f"arn:aws:kms:{DEV_REGION}:{DEV_ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def datastore(**overrides: Any) -> ProgramRun:
    args: ImagingDatastoreArgs = {
        "account_id": DEV_ACCOUNT,
        "region": DEV_REGION,
        "datastore_name": "ahi-test-datastore",
    }
    args.update(overrides)  # type: ignore[typeddict-item]
    return run_component(lambda: ImagingDatastore("datastore", args) and None)


@pytest.fixture(scope="module")
def default_datastore() -> ProgramRun:
    return datastore(tags={"team": "imaging"})


def test_datastore_is_protected_retained_and_ignores_create_only_changes(default_datastore: ProgramRun) -> None:
    store = default_datastore.one(DATASTORE)
    assert (store.protect, store.retain_on_delete) == (True, True)
    assert sorted(store.ignore_changes) == ["datastoreName", "kmsKeyArn", "tags"]
    assert store.inputs["datastoreName"] == "ahi-test-datastore"
    assert store.inputs["tags"] == {"team": "imaging"}


def test_datastore_is_encrypted_with_a_created_customer_managed_key(default_datastore: ProgramRun) -> None:
    key = default_datastore.one("aws:kms/key:Key")
    assert default_datastore.one(DATASTORE).inputs["kmsKeyArn"] == key.outputs["arn"]
    assert key.inputs["enableKeyRotation"] is True
    assert key.inputs["deletionWindowInDays"] == 30
    assert (key.protect, key.retain_on_delete) == (True, True)
    assert key.inputs["bypassPolicyLockoutSafetyCheck"] is False
    # run_component runs project "healthimaging-setup", stack "test"; the component is named "datastore".
    assert default_datastore.one("aws:kms/alias:Alias").inputs["name"] == "alias/healthimaging-setup-test-datastore-key"


def test_the_key_is_created_with_the_account_statement_only(default_datastore: ProgramRun) -> None:
    """The data store's ID does not exist yet: HealthImaging's statement comes with the KeyPolicy."""
    key = default_datastore.one(KEY)
    assert policy_of(key) == policies.datastore_key_initial_policy(DEV_ACCOUNT)
    assert policy_of(key)["Statement"] == [policies.account_administration_statement(DEV_ACCOUNT)]


def test_the_key_policy_is_set_after_the_data_store_with_the_documented_service_statement(
    default_datastore: ProgramRun,
) -> None:
    key, store = default_datastore.one(KEY), default_datastore.one(DATASTORE)
    key_policy = default_datastore.one(KEY_POLICY)
    key_arn, datastore_id = key.outputs["arn"], store.outputs["datastoreId"]
    assert key_policy.inputs["keyId"] == key.outputs["keyId"]
    assert policy_of(key_policy) == policies.datastore_key_policy(DEV_ACCOUNT, key_arn, datastore_id)
    service = policy_of(key_policy)["Statement"][1]
    assert service["Principal"] == {"Service": "medical-imaging.amazonaws.com"}
    assert service["Action"] == ["kms:Decrypt", "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext"]
    assert service["Condition"] == {
        "StringEquals": {
            "kms:EncryptionContext:kms-arn": key_arn,
            "kms:EncryptionContext:aws:medical-imaging:datastoreId": datastore_id,
        }
    }
    # Key -> data store -> key policy: the policy waits for the data store, which waits for the key only.
    assert store.urn in key_policy.property_dependencies["policy"]
    assert key.urn in key_policy.property_dependencies["keyId"]
    assert key_policy.urn not in store.property_dependencies.get("kmsKeyArn", [])
    assert key_policy.inputs["bypassPolicyLockoutSafetyCheck"] is False


def test_the_key_policy_owns_the_policy_after_creation_and_is_protected_like_the_key(
    default_datastore: ProgramRun,
) -> None:
    key, key_policy = default_datastore.one(KEY), default_datastore.one(KEY_POLICY)
    assert key.ignore_changes == ["policy"]
    assert (key_policy.protect, key_policy.retain_on_delete) == (True, True)
    assert key_policy.parent_urn == key.parent_urn


def test_datastore_logs_no_warning_by_default(default_datastore: ProgramRun) -> None:
    assert default_datastore.warnings == []


def test_supplied_key_is_used_as_is() -> None:
    run = datastore(kms_key_arn=KEY_ARN)
    assert run.by_type("aws:kms/key:Key") == []
    assert run.by_type(KEY_POLICY) == []  # a key the component does not own keeps its owner's policy
    assert run.one(DATASTORE).inputs["kmsKeyArn"] == KEY_ARN


def test_aws_owned_key_creates_no_key_and_warns() -> None:
    run = datastore(encryption="aws-owned-key")
    assert run.by_type("aws:kms/key:Key") == []
    assert run.by_type(KEY_POLICY) == []
    assert "kmsKeyArn" not in run.one(DATASTORE).inputs
    assert any("AWS owned key" in w for w in run.warnings)


def test_allowing_replacement_removes_ignore_changes_and_warns() -> None:
    run = datastore(allow_replacement=True)
    assert run.one(DATASTORE).ignore_changes == []
    assert any("replacement is ALLOWED" in w for w in run.warnings)


def test_unprotected_datastore_and_key_warn() -> None:
    run = datastore(protect_data=False)
    for resource in (run.one(DATASTORE), run.one("aws:kms/key:Key"), run.one(KEY_POLICY)):
        assert (resource.protect, resource.retain_on_delete) == (False, False)
    assert any("Data protection is OFF for the data store" in w for w in run.warnings)


def test_datastore_uses_the_aws_native_provider_it_is_given() -> None:
    def build() -> None:
        import pulumi_aws as aws
        import pulumi_aws_native as aws_native

        providers = [aws.Provider("aws", region=DEV_REGION), aws_native.Provider("native", region=DEV_REGION)]
        ImagingDatastore(
            "datastore",
            {"account_id": DEV_ACCOUNT, "region": DEV_REGION, "datastore_name": "ds"},
            pulumi.ResourceOptions(providers=providers),
        )

    run = run_component(build)
    assert run.one(DATASTORE).provider_name == "native"
    assert run.one("aws:kms/key:Key").provider_name == "aws"


def test_a_create_only_change_after_creation_is_reported() -> None:
    class DeployedElsewhere(mockrun.PlanMocks):
        """Answers as AWS would for a data store created earlier with another name and tags."""

        def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
            rid, state = super().new_resource(args)
            if args.typ == DATASTORE:
                state.update(datastoreName="old-name", tags={"team": "radiology"})
            return rid, state

    original = mockrun.PlanMocks
    mockrun.PlanMocks = DeployedElsewhere  # type: ignore[misc]
    try:
        run = datastore(datastore_name="new-name", tags={"team": "imaging"})
    finally:
        mockrun.PlanMocks = original  # type: ignore[misc]
    assert any(
        "The deployed data store's name ('old-name') differs from the configuration ('new-name')" in w
        for w in run.warnings
    )
    assert any("The deployed data store's tags ({'team': 'radiology'}) differs" in w for w in run.warnings)


def test_drift_warnings_is_a_pure_function() -> None:
    assert drift_warnings({"datastoreName": "a", "tags": None}, {"datastoreName": "a", "tags": {}}) == []
    (warning,) = drift_warnings({"kmsKeyArn": "k2"}, {"kmsKeyArn": "k1"})
    assert warning.startswith("The deployed data store's KMS key ('k1') differs from the configuration ('k2')")


def test_key_alias_keeps_only_characters_kms_accepts() -> None:
    assert key_alias_for("Hospital A/ct#1") == "Hospital-A/ct-1-key"
    assert key_alias_for("médecin_1") == "m-decin_1-key"  # ASCII only: KMS refuses other letters


ALIAS = "aws:kms/alias:Alias"


def test_the_components_key_alias_and_description_do_not_follow_the_data_store_name() -> None:
    """A renamed data store keeps its old name in AWS (create-only): the key's names must not move with it."""
    first, renamed = datastore(datastore_name="ct-archive"), datastore(datastore_name="ct-archive-renamed")
    assert first.one(ALIAS).inputs["name"] == renamed.one(ALIAS).inputs["name"]
    assert first.one(KEY).inputs["description"] == renamed.one(KEY).inputs["description"]
    assert "ct-archive" not in first.one(KEY).inputs["description"]


def test_a_key_alias_passed_in_is_used() -> None:
    assert datastore(key_alias="team-a-imaging-key").one(ALIAS).inputs["name"] == "alias/team-a-imaging-key"


def test_the_programs_key_alias_follows_the_name_prefix_not_the_data_store_name() -> None:
    dev = run_program().one(ALIAS, "datastore-key-alias").inputs["name"]
    renamed = run_program(datastoreName="renamed-datastore").one(ALIAS, "datastore-key-alias").inputs["name"]
    assert dev == renamed == "alias/ahi-dev-datastore-key"


def test_two_stacks_with_the_same_data_store_name_get_different_key_aliases() -> None:
    """Data store names need not be unique; the name prefix tells the stacks of an account apart."""
    aliases = {
        run_program(namePrefix=prefix, datastoreName="imaging").one(ALIAS, "datastore-key-alias").inputs["name"]
        for prefix in ("ahi-team-a", "ahi-team-b")
    }
    assert aliases == {"alias/ahi-team-a-datastore-key", "alias/ahi-team-b-datastore-key"}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"datastore_name": "bad name"},
            "datastore_name = 'bad name' contains characters HealthImaging does not accept",
        ),
        ({"encryption": "none"}, "encryption = 'none' is not one of"),
        (
            {"encryption": "aws-owned-key", "kms_key_arn": KEY_ARN},
            "kms_key_arn is set but encryption is 'aws-owned-key'",
        ),
        ({"kms_key_arn": f"arn:aws:kms:{DEV_REGION}:{DEV_ACCOUNT}:alias/x"}, "is a KMS alias"),
        ({"tags": {"aws:x": "y"}}, "reserved for AWS"),
        ({"tags": {"cost center": "y"}}, "tags key 'cost center': HealthImaging refuses it as a data store tag key"),
        ({"account_id": "12345"}, "account_id = '12345' has 5 digits"),
    ],
)
def test_invalid_datastore_arguments_raise_before_anything_is_registered(
    overrides: dict[str, Any], message: str
) -> None:
    recorded: list[mockrun.PlannedResource] = []
    args: dict[str, Any] = {"account_id": DEV_ACCOUNT, "region": DEV_REGION, "datastore_name": "ds", **overrides}
    with pytest.raises(InvalidInputError, match="ImagingDatastore 'datastore'") as raised:
        mockrun.run(lambda: ImagingDatastore("datastore", args) and None, recorded=recorded)  # type: ignore[arg-type]
    assert message in str(raised.value)
    assert recorded == []


# --- ImportJobRole ---------------------------------------------------------------------------------

DATASTORE_ARN = f"arn:aws:medical-imaging:{DEV_REGION}:{DEV_ACCOUNT}:datastore/0123456789abcdef0123456789abcdef"
INPUT = "arn:aws:s3:::ahi-input"
OUTPUT = "arn:aws:s3:::ahi-output"


def role(**overrides: Any) -> ProgramRun:
    args: dict[str, Any] = {
        "account_id": DEV_ACCOUNT,
        "region": DEV_REGION,
        "datastore_arn": pulumi.Output.from_input(DATASTORE_ARN),
        "input_bucket_arn": INPUT,
        "output_bucket_arn": OUTPUT,
        "role_name": "ahi-test-ImportJobDataAccessRole",
        **overrides,
    }
    return run_component(lambda: ImportJobRole("import-role", args) and None)  # type: ignore[arg-type]


def test_role_trusts_only_healthimaging_for_the_one_data_store() -> None:
    run = role()
    trust = policy_of(run.one("aws:iam/role:Role"), "assumeRolePolicy")
    assert trust["Statement"] == [
        {
            "Sid": "AllowHealthImagingImportJobsForThisDatastore",
            "Effect": "Allow",
            "Principal": {"Service": "medical-imaging.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": DEV_ACCOUNT},
                "ArnEquals": {"aws:SourceArn": DATASTORE_ARN},
            },
        }
    ]


def test_role_permissions_without_keys_are_exactly_the_three_s3_statements() -> None:
    run = role()
    policy = run.one("aws:iam/rolePolicy:RolePolicy")
    assert policy.inputs["name"] == "ImportJobDataAccess"
    statements = policy_of(policy)["Statement"]
    assert [(s["Action"], s["Resource"]) for s in statements] == [
        ("s3:ListBucket", [INPUT, OUTPUT]),
        ("s3:GetObject", f"{INPUT}/*"),
        ("s3:PutObject", f"{OUTPUT}/*"),
    ]


def test_role_permissions_with_keys_add_scoped_kms_statements() -> None:
    run = role(input_kms_key_arn=KEY_ARN, output_kms_key_arn=pulumi.Output.from_input(KEY_ARN))
    statements = policy_of(run.one("aws:iam/rolePolicy:RolePolicy"))["Statement"]
    assert [(s["Action"], s["Resource"]) for s in statements[3:]] == [
        ("kms:Decrypt", KEY_ARN),
        (["kms:Decrypt", "kms:GenerateDataKey"], KEY_ARN),
    ]


def test_role_with_a_key_output_that_resolves_to_none_gets_no_kms_statement() -> None:
    run = role(input_kms_key_arn=pulumi.Output.from_input(None), output_kms_key_arn=pulumi.Output.from_input(None))
    assert len(policy_of(run.one("aws:iam/rolePolicy:RolePolicy"))["Statement"]) == 3


def test_role_name_path_and_boundary() -> None:
    boundary = f"arn:aws:iam::{DEV_ACCOUNT}:policy/Boundary"
    run = role(path="/healthimaging/", permissions_boundary_arn=boundary)
    inputs = run.one("aws:iam/role:Role").inputs
    assert inputs["name"] == "ahi-test-ImportJobDataAccessRole"
    assert inputs["path"] == "/healthimaging/"
    assert inputs["permissionsBoundary"] == boundary


def test_invalid_role_arguments_raise() -> None:
    with pytest.raises(InvalidInputError) as raised:
        role(role_name="r" * 65, path="nope")
    assert "role_name = " in str(raised.value)
    assert "path = 'nope' is not an IAM path" in str(raised.value)


def test_a_stack_whose_tags_healthimaging_refuses_stops_before_any_resource() -> None:
    """The stack's tags reach the data store at creation: keys HealthImaging refuses are reported, all at once."""
    recorded: list[mockrun.PlannedResource] = []
    config = dev_config(tags={"cost center": "radiology", "équipe": "imagerie", "owner@team": "ct", "team": "ok"})
    with pytest.raises(InvalidInputError) as raised:
        mockrun.run(PROJECT_DIR / "__main__.py", config=config, project=PROJECT, stack="dev", recorded=recorded)
    message = str(raised.value)
    for key in ("cost center", "équipe", "owner@team"):
        assert f"tags key {key!r}: HealthImaging refuses it as a data store tag key" in message
    assert "'team'" not in message
    assert recorded == []


MRK_ARN = f"arn:aws:kms:{DEV_REGION}:{DEV_ACCOUNT}:key/mrk-{'0123456789abcdef' * 2}"


def test_healthimagings_api_model_takes_a_single_region_key_but_not_a_multi_region_one() -> None:
    """What the data store's check follows: botocore's copy of HealthImaging's KmsKeyArn pattern."""
    import re

    import botocore.loaders

    pattern = botocore.loaders.Loader().load_service_model("medical-imaging", "service-2")["shapes"]["KmsKeyArn"]
    assert re.fullmatch(pattern["pattern"], KEY_ARN)
    assert not re.fullmatch(pattern["pattern"], MRK_ARN)


def test_a_multi_region_key_is_refused_for_the_data_store_with_the_reason() -> None:
    from components.datastore import validate_datastore_args

    args = {"account_id": DEV_ACCOUNT, "region": DEV_REGION, "datastore_name": "ds", "kms_key_arn": MRK_ARN}
    (problem,) = validate_datastore_args(args)
    assert problem.startswith(f"kms_key_arn = {MRK_ARN!r} is a multi-Region key (key ID mrk-...)")
    assert "HealthImaging accepts only a single-Region key (key/<uuid>)" in problem
    assert validate_datastore_args({**args, "kms_key_arn": KEY_ARN}) == []


def test_a_stack_refuses_a_multi_region_data_store_key_but_keeps_it_for_the_buckets() -> None:
    with pytest.raises(InvalidInputError) as raised:
        run_program(datastoreKmsKeyArn=MRK_ARN)
    assert f"datastoreKmsKeyArn = {MRK_ARN!r} is a multi-Region key" in str(raised.value)
    run = run_program(bucketKmsKeyArn=MRK_ARN)  # S3 takes a multi-Region key: the buckets keep it
    encryption = run.by_type("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
    assert MRK_ARN in json.dumps([r.inputs for r in encryption])


# --- replacement: the retained data store keeps the key's documented statement ------------------------

RETAINED_ID = "0123456789abcdef0123456789abcdef"


def test_retained_data_store_ids_stay_in_the_key_policys_datastore_id_condition() -> None:
    run = datastore(allow_replacement=True, retained_datastore_ids=[RETAINED_ID])
    key, store = run.one(KEY), run.one(DATASTORE)
    key_arn, datastore_id = key.outputs["arn"], store.outputs["datastoreId"]
    service = policy_of(run.one(KEY_POLICY))["Statement"][1]
    assert service["Condition"] == {
        "StringEquals": {
            "kms:EncryptionContext:kms-arn": key_arn,
            "kms:EncryptionContext:aws:medical-imaging:datastoreId": [datastore_id, RETAINED_ID],
        }
    }
    assert policy_of(run.one(KEY_POLICY)) == policies.datastore_key_policy(
        DEV_ACCOUNT, key_arn, datastore_id, [RETAINED_ID]
    )


def test_without_retained_ids_the_condition_is_the_documented_single_value(default_datastore: ProgramRun) -> None:
    service = policy_of(default_datastore.one(KEY_POLICY))["Statement"][1]
    assert (
        service["Condition"]["StringEquals"]["kms:EncryptionContext:aws:medical-imaging:datastoreId"]
        == (default_datastore.one(DATASTORE).outputs["datastoreId"])
    )


def test_the_current_id_listed_as_retained_is_named_once() -> None:
    statement = policies.datastore_key_service_statement("arn:k", RETAINED_ID, [RETAINED_ID])
    assert statement["Condition"]["StringEquals"][policies.DATASTORE_ID_CONTEXT_KEY] == RETAINED_ID


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"retained_datastore_ids": ["0123456789ABCDEF0123456789ABCDEF"]},
            "retained_datastore_ids[0] = '0123456789ABCDEF0123456789ABCDEF' is not a data store ID: 32 lowercase",
        ),
        ({"retained_datastore_ids": [RETAINED_ID + "\n"]}, "retained_datastore_ids[0] = "),
        ({"retained_datastore_ids": RETAINED_ID}, "expected a list of data store IDs"),
        (
            {"retained_datastore_ids": [RETAINED_ID], "encryption": "aws-owned-key"},
            "retained_datastore_ids is set but encryption is 'aws-owned-key'",
        ),
        (
            {"retained_datastore_ids": [RETAINED_ID], "kms_key_arn": KEY_ARN},
            "retained_datastore_ids is set but kms_key_arn supplies the key, whose policy this component does not edit",
        ),
    ],
)
def test_retained_data_store_ids_are_checked(overrides: dict[str, Any], message: str) -> None:
    from components.datastore import validate_datastore_args

    args = {"account_id": DEV_ACCOUNT, "region": DEV_REGION, "datastore_name": "ds", **overrides}
    (problem,) = validate_datastore_args(args)
    assert message in problem


def test_the_replacement_warning_asks_for_the_retained_id_and_rules_out_a_key_change() -> None:
    run = datastore(allow_replacement=True)
    (warning,) = run.warnings
    assert "add the current data store's ID (datastore_id; the stack output datastoreId) to retained_datastore_ids" in (
        warning
    )
    assert "A KEY change is not covered" in warning
    assert "removes that key and its key policy, which are protected, so `pulumi up` fails on them" in warning
    # Both are protected: that is why a key change cannot go through a replacement.
    assert run.one(KEY).protect
    assert run.one(KEY_POLICY).protect


def test_the_stacks_retained_ids_reach_the_key_policy_and_the_settings_say_why() -> None:
    from program.settings_spec import SPEC_BY_KEY

    run = run_program(allowDatastoreReplacement=True, retainedDatastoreIds=[RETAINED_ID])
    service = policy_of(run.one(KEY_POLICY))["Statement"][1]
    assert service["Condition"]["StringEquals"]["kms:EncryptionContext:aws:medical-imaging:datastoreId"] == [
        run.one(DATASTORE).outputs["datastoreId"],
        RETAINED_ID,
    ]
    assert "add the current datastoreId to retainedDatastoreIds first" in (
        SPEC_BY_KEY["allowDatastoreReplacement"].description
    )
    assert "Not for a key change" in SPEC_BY_KEY["allowDatastoreReplacement"].description
    with pytest.raises(InvalidInputError, match=r"retainedDatastoreIds\[0\] = 'nope' is not a data store ID"):
        run_program(retainedDatastoreIds=["nope"])


def test_the_name_prefix_is_documented_as_unique_per_account_and_region() -> None:
    """Two stacks with one prefix in one account collide on IAM names (account-wide) and key aliases (per region)."""
    import yaml

    from program.settings_spec import SPEC_BY_KEY

    description = SPEC_BY_KEY["namePrefix"].description
    assert "Must be unique per account, whatever the region: IAM names are account-wide" in description
    assert "KMS aliases per region" in description
    declared = yaml.safe_load((PROJECT_DIR / "Pulumi.yaml").read_text())["config"]["namePrefix"]["description"]
    assert declared == description
    readme = " ".join(documentation().split())
    assert "**`namePrefix` must be unique per account and region, and in practice per account**" in readme
    assert "**Unique per account**, in every region" in readme
