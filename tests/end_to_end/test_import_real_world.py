"""``ahictl import`` under real-world folders and faults, end to end on loopback (moto's S3 and the HealthImaging
stand-in): folders that grow, reruns with other limits, ``--reimport``, names that are not UTF-8, links of every
kind, a start whose answer is lost, failures reported as JSON, and the expected bucket owner on every S3 request."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pydicom
import pytest

from ahiops import folder_import, jobs, upload
from ahiops.errors import AwsAccessError
from ahiops.folder_import import ImportCallbacks
from ahiops.import_ledger import ENDED, PLANNED, LedgerStore
from ahiops.pacing import FakeClock
from sandbox.moto_server import ObservedMotoServer, RecordedRequest
from testkit.dicom_samples import sample
from testkit.fakes.environment import AwsEnv
from testkit.import_stack import (
    Stack,
    distinct_copy,
    make_folder,
    make_stack,
    run,
    run_cli,
)


@pytest.fixture
def stack(aws_env: AwsEnv, tmp_path: Path) -> Stack:
    """The dev stack deployed from its plan: its buckets, its ACTIVE data store, the outputs file
    (``testkit.import_stack``)."""
    return make_stack(aws_env, tmp_path)


@pytest.fixture(autouse=True)
def s3_keeps_checksum_headers(monkeypatch: pytest.MonkeyPatch) -> None:
    from testkit.fakes.s3_checksums import store_checksum_headers_as_s3_does

    store_checksum_headers_as_s3_does(monkeypatch)


def keys_under(stack: Stack, uri: str) -> list[str]:
    bucket, _, prefix = uri[len("s3://") :].partition("/")
    listed = stack.s3.list_objects_v2(Bucket=bucket, Prefix=prefix)
    return sorted(item["Key"][len(prefix) :] for item in listed.get("Contents", []))


def import_json(capsys: pytest.CaptureFixture[str], stack: Stack, folder: Path, *extra: str) -> tuple[int, Any, str]:
    code, out, err = run_cli(capsys, str(folder), "--outputs", str(stack.outputs_path), "--json", *extra)
    return code, json.loads(out), err


# ---------------------------------------------------------------- only what is new is imported


def test_a_folder_that_grew_uploads_and_imports_only_the_new_file(
    stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack.fake.polls_until_done = 0
    folder = make_folder(tmp_path / "data", copies=2)
    code, first, err = import_json(capsys, stack, folder)
    assert code == 0, err
    [first_job] = first["jobs"]
    distinct_copy(sample("CT_small.dcm"), folder / "study" / "series0" / "new.dcm", 7)
    code, second, err = import_json(capsys, stack, folder)
    assert code == 0, err
    assert second["upload"]["uploaded"] == 1
    assert second["alreadyImported"] == 4
    assert second["alreadyImportedBy"] == [{"jobId": first_job["jobId"], "files": 4}]
    assert second["imported"] == 5
    earlier, new = second["jobs"]
    assert (earlier["jobId"], earlier["earlierRun"], new["earlierRun"]) == (first_job["jobId"], True, False)
    assert new["inputS3Uri"] != first_job["inputS3Uri"]
    assert keys_under(stack, new["inputS3Uri"]) == ["study/series0/new.dcm"]
    assert len(stack.fake.jobs) == 2
    assert [start["inputS3Uri"] for start in stack.starts()] == [first_job["inputS3Uri"], new["inputS3Uri"]]
    assert stack.fake.jobs[new["jobId"]].files[0].key.endswith("/study/series0/new.dcm")
    assert len(stack.fake.jobs[new["jobId"]].files) == 1
    code, out, _ = run_cli(capsys, str(folder), "--outputs", str(stack.outputs_path))
    assert code == 0
    assert (
        f"5 of them were already imported by earlier jobs (job {first_job['jobId']} (4), job {new['jobId']} (1))" in out
    )


def test_a_changed_max_files_per_job_imports_nothing_again(
    stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack.fake.polls_until_done = 0
    folder = make_folder(tmp_path / "data", copies=2)
    code, first, _ = import_json(capsys, stack, folder)
    assert code == 0
    versions = stack.versions()
    code, second, err = import_json(capsys, stack, folder, "--max-files-per-job", "1")
    assert code == 0, err
    assert (second["upload"]["uploaded"], second["alreadyImported"], second["imported"]) == (0, 4, 4)
    assert [job["jobId"] for job in second["jobs"]] == [first["jobs"][0]["jobId"]]
    assert len(stack.fake.jobs) == 1
    assert len(stack.starts()) == 1
    assert stack.versions() == versions


def test_reimport_imports_the_same_content_again_on_purpose(
    stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack.fake.polls_until_done = 0
    folder = make_folder(tmp_path / "data")
    code, first, _ = import_json(capsys, stack, folder)
    assert code == 0
    code, again, err = import_json(capsys, stack, folder, "--reimport")
    assert code == 0, err
    assert again["reimport"] is True
    assert (again["alreadyImported"], again["upload"]["uploaded"], again["imported"]) == (0, 2, 2)
    [job] = again["jobs"]
    assert job["jobId"] != first["jobs"][0]["jobId"]
    assert job["inputS3Uri"] != first["jobs"][0]["inputS3Uri"]
    assert len(stack.fake.jobs) == 2
    # without --reimport, the latest import is the one reported
    code, third, _ = import_json(capsys, stack, folder)
    assert code == 0
    assert third["alreadyImportedBy"] == [{"jobId": job["jobId"], "files": 2}]
    assert len(stack.fake.jobs) == 2


def test_copies_of_the_same_content_are_imported_once(
    stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack.fake.polls_until_done = 0
    folder = make_folder(tmp_path / "data")
    shutil.copy(folder / "study" / "series0" / "ct.dcm", folder / "study" / "ct-copy.dcm")
    code, document, err = import_json(capsys, stack, folder)
    assert code == 0, err
    assert document["imported"] == 2
    [copy] = [item for item in document["skipped"] if item["file"] == "study/series0/ct.dcm"]
    assert copy["reason"] == "the same content as 'study/ct-copy.dcm', which is imported once"


# ---------------------------------------------------------------- what a failed run leaves behind


def test_uploads_of_a_run_whose_start_failed_are_reused_and_not_uploaded_again(
    stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack.fake.polls_until_done = 0
    stack.fake.inject_error("StartDICOMImportJob", "AccessDeniedException", message="not authorized to pass the role")
    folder = make_folder(tmp_path / "data")
    code, failed, err = import_json(capsys, stack, folder)
    assert code == 1
    assert "iam:PassRole" in failed["error"]["message"]
    assert failed["upload"]["uploaded"] == 2
    [staged] = failed["jobs"]
    assert (staged["jobId"], staged["jobStatus"]) == (None, "NOT_STARTED")
    distinct_copy(sample("MR_small.dcm"), folder / "study" / "later.dcm", 3)
    code, document, err = import_json(capsys, stack, folder)
    assert code == 0, err
    assert document["upload"]["uploaded"] == 1  # only the new file
    assert document["imported"] == 3
    reused, new = document["jobs"]
    assert reused["inputS3Uri"] == staged["inputS3Uri"]
    assert keys_under(stack, new["inputS3Uri"]) == ["study/later.dcm"]
    assert set(stack.versions().values()) == {1}
    assert len(stack.fake.jobs) == 2


def test_files_staged_for_a_job_that_can_no_longer_start_are_reported(
    stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack.fake.polls_until_done = 0
    folder = make_folder(tmp_path / "data")

    def stop_before_starting(report: Any) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(stack, folder, callbacks=ImportCallbacks(on_upload_end=stop_before_starting))
    [planned_prefix] = {key.rsplit("study/", 1)[0] for key in stack.versions()}
    (folder / "study" / "series0" / "mr.dcm").unlink()  # the folder changed before the job started
    code, out, err = run_cli(capsys, str(folder), "--outputs", str(stack.outputs_path))
    assert code == 0, err
    assert f"2 file(s) staged under s3://{stack.input_bucket}/{planned_prefix} by an earlier run" in out
    assert "that never started its job are in no job (the folder changed since)" in out
    assert len(stack.fake.jobs) == 1
    assert all(job.input_s3_uri != f"s3://{stack.input_bucket}/{planned_prefix}" for job in stack.fake.jobs.values())


def test_staged_files_in_no_job_are_in_the_json_report(
    stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack.fake.polls_until_done = 0
    folder = make_folder(tmp_path / "data")

    def stop_before_starting(report: Any) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(stack, folder, callbacks=ImportCallbacks(on_upload_end=stop_before_starting))
    [planned_prefix] = {key.rsplit("study/", 1)[0] for key in stack.versions()}
    distinct_copy(sample("CT_small.dcm"), folder / "study" / "series0" / "ct.dcm", 4)  # changed content
    code, document, err = import_json(capsys, stack, folder)
    assert code == 0, err
    assert document["unreferenced"] == [{"prefix": planned_prefix, "files": 2}]
    assert "by an earlier run that never started its job are in no job" in err


# ---------------------------------------------------------------- no traceback


def test_a_name_that_is_not_utf8_is_a_clear_error_even_in_a_dry_run(
    stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = make_folder(tmp_path / "data")
    shutil.copy(sample("CT_small.dcm"), os.path.join(os.fsencode(folder / "study"), b"caf\xe9.dcm"))
    for extra in (["--dry-run"], ["--dry-run", "--json"], []):
        code, out, err = run_cli(capsys, str(folder), "--outputs", str(stack.outputs_path), *extra)
        assert code == 2, err
        assert "Traceback" not in err
        assert "have a name that is not valid UTF-8" in err
        assert "study/caf\\xe9.dcm" in err
        assert "rename them" in err
        if "--json" in extra:
            assert "study/caf\\xe9.dcm" in json.loads(out)["error"]["message"]
    assert stack.versions() == {}
    assert stack.starts() == []


def test_a_skipped_file_whose_name_is_not_utf8_is_listed_with_escapes(
    stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = make_folder(tmp_path / "data")
    with open(os.path.join(os.fsencode(folder), b"notes-\xff.txt"), "wb") as stream:
        stream.write(b"not DICOM")
    code, out, err = run_cli(capsys, str(folder), "--outputs", str(stack.outputs_path), "--dry-run")
    assert code == 0, err
    assert "notes-\\xff.txt: not a DICOM Part 10 file" in out


def test_a_start_whose_answer_was_lost_is_confirmed_with_the_same_token_and_never_started_twice(
    stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    stack.fake.polls_until_done = 0
    real_run_import = folder_import.run_import

    def with_a_short_read_timeout(session: Any, outputs: Any, plan: Any, options: Any, *args: Any) -> Any:
        options = dataclasses.replace(options, service_read_timeout_seconds=1.0, clock=FakeClock())
        return real_run_import(session, outputs, plan, options, *args)

    monkeypatch.setattr(folder_import, "run_import", with_a_short_read_timeout)
    monkeypatch.setattr(jobs, "MAX_LOST_ANSWER_RETRIES", 1)
    stack.fake.freeze("StartDICOMImportJob", 2.5, times=2)  # HealthImaging freezes: the start is taken, no answer
    folder = make_folder(tmp_path / "data")
    code, document, err = import_json(capsys, stack, folder)
    assert code == 1
    assert "Traceback" not in err
    assert "the job may have started" in document["error"]["message"]
    assert "never starts a second one" in document["error"]["message"]
    assert document["upload"]["uploaded"] == 2
    assert len(stack.fake.jobs) == 1  # the frozen start went through
    [job] = stack.fake.jobs
    first_token = stack.starts()[0]["clientToken"]
    requests_before = len(stack.fake.requests)
    code, document, err = import_json(capsys, stack, folder)
    assert code == 0, err
    assert [entry["jobId"] for entry in document["jobs"]] == [job]
    assert len(stack.fake.jobs) == 1
    asked = [operation for operation, _ in stack.fake.requests[requests_before:]]
    assert asked[:2] == ["GetDatastore", "StartDICOMImportJob"]  # confirmed before anything else
    assert stack.starts()[-1]["clientToken"] == first_token
    assert document["upload"]["uploaded"] == 0


def test_a_start_whose_answer_came_late_once_is_confirmed_in_the_same_run(stack: Stack, tmp_path: Path) -> None:
    stack.fake.freeze("StartDICOMImportJob", 2.0, times=1)
    result = run(stack, make_folder(tmp_path / "data"), service_read_timeout_seconds=1.0)
    assert result.ok
    assert len(stack.fake.jobs) == 1
    tokens = {start["clientToken"] for start in stack.starts()}
    assert len(stack.starts()) == 2
    assert len(tokens) == 1


# ---------------------------------------------------------------- inputs that surprise


def test_an_empty_path_is_refused(
    stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    here = make_folder(tmp_path / "current")
    monkeypatch.chdir(here)  # what an empty PATH would import
    code, out, err = run_cli(capsys, "", "--outputs", str(stack.outputs_path), "--json")
    assert code == 2
    assert "PATH is empty (an unset shell variable?)" in json.loads(out)["error"]["message"]
    assert err.splitlines()[-1].startswith("error: PATH is empty")
    assert stack.versions() == {}
    assert stack.starts() == []


def test_concurrency_is_capped_with_a_clear_message(
    stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = make_folder(tmp_path / "data")
    code, out, err = run_cli(
        capsys, str(folder), "--outputs", str(stack.outputs_path), "--concurrency", "100000", "--dry-run"
    )
    assert code == 2
    assert out == ""
    assert err.splitlines()[-1] == (
        f"error: --concurrency 100000 is out of range: give a number from 1 to {upload.MAX_CONCURRENCY} (default 64, "
        "or 10 without awscrt). More files in flight do not upload faster: each one holds a connection and memory."
    )
    with pytest.raises(Exception, match="out of range"):
        upload.upload_files(
            boto3.session.Session(),
            stack.input_bucket,
            [],
            concurrency=upload.MAX_CONCURRENCY + 1,
            expected_bucket_owner=stack.outputs.account_id,
        )


@pytest.fixture
def linked_folder(tmp_path: Path) -> Path:
    """A folder with a file, a folder, and links of every kind: to a file and a folder inside it, to a file and a
    folder outside it, dangling, and a loop."""
    folder = make_folder(tmp_path / "data")
    outside = tmp_path / "elsewhere"
    (outside / "series").mkdir(parents=True)
    distinct_copy(sample("CT_small.dcm"), outside / "outside.dcm", 5)
    distinct_copy(sample("MR_small.dcm"), outside / "series" / "deep.dcm", 6)
    (folder / "same.dcm").symlink_to(folder / "study" / "series0" / "ct.dcm")
    (folder / "same-folder").symlink_to(folder / "study")
    (folder / "outside.dcm").symlink_to(outside / "outside.dcm")
    (folder / "outside-folder").symlink_to(outside / "series")
    (folder / "dangling.dcm").symlink_to(tmp_path / "nowhere.dcm")
    (folder / "loop.dcm").symlink_to(folder / "loop.dcm")
    return folder


def test_links_are_skipped_with_their_reason_and_nothing_outside_path_is_read(
    stack: Stack, linked_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack.fake.polls_until_done = 0
    code, document, err = import_json(capsys, stack, linked_folder)
    assert code == 0, err
    reasons = {item["file"]: item["reason"] for item in document["skipped"]}
    assert reasons["same.dcm"] == (
        "a symbolic link to the file 'study/series0/ct.dcm' under PATH, which is imported under its own path"
    )
    assert (
        reasons["same-folder"]
        == "a symbolic link to the folder 'study' under PATH, which is imported under its own path"
    )
    assert reasons["outside.dcm"].startswith("a symbolic link to a file outside PATH (")
    assert reasons["outside.dcm"].endswith("): not followed; pass --follow-links to import what links point to")
    assert reasons["outside-folder"].startswith("a symbolic link to a folder outside PATH (")
    assert reasons["dangling.dcm"].endswith("which does not exist (a dangling link)")
    assert reasons["loop.dcm"].endswith("that loops (it leads back to itself)")
    assert document["imported"] == 2
    staged = [key for key in stack.versions() if "outside" in key or "deep" in key]
    assert staged == []


def test_follow_links_reads_links_once_each_and_never_loops(
    stack: Stack, linked_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (linked_folder / "study" / "back").symlink_to(linked_folder)  # a loop through a folder
    code, out, err = run_cli(
        capsys, str(linked_folder), "--outputs", str(stack.outputs_path), "--follow-links", "--dry-run", "--json"
    )
    assert code == 0, err
    document = json.loads(out)
    assert document["files"] == 4  # ct, mr, outside.dcm, outside-folder/deep.dcm
    reasons = {item["file"]: item["reason"] for item in document["skipped"]}
    assert reasons["study/series0/ct.dcm"] == "the same content as 'same.dcm', which is imported once"
    assert reasons["same-folder"].startswith("a symbolic link to the folder 'study' under PATH")
    assert reasons["study/back"].startswith("a symbolic link to the folder '.' under PATH")
    assert reasons["dangling.dcm"].endswith("(a dangling link)")
    assert reasons["loop.dcm"].endswith("(it leads back to itself)")


# ---------------------------------------------------------------- machine output when things fail


@pytest.mark.parametrize(
    ("fault", "exit_code", "words"),
    [
        ("missing outputs", 2, "does not exist"),
        ("bad flag value", 2, "--max-files-per-job: 0 is less than 1"),
        ("wrong account", 2, "use a profile of account"),
        ("data store creating", 1, "is CREATING"),
        ("no credentials", 1, "aws sso login"),
        ("start refused", 1, "iam:PassRole"),
        ("throttled start", 1, "Run the same command again later"),
        ("interrupted upload", 130, "Run the same command again to resume"),
    ],
)
def test_json_on_a_failure_is_one_object_with_what_was_done_and_the_error(
    stack: Stack,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    fault: str,
    exit_code: int,
    words: str,
) -> None:
    folder = make_folder(tmp_path / "data")
    outputs = str(stack.outputs_path)
    if fault == "missing outputs":
        outputs = str(tmp_path / "missing.json")
    elif fault == "wrong account":
        stack.outputs_path.write_text(stack.outputs_path.read_text().replace("123456789012", "999999999999"))
    elif fault == "data store creating":
        stack.fake.set_datastore_status(stack.outputs.datastore_id, "CREATING")
    elif fault == "no credentials":
        monkeypatch.delenv("AWS_ACCESS_KEY_ID")
        monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    elif fault == "start refused":
        stack.fake.inject_error("StartDICOMImportJob", "AccessDeniedException", message="denied")
    elif fault == "throttled start":
        stack.fake.throttle("StartDICOMImportJob", 100)
        real_run_import = folder_import.run_import

        def impatient(session: Any, outputs: Any, plan: Any, options: Any, *args: Any) -> Any:
            options = dataclasses.replace(options, max_start_wait_seconds=5, clock=FakeClock())
            return real_run_import(session, outputs, plan, options, *args)

        monkeypatch.setattr(folder_import, "run_import", impatient)
    elif fault == "interrupted upload":
        real_upload = folder_import.upload_files

        def interrupted(*args: Any, **kwargs: Any) -> Any:
            def stop(files: int, nbytes: int) -> None:
                raise KeyboardInterrupt

            return real_upload(*args, **{**kwargs, "on_progress": stop})

        monkeypatch.setattr(folder_import, "upload_files", interrupted)
    if fault == "bad flag value":
        with pytest.raises(SystemExit) as caught:
            run_cli(capsys, str(folder), "--outputs", outputs, "--max-files-per-job", "0", "--json")
        captured = capsys.readouterr()
        code, out, err = int(str(caught.value.code)), captured.out, captured.err
    else:
        code, out, err = run_cli(capsys, str(folder), "--outputs", outputs, "--json")
    assert code == exit_code, err
    document = json.loads(out)  # one parseable object, nothing else on stdout
    assert document["ok"] is False
    assert document["error"]["exitCode"] == exit_code
    assert words in document["error"]["message"]
    assert document["error"]["message"].strip()
    assert "Traceback" not in err
    assert {"files", "imported", "upload", "jobs", "skipped", "failed"} <= set(document)
    if fault in ("start refused", "throttled start"):
        assert document["upload"]["uploaded"] == 2
        assert [job["jobStatus"] for job in document["jobs"]] == ["NOT_STARTED"]
        assert document["files"] == 2


# ---------------------------------------------------------------- the expected bucket owner


def large_part10(path: Path) -> None:
    """A valid DICOM Part 10 file over the multipart threshold."""
    dataset = pydicom.dcmread(sample("CT_small.dcm"))
    dataset.SOPInstanceUID = f"{dataset.SOPInstanceUID}.99"
    dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    dataset.add_new(0x00090010, "LO", "AHICTL TEST")
    dataset.add_new(0x00091001, "OB", bytes(upload.PART_SIZE + 1024))
    dataset.save_as(path)


TOOL_ACCESS_KEY = "AKIAAHICTLUNDERTEST1"


@pytest.fixture
def tool_requests(moto_server: ObservedMotoServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The S3 requests the tool sends (signed with its own access key id, so that the stand-in's own are left out)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", TOOL_ACCESS_KEY)
    with moto_server.recording() as recorder:

        def sent() -> list[RecordedRequest]:
            return [
                request
                for request in recorder.requests
                if request.access_key_id == TOOL_ACCESS_KEY and request.signed_service == "s3"
            ]

        yield sent


def operation(request: RecordedRequest) -> str:
    query = request.query
    if request.method == "GET" and "list-type=2" in query:
        return "ListObjectsV2"
    if request.method == "POST" and "uploads" in query:
        return "CreateMultipartUpload"
    if request.method == "PUT" and "partNumber" in query:
        return "UploadPart"
    if request.method == "POST" and "uploadId" in query:
        return "CompleteMultipartUpload"
    return {"PUT": "PutObject", "GET": "GetObject", "HEAD": "HeadObject"}.get(request.method, request.method)


@pytest.mark.parametrize("engine", ["crt", "classic"])
def test_every_s3_request_of_import_and_jobs_carries_the_expected_bucket_owner(
    stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str], tool_requests: Any, engine: str
) -> None:
    stack.fake.polls_until_done = 0
    folder = make_folder(tmp_path / "data")
    large_part10(folder / "study" / "large.dcm")
    account = stack.outputs.account_id

    def stop_before_starting(report: Any) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):  # uploads (multipart too), then the rerun checks them (HeadObject)
        run(stack, folder, callbacks=ImportCallbacks(on_upload_end=stop_before_starting), upload_engine=engine)
    result = run(stack, folder, upload_engine=engine)
    assert result.ok, result.failed
    code, out, err = run_cli(capsys, str(folder), "--outputs", str(stack.outputs_path), "--json")
    assert code == 0, err
    job_id = json.loads(out)["jobs"][0]["jobId"]
    assert main_jobs(capsys, job_id, "--outputs", str(stack.outputs_path), "--json") == 0
    sent = tool_requests()
    seen = {operation(request) for request in sent}
    assert seen >= {
        "ListObjectsV2",
        "PutObject",
        "HeadObject",
        "GetObject",
        "CreateMultipartUpload",
        "UploadPart",
        "CompleteMultipartUpload",
    }
    buckets = {request.path.split("/")[1] for request in sent}
    assert buckets == {stack.input_bucket, stack.output_bucket}
    missing = [
        (operation(request), request.path)
        for request in sent
        if request.headers.get("x-amz-expected-bucket-owner") != account
    ]
    assert missing == []


def main_jobs(capsys: pytest.CaptureFixture[str], *argv: str) -> int:
    from ahictl import cli

    code = cli.main(["jobs", *argv])
    capsys.readouterr()
    return code


# ---------------------------------------------------------------- overlapping runs


def test_two_runs_that_read_the_ledger_at_once_import_shared_content_once(
    stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack.fake.polls_until_done = 0
    first_folder = make_folder(tmp_path / "a")
    second_folder = tmp_path / "b"
    shutil.copytree(first_folder, second_folder)  # the same contents, plus one file
    distinct_copy(sample("CT_small.dcm"), second_folder / "study" / "extra.dcm", 5)
    arrange = folder_import.arrange
    other_run: list[folder_import.ImportResult] = []
    entered: list[bool] = []

    def arrange_then_let_the_other_run_go_first(*args: Any, **kwargs: Any) -> Any:
        arranged = arrange(*args, **kwargs)
        if not entered:  # the first run has read the ledger; the second one runs whole before it writes
            entered.append(True)
            other_run.append(run(stack, second_folder))
        return arranged

    monkeypatch.setattr(folder_import, "arrange", arrange_then_let_the_other_run_go_first)
    result = run(stack, first_folder)
    assert other_run[0].imported == 3
    assert len(stack.fake.jobs) == 1  # the shared files are imported once
    assert (result.imported, result.already_imported) == (2, 2)


# ---------------------------------------------------------------- one ledger, many folders


def test_an_interrupted_import_of_another_folder_is_left_alone(
    stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack.fake.polls_until_done = 0
    first = make_folder(tmp_path / "a")

    def stop_before_starting(report: Any) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(stack, first, callbacks=ImportCallbacks(on_upload_end=stop_before_starting))
    second = tmp_path / "b"
    second.mkdir()
    distinct_copy(sample("CT_small.dcm"), second / "other.dcm", 9)
    code, document, err = import_json(capsys, stack, second)
    assert code == 0, err
    assert (document["files"], document["imported"], document["unreferenced"]) == (1, 1, [])
    assert "1 unfinished import job(s) hold none of the files under PATH and were left alone" in err
    assert len(stack.fake.jobs) == 1
    store = LedgerStore(stack.s3, stack.input_bucket, stack.outputs.datastore_id, stack.outputs.account_id)
    assert sorted(job.state for job in store.load().jobs.values()) == [ENDED, PLANNED]  # not abandoned
    code, resumed, err = import_json(capsys, stack, first)  # the first folder's job is still there to finish
    assert code == 0, err
    assert (resumed["upload"]["uploaded"], resumed["imported"]) == (0, 2)


def test_a_job_taken_on_from_another_folder_is_counted_apart_from_paths_files(
    stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack.fake.polls_until_done = 0
    stack.fake.inject_error("StartDICOMImportJob", "AccessDeniedException", message="not authorized to pass the role")
    first = make_folder(tmp_path / "a")
    code, _, _ = import_json(capsys, stack, first)
    assert code == 1  # both files staged, the job not started
    second = tmp_path / "b"
    second.mkdir()
    shutil.copy(first / "study" / "series0" / "ct.dcm", second / "ct.dcm")  # shares one file with the first folder
    distinct_copy(sample("MR_small.dcm"), second / "new.dcm", 8)
    code, document, err = import_json(capsys, stack, second)
    assert code == 0, err
    assert (document["files"], document["imported"]) == (2, 2)
    taken_on, new = document["jobs"]
    assert (taken_on["files"], taken_on["filesOutsidePath"], taken_on["importedOutsidePath"]) == (2, 1, 1)
    assert new["filesOutsidePath"] == 0
    code, out, _ = run_cli(capsys, str(second), "--outputs", str(stack.outputs_path))
    assert "Imported 2 of 2 file(s)" in out


def test_a_completed_job_whose_results_are_gone_is_reported_once_and_blocks_nothing(
    stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack.fake.polls_until_done = 0
    folder = make_folder(tmp_path / "data")

    def stop_once_completed(job: Any, status: Any) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(stack, folder, callbacks=ImportCallbacks(on_job_status=stop_once_completed))
    for item in stack.s3.list_objects_v2(Bucket=stack.output_bucket).get("Contents", []):
        stack.s3.delete_object(Bucket=stack.output_bucket, Key=item["Key"])
    code, document, err = import_json(capsys, stack, folder)
    assert code == 1, err
    [job] = document["jobs"]
    assert job["jobStatus"] == "COMPLETED"
    assert "its results could not be read" in job["note"]
    assert {failure["reason"] for failure in document["failed"]} == {
        f"import job {job['jobId']} is COMPLETED but its results could not be read; "
        f"`python -m ahictl jobs {job['jobId']}` shows them once they are back"
    }
    code, again, err = import_json(capsys, stack, folder)  # recorded as ended: a rerun reports it and goes on
    assert code == 1, err
    assert "error" not in again
    assert len(stack.fake.jobs) == 1


def test_a_start_refused_for_good_is_recorded_as_failed_and_blocks_nothing(
    stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack.fake.polls_until_done = 0
    stack.fake.inject_error("StartDICOMImportJob", "ConflictException", message="token used with other values")
    folder = make_folder(tmp_path / "data")
    code, document, err = import_json(capsys, stack, folder)
    assert code == 1, err
    assert "error" not in document
    [job] = document["jobs"]
    assert (job["jobId"], job["jobStatus"]) == (None, "FAILED")
    assert "token used with other values" in job["message"]
    code, again, err = import_json(capsys, stack, folder)  # reported again, not asked again
    assert code == 1, err
    assert "error" not in again
    assert len(stack.starts()) == 1
    code, retried, err = import_json(capsys, stack, folder, "--retry-failed")
    assert code == 0, err
    assert retried["imported"] == 2


def test_a_missing_ledger_with_earlier_imports_stops_instead_of_importing_again(
    stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack.fake.polls_until_done = 0
    folder = make_folder(tmp_path / "data")
    code, _, _ = import_json(capsys, stack, folder)
    assert code == 0
    ledger_key = f"imports/ledger/{stack.outputs.datastore_id}.json"
    stack.s3.delete_object(Bucket=stack.input_bucket, Key=ledger_key)  # deleted or expired
    distinct_copy(sample("CT_small.dcm"), folder / "study" / "later.dcm", 6)
    versions = stack.versions()
    code, document, err = import_json(capsys, stack, folder)
    assert code == 1
    message = document["error"]["message"]
    assert f"s3://{stack.input_bucket}/{ledger_key}" in message
    assert "Restore its previous version" in message
    assert "--reimport" in message
    assert (stack.versions(), len(stack.fake.jobs)) == (versions, 1)  # nothing uploaded or started
    code, again, err = import_json(capsys, stack, folder, "--reimport")
    assert code == 0, err
    assert again["imported"] == 3


def test_starts_confirmed_from_an_earlier_run_keep_to_max_concurrent_jobs(stack: Stack, tmp_path: Path) -> None:
    stack.fake.polls_until_done = 1
    stack.fake.inject_error("StartDICOMImportJob", "AccessDeniedException", message="not authorized to pass the role")
    folder = make_folder(tmp_path / "data", copies=3)
    with pytest.raises(AwsAccessError):
        run(stack, folder, max_files_per_job=2)  # three jobs staged, none started
    stack.fake.max_concurrent_jobs = 1
    before = len(stack.starts())
    result = run(stack, folder, max_files_per_job=2, max_concurrent_jobs=1)
    assert result.imported == 6
    assert len(stack.starts()) - before == 3  # never refused for the quota: one job at a time
