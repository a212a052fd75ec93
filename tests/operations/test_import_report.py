"""Matching the files named in an import job's results to the planned files, whatever form AWS writes them in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ahiops import folder_import, manifest, planning
from ahiops.discovery import HashedFile, crc64nvme_base64
from ahiops.jobs import JobStatus
from ahiops.stack_outputs import StackOutputs
from ahiops.upload import UploadReport


def job() -> planning.PlannedJob:
    files = [
        HashedFile(Path(f"/d/{name}"), name, 10, crc64nvme_base64(number))
        for number, name in enumerate(("study/a.dcm", "study/b.dcm"))
    ]
    return planning.plan_import(files).jobs[0]


def test_full_uris_keys_and_paths_relative_to_the_prefix_are_recognised() -> None:
    planned = job()
    resolve = folder_import._input_file_resolver("in-bucket", planned)
    key = planned.files[0].key
    assert resolve(f"s3://in-bucket/{key}") == planned.files[0]
    assert resolve(key) == planned.files[0]
    assert resolve("/" + key) == planned.files[0]
    assert resolve("study/b.dcm") == planned.files[1]


def test_other_buckets_and_unknown_files_are_not_matched() -> None:
    planned = job()
    resolve = folder_import._input_file_resolver("in-bucket", planned)
    assert resolve(f"s3://other-bucket/{planned.files[0].key}") is None
    assert resolve("study/c.dcm") is None


def test_the_automatic_importers_results_are_matched_by_the_same_rule() -> None:
    by_key = {"imports/b/j1/s/a.dcm": "a", "imports/b/j1/s/b.dcm": "b"}
    resolve = manifest.input_file_resolver("in-bucket", "imports/b/j1/", by_key)
    assert resolve("s3://in-bucket/imports/b/j1/s/a.dcm") == "a"
    assert resolve("imports/b/j1/s/b.dcm") == "b"
    assert resolve("s/a.dcm") == "a"
    assert resolve("s3://other-bucket/imports/b/j1/s/a.dcm") is None


def outputs() -> StackOutputs:
    return StackOutputs(
        account_id="123456789012",
        region="us-east-1",
        input_bucket_name="in-bucket",
        output_bucket_name="out-bucket",
        log_bucket_name=None,
        bucket_kms_key_arn=None,
        datastore_id="0123456789abcdef0123456789abcdef",
        datastore_arn="arn:aws:medical-imaging:us-east-1:123456789012:datastore/0123456789abcdef0123456789abcdef",
        datastore_kms_key_arn=None,
        import_role_arn="arn:aws:iam::123456789012:role/import",
        source="a test",
    )


def three_documents() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A dry run's, a finished run's and a failed run's --json documents of the same one-job plan."""
    planned = job()
    plan = planning.ImportPlan(digest="d", jobs=(planned,), skipped=(), limits=planning.JobLimits())
    upload = UploadReport(
        uploaded=2, uploaded_bytes=20, already_present=0, already_present_bytes=0, replaced=0, engine="crt", seconds=1
    )
    status = JobStatus(job_id="j" * 32, job_status="COMPLETED", datastore_id=outputs().datastore_id)
    result = folder_import.JobResult(
        planned=planned,
        input_s3_uri="s3://in-bucket/x/",
        output_s3_uri="s3://out-bucket/x/",
        status=status,
        output=None,
        output_note=None,
        imported=2,
        failed=(),
    )
    finished = folder_import.result_to_json(folder_import.ImportResult(plan=plan, upload=upload, jobs=(result,)))
    progress = folder_import.ImportProgress(plan=plan, input_bucket="in-bucket", jobs=[planned])
    failed = folder_import.failure_to_json(progress, "stopped", 1, None)
    return folder_import.plan_to_json(plan, outputs()), finished, failed


def test_the_dry_run_finished_and_failed_documents_have_the_same_keys() -> None:
    dry, finished, failed = three_documents()
    assert set(dry) == set(finished) == set(failed) - {"error"}
    assert set(failed["error"]) == {"message", "exitCode", "awsErrorCode"}
    assert set(dry["upload"]) == set(finished["upload"]) == set(failed["upload"])
    [dry_job], [finished_job], [failed_job] = dry["jobs"], finished["jobs"], failed["jobs"]
    assert set(dry_job) == set(finished_job) == set(failed_job)


def test_a_dry_run_says_what_it_does_not_know() -> None:
    dry, _, _ = three_documents()
    assert (dry["dryRun"], dry["ok"], dry["reimport"], dry["alreadyImported"]) == (True, False, False, None)
    assert dry["upload"]["uploaded"] is None
