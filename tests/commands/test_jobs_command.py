"""ahictl jobs against loopback fakes: moto's S3 and the HealthImaging stand-in (jobs started by anyone)."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import botocore.endpoint
import pytest
from pydicom.data import get_testdata_file

from ahictl.cli import main

CT_SMALL = Path(str(get_testdata_file("CT_small.dcm")))
NO_META = Path(str(get_testdata_file("no_meta.dcm")))  # a DICOM data set without the Part 10 header


@dataclass
class Stack:
    outputs_path: Path
    outputs: dict[str, Any]
    s3: Any
    medical_imaging: Any
    healthimaging: Any

    def start_job(self, files: dict[str, bytes], token: str) -> str:
        """Upload ``files`` under ``manual/<token>/`` and start a job on them as another tool would."""
        for name, body in files.items():
            self.s3.put_object(Bucket=self.outputs["inputBucketName"], Key=f"manual/{token}/{name}", Body=body)
        response = self.medical_imaging.start_dicom_import_job(
            jobName=f"console-{token}",
            datastoreId=self.outputs["datastoreId"],
            dataAccessRoleArn=self.outputs["importRoleArn"],
            clientToken=token,
            inputS3Uri=f"s3://{self.outputs['inputBucketName']}/manual/{token}/",
            outputS3Uri=f"s3://{self.outputs['outputBucketName']}/manual-results/{token}/",
        )
        return str(response["jobId"])


@pytest.fixture
def stack(aws_env: Any, tmp_path: Path) -> Stack:
    """Buckets in moto, a data store in the stand-in, and the outputs file (jobs needs no role or policies)."""
    s3 = aws_env.client("s3")
    account = aws_env.account_id
    names = {role: f"hi-{role}-{account}" for role in ("input", "output")}
    for name in names.values():
        s3.create_bucket(Bucket=name)
    datastore_id, datastore_arn = aws_env.healthimaging.create_datastore("imaging")
    outputs = {
        "accountId": account,
        "region": aws_env.region,
        "inputBucketName": names["input"],
        "outputBucketName": names["output"],
        "logBucketName": None,
        "bucketKmsKeyArn": None,
        "datastoreId": datastore_id,
        "datastoreArn": datastore_arn,
        "datastoreKmsKeyArn": None,
        "importRoleArn": f"arn:aws:iam::{account}:role/hi-import",
    }
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(outputs))
    return Stack(path, outputs, s3, aws_env.client("medical-imaging", max_attempts=3), aws_env.healthimaging)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["jobs", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_lists_every_page_newest_first(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    job_ids = [stack.start_job({"a.dcm": CT_SMALL.read_bytes()}, f"token-{i:03d}") for i in range(55)]
    code, out, err = run(capsys, "--outputs", str(stack.outputs_path), "--json", "--limit", "0")
    assert (code, err) == (0, "")
    listed = json.loads(out)
    assert listed["datastoreId"] == stack.outputs["datastoreId"]
    assert sorted(job["jobId"] for job in listed["jobs"]) == sorted(job_ids)
    assert listed["jobs"][0]["jobStatus"] == "SUBMITTED"
    submitted = [job["submittedAt"] for job in listed["jobs"]]
    assert submitted == sorted(submitted, reverse=True)
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", moment) for moment in submitted)
    pages = [params for operation, params in stack.healthimaging.requests if operation == "ListDICOMImportJobs"]
    assert len(pages) == 2
    assert all(page.get("maxResults") == 50 for page in pages)
    assert "nextToken" in pages[1]


def test_list_table_limit_and_status(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    first = stack.start_job({"a.dcm": CT_SMALL.read_bytes()}, "first")
    stack.healthimaging.complete_job(first)
    second = stack.start_job({"a.dcm": CT_SMALL.read_bytes()}, "second")
    code, out, _ = run(capsys, "--outputs", str(stack.outputs_path), "--limit", "1")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["JOB", "ID", "STATUS", "SUBMITTED", "ENDED", "NAME"]
    assert len(lines) == 2
    assert lines[1].startswith(f"{second}  SUBMITTED")
    assert lines[1].endswith("console-second")
    code, out, _ = run(capsys, "--outputs", str(stack.outputs_path), "--status", "COMPLETED", "--json")
    assert [job["jobId"] for job in json.loads(out)["jobs"]] == [first]


def test_empty_data_store(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--outputs", str(stack.outputs_path))
    assert code == 0
    assert out == f"No import jobs in data store {stack.outputs['datastoreId']}.\n"


def test_one_completed_job_with_a_failed_file_shows_the_partial_import(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    job_id = stack.start_job({"ct.dcm": CT_SMALL.read_bytes(), "raw.dcm": NO_META.read_bytes()}, "mixed")
    stack.healthimaging.complete_job(job_id)
    code, out, err = run(capsys, job_id, "--outputs", str(stack.outputs_path), "--json")
    assert (code, err) == (0, "")
    report = json.loads(out)
    assert report["job"]["jobId"] == job_id
    assert report["job"]["jobStatus"] == "COMPLETED"
    assert report["summary"]["scanned"] == 2
    assert report["summary"]["imported"] == 1
    assert report["summary"]["customerErrors"] == 1
    assert report["summary"]["imageSetsCreated"] == 1
    assert len(report["imageSets"]) == 1
    [failure] = report["failed"]
    assert failure["file"].endswith("manual/mixed/raw.dcm")
    assert failure["reason"]
    assert report["outputFolder"].endswith(f"{stack.outputs['datastoreId']}-DicomImport-{job_id}/")

    code, out, _ = run(capsys, job_id, "--outputs", str(stack.outputs_path))
    assert code == 0
    assert f"Job {job_id} (console-mixed): COMPLETED" in out
    assert "files scanned 2, imported 1, failed 1 (input errors 1, server errors 0)" in out
    assert "failed files (1):" in out
    assert "manual/mixed/raw.dcm: " in out
    assert "COMPLETED with failed files: this job is a partial import." in out


def test_one_failed_job_shows_its_message(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    stack.healthimaging.fail_job_when(lambda job: "the role could not be assumed")
    job_id = stack.start_job({"ct.dcm": CT_SMALL.read_bytes()}, "doomed")
    stack.healthimaging.complete_job(job_id)
    code, out, _ = run(capsys, job_id, "--outputs", str(stack.outputs_path))
    assert code == 0
    assert f"Job {job_id} (console-doomed): FAILED" in out
    assert "message the role could not be assumed" in out
    assert "results: the job failed before writing any output" in out


def test_a_running_job_has_no_results_yet(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    job_id = stack.start_job({"ct.dcm": CT_SMALL.read_bytes()}, "running")
    stack.healthimaging.polls_until_done = 5
    code, out, _ = run(capsys, job_id, "--outputs", str(stack.outputs_path), "--json")
    assert code == 0
    report = json.loads(out)
    assert report["job"]["jobStatus"] == "SUBMITTED"
    assert report["summary"] is None
    assert report["note"] == "the job is SUBMITTED; its results appear when it ends"


def test_unreadable_results_are_an_error(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    job_id = stack.start_job({"ct.dcm": CT_SMALL.read_bytes()}, "lost")
    stack.healthimaging.complete_job(job_id)
    folder = f"manual-results/lost/{stack.outputs['datastoreId']}-DicomImport-{job_id}/"
    stack.s3.put_object(Bucket=stack.outputs["outputBucketName"], Key=folder + "job-output-manifest.json", Body=b"{")
    code, out, err = run(capsys, job_id, "--outputs", str(stack.outputs_path))
    assert code == 1
    assert f"Job {job_id} (console-lost): COMPLETED" in out
    assert "error: the job's results could not be read:" in err
    assert "job-output-manifest.json: not valid JSON" in err


def test_unknown_job_is_a_usage_error(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "f" * 32, "--outputs", str(stack.outputs_path))
    assert (code, out) == (2, "")
    assert err.startswith(f"error: there is no import job {'f' * 32} in data store {stack.outputs['datastoreId']}")
    assert "Traceback" not in err


def test_malformed_job_id_is_refused_before_any_call(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "Job-1", "--outputs", str(stack.outputs_path))
    assert code == 2
    assert "error: JOB_ID 'Job-1': an import job id is 1-32 characters of 0-9 and a-z" in err
    assert not [op for op, _ in stack.healthimaging.requests if op == "GetDICOMImportJob"]


def test_missing_outputs_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--outputs", str(tmp_path / "missing.json"))
    assert (code, out) == (2, "")
    assert err == (
        f"error: outputs file '{tmp_path / 'missing.json'}' does not exist. Write it with "
        f"`pulumi stack output --json > {tmp_path / 'missing.json'}` from the project directory, or pass --stack NAME.\n"
    )


def test_missing_outputs_key(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    del stack.outputs["datastoreId"]
    stack.outputs_path.write_text(json.dumps(stack.outputs))
    code, _, err = run(capsys, "--outputs", str(stack.outputs_path))
    assert code == 2
    assert f"error: outputs file '{stack.outputs_path}' has no key 'datastoreId'" in err


def test_negative_limit_is_a_usage_error(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["jobs", "--outputs", str(stack.outputs_path), "--limit", "-1"])
    assert caught.value.code == 2
    assert "--limit: -1 is negative" in capsys.readouterr().err


def test_missing_credentials_say_how_to_sign_in(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    code, out, err = run(capsys, "--outputs", str(stack.outputs_path))
    assert (code, out) == (1, "")
    assert "no AWS credentials were found" in err
    assert "`aws sso login --profile <your-profile>`" in err
    assert "Traceback" not in err


def test_expired_credentials_say_how_to_sign_in(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    stack.healthimaging.inject_error(
        "ListDICOMImportJobs", "ExpiredTokenException", message="The security token is expired"
    )
    code, _, err = run(capsys, "--outputs", str(stack.outputs_path), "--profile", "imaging")
    assert code == 2  # the profile does not exist in this test's (empty) AWS configuration
    assert "--profile imaging" in err
    code, _, err = run(capsys, "--outputs", str(stack.outputs_path))
    assert code == 1
    assert "the AWS credentials are expired or not valid (ExpiredTokenException: The security token is expired)" in err
    assert "aws sso login --profile" in err


def test_throttling_is_retried_then_reported(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    delays: list[float] = []
    # botocore sleeps between retries in botocore.endpoint; record the delays instead of waiting them out.
    monkeypatch.setattr(botocore.endpoint, "time", SimpleNamespace(sleep=delays.append, time=time.time))

    def list_calls() -> int:
        return sum(1 for operation, _ in stack.healthimaging.requests if operation == "ListDICOMImportJobs")

    stack.healthimaging.throttle("ListDICOMImportJobs", times=2)
    code, _, err = run(capsys, "--outputs", str(stack.outputs_path), "--json")
    assert (code, err) == (0, "")
    assert list_calls() == 3
    assert len(delays) == 2
    stack.healthimaging.throttle("ListDICOMImportJobs", times=50)
    code, out, err = run(capsys, "--outputs", str(stack.outputs_path), "--json")
    assert code == 1
    assert json.loads(out)["error"]["awsErrorCode"] == "ThrottlingException"
    assert list_calls() == 3 + 6  # one call and five retries
    assert err.startswith("error: ListDICOMImportJobs for data store")
    assert "failed: ThrottlingException: Rate exceeded" in err


def test_access_denied_names_the_operation(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    stack.healthimaging.inject_error("GetDICOMImportJob", "AccessDeniedException", message="not authorized")
    code, _, err = run(capsys, "a" * 32, "--outputs", str(stack.outputs_path))
    assert code == 1
    assert f"error: GetDICOMImportJob {'a' * 32}: access denied (AccessDeniedException: not authorized)" in err
