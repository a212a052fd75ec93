"""The plan's output formats: stable JSON, the Mermaid diagram, the Terraform-shaped export, the policy
export, and the gates that judge the scanners' results."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from typing import Any

import pytest

from ahictl import cli, mermaid, policy_export, tfplan
from ahictl import plan as plan_module
from testkit.mock_runs import PROJECT_DIR

Plan = dict[str, Any]


@pytest.fixture(scope="module")
def dev_plan() -> Plan:
    return plan_module.plan_stack(PROJECT_DIR, "dev")


@pytest.fixture(scope="module")
def dev_tfplan(dev_plan: Plan) -> dict[str, Any]:
    return tfplan.build_tfplan(dev_plan)


def _resource(plan: Plan, type_: str, name: str) -> dict[str, Any]:
    found = [r for r in plan["resources"] if r["type"] == type_ and r["name"] == name]
    assert len(found) == 1, f"{type_} {name}: {len(found)} found"
    return found[0]


def _tf_resource(document: dict[str, Any], section: str, address: str) -> dict[str, Any]:
    resources = document[section]["root_module"]["resources"]
    found = [r for r in resources if r["address"] == address]
    assert len(found) == 1, f"{address}: {len(found)} found in {section}"
    return found[0]


# --- JSON plan ---------------------------------------------------------------------------------------


def _cli_json(stack: str) -> bytes:
    return subprocess.run(
        [sys.executable, "-m", "ahictl", "plan", "--stack", stack, "--format", "json"],
        cwd=PROJECT_DIR,
        check=True,
        capture_output=True,
    ).stdout


def test_json_plan_is_byte_identical_across_two_processes() -> None:
    first, second = _cli_json("dev"), _cli_json("dev")
    assert first == second
    assert len(first) > 10_000


def test_json_plan_is_sorted_and_has_every_part(dev_plan: Plan) -> None:
    text = plan_module.to_json(dev_plan)
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n"
    role = _resource(dev_plan, "aws:iam/role:Role", "import-job-role")
    for key in ("type", "name", "parent", "protect", "retainOnDelete", "ignoreChanges", "dependsOn", "provider"):
        assert key in role
    assert role["parent"] == "import-job-role"
    assert isinstance(role["inputs"]["assumeRolePolicy"], dict), "policies are parsed JSON, not strings"
    assert role["propertyDependencies"]["assumeRolePolicy"] == [
        _resource(dev_plan, "aws-native:healthimaging:Datastore", "datastore")["urn"]
    ]
    assert dev_plan["outputs"]["importRoleArn"].endswith(":role/ahi-dev-ImportJobDataAccessRole")


def test_json_plan_shows_a_policy_change_as_a_small_diff(dev_plan: Plan) -> None:
    changed = copy.deepcopy(dev_plan)
    role = _resource(changed, "aws:iam/role:Role", "import-job-role")
    role["inputs"]["assumeRolePolicy"]["Statement"][0]["Condition"]["StringEquals"]["aws:SourceAccount"] = "0"
    before = plan_module.to_json(dev_plan).splitlines()
    after = plan_module.to_json(changed).splitlines()
    differing = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    assert len(differing) == 1
    assert '"aws:SourceAccount": "0"' in differing[0][1]


# --- Terraform-plan-shaped export ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        ("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "aws_s3_bucket_public_access_block"),
        ("aws:s3/bucket:Bucket", "aws_s3_bucket"),
        ("aws:s3/bucketV2:BucketV2", "aws_s3_bucket"),
        (
            "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
            "aws_s3_bucket_server_side_encryption_configuration",
        ),
        ("aws:kms/key:Key", "aws_kms_key"),
        ("aws:iam/rolePolicy:RolePolicy", "aws_iam_role_policy"),
        ("aws:iam/groupPolicyAttachment:GroupPolicyAttachment", "aws_iam_group_policy_attachment"),
        ("aws:ssoadmin/permissionSet:PermissionSet", "aws_ssoadmin_permission_set"),
        (
            "aws:ssoadmin/permissionSetInlinePolicy:PermissionSetInlinePolicy",
            "aws_ssoadmin_permission_set_inline_policy",
        ),
        ("aws:ec2/vpc:Vpc", "aws_vpc"),
        ("aws-native:healthimaging:Datastore", None),
        ("healthimaging:index:SecureBucket", None),
        ("pulumi:providers:aws", None),
    ],
)
def test_terraform_type(token: str, expected: str | None) -> None:
    assert tfplan.terraform_type(token) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("blockPublicAcls", "block_public_acls"),
        ("kmsMasterKeyId", "kms_master_key_id"),
        ("applyServerSideEncryptionByDefault", "apply_server_side_encryption_by_default"),
        ("bucket", "bucket"),
        ("assumeRolePolicy", "assume_role_policy"),
    ],
)
def test_snake_case(name: str, expected: str) -> None:
    assert tfplan.snake_case(name) == expected


def test_repeated_blocks_are_unpluralized_and_single_blocks_become_lists() -> None:
    values = tfplan.terraform_values(
        {
            "rules": [{"id": "a", "noncurrentVersionExpiration": {"noncurrentDays": 90}}],
            "blockedEncryptionTypes": ["SSE-C"],
            "policies": [{"name": "x"}],
            "tags": {"dataClassification": "phi"},
        }
    )
    assert values == {
        "rule": [{"id": "a", "noncurrent_version_expiration": [{"noncurrent_days": 90}]}],
        "blocked_encryption_types": ["SSE-C"],
        "policy": [{"name": "x"}],
        "tags": {"dataClassification": "phi"},
    }


def test_tfplan_has_the_shape_checkov_reads(dev_tfplan: dict[str, Any]) -> None:
    assert dev_tfplan["format_version"]
    assert dev_tfplan["terraform_version"]
    planned = dev_tfplan["planned_values"]["root_module"]["resources"]
    configured = dev_tfplan["configuration"]["root_module"]["resources"]
    addresses = [r["address"] for r in planned]
    assert len(addresses) == len(set(addresses))
    assert addresses == [r["address"] for r in configured] == [r["address"] for r in dev_tfplan["resource_changes"]]
    assert all(r["mode"] == "managed" and r["address"] == f"{r['type']}.{r['name']}" for r in planned)
    assert dev_tfplan["configuration"]["provider_config"]["aws"]["expressions"]["region"] == {
        "constant_value": "us-east-1"
    }


def test_tfplan_values_are_terraform_attributes(dev_tfplan: dict[str, Any]) -> None:
    encryption = _tf_resource(
        dev_tfplan,
        "planned_values",
        "aws_s3_bucket_server_side_encryption_configuration.import-buckets-input-encryption",
    )["values"]
    assert "rules" not in encryption
    default = encryption["rule"][0]["apply_server_side_encryption_by_default"][0]
    assert default["sse_algorithm"] == "aws:kms"
    assert default["kms_master_key_id"].startswith("arn:aws:kms:us-east-1:111122223333:key/")
    lifecycle = _tf_resource(
        dev_tfplan, "planned_values", "aws_s3_bucket_lifecycle_configuration.import-buckets-input-lifecycle"
    )["values"]
    assert [rule["id"] for rule in lifecycle["rule"]] == [
        "abort-incomplete-multipart-uploads",
        "expire-noncurrent-versions",
    ]
    role = _tf_resource(dev_tfplan, "planned_values", "aws_iam_role.import-job-role")["values"]
    assert isinstance(role["assume_role_policy"], str), "Terraform holds policies as JSON strings"
    assert json.loads(role["assume_role_policy"])["Statement"][0]["Principal"] == {
        "Service": "medical-imaging.amazonaws.com"
    }


@pytest.mark.parametrize(
    "sub_resource",
    [
        "aws_s3_bucket_public_access_block.import-buckets-input-public-access-block",
        "aws_s3_bucket_ownership_controls.import-buckets-input-ownership-controls",
        "aws_s3_bucket_server_side_encryption_configuration.import-buckets-input-encryption",
        "aws_s3_bucket_versioning.import-buckets-input-versioning",
        "aws_s3_bucket_lifecycle_configuration.import-buckets-input-lifecycle",
        "aws_s3_bucket_policy.import-buckets-input-policy",
        "aws_s3_bucket_logging.import-buckets-input-access-logging",
    ],
)
def test_bucket_sub_resources_reference_their_bucket(dev_tfplan: dict[str, Any], sub_resource: str) -> None:
    expressions = _tf_resource(dev_tfplan, "configuration", sub_resource)["expressions"]
    assert expressions["bucket"]["references"] == [
        "aws_s3_bucket.import-buckets-input.id",
        "aws_s3_bucket.import-buckets-input",
    ]


def test_other_references_are_present(dev_tfplan: dict[str, Any]) -> None:
    encryption = _tf_resource(
        dev_tfplan,
        "configuration",
        "aws_s3_bucket_server_side_encryption_configuration.import-buckets-input-encryption",
    )["expressions"]
    assert "aws_kms_key.import-buckets-key" in encryption["rule"]["references"]
    logging = _tf_resource(dev_tfplan, "configuration", "aws_s3_bucket_logging.import-buckets-input-access-logging")
    assert "aws_s3_bucket.import-buckets-logs" in logging["expressions"]["target_bucket"]["references"]
    alias = _tf_resource(dev_tfplan, "configuration", "aws_kms_alias.datastore-key-alias")["expressions"]
    assert alias["target_key_id"]["references"] == ["aws_kms_key.datastore-key.key_id", "aws_kms_key.datastore-key"]


def test_skipped_resources_are_listed_with_a_reason(dev_tfplan: dict[str, Any]) -> None:
    skipped = {s["type"]: s["reason"] for s in dev_tfplan["pulumi_skipped_resources"]}
    assert "no scanner checks it" in skipped["aws-native:healthimaging:Datastore"]
    assert "component" in skipped["healthimaging:index:SecureBucket"]
    types = {r["type"] for r in dev_tfplan["planned_values"]["root_module"]["resources"]}
    assert not any(t.startswith(("aws_native", "healthimaging", "pulumi")) for t in types)


def test_two_resources_with_one_terraform_address_are_refused(dev_plan: Plan) -> None:
    doubled = copy.deepcopy(dev_plan)
    duplicate = copy.deepcopy(_resource(doubled, "aws:s3/bucket:Bucket", "import-buckets-input"))
    duplicate["urn"] += "-again"
    doubled["resources"].append(duplicate)
    with pytest.raises(ValueError, match=r"aws_s3_bucket\.import-buckets-input"):
        tfplan.build_tfplan(doubled)


# --- Mermaid -------------------------------------------------------------------------------------------


def test_mermaid_shows_components_and_references(dev_plan: Plan) -> None:
    text = mermaid.render_mermaid(dev_plan)
    lines = text.splitlines()
    assert lines[0] == "flowchart LR"
    assert sum(line.strip().startswith("subgraph ") for line in lines) == sum(line.strip() == "end" for line in lines)
    role = mermaid.node_id(_resource(dev_plan, "aws:iam/role:Role", "import-job-role"))
    datastore = mermaid.node_id(_resource(dev_plan, "aws-native:healthimaging:Datastore", "datastore"))
    policy = mermaid.node_id(_resource(dev_plan, "aws:s3/bucketPolicy:BucketPolicy", "import-buckets-input-policy"))
    bucket = mermaid.node_id(_resource(dev_plan, "aws:s3/bucket:Bucket", "import-buckets-input"))
    encryption = mermaid.node_id(
        _resource(
            dev_plan,
            "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
            "import-buckets-input-encryption",
        )
    )
    key = mermaid.node_id(_resource(dev_plan, "aws:kms/key:Key", "import-buckets-key"))
    assert f"  {role} -->|assumeRolePolicy| {datastore}" in lines
    assert f"  {policy} -->|bucket, policy| {bucket}" in lines
    assert f"  {encryption} -->|rules| {key}" in lines
    assert any(line.strip().startswith('subgraph c_index_ImagingBucketPair__import_buckets["') for line in lines)
    protected_line = next(line for line in lines if line.strip().startswith("class "))
    assert datastore in protected_line
    assert bucket in protected_line
    assert "providers" not in text


def test_mermaid_node_ids_are_unique_and_safe(dev_plan: Plan) -> None:
    ids = [mermaid.node_id(r) for r in dev_plan["resources"]]
    assert len(ids) == len(set(ids))
    assert all(i.replace("_", "").isalnum() for i in ids)


# --- policy export -------------------------------------------------------------------------------------


def test_policy_export_adds_the_role_as_resource_of_trust_policies(dev_plan: Plan) -> None:
    policies = policy_export.collect_policies(dev_plan)
    trust = next(p for p in policies if p["kind"] == "trust" and p["resource"] == "import-job-role")
    assert "Resource" not in trust["document"]["Statement"][0]
    assert trust["lint_document"]["Statement"][0]["Resource"] == (
        "arn:aws:iam::111122223333:role/ahi-dev-ImportJobDataAccessRole"
    )
    kinds = {(p["resource"], p["kind"]) for p in policies}
    assert ("import-buckets-input-policy", "resource") in kinds
    assert ("datastore-key", "resource") in kinds
    assert ("import-job-role-permissions", "identity") in kinds


def test_every_format_renders(dev_plan: Plan) -> None:
    for fmt in cli.FORMATS:
        assert cli.render(dev_plan, fmt).endswith("\n")
    with pytest.raises(ValueError, match="unknown format"):
        cli.render(dev_plan, "yaml")
