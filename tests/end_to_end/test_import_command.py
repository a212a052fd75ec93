"""``ahictl import`` end to end: moto's S3 and the HealthImaging stand-in on loopback, pydicom's real files.

Most tests drive :func:`ahiops.folder_import.run_import` with a fake clock (waits cost no time); the command-line
tests run ``python -m ahictl import`` in-process with jobs that finish at their first poll.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from ahiops import folder_import, upload
from ahiops.errors import ServiceError
from ahiops.folder_import import ImportCallbacks
from ahiops.pacing import FakeClock
from ahiops.upload import UploadInterrupted
from testkit.dicom_samples import sample
from testkit.fakes.environment import AwsEnv
from testkit.fakes.s3_checksums import store_checksum_headers_as_s3_does
from testkit.import_stack import (
    Stack,
    make_folder,
    make_stack,
    run,
    run_cli,
)


@pytest.fixture
def stack(aws_env: AwsEnv, tmp_path: Path) -> Stack:
    """What `pulumi up` leaves for the importer: the dev stack deployed from its plan (``testkit.import_stack``)."""
    return make_stack(aws_env, tmp_path)


@pytest.fixture(autouse=True)
def s3_keeps_checksum_headers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reruns compare each object's stored CRC64NVME with the file's: moto keeps it as S3 does."""
    store_checksum_headers_as_s3_does(monkeypatch)


# ---------------------------------------------------------------- the command line


def test_import_json_reports_imported_skipped_and_jobs(
    stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack.fake.polls_until_done = 0
    folder = make_folder(tmp_path / "data")
    code, out, err = run_cli(capsys, str(folder), "--outputs", str(stack.outputs_path), "--json")
    assert code == 0, err
    document = json.loads(out)
    assert document["imported"] == 2
    assert document["failed"] == []
    assert {item["file"] for item in document["skipped"]} == {"README.txt", "study/no_meta.dcm"}
    assert all(item["reason"].startswith("not a DICOM Part 10 file") for item in document["skipped"])
    [job] = document["jobs"]
    assert job["jobStatus"] == "COMPLETED"
    assert re.fullmatch(rf"s3://{re.escape(stack.input_bucket)}/imports/[0-9a-f]{{32}}/job-0001/", job["inputS3Uri"])
    assert job["jobId"] in stack.fake.jobs
    [start] = stack.starts()
    assert start["inputOwnerAccountId"] == "123456789012"
    assert start["dataAccessRoleArn"] == stack.import_role_arn
    assert start["inputS3Uri"] == job["inputS3Uri"]
    assert start["outputS3Uri"].startswith(f"s3://{stack.output_bucket}/imports/")
    assert re.fullmatch(r"[A-Za-z0-9._-]{1,64}", start["clientToken"])
    assert "Traceback" not in err
    assert "uploaded 2 file(s)" in err  # progress on stderr, also with --json


def test_import_text_report(stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stack.fake.polls_until_done = 0
    folder = make_folder(tmp_path / "data")
    code, out, err = run_cli(capsys, str(folder), "--outputs", str(stack.outputs_path))
    assert code == 0, err
    assert out.startswith("Imported 2 of 2 file(s)")
    assert "COMPLETED" in out
    assert "README.txt: not a DICOM Part 10 file" in out
    assert out.endswith("All files imported.\n")
    assert "uploaded 2 file(s)" in err


def test_dry_run_touches_no_aws(
    stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = make_folder(tmp_path / "data", copies=3)
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    for name in ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_MEDICAL_IMAGING", "AWS_ENDPOINT_URL_STS"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")  # nothing listens there: any call would fail
    requests_before = len(stack.fake.requests)
    code, out, err = run_cli(
        capsys, str(folder), "--outputs", str(stack.outputs_path), "--dry-run", "--max-files-per-job", "4", "--json"
    )
    assert code == 0, err
    document = json.loads(out)
    assert document["dryRun"] is True
    assert [job["files"] for job in document["jobs"]] == [4, 2]
    assert document["files"] == 6
    assert len(stack.fake.requests) == requests_before
    assert "Contents" not in stack.s3.list_objects_v2(Bucket=stack.input_bucket)  # a client made before the change


def test_dry_run_text(stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = make_folder(tmp_path / "data", copies=2)
    code, out, _ = run_cli(
        capsys, str(folder), "--outputs", str(stack.outputs_path), "--dry-run", "--max-files-per-job", "3"
    )
    assert code == 0
    assert "4 DICOM Part 10 file(s)" in out
    assert "job-0002" in out
    assert "Dry run: nothing was uploaded or started." in out


@pytest.mark.parametrize(
    ("arrange", "expected_code", "message"),
    [
        ("missing_path", 2, "does not exist"),
        ("empty_folder", 2, "holds no files"),
        ("no_part10", 2, "holds no DICOM Part 10 file"),
        ("missing_outputs", 2, "outputs"),
        ("bad_max_files", 2, "--max-files-per-job"),
        ("datastore_creating", 1, "CREATING"),
        ("wrong_account", 2, "account 123456789012"),
        ("no_credentials", 1, "aws sso login"),
    ],
)
def test_bad_input_is_a_clear_message(
    stack: Stack,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    arrange: str,
    expected_code: int,
    message: str,
) -> None:
    folder = make_folder(tmp_path / "data")
    outputs = str(stack.outputs_path)
    extra: list[str] = []
    if arrange == "missing_path":
        folder = tmp_path / "nowhere"
    elif arrange == "empty_folder":
        folder = tmp_path / "empty"
        folder.mkdir()
    elif arrange == "no_part10":
        folder = tmp_path / "plain"
        folder.mkdir()
        shutil.copy(sample("no_meta.dcm"), folder / "x.dcm")
    elif arrange == "missing_outputs":
        outputs = str(tmp_path / "missing.json")
    elif arrange == "bad_max_files":
        extra = ["--max-files-per-job", "0"]
    elif arrange == "datastore_creating":
        stack.fake.set_datastore_status(stack.outputs.datastore_id, "CREATING")
    elif arrange == "wrong_account":
        stack.outputs_path.write_text(stack.outputs_path.read_text().replace("123456789012", "999999999999"))
    elif arrange == "no_credentials":
        monkeypatch.delenv("AWS_ACCESS_KEY_ID")
        monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(SystemExit) if arrange == "bad_max_files" else contextlib.nullcontext():
        code, out, err = run_cli(capsys, str(folder), "--outputs", outputs, *extra)
        assert code == expected_code, err
        assert out == ""
        assert err.splitlines()[-1].startswith("error: ")
    if arrange == "bad_max_files":
        err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err
    assert stack.starts() == []
    assert stack.versions() == {}  # nothing uploaded


def test_a_region_other_than_the_stacks_names_only_what_changes_it(
    stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    region = stack.outputs.region
    other = "us-west-2" if region != "us-west-2" else "eu-west-1"
    code, out, err = run_cli(
        capsys, str(make_folder(tmp_path / "data")), "--outputs", str(stack.outputs_path), "--region", other
    )
    assert code == 2
    assert out == ""
    assert err.splitlines()[-1] == (
        f"error: the region is {other} but the stack (outputs file '{stack.outputs_path}') is in {region}: "
        f"drop --region or pass --region {region}."
    )
    assert stack.versions() == {}


def test_unreadable_file_is_exit_2(
    stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from ahiops import dicom

    folder = make_folder(tmp_path / "data")
    real = dicom.read_header

    def read_header(path: Path) -> bytes:
        if path.name == "mr.dcm":
            raise PermissionError(13, "Permission denied")
        return real(path)

    monkeypatch.setattr(dicom, "read_header", read_header)
    code, _, err = run_cli(capsys, str(folder), "--outputs", str(stack.outputs_path))
    assert code == 2
    assert "study/series0/mr.dcm (Permission denied)" in err
    assert stack.versions() == {}


def test_failed_job_lists_every_file_exit_1_and_is_never_restarted(
    stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack.fake.polls_until_done = 0
    stack.fake.fail_job_when(lambda job: "the import role could not be assumed")
    folder = make_folder(tmp_path / "data")
    code, out, err = run_cli(capsys, str(folder), "--outputs", str(stack.outputs_path), "--json")
    assert code == 1, err
    document = json.loads(out)
    assert document["imported"] == 0
    assert [job["jobStatus"] for job in document["jobs"]] == ["FAILED"]
    assert {item["file"] for item in document["failed"]} == {"study/series0/ct.dcm", "study/series0/mr.dcm"}
    assert all("the import role could not be assumed" in item["reason"] for item in document["failed"])
    # running it again reports the same FAILED job: nothing restarted, nothing uploaded again
    code, out, _ = run_cli(capsys, str(folder), "--outputs", str(stack.outputs_path), "--json")
    assert code == 1
    assert json.loads(out)["jobs"][0]["jobId"] == document["jobs"][0]["jobId"]
    assert len(stack.fake.jobs) == 1
    assert set(stack.versions().values()) == {1}


def test_completed_job_with_failed_files_is_a_partial_failure(
    stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack.fake.polls_until_done = 0
    stack.fake.fail_file_when(lambda key: "pixel data cannot be decoded" if key.endswith("/mr.dcm") else None)
    folder = make_folder(tmp_path / "data")
    code, out, _ = run_cli(capsys, str(folder), "--outputs", str(stack.outputs_path), "--json")
    assert code == 1
    document = json.loads(out)
    assert document["jobs"][0]["jobStatus"] == "COMPLETED"
    assert document["imported"] == 1
    [failure] = document["failed"]
    assert failure["file"] == "study/series0/mr.dcm"
    assert "pixel data cannot be decoded" in failure["reason"]
    code, out, _ = run_cli(capsys, str(folder), "--outputs", str(stack.outputs_path))
    assert code == 1
    assert "Failed (1):\n  study/series0/mr.dcm: " in out
    assert out.endswith("Not every file was imported (exit 1).\n")


# ---------------------------------------------------------------- the library, with a fake clock


def test_split_into_jobs_at_the_file_limit(stack: Stack, tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "data", copies=3)
    result = run(stack, folder, max_files_per_job=4)
    assert result.ok
    assert [len(job.planned.files) for job in result.jobs] == [4, 2]
    assert [job.imported for job in result.jobs] == [4, 2]
    for job in result.jobs:
        prefix = job.input_s3_uri.split("/", 3)[3]
        listed = stack.s3.list_objects_v2(Bucket=stack.input_bucket, Prefix=prefix)
        assert listed["KeyCount"] == len(job.planned.files)
    assert len(stack.starts()) == 2


def test_running_jobs_stay_within_the_limit(stack: Stack, tmp_path: Path) -> None:
    stack.fake.max_concurrent_jobs = 1  # a second running job would be refused with a quota error
    folder = make_folder(tmp_path / "data", copies=2)
    result = run(stack, folder, max_files_per_job=1, max_concurrent_jobs=1)
    assert result.ok
    assert len(result.jobs) == 4
    assert len(stack.starts()) == 4  # never refused, so never retried


def test_starts_are_paced_to_one_per_second_with_a_burst_of_two(stack: Stack, tmp_path: Path) -> None:
    clock = FakeClock()
    started_at: list[float] = []
    folder = make_folder(tmp_path / "data", copies=2)
    run(
        stack,
        folder,
        clock=clock,
        callbacks=ImportCallbacks(
            on_message=lambda text: started_at.append(clock.now) if "import job" in text and "(" in text else None
        ),
        max_files_per_job=1,
    )
    assert len(started_at) == 4
    assert started_at[2] - started_at[0] >= 1.0
    assert started_at[3] - started_at[1] >= 1.0


def test_throttling_and_quota_errors_are_waited_out(stack: Stack, tmp_path: Path) -> None:
    stack.fake.throttle("StartDICOMImportJob", 3)
    stack.fake.quota_exceeded("StartDICOMImportJob", 2)
    clock = FakeClock()
    waits: list[str] = []
    result = run(stack, make_folder(tmp_path / "data"), clock=clock, callbacks=ImportCallbacks(on_wait=waits.append))
    assert result.ok
    assert len(stack.starts()) == 6  # five refused, then one accepted
    assert len(stack.fake.jobs) == 1
    assert clock.sleeps[:5] == [1.0, 2.0, 4.0, 8.0, 16.0]
    assert any("ServiceQuotaExceededException" in text for text in waits)
    assert any("still retrying" in text for text in waits)


def test_start_gives_up_after_the_longest_wait(stack: Stack, tmp_path: Path) -> None:
    stack.fake.throttle("StartDICOMImportJob", 50)
    with pytest.raises(ServiceError, match=r"did not succeed within 20 s.*Run the same command again"):
        run(stack, make_folder(tmp_path / "data"), max_start_wait_seconds=20)


def settled_versions(
    list_versions: Callable[[], dict[str, int]], quiet_seconds: float = 1.0, deadline_seconds: float = 15.0
) -> dict[str, int]:
    """What ``list_versions`` returns once it has not changed for ``quiet_seconds``; fails the test if it still
    changes after ``deadline_seconds``."""
    deadline = time.monotonic() + deadline_seconds
    versions = list_versions()
    unchanged_since = time.monotonic()
    while time.monotonic() - unchanged_since < quiet_seconds:
        assert time.monotonic() < deadline, f"the bucket still changed after {deadline_seconds} s: {versions}"
        time.sleep(0.1)
        latest = list_versions()
        if latest != versions:
            versions, unchanged_since = latest, time.monotonic()
    return versions


def test_settled_versions_waits_out_a_put_committed_after_a_short_pause() -> None:
    start = time.monotonic()

    def list_versions() -> dict[str, int]:  # a late PUT appears 0.6 s in, after two equal listings
        return {"a.dcm": 1, "b.dcm": 1} if time.monotonic() - start >= 0.6 else {"a.dcm": 1}

    assert settled_versions(list_versions) == {"a.dcm": 1, "b.dcm": 1}
    assert time.monotonic() - start >= 1.6  # one full quiet second after the last change


def test_settled_versions_gives_up_at_the_deadline() -> None:
    def list_versions() -> dict[str, int]:  # a bucket that never stops changing
        return {"a.dcm": time.monotonic_ns()}

    with pytest.raises(AssertionError, match=r"the bucket still changed after 0.5 s"):
        settled_versions(list_versions, deadline_seconds=0.5)


def test_rerun_after_an_interrupted_upload_uploads_and_starts_nothing_twice(stack: Stack, tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "data", copies=4)
    seen = {"files": 0}

    def stop_after_three(files: int, nbytes: int) -> None:
        seen["files"] += files
        if seen["files"] >= 3:
            raise KeyboardInterrupt

    with pytest.raises(UploadInterrupted):
        run(
            stack,
            folder,
            callbacks=ImportCallbacks(on_upload_progress=stop_after_three),
            max_files_per_job=3,
            upload_concurrency=2,
        )
    assert stack.starts() == []  # nothing started before every file is in S3
    # A PUT whose bytes were all sent before the interruption may still be committed by the server a moment
    # later, later still on a loaded machine; count what the rerun should find once the bucket has stayed the
    # same for a full second.
    partial = settled_versions(stack.versions)
    assert 3 <= len(partial) < 8
    result = run(stack, folder, max_files_per_job=3)
    assert result.ok
    assert result.upload.already_present == len(partial)
    assert result.upload.uploaded == 8 - len(partial)
    assert len(stack.versions()) == 8
    assert set(stack.versions().values()) == {1}
    assert len(stack.fake.jobs) == 3


def test_rerun_after_an_interrupted_wait_returns_the_same_jobs(stack: Stack, tmp_path: Path) -> None:
    stack.fake.polls_until_done = 3
    folder = make_folder(tmp_path / "data", copies=2)

    def stop_on_first_status(job: Any, status: Any) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(stack, folder, callbacks=ImportCallbacks(on_job_status=stop_on_first_status), max_files_per_job=2)
    first_jobs = set(stack.fake.jobs)
    assert len(first_jobs) >= 1
    result = run(stack, folder, max_files_per_job=2)
    assert result.ok
    assert {job.status.job_id for job in result.jobs} >= first_jobs
    assert len(stack.fake.jobs) == 2  # the repeated start got the same job back
    assert result.upload.uploaded == 0
    assert set(stack.versions().values()) == {1}


def test_repeating_a_finished_import_changes_nothing(stack: Stack, tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "data")
    first = run(stack, folder)
    second = run(stack, folder)
    assert second.ok
    assert [job.status.job_id for job in second.jobs] == [job.status.job_id for job in first.jobs]
    assert [job.earlier for job in second.jobs] == [True]
    assert (second.upload.uploaded, second.upload.already_present, second.already_imported) == (0, 0, 2)
    assert len(stack.fake.jobs) == 1
    created = {item.image_set_id for job in first.jobs if job.output for item in job.output.summary.image_sets}
    assert len(stack.fake.image_sets) == len(created)  # no new image sets from the repeat


@pytest.mark.parametrize("written_with", ["its own CRC64NVME", "no checksum"])
def test_a_rerun_uploads_again_an_object_overwritten_with_other_bytes_of_the_same_size(
    stack: Stack, tmp_path: Path, written_with: str
) -> None:
    folder = make_folder(tmp_path / "data")

    def stop_before_starting(report: Any) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(stack, folder, callbacks=ImportCallbacks(on_upload_end=stop_before_starting))
    assert stack.starts() == []
    [key] = [key for key in stack.versions() if key.endswith("/ct.dcm")]
    local = (folder / "study" / "series0" / "ct.dcm").read_bytes()
    # Someone writes other bytes of the same size at the key before the rerun (not a DICOM Part 10 file).
    if written_with == "no checksum":
        writer = boto3.session.Session().client("s3", config=Config(request_checksum_calculation="when_required"))
        writer.put_object(Bucket=stack.input_bucket, Key=key, Body=bytes(len(local)))
    else:
        stack.s3.put_object(Bucket=stack.input_bucket, Key=key, Body=bytes(len(local)), ChecksumAlgorithm="CRC64NVME")
    result = run(stack, folder)
    assert result.ok, result.failed  # the job read the file's own bytes
    assert result.imported == 2
    assert stack.s3.get_object(Bucket=stack.input_bucket, Key=key)["Body"].read() == local
    assert stack.versions()[key] == 3  # the upload, the other bytes, the upload again: nothing lost
    assert (result.upload.uploaded, result.upload.already_present, result.upload.replaced) == (1, 1, 1)
    upload_json = folder_import.result_to_json(result)["upload"]
    assert (upload_json["uploaded"], upload_json["alreadyPresent"], upload_json["replaced"]) == (1, 1, 1)


def test_the_text_report_says_when_an_upload_replaced_other_bytes(
    stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = make_folder(tmp_path / "data")

    def stop_before_starting(report: Any) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(stack, folder, callbacks=ImportCallbacks(on_upload_end=stop_before_starting))
    [key] = [key for key in stack.versions() if key.endswith("/ct.dcm")]
    size = (folder / "study" / "series0" / "ct.dcm").stat().st_size
    stack.s3.put_object(Bucket=stack.input_bucket, Key=key, Body=bytes(size), ChecksumAlgorithm="CRC64NVME")
    code, _, err = run_cli(capsys, str(folder), "--outputs", str(stack.outputs_path))
    assert code == 0, err
    assert "1 already in S3; 1 of the uploads replaced an object with other bytes at the same key" in err


def test_a_rerun_without_read_access_uploads_again_and_warns(
    stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = make_folder(tmp_path / "data")

    def stop_before_starting(report: Any) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):  # uploaded, not yet recorded as staged: the rerun checks the objects
        run(stack, folder, callbacks=ImportCallbacks(on_upload_end=stop_before_starting))
    # The identity may write but not read: S3 refuses to show each stored checksum.
    monkeypatch.setattr(upload, "_compare_with_object", lambda s3, bucket, item, owner: (upload._UNREADABLE, item))
    code, out, err = run_cli(capsys, str(folder), "--outputs", str(stack.outputs_path), "--json")
    assert code == 0, err
    assert "warning: 2 file(s) of the same size as the object at their key were uploaded again" in err
    assert json.loads(out)["upload"]["unverified"] == 2
    assert set(stack.versions().values()) == {2}  # the first copies are kept as older versions
    assert len(stack.fake.jobs) == 1


def test_waits_never_stop_on_submitted_and_read_a_late_manifest(stack: Stack, tmp_path: Path) -> None:
    stack.fake.polls_until_done = 4
    stack.fake.manifest_delay_polls = 2
    statuses: list[str] = []
    clock = FakeClock()
    result = run(
        stack,
        make_folder(tmp_path / "data"),
        clock=clock,
        callbacks=ImportCallbacks(on_job_status=lambda job, status: statuses.append(status.job_status)),
    )
    assert statuses == ["SUBMITTED", "IN_PROGRESS", "COMPLETED"]
    assert result.ok
    assert result.jobs[0].output is not None
    assert result.jobs[0].output.summary.imported_files == 2
    assert result.jobs[0].output.summary.generated_image_sets >= 1
    assert sum(clock.sleeps) > 0


def test_warnings_are_reported(stack: Stack, tmp_path: Path) -> None:
    stack.fake.warn_file_when(lambda key: "odd tag" if key.endswith("/ct.dcm") else None)
    result = run(stack, make_folder(tmp_path / "data"))
    assert result.ok
    document = folder_import.result_to_json(result)
    assert len(document["warnings"]) == 1
    assert "odd tag" in json.dumps(document["warnings"])


def test_ctrl_c_during_upload_says_the_same_command_resumes(
    stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    stack.fake.polls_until_done = 0
    folder = make_folder(tmp_path / "data", copies=3)
    real_upload = folder_import.upload_files

    def interrupted_upload(*args: Any, **kwargs: Any) -> Any:
        def stop(files: int, nbytes: int) -> None:
            if files:
                raise KeyboardInterrupt  # as Ctrl-C would, on the main thread

        return real_upload(*args, **{**kwargs, "on_progress": stop, "concurrency": 1})

    monkeypatch.setattr(folder_import, "upload_files", interrupted_upload)
    code, out, err = run_cli(capsys, str(folder), "--outputs", str(stack.outputs_path))
    assert code == 130
    assert out == ""
    assert "Run the same command again to resume" in err
    assert "Traceback" not in err
    assert stack.starts() == []
    monkeypatch.setattr(folder_import, "upload_files", real_upload)
    code, out, err = run_cli(capsys, str(folder), "--outputs", str(stack.outputs_path), "--json")
    assert code == 0, err
    document = json.loads(out)
    assert document["imported"] == 6
    assert document["upload"]["alreadyPresent"] >= 1
    assert set(stack.versions().values()) == {1}


def test_retry_failed_starts_one_new_attempt_and_repeats_it_safely(
    stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack.fake.polls_until_done = 0
    broken = {"role": True}
    stack.fake.fail_job_when(lambda job: "the import role could not be assumed" if broken["role"] else None)
    folder = make_folder(tmp_path / "data")
    code, out, _ = run_cli(capsys, str(folder), "--outputs", str(stack.outputs_path))
    assert code == 1
    assert "--retry-failed" in out
    [failed_job] = stack.fake.jobs
    broken["role"] = False  # the cause is fixed
    code, out, err = run_cli(capsys, str(folder), "--outputs", str(stack.outputs_path), "--retry-failed", "--json")
    assert code == 0, err
    document = json.loads(out)
    assert document["imported"] == 2
    new_job = document["jobs"][0]["jobId"]
    assert new_job != failed_job
    assert stack.fake.jobs[failed_job].status == "FAILED"
    assert document["upload"]["uploaded"] == 0
    # the same --retry-failed run again: the COMPLETED attempt is found, nothing new is started
    code, out, _ = run_cli(capsys, str(folder), "--outputs", str(stack.outputs_path), "--retry-failed", "--json")
    assert code == 0
    assert json.loads(out)["jobs"][0]["jobId"] == new_job
    assert len(stack.fake.jobs) == 2


def test_progress_bar_on_a_terminal_only_without_json(
    stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    stack.fake.polls_until_done = 0
    folder = make_folder(tmp_path / "data", copies=2)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    code, _, err = run_cli(capsys, str(folder), "--outputs", str(stack.outputs_path))
    assert code == 0
    assert re.search(r"upload: 100%.*4/4 files", err)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    code, out, err = run_cli(capsys, str(folder), "--outputs", str(stack.outputs_path), "--json")
    assert code == 0
    assert "upload:" not in err
    assert json.loads(out)["imported"] == 4


def test_import_into_the_deployed_dev_stack(
    deployed_stack: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The stack as `pulumi up` creates it (SSE-KMS buckets with the stack's key, versioning, the real import role
    checked by the stand-in): the import works end to end and writes objects encrypted with the stack's key."""
    deployed_stack.healthimaging.polls_until_done = 0
    folder = make_folder(tmp_path / "data")
    code, out, err = run_cli(capsys, str(folder), "--outputs", str(deployed_stack.outputs_path), "--json")
    assert code == 0, err
    document = json.loads(out)
    assert document["imported"] == 2
    [job] = document["jobs"]
    key = job["inputS3Uri"].split("/", 3)[3] + "study/series0/ct.dcm"
    head = deployed_stack.s3.head_object(Bucket=deployed_stack.input_bucket, Key=key)
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"].endswith(deployed_stack.bucket_key_arn.rsplit("/", 1)[1])
