"""The process environment of an offline AWS test: endpoints on loopback, dummy credentials, no user config."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.config import Config

if TYPE_CHECKING:
    from sandbox.healthimaging import HealthImagingEmulator
    from sandbox.iam_simulator import IamSimulator

from sandbox.services import client_environment
from sandbox.sessions import new_session

from . import MOTO_ACCOUNT_ID, TEST_REGION

#: Variables that would let the user's own AWS setup leak into a test; removed by :func:`apply_aws_env`.
_CLEARED_VARIABLES = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ENDPOINT_URL",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
    "AWS_RETRY_MODE",
    "AWS_MAX_ATTEMPTS",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_CA_BUNDLE",
    "AWS_USE_FIPS_ENDPOINT",
    "AWS_USE_DUALSTACK_ENDPOINT",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "http_proxy",
    "https_proxy",
)


def apply_aws_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, endpoints: Mapping[str, str], *, region: str = TEST_REGION
) -> None:
    """Point every AWS client of this process at ``endpoints`` ({"S3": url, ...}) as the sandbox's ``env`` file
    points a shell (:func:`sandbox.services.client_environment`: endpoints, dummy credentials, region, no instance
    metadata, no host prefix, no proxy), and keep the user's own AWS setup out:

    - any other ``AWS_ENDPOINT_URL_<SERVICE>`` variable and the profile, session, role, retry and proxy variables
      are removed (``AWS_RETRY_MODE``/``AWS_MAX_ATTEMPTS`` unset: the code under test chooses its retry mode);
    - ``AWS_CONFIG_FILE``/``AWS_SHARED_CREDENTIALS_FILE``: paths under ``tmp_path`` that do not exist.
    boto3's cached default session is dropped so that nothing resolved earlier is reused.
    """
    for name in list(os.environ):
        if name.startswith("AWS_ENDPOINT_URL_"):
            monkeypatch.delenv(name)
    for name in _CLEARED_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in client_environment(endpoints, region).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)


@dataclass(frozen=True)
class AwsEnv:
    """What the ``aws_env`` fixture set up.

    ``endpoints`` maps the service part of each ``AWS_ENDPOINT_URL_<SERVICE>`` variable to its URL.
    """

    moto_endpoint: str
    endpoints: Mapping[str, str]
    healthimaging: HealthImagingEmulator
    iam_simulator: IamSimulator
    region: str = TEST_REGION
    account_id: str = MOTO_ACCOUNT_ID

    def client(self, service: str, *, max_attempts: int = 1, **config: Any) -> Any:
        """A boto3 client configured only by the environment (as the code under test is), for arranging and
        asserting. ``max_attempts`` defaults to 1 so that an injected error shows instead of being retried."""
        retries = {"mode": "standard", "total_max_attempts": max_attempts}
        return new_session().client(service, config=Config(retries=retries, **config))
