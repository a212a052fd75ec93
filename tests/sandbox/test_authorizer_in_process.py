"""The stack's DICOMweb authorizer run in-process by the sandbox, as HealthImaging invokes it: the dev stack deployed
with ``dicomwebOidc`` (testkit.oidc's issuer and audience, the reader persona for group ``radiology``), its key set
served on loopback; bearer-token requests accepted only when the real handler accepts the token, and carried out as
the persona role it names."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from healthimaging_functions.dicomweb_authorizer import handler
from sandbox.deploy import DeployError
from sandbox.dicom_store import parse_part10
from sandbox.healthimaging import HealthImagingEmulator
from testkit.dicom_samples import sample
from testkit.dicomweb_client import Answer, send
from testkit.fakes.deployed_stack import DeployedStack, deploy_stack
from testkit.fakes.environment import AwsEnv
from testkit.oidc import AUDIENCE, ISSUER, IssuerKeys, JwksServer, serving_jwks

pytestmark = pytest.mark.server

DICOMWEB_OIDC = {"issuer": ISSUER, "audiences": [AUDIENCE], "personas": {"reader": ["radiology"]}}
OVERRIDES = {"dicomwebOidc": json.dumps(DICOMWEB_OIDC)}
STUDY_UID = str(parse_part10(sample("CT_small.dcm").read_bytes()).study_instance_uid)


@dataclass(frozen=True)
class Issuer:
    keys: IssuerKeys
    jwks: JwksServer


@pytest.fixture(scope="module")
def issuer() -> Iterator[Issuer]:
    """testkit.oidc's issuer, its key set served on 127.0.0.1 for the module."""
    keys = IssuerKeys()
    with serving_jwks(keys.jwks()) as jwks:
        yield Issuer(keys, jwks)


@pytest.fixture
def stack(aws_env: AwsEnv, healthimaging: HealthImagingEmulator, issuer: Issuer, tmp_path: Path) -> DeployedStack:
    """The dev stack with dicomwebOidc, deployed as ``sandbox up --set dicomwebOidc=...`` deploys it, the issuer's
    keys at the loopback JWKS; its data store holds pydicom's sample CT."""
    deployed = deploy_stack(
        aws_env, healthimaging, tmp_path / "outputs.json", overrides=OVERRIDES, authorizer_jwks_uri=issuer.jwks.url
    )
    healthimaging.store.add(deployed.datastore_id, [parse_part10(sample("CT_small.dcm").read_bytes())])
    return deployed


@pytest.fixture
def events(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The events the function's real handler is invoked with (it still decides)."""
    seen: list[dict[str, Any]] = []
    real = handler.handle

    def recording(event: Mapping[str, Any], context: Any = None, **options: Any) -> dict[str, Any]:
        seen.append(dict(event))
        return real(event, context, **options)

    monkeypatch.setattr(handler, "handle", recording)
    return seen


def studies(stack: DeployedStack, token: str | None = None) -> Answer:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return send(f"{stack.outputs['dicomwebUrl']}/studies", headers=headers, signed=False)


def message(answer: Answer) -> str:
    return str(answer.json()["message"])


def test_the_deployment_runs_the_authorizer_in_process_and_gives_it_to_the_data_store(stack: DeployedStack) -> None:
    [function] = stack.deployment.in_process
    assert (function.type, function.name, function.description) == (
        "aws:lambda/function:Function",
        "datastore-authorizer-function",
        "the DICOMweb authorizer",
    )
    assert ("aws:lambda/function:Function", "datastore-authorizer-function") not in {
        (s.type, s.name) for s in stack.deployment.skipped
    }
    assert set(stack.healthimaging.dicomweb.authorizers) == {stack.datastore_id}


def test_a_reader_token_finds_the_study_through_qido_rs(stack: DeployedStack, issuer: Issuer) -> None:
    answer = studies(stack, issuer.keys.rs256())
    assert answer.status == 200
    assert [record["0020000D"]["Value"] for record in answer.json()] == [[STUDY_UID]]
    record = stack.healthimaging.dicomweb.requests[-1]
    assert (record.auth, record.role_arn) == ("bearer", stack.outputs["dicomwebPersonaRoleArns"]["reader"])


def test_the_handler_gets_the_event_healthimaging_sends(
    stack: DeployedStack, issuer: Issuer, events: list[dict[str, Any]]
) -> None:
    token = issuer.keys.es256()
    assert studies(stack, token).status == 200
    assert events == [{"datastoreId": stack.datastore_id, "operation": "SearchDICOMStudies", "bearerToken": token}]


def test_a_user_in_no_persona_group_is_refused_and_gets_nothing(stack: DeployedStack, issuer: Issuer) -> None:
    answer = studies(stack, issuer.keys.rs256(**{"cognito:groups": ["cardiology"]}))
    assert answer.status == 403
    assert message(answer) == "AccessDeniedException: The authorizer did not accept the bearer token"
    assert STUDY_UID not in answer.body.decode()


def test_a_token_signed_with_another_key_is_refused(
    stack: DeployedStack, issuer: Issuer, events: list[dict[str, Any]]
) -> None:
    forged = IssuerKeys().rs256()  # the issuer's kid, another key
    answer = studies(stack, forged)
    assert answer.status == 403
    assert message(answer) == "AccessDeniedException: The authorizer did not accept the bearer token"
    assert len(events) == 1  # the handler refused it, not the times check


def test_a_token_for_another_audience_is_refused(stack: DeployedStack, issuer: Issuer) -> None:
    answer = studies(stack, issuer.keys.rs256(client_id="another-client"))
    assert answer.status == 403
    assert message(answer) == "AccessDeniedException: The authorizer did not accept the bearer token"


def test_an_expired_token_is_refused(stack: DeployedStack, issuer: Issuer) -> None:
    answer = studies(stack, issuer.keys.rs256(exp=1_000_000_000, iat=999_999_000))
    assert answer.status == 403
    assert message(answer) == "AccessDeniedException: The bearer token has expired (exp)"


def test_a_request_with_neither_token_nor_signature_is_refused(stack: DeployedStack) -> None:
    answer = studies(stack)
    assert answer.status == 403
    assert message(answer) == "MissingAuthenticationTokenException: Missing Authentication Token"


def test_the_reader_role_may_not_store(stack: DeployedStack, issuer: Issuer) -> None:
    headers = {"Authorization": f"Bearer {issuer.keys.rs256()}", "Content-Type": "multipart/related"}
    answer = send(f"{stack.outputs['dicomwebUrl']}/studies", "POST", headers=headers, signed=False, body=b"--x--")
    assert answer.status == 403
    role = stack.outputs["dicomwebPersonaRoleArns"]["reader"]
    assert (
        message(answer)
        == f"AccessDeniedException: The role {role} may not StoreDICOM on datastore {stack.datastore_id}"
    )


def test_a_persona_role_without_its_policy_reads_nothing(stack: DeployedStack, issuer: Issuer) -> None:
    role_name = stack.outputs["dicomwebPersonaRoleArns"]["reader"].rsplit("/", 1)[1]
    iam = stack.env.client("iam")
    for policy in iam.list_role_policies(RoleName=role_name)["PolicyNames"]:
        iam.delete_role_policy(RoleName=role_name, PolicyName=policy)
    answer = studies(stack, issuer.keys.rs256())
    assert answer.status == 403
    assert "may not SearchDICOMStudies" in message(answer)


def test_the_function_runs_with_its_own_configuration_not_the_processs(stack: DeployedStack, issuer: Issuer) -> None:
    assert studies(stack, issuer.keys.rs256()).status == 200
    assert "OIDC_ISSUER" not in os.environ
    assert handler._shared is None  # the module's per-process authorizer (Lambda's) is never built


def test_a_jwks_uri_the_function_refuses_fails_the_deployment(
    aws_env: AwsEnv, healthimaging: HealthImagingEmulator, tmp_path: Path
) -> None:
    with pytest.raises(DeployError, match=r"OIDC_JWKS_URI = 'http://jwks\.example\.org/keys' is not an https URL"):
        deploy_stack(
            aws_env,
            healthimaging,
            tmp_path / "outputs.json",
            overrides=OVERRIDES,
            authorizer_jwks_uri="http://jwks.example.org/keys",
        )
