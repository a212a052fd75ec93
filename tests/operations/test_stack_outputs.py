"""Reading the stack outputs: every value's shape checked, every problem named by file (or stack) and key."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import botocore.exceptions
import pytest

from ahiops import session as session_module
from ahiops.errors import AwsAccessError, OpsError, ServiceError, StackOutputsError, UsageError
from ahiops.stack_outputs import StackOutputs, load_outputs_file, load_stack_outputs, outputs_from_mapping

ACCOUNT = "123456789012"
DATASTORE_ID = "0123456789abcdef0123456789abcdef"


def valid_outputs() -> dict[str, Any]:
    """What `pulumi stack output --json` prints for a deployed stack (the keys __main__.py exports)."""
    return {
        "accountId": ACCOUNT,
        "region": "us-east-1",
        "inputBucketName": "hi-input-123456789012-us-east-1-an",
        "inputBucketArn": "arn:aws:s3:::hi-input-123456789012-us-east-1-an",
        "outputBucketName": "hi-output-123456789012-us-east-1-an",
        "outputBucketArn": "arn:aws:s3:::hi-output-123456789012-us-east-1-an",
        "logBucketName": "hi-logs-123456789012-us-east-1-an",
        "bucketKmsKeyArn": f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "datastoreId": DATASTORE_ID,
        "datastoreArn": f"arn:aws:medical-imaging:us-east-1:{ACCOUNT}:datastore/{DATASTORE_ID}",
        "datastoreKmsKeyArn": f"arn:aws:kms:us-east-1:{ACCOUNT}:key/abcd1234-12ab-34cd-56ef-1234567890ab",
        "importRoleArn": f"arn:aws:iam::{ACCOUNT}:role/healthimaging/hi-import-job-role",
        "accessPolicyArns": {},
        "startImportJobCommand": "aws medical-imaging start-dicom-import-job ...",
    }


def write(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(data))
    return path


def test_reads_every_value(tmp_path: Path) -> None:
    path = write(tmp_path, valid_outputs())
    outputs = load_outputs_file(path)
    assert outputs == StackOutputs(
        account_id=ACCOUNT,
        region="us-east-1",
        input_bucket_name="hi-input-123456789012-us-east-1-an",
        output_bucket_name="hi-output-123456789012-us-east-1-an",
        log_bucket_name="hi-logs-123456789012-us-east-1-an",
        bucket_kms_key_arn=valid_outputs()["bucketKmsKeyArn"],
        datastore_id=DATASTORE_ID,
        datastore_arn=valid_outputs()["datastoreArn"],
        datastore_kms_key_arn=valid_outputs()["datastoreKmsKeyArn"],
        import_role_arn=valid_outputs()["importRoleArn"],
        source=f"outputs file '{path}'",
    )


@pytest.mark.parametrize("key", ["logBucketName", "bucketKmsKeyArn", "datastoreKmsKeyArn"])
@pytest.mark.parametrize("absent", ["null", "missing", "empty"])
def test_optional_values_may_be_null_or_absent(key: str, absent: str) -> None:
    data = valid_outputs()
    if absent == "missing":
        del data[key]
    else:
        data[key] = None if absent == "null" else ""
    outputs = outputs_from_mapping(data, "outputs file 'o.json'")
    attribute = {
        "logBucketName": "log_bucket_name",
        "bucketKmsKeyArn": "bucket_kms_key_arn",
        "datastoreKmsKeyArn": "datastore_kms_key_arn",
    }[key]
    assert getattr(outputs, attribute) is None
    assert outputs.input_bucket_name == data["inputBucketName"]


def test_missing_file_names_the_file_and_how_to_write_it(tmp_path: Path) -> None:
    path = tmp_path / "nope.json"
    with pytest.raises(StackOutputsError) as caught:
        load_outputs_file(path)
    message = str(caught.value)
    assert str(path) in message
    assert "does not exist" in message
    assert "pulumi stack output --json" in message
    assert caught.value.exit_code == 2


def test_directory_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(StackOutputsError, match="is a directory"):
        load_outputs_file(tmp_path)


def test_bad_json_names_the_file_and_position(tmp_path: Path) -> None:
    path = tmp_path / "outputs.json"
    path.write_text('{"accountId": "123456789012",\n  oops}')
    with pytest.raises(StackOutputsError) as caught:
        load_outputs_file(path)
    message = str(caught.value)
    assert str(path) in message
    assert "not valid JSON" in message
    assert "line 2" in message


def test_json_that_is_not_an_object(tmp_path: Path) -> None:
    path = write(tmp_path, ["accountId"])
    with pytest.raises(StackOutputsError, match=r"holds a JSON list, not the object"):
        load_outputs_file(path)


@pytest.mark.parametrize(
    "key",
    ["accountId", "region", "inputBucketName", "outputBucketName", "datastoreId", "datastoreArn", "importRoleArn"],
)
def test_missing_key_names_the_file_and_the_key(tmp_path: Path, key: str) -> None:
    data = valid_outputs()
    del data[key]
    path = write(tmp_path, data)
    with pytest.raises(StackOutputsError) as caught:
        load_outputs_file(path)
    message = str(caught.value)
    assert f"outputs file '{path}' has no key {key!r}" in message
    assert "keys found:" in message


@pytest.mark.parametrize(
    ("key", "value", "rule"),
    [
        ("accountId", "12345", "12 digits"),
        ("accountId", 123456789012, "12 digits"),
        ("region", "US East", "a region name"),
        ("inputBucketName", "My_Bucket", "an S3 bucket name"),
        ("outputBucketName", "s3://bucket", "an S3 bucket name"),
        ("logBucketName", "x", "an S3 bucket name"),
        ("bucketKmsKeyArn", "alias/my-key", "a KMS key ARN"),
        ("datastoreId", "not-an-id", "32 characters"),
        ("datastoreArn", "arn:aws:s3:::bucket", "a data store ARN"),
        ("datastoreKmsKeyArn", "1234abcd-12ab-34cd-56ef-1234567890ab", "a KMS key ARN"),
        ("importRoleArn", "arn:aws:iam::123456789012:user/alice", "an IAM role ARN"),
    ],
)
def test_bad_value_names_the_file_the_key_the_value_and_the_rule(
    tmp_path: Path, key: str, value: Any, rule: str
) -> None:
    data = valid_outputs()
    data[key] = value
    path = write(tmp_path, data)
    with pytest.raises(StackOutputsError) as caught:
        load_outputs_file(path)
    message = str(caught.value)
    assert f"outputs file '{path}'" in message
    assert f"key {key!r}" in message
    assert repr(value) in message
    assert rule in message


def test_secret_placeholder_says_show_secrets() -> None:
    data = valid_outputs()
    data["importRoleArn"] = "[secret]"
    with pytest.raises(StackOutputsError, match=r"'importRoleArn'.*--show-secrets"):
        outputs_from_mapping(data, "outputs file 'o.json'")


def test_datastore_arn_from_another_stack_is_refused() -> None:
    data = valid_outputs()
    data["datastoreArn"] = f"arn:aws:medical-imaging:us-east-1:{ACCOUNT}:datastore/{'f' * 32}"
    with pytest.raises(StackOutputsError) as caught:
        outputs_from_mapping(data, "outputs file 'o.json'")
    assert "'datastoreArn'" in str(caught.value)
    assert f"datastoreId {DATASTORE_ID!r}" in str(caught.value)


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, valid_outputs())

    def refuse(self: Path, *args: object, **kwargs: object) -> str:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", refuse)
    with pytest.raises(StackOutputsError) as caught:
        load_outputs_file(path)
    assert f"outputs file '{path}' cannot be read" in str(caught.value)
    assert "Permission denied" in str(caught.value)


# --- --stack NAME: the Pulumi CLI ----------------------------------------------------------------


def fake_pulumi(directory: Path, script: str) -> None:
    """Put a `pulumi` executable on PATH that runs the given shell script body."""
    executable = directory / "pulumi"
    executable.write_text("#!/bin/sh\n" + script)
    executable.chmod(0o755)


def test_stack_without_pulumi_cli_says_use_outputs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(StackOutputsError) as caught:
        load_stack_outputs("dev")
    assert "--stack dev needs the Pulumi CLI" in str(caught.value)
    assert "--outputs" in str(caught.value)


def test_stack_runs_pulumi_stack_output(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "out.json").write_text(json.dumps(valid_outputs()))
    fake_pulumi(tmp_path, f'echo "$@" > {tmp_path}/args\ncat {tmp_path}/out.json\n')
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    outputs = load_stack_outputs("dev")
    assert outputs.source == "stack 'dev'"
    assert outputs.datastore_id == DATASTORE_ID
    assert (tmp_path / "args").read_text().split() == ["stack", "output", "--json", "--stack", "dev"]


def test_stack_pulumi_failure_shows_its_message(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake_pulumi(tmp_path, "echo 'error: no stack named prod found' >&2\nexit 255\n")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(StackOutputsError) as caught:
        load_stack_outputs("prod")
    assert "no stack named prod found" in str(caught.value)
    assert "pulumi stack ls" in str(caught.value)


def test_stack_missing_key_names_the_stack(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    data = valid_outputs()
    del data["importRoleArn"]
    (tmp_path / "out.json").write_text(json.dumps(data))
    fake_pulumi(tmp_path, f"cat {tmp_path}/out.json\n")
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    with pytest.raises(StackOutputsError, match=r"stack 'dev' has no key 'importRoleArn'"):
        load_stack_outputs("dev")


# --- session: boto3's chain and readable errors ---------------------------------------------------


def client_error(code: str, message: str = "msg", status: int = 400) -> botocore.exceptions.ClientError:
    return botocore.exceptions.ClientError(
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Op"
    )


def raised_by(exception: BaseException, *, profile: str | None = None) -> OpsError:
    with pytest.raises(OpsError) as caught, session_module.translate_client_errors("GetDatastore", profile=profile):
        raise exception
    return caught.value


def test_expired_token_says_sso_login_with_the_profile() -> None:
    error = raised_by(
        client_error("ExpiredTokenException", "The security token included in the request is expired"),
        profile="imaging",
    )
    assert isinstance(error, AwsAccessError)
    assert "GetDatastore" in str(error)
    assert "expired" in str(error)
    assert "`aws sso login --profile imaging`" in str(error)
    assert error.aws_error_code == "ExpiredTokenException"


def test_no_credentials_says_sso_login_with_aws_profile(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_PROFILE", "dev-admin")
    error = raised_by(botocore.exceptions.NoCredentialsError())
    assert isinstance(error, AwsAccessError)
    assert "no AWS credentials were found" in str(error)
    assert "`aws sso login --profile dev-admin`" in str(error)


def test_expired_sso_token_says_sso_login() -> None:
    error = raised_by(botocore.exceptions.UnauthorizedSSOTokenError(), profile="p")
    assert isinstance(error, AwsAccessError)
    assert "aws sso login --profile p" in str(error)


def test_access_denied_names_the_operation() -> None:
    error = raised_by(client_error("AccessDeniedException", "User is not authorized", 403))
    assert isinstance(error, AwsAccessError)
    assert "GetDatastore: access denied (AccessDeniedException: User is not authorized)" in str(error)


def test_other_client_error_is_a_service_error_with_code_and_message() -> None:
    error = raised_by(client_error("ValidationException", "Bad value"))
    assert isinstance(error, ServiceError)
    assert str(error) == "GetDatastore failed: ValidationException: Bad value"


def test_throttling_that_outlasts_the_retries_says_to_wait_and_rerun() -> None:
    error = raised_by(client_error("ThrottlingException", "Rate exceeded"))
    assert isinstance(error, ServiceError)
    assert str(error) == (
        "GetDatastore failed: ThrottlingException: Rate exceeded. AWS kept throttling the requests after retrying "
        "them: wait a few minutes, then run the same command again."
    )
    assert error.exit_code == 1


def test_unreachable_endpoint_is_a_service_error() -> None:
    error = raised_by(botocore.exceptions.EndpointConnectionError(endpoint_url="http://127.0.0.1:9"))
    assert isinstance(error, ServiceError)
    assert "could not reach AWS" in str(error)
    assert "127.0.0.1:9" in str(error)


def test_unknown_profile_is_a_usage_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with pytest.raises(UsageError, match=r"--profile nosuch: .*nosuch.*aws configure list-profiles"):
        session_module.make_session(profile="nosuch", region=None, default_region="us-east-1")


def test_region_defaults_to_the_stack_and_flag_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    assert session_module.make_session(profile=None, region=None, default_region="us-east-1").region_name == "us-east-1"
    assert (
        session_module.make_session(profile=None, region="us-west-2", default_region="us-east-1").region_name
        == "us-west-2"
    )


def test_client_uses_the_endpoint_variable_retries_and_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_MEDICAL_IMAGING", "http://127.0.0.1:4567")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    session = session_module.make_session(profile=None, region=None, default_region="us-east-1")
    client = session_module.make_client(
        session, "medical-imaging", max_pool_connections=32, retry_mode="adaptive", max_attempts=7
    )
    assert client.meta.endpoint_url == "http://127.0.0.1:4567"
    assert client.meta.config.max_pool_connections == 32
    # botocore counts max_attempts as retries after the first attempt.
    assert client.meta.config.retries == {"mode": "adaptive", "total_max_attempts": 8}


def test_a_trailing_newline_in_an_output_value_is_refused() -> None:
    from ahiops.errors import StackOutputsError
    from ahiops.stack_outputs import outputs_from_mapping

    good = {
        "accountId": "111122223333",
        "region": "us-east-1",
        "inputBucketName": "in-bucket",
        "outputBucketName": "out-bucket",
        "datastoreId": "a" * 32,
        "datastoreArn": f"arn:aws:medical-imaging:us-east-1:111122223333:datastore/{'a' * 32}",
        "importRoleArn": "arn:aws:iam::111122223333:role/r",
    }
    with pytest.raises(StackOutputsError, match="accountId"):
        outputs_from_mapping({**good, "accountId": "111122223333\n"}, "test")


# --- encodings: PowerShell writes UTF-16 with a byte-order mark ----------------------------------


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_an_outputs_file_in_utf16_or_with_a_byte_order_mark_is_read(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "outputs.json"
    path.write_bytes(json.dumps(valid_outputs(), indent=2).encode(encoding))
    outputs = load_outputs_file(path)
    assert outputs.datastore_id == valid_outputs()["datastoreId"]


def test_an_outputs_file_in_another_encoding_is_refused_with_advice(tmp_path: Path) -> None:
    path = tmp_path / "outputs.json"
    path.write_bytes(
        json.dumps({**valid_outputs(), "logBucketName": "caf\u00e9"}, ensure_ascii=False).encode("latin-1")
    )
    with pytest.raises(StackOutputsError) as caught:
        load_outputs_file(path)
    message = str(caught.value)
    assert message.startswith(f"outputs file '{path}' is not text in UTF-8, UTF-16 or UTF-32 (utf-8: invalid")
    assert "`pulumi stack output --json | Out-File -Encoding utf8 FILE`" in message
