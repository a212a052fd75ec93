"""`ahictl view`: bad input is a clear message and exit 2 or 1 before anything listens; a run prints one
`Viewer:` line, serves until Ctrl-C and exits 0."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import botocore.credentials
import botocore.tokens
import pytest

from ahictl import cli
from ahiops.viewer_app import OHIF_VERSION
from testkit.dicomweb_client import ServedSample
from testkit.view_process import ViewProcess

ACCOUNT = "123456789012"
DATASTORE_ID = "0123456789abcdef0123456789abcdef"
SSO_CONFIG = """\
[profile expired]
sso_session = corp
sso_account_id = 123456789012
sso_role_name = Reader
region = us-east-1

[sso-session corp]
sso_start_url = https://example.awsapps.com/start
sso_region = us-east-1
sso_registration_scopes = sso:account:access

[profile signed-out]
sso_start_url = https://example.awsapps.com/start
sso_region = us-east-1
sso_account_id = 123456789012
sso_role_name = Reader
region = us-east-1
"""


def outputs(**extra: Any) -> dict[str, Any]:
    return {
        "accountId": ACCOUNT,
        "region": "us-east-1",
        "inputBucketName": "hi-input",
        "outputBucketName": "hi-output",
        "datastoreId": DATASTORE_ID,
        "datastoreArn": f"arn:aws:medical-imaging:us-east-1:{ACCOUNT}:datastore/{DATASTORE_ID}",
        "importRoleArn": f"arn:aws:iam::{ACCOUNT}:role/import",
        **extra,
    }


@pytest.fixture
def aws_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No AWS configuration, credentials or cache of the machine: dummy keys, an empty home."""
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True)
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(home / ".aws" / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(home / ".aws" / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    return home


@pytest.fixture
def viewer_dir(tmp_path: Path) -> Path:
    build = tmp_path / "ohif-build"
    build.mkdir()
    (build / "index.html").write_text("<!doctype html><title>viewer</title>")
    return build


def write_outputs(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(data))
    return path


def view(tmp_path: Path, *extra: str, data: dict[str, Any] | None = None) -> int:
    path = write_outputs(tmp_path, outputs() if data is None else data)
    return cli.main(["view", "--outputs", str(path), "--no-browser", *extra])


def test_outputs_without_the_data_store_are_a_usage_error(
    aws_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = outputs()
    del data["datastoreId"]
    assert view(tmp_path, data=data) == 2
    captured = capsys.readouterr()
    assert "has no key 'datastoreId'" in captured.err
    assert "Viewer:" not in captured.out
    assert "Traceback" not in captured.err


def test_a_dicomweb_url_of_another_data_store_is_a_usage_error(
    aws_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = outputs(dicomwebUrl=f"https://dicom-medical-imaging.us-east-1.amazonaws.com/datastore/{'f' * 32}")
    assert view(tmp_path, data=data) == 2
    assert "key 'dicomwebUrl'" in capsys.readouterr().err


def test_a_study_that_is_not_a_uid_is_a_usage_error(
    aws_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert view(tmp_path, "--study", "1.2.abc") == 2
    assert "--study 1.2.abc: a UID is digits separated by dots" in capsys.readouterr().err


def test_a_port_that_is_not_a_number_is_a_usage_error(
    aws_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        view(tmp_path, "--port", "70000")
    assert exited.value.code == 2
    assert "70000 is not a port number (1-65535)" in capsys.readouterr().err


def test_no_credentials_is_an_error_with_advice(
    aws_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    assert view(tmp_path) == 1
    captured = capsys.readouterr()
    assert "no AWS credentials were found" in captured.err
    assert "aws sso login" in captured.err
    assert "Traceback" not in captured.err


@pytest.mark.parametrize(
    ("profile", "shown"),
    [("expired", "Token has expired and refresh failed"), ("signed-out", "Error loading SSO Token")],
)
def test_an_expired_or_missing_sso_sign_in_is_an_error_with_advice(
    aws_home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    profile: str,
    shown: str,
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    (aws_home / ".aws" / "config").write_text(SSO_CONFIG)
    cache = aws_home / ".aws" / "sso" / "cache"
    cache.mkdir(parents=True)
    # botocore reads the token cache's folder from HOME once, when it is imported.
    monkeypatch.setattr(botocore.tokens.SSOTokenProvider, "_SSO_TOKEN_CACHE_DIR", str(cache))
    monkeypatch.setattr(botocore.credentials.SSOProvider, "_SSO_TOKEN_CACHE_DIR", str(cache))
    token = {"startUrl": "https://example.awsapps.com/start", "region": "us-east-1", "accessToken": "old-token"}
    (cache / f"{hashlib.sha1(b'corp').hexdigest()}.json").write_text(
        json.dumps({**token, "expiresAt": "2020-01-01T00:00:00Z"})
    )
    assert view(tmp_path, "--profile", profile) == 1
    captured = capsys.readouterr()
    assert "the AWS sign-in is missing or expired" in captured.err
    assert shown in captured.err
    assert f"aws sso login --profile {profile}" in captured.err
    assert "old-token" not in captured.err


def test_npm_missing_and_no_viewer_dir_is_an_error_with_advice(
    aws_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "no-programs"))
    assert view(tmp_path) == 1
    captured = capsys.readouterr()
    assert f"the viewer app (@ohif/app {OHIF_VERSION}) is not in the cache" in captured.err
    assert "npm, which fetches it, is not installed" in captured.err
    assert "--viewer-dir DIR" in captured.err
    assert "Viewer:" not in captured.out


def test_a_proxy_that_cannot_be_used_is_a_usage_error_that_hides_its_password(
    aws_home: Path,
    tmp_path: Path,
    viewer_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "socks5://user:hunter2@proxy.example:1080")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    assert view(tmp_path, "--viewer-dir", str(viewer_dir)) == 2
    captured = capsys.readouterr()
    assert "the HTTPS proxy (HTTPS_PROXY, host proxy.example) cannot be used" in captured.err
    assert "hunter2" not in captured.err


def test_a_viewer_dir_without_the_app_is_a_usage_error(
    aws_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert view(tmp_path, "--viewer-dir", str(tmp_path)) == 2
    assert "no index.html in it or in its dist/ folder" in capsys.readouterr().err


@pytest.mark.server
def test_a_port_in_use_is_a_usage_error(
    aws_home: Path, tmp_path: Path, viewer_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert view(tmp_path, "--viewer-dir", str(viewer_dir), "--port", str(port)) == 2
    captured = capsys.readouterr()
    assert f"--port {port}: 127.0.0.1:{port} is in use by another program" in captured.err
    assert "Viewer:" not in captured.out


@pytest.mark.server
def test_a_run_prints_one_viewer_line_serves_and_stops_on_ctrl_c(
    aws_home: Path, tmp_path: Path, viewer_dir: Path, served_sample: ServedSample
) -> None:
    outputs_path = write_outputs(
        tmp_path,
        outputs(
            datastoreId=served_sample.datastore_id,
            datastoreArn=f"arn:aws:medical-imaging:us-east-1:{ACCOUNT}:datastore/{served_sample.datastore_id}",
            dicomwebUrl=served_sample.root,
        ),
    )
    running = ViewProcess(
        outputs_path,
        "--viewer-dir",
        str(viewer_dir),
        "--study",
        served_sample.study_uid,
        environment=dict(os.environ),
    )
    url = running.url
    try:
        parts = urlsplit(url)
        assert (parts.scheme, parts.hostname) == ("http", "127.0.0.1")
        connection = http.client.HTTPConnection("127.0.0.1", parts.port, timeout=10)
        connection.request("GET", f"{parts.path}?{parts.query}")
        opened = connection.getresponse()
        opened.read()
        assert opened.status == 303
        assert opened.getheader("Location") == f"/viewer?StudyInstanceUIDs={served_sample.study_uid}"
        cookie = opened.getheader("Set-Cookie", "").split(";", 1)[0]
        connection.request("GET", f"/datastore/{served_sample.datastore_id}/studies", headers={"Cookie": cookie})
        studies = connection.getresponse()
        assert studies.status == 200
        assert served_sample.study_uid in studies.read().decode()
        connection.close()
    finally:
        code, stdout, stderr = running.stop()
    assert code == 0
    assert stdout == ""  # the Viewer: line was the only one
    assert "stopped" in stderr
    assert "Traceback" not in stderr
    assert parts.query.split("key=", 1)[1].split("&", 1)[0] not in stderr
    assert [(seen.signed, seen.status) for seen in served_sample.emulator.dicomweb.requests] == [(True, 200)]
