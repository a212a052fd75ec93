"""The loopback AWS as one unit: moto's server (S3, KMS, STS, and IAM behind the simulator), the HealthImaging
emulator and IAM's policy simulator, each on 127.0.0.1; and the environment that points AWS clients at them.

``ahictl sandbox up`` and the project's test fixtures both start the services through :class:`LoopbackAws`,
and both give clients :func:`client_environment`: one way to start the loopback AWS, one description of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from . import DUMMY_ACCESS_KEY_ID, DUMMY_SECRET_ACCESS_KEY, MOTO_ACCOUNT_ID, TEST_REGION
from .healthimaging import HealthImagingEmulator
from .iam_simulator import IamSimulator
from .moto_server import ObservedMotoServer

#: The services in the order they start, with what each serves (for messages and ``sandbox status``).
SERVICE_DESCRIPTIONS: dict[str, str] = {
    "moto": "S3, KMS and STS (moto)",
    "healthimaging": "HealthImaging (emulator)",
    "iam": "IAM (policy simulator in front of moto)",
}
#: Offsets from ``--port-base``: each service's port is the base plus its offset.
PORT_OFFSETS: dict[str, int] = {name: offset for offset, name in enumerate(SERVICE_DESCRIPTIONS)}


def endpoint_variables(endpoints: Mapping[str, str]) -> dict[str, str]:
    """``AWS_ENDPOINT_URL_<SERVICE>`` for each service of ``endpoints`` (:meth:`LoopbackAws.endpoints`)."""
    return {f"AWS_ENDPOINT_URL_{service}": url for service, url in endpoints.items()}


def client_environment(endpoints: Mapping[str, str], region: str = TEST_REGION) -> dict[str, str]:
    """The variables that point an AWS client (boto3, the AWS CLI, ahictl) at the sandbox.

    - ``AWS_ENDPOINT_URL_<SERVICE>`` for each endpoint;
    - ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``: the sandbox's dummy values (not secrets: accepted by nothing
      in AWS);
    - ``AWS_REGION`` and ``AWS_DEFAULT_REGION`` (botocore 1.44 reads only the latter);
    - ``AWS_EC2_METADATA_DISABLED=true``: no wait for an instance metadata service;
    - ``AWS_DISABLE_HOST_PREFIX_INJECTION=true``: botocore would otherwise send HealthImaging's runtime operations
      to ``runtime-127.0.0.1``, a host that does not resolve;
    - ``NO_PROXY``: loopback never goes through a proxy.
    """
    return {
        **endpoint_variables(endpoints),
        "AWS_ACCESS_KEY_ID": DUMMY_ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": DUMMY_SECRET_ACCESS_KEY,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_DISABLE_HOST_PREFIX_INJECTION": "true",
        "NO_PROXY": "127.0.0.1,localhost",
    }


@dataclass(frozen=True)
class Ports:
    """The port of each service (0: a free one)."""

    moto: int = 0
    healthimaging: int = 0
    iam: int = 0

    @staticmethod
    def from_base(base: int) -> Ports:
        return Ports(**{name: base + offset for name, offset in PORT_OFFSETS.items()})

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in SERVICE_DESCRIPTIONS}


class LoopbackAws:
    """moto, the HealthImaging emulator and the IAM simulator on 127.0.0.1. ``start()`` starts all three (a port in
    use raises :class:`OSError` and leaves nothing running); ``stop()`` stops what runs."""

    def __init__(self, ports: Ports = Ports(), *, region: str = TEST_REGION) -> None:
        self.region = region
        self.account_id = MOTO_ACCOUNT_ID
        self.moto = ObservedMotoServer(ports.moto)
        self._healthimaging_port = ports.healthimaging
        self._iam_port = ports.iam
        self._healthimaging: HealthImagingEmulator | None = None
        self._iam: IamSimulator | None = None

    def start(self) -> LoopbackAws:
        try:
            self.moto.start()
            self._healthimaging = self.new_healthimaging(self._healthimaging_port)
            self._iam = IamSimulator(self.moto.url, region=self.region, port=self._iam_port)
            self._iam.start()
        except BaseException:
            self.stop()
            raise
        return self

    def new_healthimaging(self, port: int = 0) -> HealthImagingEmulator:
        """A started HealthImaging emulator reading and writing this moto (the caller stops it)."""
        emulator = HealthImagingEmulator(
            moto_server=self.moto, region=self.region, account_id=self.account_id, port=port
        )
        emulator.start()
        return emulator

    def stop(self) -> None:
        for service in (self._iam, self._healthimaging):
            if service is not None:
                service.stop()
        self._iam = self._healthimaging = None
        if self.moto._server is not None:
            self.moto.stop()

    @property
    def healthimaging(self) -> HealthImagingEmulator:
        if self._healthimaging is None:
            raise RuntimeError("the loopback AWS is not started")
        return self._healthimaging

    @property
    def iam(self) -> IamSimulator:
        if self._iam is None:
            raise RuntimeError("the loopback AWS is not started")
        return self._iam

    def endpoints(self) -> dict[str, str]:
        """The service part of each ``AWS_ENDPOINT_URL_<SERVICE>`` variable and its URL."""
        return {
            "S3": self.moto.url,
            "IAM": self.iam.endpoint_url,
            "STS": self.moto.url,
            "KMS": self.moto.url,
            "MEDICAL_IMAGING": self.healthimaging.endpoint_url,
        }

    def service_urls(self) -> dict[str, str]:
        """Each service's own URL (``moto``, ``healthimaging``, ``iam``)."""
        return {"moto": self.moto.url, "healthimaging": self.healthimaging.endpoint_url, "iam": self.iam.endpoint_url}
