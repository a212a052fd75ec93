"""Shared fixtures."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes.environment import AwsEnv, apply_aws_env
from fakes.moto_server import ObservedMotoServer
from helpers import run_program

from ahictl import mockrun


@pytest.fixture(scope="module")
def dev_run() -> mockrun.ProgramRun:
    """One run of the program with Pulumi.dev.yaml, shared by the read-only tests of a module."""
    return run_program()


# --- Offline AWS: moto's server, the HealthImaging and IAM-simulator stand-ins (tests/fakes/) ---------------


@pytest.fixture(scope="session")
def moto_server() -> Iterator[ObservedMotoServer]:
    """moto's threaded server on 127.0.0.1 (free port) for the whole session; stopped at the end."""
    server = ObservedMotoServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def moto_endpoint(moto_server: ObservedMotoServer) -> str:
    """``http://127.0.0.1:<port>`` of moto's server (S3, IAM, STS, KMS)."""
    return moto_server.url


@pytest.fixture
def aws_env(moto_server: ObservedMotoServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> AwsEnv:
    """A clean moto (reset) and every AWS client of the test pointed at loopback through the standard
    ``AWS_ENDPOINT_URL_<SERVICE>`` variables, with moto's dummy credentials and region us-east-1."""
    moto_server.reset()
    endpoints = {"S3": moto_server.url, "IAM": moto_server.url, "STS": moto_server.url, "KMS": moto_server.url}
    apply_aws_env(monkeypatch, tmp_path, endpoints)
    return AwsEnv(moto_endpoint=moto_server.url, endpoints=endpoints)
