"""The cloud viewer's generated OHIF configuration, tested as data: the data store's DICOMweb root, the OIDC sign-in
(authorization code with PKCE, redirect URIs on the viewer), lazy study loading, no fuzzy or wildcard search, no tour,
and no URL outside the viewer, the data store and the identity provider."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from typing import Any

import pytest

from components.viewer_app_config import ViewerSignIn, app_config, app_config_js

DICOMWEB = "https://dicom-medical-imaging.us-east-1.amazonaws.com/datastore/" + "a" * 32
ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Example1"
SIGN_IN = ViewerSignIn(authority=ISSUER, client_id="viewer-client", viewer_url="https://d111111abcdef8.cloudfront.net")


@pytest.fixture
def config() -> dict[str, Any]:
    return app_config(DICOMWEB, SIGN_IN)


def test_one_dicomweb_data_source_at_the_data_stores_root(config: dict[str, Any]) -> None:
    (source,) = config["dataSources"]
    assert source["namespace"] == "@ohif/extension-default.dataSourcesModule.dicomweb"
    assert config["defaultDataSourceName"] == source["sourceName"]
    settings = source["configuration"]
    assert (settings["qidoRoot"], settings["wadoRoot"], settings["wadoUriRoot"]) == (DICOMWEB, DICOMWEB, DICOMWEB)
    assert (settings["imageRendering"], settings["thumbnailRendering"]) == ("wadors", "wadors")


def test_studies_load_lazily_without_fuzzy_or_wildcard_search(config: dict[str, Any]) -> None:
    settings = config["dataSources"][0]["configuration"]
    assert settings["enableStudyLazyLoad"] is True
    assert (settings["supportsFuzzyMatching"], settings["supportsWildcard"]) == (False, False)
    assert settings["omitQuotationForMultipartRequest"] is True
    assert (settings["supportsStow"], settings["supportsReject"], settings["dicomUploadEnabled"]) == (
        False,
        False,
        False,
    )


def test_the_sign_in_is_the_code_flow_on_the_viewers_own_urls(config: dict[str, Any]) -> None:
    assert config["oidc"] == [
        {
            "authority": ISSUER,
            "client_id": "viewer-client",
            "redirect_uri": "https://d111111abcdef8.cloudfront.net/callback",
            "silent_redirect_uri": "https://d111111abcdef8.cloudfront.net/silent-refresh.html",
            "post_logout_redirect_uri": "https://d111111abcdef8.cloudfront.net/signed-out",
            "response_type": "code",
            "scope": "openid",
            "automaticSilentRenew": True,
            "revokeAccessTokenOnSignout": True,
        }
    ]


def test_no_client_secret_and_no_implicit_flow(config: dict[str, Any]) -> None:
    text = json.dumps(config).lower()
    assert "secret" not in text
    assert "token id_token" not in text
    assert '"response_type": "id_token' not in text


def test_no_url_outside_the_viewer_the_data_store_and_the_identity_provider(config: dict[str, Any]) -> None:
    hosts = set(re.findall(r"https?://([^/\"]+)", app_config_js(config)))
    assert hosts == {
        "dicom-medical-imaging.us-east-1.amazonaws.com",
        "cognito-idp.us-east-1.amazonaws.com",
        "d111111abcdef8.cloudfront.net",
    }


def test_nothing_is_configured_from_the_url_or_downloaded_as_customization(config: dict[str, Any]) -> None:
    assert config["customizationService"] == {}
    assert config["extensions"] == []
    assert config["modes"] == []
    assert "dangerouslyUseDynamicConfig" not in config


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js evaluates the generated app-config.js")
def test_the_file_sets_the_configuration_and_marks_the_tour_as_shown(config: dict[str, Any]) -> None:
    script = (
        "const store = {}; globalThis.window = {localStorage: {getItem: k => store[k] ?? null, "
        "setItem: (k, v) => { store[k] = v; }}};\n"
        + app_config_js(config)
        + "\nconsole.log(JSON.stringify({config: window.config, tours: store.shownTours}));\n"
    )
    completed = subprocess.run(
        [shutil.which("node") or "node", "-e", script], capture_output=True, text=True, timeout=30, check=True
    )
    result = json.loads(completed.stdout)
    assert result["config"] == config
    assert json.loads(result["tours"]) == ["basicViewerTour"]


def test_without_sign_in_there_is_no_oidc_block() -> None:
    assert "oidc" not in app_config(DICOMWEB, None)
