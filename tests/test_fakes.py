"""The loopback stand-ins the end-to-end tests rely on: moto's server, the HealthImaging control plane, IAM's simulator."""

from __future__ import annotations

import os
import urllib.parse

import boto3
import pytest
from fakes import MOTO_ACCOUNT_ID
from fakes.environment import AwsEnv


def test_moto_endpoint_listens_on_loopback_and_serves_s3_iam_sts_kms(aws_env: AwsEnv, moto_endpoint: str) -> None:
    assert urllib.parse.urlsplit(moto_endpoint).hostname == "127.0.0.1"
    for service in ("S3", "IAM", "STS", "KMS"):
        assert os.environ[f"AWS_ENDPOINT_URL_{service}"] == aws_env.endpoints[service]
    assert aws_env.client("sts").get_caller_identity()["Account"] == MOTO_ACCOUNT_ID
    s3 = aws_env.client("s3")
    s3.create_bucket(Bucket="fixture-check")
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["fixture-check"]
    assert aws_env.client("kms").create_key()["KeyMetadata"]["Arn"].startswith("arn:aws:kms:us-east-1:")
    aws_env.client("iam").create_role(RoleName="fixture-check", AssumeRolePolicyDocument="{}")


def test_aws_env_resets_moto_between_tests(aws_env: AwsEnv) -> None:
    assert aws_env.client("s3").list_buckets()["Buckets"] == []
    assert aws_env.client("iam").list_roles()["Roles"] == []


def test_aws_env_uses_dummy_credentials_and_no_user_configuration(aws_env: AwsEnv) -> None:
    session = boto3.session.Session()
    credentials = session.get_credentials()
    assert credentials is not None
    assert (credentials.access_key, credentials.method) == ("testing", "env")
    assert session.region_name == "us-east-1"
    assert not os.path.exists(os.environ["AWS_CONFIG_FILE"])
    assert not os.path.exists(os.environ["AWS_SHARED_CREDENTIALS_FILE"])
    assert "AWS_RETRY_MODE" not in os.environ
    assert "AWS_PROFILE" not in os.environ


def test_a_test_can_remove_the_credentials_and_gets_no_credentials_at_once(
    aws_env: AwsEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    assert boto3.session.Session().get_credentials() is None
