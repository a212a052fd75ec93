"""The documented ways to call ``dicomwebUrl`` (docs/dicomweb-and-creation-options.md) run as written: the SigV4
example signs for the service ``medical-imaging`` in the session's region and sends exactly the request it signed."""

from __future__ import annotations

import re
from typing import Any

import pytest
import requests

from testkit.mock_runs import PROJECT_DIR

DOC = PROJECT_DIR / "docs" / "dicomweb-and-creation-options.md"
URL = "https://dicom-medical-imaging.eu-west-2.amazonaws.com/datastore/" + "a" * 32


def code_blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(), flags=re.DOTALL)


def test_the_sigv4_example_signs_for_medical_imaging_and_sends_what_it_signed(monkeypatch: pytest.MonkeyPatch) -> None:
    [example] = [block for block in code_blocks("python") if "SigV4Auth" in block]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-a-secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-2")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    sent: dict[str, Any] = {}

    def get(url: str, **kwargs: Any) -> str:
        sent.update(kwargs, url=url)
        return "response"

    monkeypatch.setattr(requests, "get", get)
    exec(example.replace("<dicomwebUrl>", URL), {})
    assert sent["url"] == f"{URL}/studies?PatientID=12345"
    authorization = sent["headers"]["Authorization"]
    assert re.match(
        r"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/\d{8}/eu-west-2/medical-imaging/aws4_request,", authorization
    )
    assert "X-Amz-Date" in sent["headers"]
    assert sent["headers"]["Accept"] == "application/dicom+json"


def test_the_bearer_example_sends_an_access_token_to_the_same_url() -> None:
    [example] = [block for block in code_blocks("sh") if "Bearer" in block]
    assert "Authorization: Bearer $ACCESS_TOKEN" in example
    assert '"<dicomwebUrl>/studies"' in example
