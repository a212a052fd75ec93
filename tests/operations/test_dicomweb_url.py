"""The data store's DICOMweb root: derived from region and data store, or the stack's ``dicomwebUrl`` output, checked."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ahiops.dicomweb import dicomweb_url, dicomweb_url_problem, proxy_for
from ahiops.errors import StackOutputsError
from ahiops.stack_outputs import load_outputs_file

ACCOUNT = "123456789012"
DATASTORE_ID = "0123456789abcdef0123456789abcdef"


def outputs(**extra: Any) -> dict[str, Any]:
    return {
        "accountId": ACCOUNT,
        "region": "eu-west-1",
        "inputBucketName": "hi-input",
        "outputBucketName": "hi-output",
        "datastoreId": DATASTORE_ID,
        "datastoreArn": f"arn:aws:medical-imaging:eu-west-1:{ACCOUNT}:datastore/{DATASTORE_ID}",
        "importRoleArn": f"arn:aws:iam::{ACCOUNT}:role/import",
        **extra,
    }


def write(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(data))
    return path


def test_the_url_is_derived_from_region_and_data_store() -> None:
    assert dicomweb_url("eu-west-1", DATASTORE_ID) == (
        f"https://dicom-medical-imaging.eu-west-1.amazonaws.com/datastore/{DATASTORE_ID}"
    )


def test_a_stack_without_the_output_gets_the_derived_url(tmp_path: Path) -> None:
    loaded = load_outputs_file(write(tmp_path, outputs()))
    assert loaded.dicomweb_url is None
    assert loaded.dicomweb_root == dicomweb_url("eu-west-1", DATASTORE_ID)


def test_the_output_is_used_when_present(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:4566/datastore/{DATASTORE_ID}"
    assert load_outputs_file(write(tmp_path, outputs(dicomwebUrl=url))).dicomweb_root == url


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        (f"http://dicom.example.com/datastore/{DATASTORE_ID}", "plain http is allowed only for 127.0.0.1"),
        (f"https://h.example/datastore/{'f' * 32}", f"is not the stack's data store {DATASTORE_ID}"),
        ("https://h.example/studies", "its path is not /datastore/<datastoreId>"),
        (f"https://h.example/datastore/{DATASTORE_ID}?x=1", "a query"),
        (f"https://user@h.example/datastore/{DATASTORE_ID}", "a user name"),
        ("ftp://h.example/", "not an https:// URL"),
        ("https://h.example:port/", "not a URL"),
    ],
)
def test_a_wrong_url_is_explained(url: str, problem: str) -> None:
    assert problem in dicomweb_url_problem(url, DATASTORE_ID)


def test_a_wrong_output_names_the_file_and_key(tmp_path: Path) -> None:
    path = write(tmp_path, outputs(dicomwebUrl="http://dicom.example.com/datastore/x"))
    with pytest.raises(StackOutputsError, match=r"outputs file .*key 'dicomwebUrl' has the value"):
        load_outputs_file(path)


@pytest.fixture
def no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)


def test_the_https_proxy_of_the_environment_is_used(no_proxies: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "proxy.example:3128")
    assert proxy_for(dicomweb_url("eu-west-1", DATASTORE_ID)) == "http://proxy.example:3128"


def test_no_proxy_for_a_host_in_no_proxy(no_proxies: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", ".amazonaws.com")
    assert proxy_for(dicomweb_url("eu-west-1", DATASTORE_ID)) is None


def test_never_a_proxy_for_loopback(no_proxies: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.example:3128")
    assert proxy_for(f"http://127.0.0.1:4000/datastore/{DATASTORE_ID}") is None


def test_without_proxy_settings_the_host_is_reached_directly(no_proxies: None) -> None:
    assert proxy_for(dicomweb_url("eu-west-1", DATASTORE_ID)) is None
