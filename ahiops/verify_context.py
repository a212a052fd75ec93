"""What every verify check shares: the stack outputs, the AWS session and clients, cached look-ups, outcomes."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any, Literal

import boto3
import botocore.exceptions

from .errors import OpsError
from .session import client_error_to_ops_error, error_code, make_client, translate_client_errors
from .stack_outputs import StackOutputs

Status = Literal["pass", "fail", "error"]
PASS: Status = "pass"  # noqa: S105 - a check status, not a password
FAIL: Status = "fail"
ERROR: Status = "error"


@dataclass(frozen=True)
class Outcome:
    """What one check found: pass, fail (the stack is not as meant) or error (the check could not tell)."""

    status: Status
    detail: str


def passed(detail: str) -> Outcome:
    return Outcome(PASS, detail)


def failed(detail: str) -> Outcome:
    return Outcome(FAIL, detail)


class FailedCheckError(Exception):
    """Raised inside a check when what it looked at shows the stack is not as meant (status "fail")."""


class CheckNotRunError(Exception):
    """Raised inside a check when an earlier problem (no valid credentials) means it cannot run (status "error")."""


class VerifyContext:
    """The stack outputs, the session, one client per service, and look-ups shared by several checks."""

    def __init__(self, outputs: StackOutputs, session: boto3.session.Session, *, profile: str | None = None) -> None:
        self.outputs = outputs
        self.session = session
        self.profile = profile
        self.region: str = session.region_name or outputs.region
        self._clients: dict[str, Any] = {}
        self._cache: dict[str, Any] = {}
        #: Set when the credentials do not work; every later check then reports this instead of calling AWS.
        self.blocked: str | None = None

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = make_client(self.session, service, max_attempts=3)
        return self._clients[service]

    def call(
        self, service: str, method: str, *, about: str = "", absent: Collection[str] = (), **params: Any
    ) -> dict[str, Any] | None:
        """Call ``client.method(**params)``; AWS errors become :class:`OpsError` naming the operation.

        Returns None when AWS answers with one of the ``absent`` error codes (for example ``NoSuchBucketPolicy``).
        """
        if self.blocked:
            raise CheckNotRunError(self.blocked)
        client = self.client(service)
        operation = client.meta.method_to_api_mapping.get(method, method)
        label = f"{operation} {about}".strip()
        with translate_client_errors(label, profile=self.profile):
            try:
                response: dict[str, Any] = getattr(client, method)(**params)
            except botocore.exceptions.ClientError as error:
                code = error_code(error)
                if code in absent:
                    return None
                if code in ("NoSuchBucket", "ResourceNotFoundException", "NoSuchEntity"):
                    raise FailedCheckError(str(client_error_to_ops_error(label, error, profile=self.profile))) from None
                raise
        return response

    def once(self, key: str, compute: Callable[[], Any]) -> Any:
        """The result of ``compute()``, computed once; a raised error is raised again for every caller."""
        if key not in self._cache:
            try:
                self._cache[key] = (True, compute())
            except (OpsError, FailedCheckError, CheckNotRunError) as error:
                self._cache[key] = (False, error)
        ok, value = self._cache[key]
        if not ok:
            raise value
        return value

    def caller_identity(self) -> dict[str, Any]:
        """STS GetCallerIdentity, once."""
        if self.blocked:
            raise CheckNotRunError(self.blocked)

        def compute() -> dict[str, Any]:
            response = self.call("sts", "get_caller_identity")
            assert response is not None
            return response

        result: dict[str, Any] = self.once("caller_identity", compute)
        return result

    def credentials_description(self) -> str:
        """Which credentials and region the session uses, for details: profile, source, region."""
        profile = self.profile or self.session.profile_name
        try:
            credentials = self.session.get_credentials()
        except botocore.exceptions.BotoCoreError:
            credentials = None
        method = getattr(credentials, "method", None) or "none found"
        return f"profile {profile}, credentials from {method}, region {self.region}"
