"""The team viewer (``ImagingViewer``) end to end in Debian's headless Chromium with software WebGL: the app and the
``app-config.js`` the component generates, served as its distribution serves them (testkit/viewer_site.py), reading
DICOMweb straight from the sandbox's HealthImaging emulator, into which the stack is deployed from its plan, with
bearer tokens that the stack's DICOMweb authorizer decides on (the real handler, with the environment the plan gives
its function, run in-process by the sandbox as HealthImaging invokes it); requests are carried out as the persona
role it names.

The sign-in runs as in the cloud, up to the identity provider: the app reads the user pool's discovery document,
sends the browser to the hosted sign-in page with PKCE, and redeems the code at the token endpoint. Those three
are played inside Chromium (testkit/hosted_sign_in.py: the requests are checked as Cognito checks them; the user
is signed in without a form), because the user pool's hosts cannot be reached offline. What is not run: Cognito's
own sign-in page (password, MFA) and the distribution's response headers (their documents are tested under mocks).

pydicom's sample CT is imported first by a real import job (the stack's buckets and import role). A reader sees the
study in the list and its image in the viewport; a user in no persona group signs in, but every DICOMweb request is
refused and nothing is shown.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pydicom
import pytest

from ahiops import viewer_app
from components.viewer_app_config import ViewerSignIn, app_config, app_config_js
from components.viewer_options import VIEWER_DEFAULTS, hosted_sign_in_origin, user_pool_domain_prefix
from healthimaging_functions.dicomweb_authorizer import handler
from sandbox import MOTO_ACCOUNT_ID, TEST_REGION
from sandbox.healthimaging import HealthImagingEmulator
from testkit.chromium_cdp import Chromium
from testkit.dicom_samples import sample
from testkit.fakes.deployed_stack import DeployedStack, deploy_stack
from testkit.fakes.environment import AwsEnv
from testkit.hosted_sign_in import HostedSignIn
from testkit.import_job import import_files
from testkit.oidc import AUDIENCE, ISSUER, IssuerKeys, serving_jwks
from testkit.viewer_page import chromium_binary, page_text, shows_image, wait_for_image, wait_for_text
from testkit.viewer_site import serving_viewer

pytestmark = pytest.mark.browser

CT_SMALL = sample("CT_small.dcm")
CT = pydicom.dcmread(CT_SMALL, stop_before_pixels=True)
NAME_PREFIX = "ahi-dev"
#: The viewer's default personas: a group per persona, named as the persona.
PERSONAS: dict[str, list[str]] = VIEWER_DEFAULTS["personas"]
#: The data store's ``dicomweb_oidc`` as the program builds it with the viewer on (program.component_args), with
#: testkit's issuer and client in place of the user pool and its app client.
VIEWER_OIDC = {"issuer": ISSUER, "audiences": [AUDIENCE], "personas": PERSONAS, "groupsClaim": "cognito:groups"}
#: How long a refused user's page is watched for anything shown, once its requests have been refused.
SETTLE_SECONDS = 5


@pytest.fixture
def chromium() -> str:
    return chromium_binary()


@dataclass
class TeamViewer:
    """The imported study's data store with the stack's authorizer, and what the test needs to sign a user in."""

    healthimaging: HealthImagingEmulator
    stack: DeployedStack
    keys: IssuerKeys
    decisions: list[dict[str, Any]]

    @property
    def dicomweb_url(self) -> str:
        return str(self.stack.outputs["dicomwebUrl"])

    def sign_in_as(self, groups: list[str], redirect_uri: str) -> HostedSignIn:
        return HostedSignIn(
            keys=self.keys,
            issuer=ISSUER,
            domain=hosted_sign_in_origin(user_pool_domain_prefix(NAME_PREFIX, MOTO_ACCOUNT_ID), TEST_REGION),
            client_id=AUDIENCE,
            redirect_uri=redirect_uri,
            groups=groups,
        )


@pytest.fixture
def team_viewer(
    aws_env: AwsEnv, healthimaging: HealthImagingEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TeamViewer]:
    """The dev stack deployed into the sandbox as with the viewer on (``dicomwebOidc`` as the viewer sets it: the user
    pool's issuer, the app client as audience, the viewer's personas; testkit's issuer stands in for the pool), so
    the data store's bearer tokens go to the stack's own authorizer function, run in-process with the environment
    the plan gives it (only its key set's location differs: the test issuer's, on 127.0.0.1), and its requests are
    carried out as the persona role it names; pydicom's sample CT imported by a real import job."""
    keys = IssuerKeys()
    decisions: list[dict[str, Any]] = []
    real = handler.handle

    def recording(event: Mapping[str, Any], context: Any = None, **options: Any) -> dict[str, Any]:
        decision = real(event, context, **options)
        decisions.append(decision)
        return decision

    monkeypatch.setattr(handler, "handle", recording)
    with serving_jwks(keys.jwks()) as jwks:
        stack = deploy_stack(
            aws_env,
            healthimaging,
            tmp_path / "outputs.json",
            overrides={"dicomwebOidc": json.dumps(VIEWER_OIDC)},
            authorizer_jwks_uri=jwks.url,
        )
        summary = import_files(
            aws_env, healthimaging, stack.datastore_id, {"ct/CT_small.dcm": CT_SMALL.read_bytes()}, stack=stack
        )
        assert summary["failures"] == []
        healthimaging.dicomweb.requests.clear()
        decisions.clear()
        yield TeamViewer(healthimaging, stack, keys, decisions)


def generated_config(dicomweb_url: str) -> Any:
    """The component's app-config.js for a distribution at the site's URL (the same functions ImagingViewer calls)."""
    return lambda site_url: app_config_js(
        app_config(dicomweb_url, ViewerSignIn(authority=ISSUER, client_id=AUDIENCE, viewer_url=site_url))
    )


def elsewhere(requested: list[str], *origins: str) -> list[str]:
    """URLs the page asked for outside the given origins (and data: or blob: URLs)."""
    return [url for url in requested if not url.startswith((*origins, "data:", "blob:"))]


def test_a_reader_signs_in_sees_the_study_and_its_image(chromium: str, team_viewer: TeamViewer, tmp_path: Path) -> None:
    dicomweb_origin = "{0.scheme}://{0.netloc}/".format(urlsplit(team_viewer.dicomweb_url))
    with serving_viewer(viewer_app.cached_app_dir(), generated_config(team_viewer.dicomweb_url)) as site:
        sign_in = team_viewer.sign_in_as(PERSONAS["reader"], f"{site.url}/callback")
        with Chromium(chromium) as browser:
            browser.intercept(sign_in.url_patterns, sign_in)
            browser.navigate(f"{site.url}/")
            listed = wait_for_text(browser, str(CT.PatientName.family_name))
            study_list = page_text(browser)
            browser.navigate(f"{site.url}/viewer?StudyInstanceUIDs={CT.StudyInstanceUID}")
            counts = wait_for_image(browser)
            browser.screenshot(tmp_path / "team-viewer.png")
            requested, intercepted, errors = browser.requested_urls(), browser.intercepted, browser.interceptor_errors
            log = browser.log_tail()

    assert listed, (study_list, log)
    assert shows_image(counts), (counts, log)
    assert (sign_in.refusals, errors) == ([], [])
    # Signed in twice (the viewer's page is a new load): each time discovery, the hosted page and the token endpoint.
    assert len(sign_in.issued) == 2
    assert {(r.method, urlsplit(r.url).path) for r in intercepted} == {
        ("GET", "/us-east-1_Example1/.well-known/openid-configuration"),
        ("GET", "/oauth2/authorize"),
        ("POST", "/oauth2/token"),
    }
    seen = team_viewer.healthimaging.dicomweb.requests
    assert {r.operation for r in seen} >= {"SearchDICOMStudies", "GetDICOMSeriesMetadata", "GetDICOMInstanceFrames"}
    assert [f"{r.operation} {r.auth} {r.status}" for r in seen if (r.auth, r.status) != ("bearer", 200)] == []
    reader_role = team_viewer.stack.outputs["dicomwebPersonaRoleArns"]["reader"]
    assert {d.get("roleArn") for d in team_viewer.decisions} == {reader_role}
    assert {r.role_arn for r in seen} == {reader_role}
    assert elsewhere(requested, f"{site.url}/", dicomweb_origin, sign_in.issuer, sign_in.domain) == []
    assert (tmp_path / "team-viewer.png").stat().st_size > 10_000


def test_a_user_in_no_persona_group_signs_in_but_sees_nothing(chromium: str, team_viewer: TeamViewer) -> None:
    with serving_viewer(viewer_app.cached_app_dir(), generated_config(team_viewer.dicomweb_url)) as site:
        sign_in = team_viewer.sign_in_as(["visitors"], f"{site.url}/callback")
        with Chromium(chromium) as browser:
            browser.intercept(sign_in.url_patterns, sign_in)
            browser.navigate(f"{site.url}/viewer?StudyInstanceUIDs={CT.StudyInstanceUID}")
            refused = wait_for_dicomweb_request(team_viewer)
            time.sleep(SETTLE_SECONDS)
            counts = wait_for_image(browser, timeout=1)
            shown = page_text(browser)
            browser.navigate(f"{site.url}/")
            wait_for_dicomweb_request(team_viewer, operation="SearchDICOMStudies")
            time.sleep(SETTLE_SECONDS)
            study_list = page_text(browser)

    assert refused, "the viewer never asked for the study"
    assert sign_in.issued
    assert sign_in.refusals == []
    assert not shows_image(counts), counts
    assert str(CT.PatientName.family_name) not in shown + study_list
    seen = team_viewer.healthimaging.dicomweb.requests
    assert seen
    assert [(r.operation, r.status) for r in seen if r.status != 403] == []
    assert "GetDICOMInstanceFrames" not in {r.operation for r in seen}
    assert team_viewer.decisions
    assert [d for d in team_viewer.decisions if d != {"isTokenValid": False}] == []


def wait_for_dicomweb_request(team_viewer: TeamViewer, operation: str | None = None, timeout: float = 90) -> bool:
    """Poll the emulator's records until it saw a DICOMweb request (of ``operation``, when given)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(operation in (None, r.operation) for r in team_viewer.healthimaging.dicomweb.requests):
            return True
        time.sleep(0.25)
    return False
