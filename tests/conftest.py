"""Shared fixtures."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from ahictl import mockrun
from testkit.mock_runs import run_program

if TYPE_CHECKING:
    # Imported inside the fixtures: moto, pydicom and the stand-ins load only for the tests that use them.
    from sandbox.healthimaging import HealthImagingEmulator
    from sandbox.iam_simulator import IamSimulator
    from sandbox.moto_server import ObservedMotoServer
    from sandbox.services import LoopbackAws
    from testkit.dicomweb_client import ServedSample
    from testkit.fakes.deployed_stack import DeployedStack
    from testkit.fakes.environment import AwsEnv


# --- Lanes: `bash scripts/test --fast` runs the tests marked neither `server` nor `browser` -----------------------

#: The fixtures that start a server on loopback (the sandbox's moto, HealthImaging emulator and IAM simulator): a test that uses one,
#: directly or through another fixture, is marked ``server``. Modules that start servers of their own say so with
#: ``pytestmark = pytest.mark.server``; the drawings in Chromium and Graphviz with ``pytest.mark.browser``.
SERVER_FIXTURES = frozenset({"loopback_aws", "moto_server", "iam_simulator", "healthimaging", "served_sample"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if SERVER_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.server)


@pytest.fixture(autouse=True)
def _no_server_outside_the_server_lane(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """A test not marked ``server`` that starts listening on a socket fails, so the fast lane stays free of servers
    and the markers stay true (a server started by a fixture is already listening before this runs)."""
    if request.node.get_closest_marker("server") is not None:
        return

    def refuse(sock: socket.socket, *args: object) -> None:
        raise RuntimeError(
            f"{request.node.nodeid} starts a server but is not marked `server`: use a server fixture "
            "(tests/conftest.py) or mark the test or its module with pytest.mark.server"
        )

    monkeypatch.setattr(socket.socket, "listen", refuse)


@pytest.fixture(scope="module")
def dev_run() -> mockrun.ProgramRun:
    """One run of the program with Pulumi.dev.yaml, shared by the read-only tests of a module."""
    return run_program()


# --- Offline AWS: what `ahictl sandbox up` starts (sandbox.services.LoopbackAws) and deploys -----------------------


@pytest.fixture(scope="session")
def loopback_aws() -> Iterator[LoopbackAws]:
    """moto's server, the HealthImaging emulator and IAM's simulator on 127.0.0.1 (free ports), started as
    ``ahictl sandbox up`` starts them, for the whole session; stopped at the end."""
    from sandbox.services import LoopbackAws

    aws = LoopbackAws().start()
    try:
        yield aws
    finally:
        aws.stop()


@pytest.fixture(scope="session")
def moto_server(loopback_aws: LoopbackAws) -> ObservedMotoServer:
    """The sandbox's moto server (S3, IAM, STS, KMS); bucket policies judged with their conditions."""
    return loopback_aws.moto


@pytest.fixture(scope="session")
def moto_endpoint(moto_server: ObservedMotoServer) -> str:
    """``http://127.0.0.1:<port>`` of moto's server (S3, IAM, STS, KMS)."""
    return moto_server.url


@pytest.fixture(scope="session")
def iam_simulator(loopback_aws: LoopbackAws) -> IamSimulator:
    """The sandbox's IAM SimulatePrincipalPolicy on 127.0.0.1 in front of moto's IAM (everything else is forwarded
    to moto). Session-scoped; ``aws_env`` resets its records and injected errors for each test."""
    return loopback_aws.iam


@pytest.fixture
def healthimaging(loopback_aws: LoopbackAws) -> Iterator[HealthImagingEmulator]:
    """A fresh HealthImaging emulator for this test (made as the sandbox makes its own), on 127.0.0.1, reading and
    writing S3 in the sandbox's moto; stopped after the test.

    Steer it with its control API (``create_datastore``, ``throttle``, ``polls_until_done``, ...): see
    ``sandbox/healthimaging.py``. Clients reach it through ``AWS_ENDPOINT_URL_MEDICAL_IMAGING`` (``aws_env``).
    """
    emulator = loopback_aws.new_healthimaging()
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture
def aws_env(
    loopback_aws: LoopbackAws,
    moto_server: ObservedMotoServer,
    healthimaging: HealthImagingEmulator,
    iam_simulator: IamSimulator,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> AwsEnv:
    """A clean moto (reset) and every AWS client of the test pointed at the sandbox as its ``env`` file points them
    (``sandbox.services.client_environment``), with this test's HealthImaging emulator.

    S3, STS and KMS go to moto; IAM to the simulator in front of moto; MEDICAL_IMAGING to ``healthimaging``.
    """
    from testkit.fakes.environment import AwsEnv, apply_aws_env

    moto_server.reset()
    iam_simulator.reset()
    endpoints = {**loopback_aws.endpoints(), "MEDICAL_IMAGING": healthimaging.endpoint_url}
    apply_aws_env(monkeypatch, tmp_path, endpoints)
    return AwsEnv(
        moto_endpoint=moto_server.url, endpoints=endpoints, healthimaging=healthimaging, iam_simulator=iam_simulator
    )


@pytest.fixture
def deployed_stack(aws_env: AwsEnv, healthimaging: HealthImagingEmulator, tmp_path: Path) -> DeployedStack:
    """The dev stack deployed from its plan as ``ahictl sandbox up`` deploys it (sandbox.deploy): every bucket with
    the program's TLS-only policy (the loopback stands in for TLS, so objects can be read and written), the data
    store ACTIVE in ``healthimaging``, the import role checked by it; and the stack's ``pulumi stack output --json``
    file at ``outputs_path``. The program runs once per session; later tests replay its recorded creations."""
    from testkit.fakes.deployed_stack import deploy_stack

    return deploy_stack(aws_env, healthimaging, tmp_path / "stack-outputs.json")


@pytest.fixture
def served_sample() -> Iterator[ServedSample]:
    """The HealthImaging emulator (no S3) serving DICOMweb for one ACTIVE data store holding pydicom's sample CT,
    with each DICOMweb request recorded as it arrived (``arrived``) and as the emulator judged it
    (``emulator.dicomweb.requests``); its root is ``served_sample.root``. Stopped after the test."""
    from testkit.dicomweb_client import ServedSample

    served = ServedSample()
    served.start()
    try:
        yield served
    finally:
        served.stop()
