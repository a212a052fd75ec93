"""The import ledger: reconciling a folder with it (pure), its JSON, and conditional writes on loopback S3."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from ahiops import import_ledger
from ahiops.import_ledger import (
    ABANDONED,
    ENDED,
    FAILED,
    IMPORTED,
    PLANNED,
    STAGED,
    STARTED,
    Ledger,
    LedgerFile,
    LedgerFormatError,
    LedgerJob,
    LedgerStore,
    content_id,
    reconcile,
)
from testkit.fakes.environment import AwsEnv

DATASTORE = "0123456789abcdef0123456789abcdef"
BUCKET = "ledger-input-test"


@dataclass(frozen=True)
class Local:
    relative_path: str
    size: int
    crc64nvme: str
    path: Path = Path("/nowhere")


A, B, C = Local("a.dcm", 10, "AAAAAAAAAAA="), Local("b.dcm", 20, "BBBBBBBBBBB="), Local("c.dcm", 30, "CCCCCCCCCCC=")


def entry(local: Local, outcome: str | None = None) -> LedgerFile:
    return LedgerFile(content_id(local.size, local.crc64nvme), local.relative_path, outcome)


def job(prefix: str, state: str, *files: LedgerFile, status: str | None = None, job_id: str | None = None) -> LedgerJob:
    return LedgerJob(
        prefix=prefix,
        job_name=f"ahictl-{prefix[8:16]}-job-0001",
        client_token="t" * 64,
        state=state,
        files=files,
        job_id=job_id,
        job_status=status,
    )


def ledger(*jobs: LedgerJob) -> Ledger:
    return Ledger(DATASTORE, {item.prefix: item for item in jobs})


def test_files_an_ended_job_imported_are_not_imported_again() -> None:
    done = job("imports/d1/job-0001/", ENDED, entry(A, IMPORTED), entry(B, IMPORTED), status="COMPLETED", job_id="j1")
    result = reconcile([A, B, C], ledger(done))
    assert [item.relative_path for item in result.new_files] == ["c.dcm"]
    assert sorted((item.file.relative_path, item.job.job_id, item.outcome) for item in result.earlier) == [
        ("a.dcm", "j1", IMPORTED),
        ("b.dcm", "j1", IMPORTED),
    ]
    assert result.superseded == ()


def test_reimport_plans_them_again_under_another_generation() -> None:
    done = job("imports/d1/job-0001/", ENDED, entry(A, IMPORTED), status="COMPLETED", job_id="j1")
    result = reconcile([A], ledger(done), reimport=True)
    assert [item.relative_path for item in result.new_files] == ["a.dcm"]
    assert result.earlier == ()
    assert result.superseded == ("j1",)


def test_a_file_that_failed_is_reported_and_imported_again_only_with_retry_failed() -> None:
    done = job("imports/d1/job-0001/", ENDED, entry(A, IMPORTED), entry(B, FAILED), status="COMPLETED", job_id="j1")
    kept = reconcile([A, B], ledger(done))
    assert kept.new_files == ()
    assert {item.file.relative_path: item.outcome for item in kept.earlier} == {"a.dcm": IMPORTED, "b.dcm": FAILED}
    retried = reconcile([A, B], ledger(done), retry_failed=True)
    assert [item.relative_path for item in retried.new_files] == ["b.dcm"]
    assert retried.superseded == ("j1",)


def test_a_failed_job_is_taken_on_again_only_with_retry_failed() -> None:
    failed = job("imports/d1/job-0001/", ENDED, entry(A, FAILED), status="FAILED", job_id="j1")
    assert [record.prefix for record, _ in reconcile([A], ledger(failed), retry_failed=True).resumed] == [failed.prefix]
    assert reconcile([A], ledger(failed)).resumed == ()


@pytest.mark.parametrize("state", [STAGED, STARTED])
def test_an_unfinished_job_is_taken_on_again_even_when_the_folder_changed(state: str) -> None:
    unfinished = job("imports/d1/job-0001/", state, entry(A), entry(B))
    result = reconcile([A, C], ledger(unfinished))
    [(record, local)] = result.resumed
    assert record.prefix == unfinished.prefix
    assert local == {"a.dcm": A}
    assert [item.relative_path for item in result.new_files] == ["c.dcm"]


def test_a_planned_job_is_resumed_when_its_files_are_all_there_and_abandoned_otherwise() -> None:
    planned = job("imports/d1/job-0001/", PLANNED, entry(A), entry(B))
    assert [record.prefix for record, _ in reconcile([A, B, C], ledger(planned)).resumed] == [planned.prefix]
    changed = replace(B, crc64nvme="ZZZZZZZZZZZ=")
    result = reconcile([A, changed], ledger(planned))
    assert result.resumed == ()
    assert [(record.prefix, record.state) for record in result.abandoned] == [(planned.prefix, ABANDONED)]
    assert sorted(item.relative_path for item in result.new_files) == ["a.dcm", "b.dcm"]


def test_merge_keeps_the_furthest_state_and_a_later_attempt() -> None:
    started = job("p/", STARTED, entry(A), job_id="j1")
    assert import_ledger.merge_job(started, job("p/", STAGED, entry(A))) == started
    ended = job("p/", ENDED, entry(A, IMPORTED), status="COMPLETED", job_id="j1")
    assert import_ledger.merge_job(started, ended) == ended
    retry = replace(job("p/", STAGED, entry(A)), attempt=2)
    assert import_ledger.merge_job(ended, retry) == retry


def test_json_round_trip_and_a_damaged_ledger_is_a_clear_error() -> None:
    original = ledger(job("imports/d1/job-0001/", ENDED, entry(A, IMPORTED), status="COMPLETED", job_id="j1"))
    data = import_ledger.ledger_to_json(original)
    assert import_ledger.ledger_from_json(data, source="s3://b/k") == original
    with pytest.raises(LedgerFormatError, match=r"s3://b/k is not valid JSON .*Restore its previous version"):
        import_ledger.ledger_from_json(b"{", source="s3://b/k")
    with pytest.raises(LedgerFormatError, match=r"is not an ahictl import ledger"):
        import_ledger.ledger_from_json(json.dumps({"format": "other"}).encode(), source="s3://b/k")


@pytest.fixture
def bucket(aws_env: AwsEnv) -> Any:
    s3 = aws_env.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    return s3


def test_two_runs_writing_at_once_keep_each_others_entries(bucket: Any, aws_env: AwsEnv) -> None:
    first = LedgerStore(aws_env.client("s3"), BUCKET, DATASTORE, aws_env.account_id)
    second = LedgerStore(aws_env.client("s3"), BUCKET, DATASTORE, aws_env.account_id)
    first.load()
    second.load()  # both read the ledger before either wrote it
    first.record([job("imports/d1/job-0001/", PLANNED, entry(A))])
    second.record([job("imports/d2/job-0001/", PLANNED, entry(B))])  # loses the race, reads again, merges
    first.record([job("imports/d1/job-0001/", STAGED, entry(A))])  # and this one loses to that write
    stored = LedgerStore(aws_env.client("s3"), BUCKET, DATASTORE, aws_env.account_id).load()
    assert {prefix: record.state for prefix, record in stored.jobs.items()} == {
        "imports/d1/job-0001/": STAGED,
        "imports/d2/job-0001/": PLANNED,
    }
    key = import_ledger.ledger_key(DATASTORE)
    assert key == f"imports/ledger/{DATASTORE}.json"
    versions = bucket.list_object_versions(Bucket=BUCKET, Prefix=key)["Versions"]
    assert len(versions) == 3  # three writes, none lost


def test_a_ledger_that_is_not_there_yet_is_empty(bucket: Any, aws_env: AwsEnv) -> None:
    store = LedgerStore(aws_env.client("s3"), BUCKET, DATASTORE, aws_env.account_id)
    assert store.load() == Ledger(DATASTORE)


@pytest.mark.parametrize("state", [PLANNED, STAGED, STARTED])
def test_an_unfinished_job_of_another_folder_is_left_alone(state: str) -> None:
    other = job("imports/d1/job-0001/", state, entry(A), entry(B))
    result = reconcile([C], ledger(other))
    assert (result.resumed, result.abandoned) == ((), ())
    assert result.elsewhere == (other,)
    assert [item.relative_path for item in result.new_files] == ["c.dcm"]


def test_a_failed_job_of_another_folder_is_not_retried() -> None:
    failed = job("imports/d1/job-0001/", ENDED, entry(A, FAILED), status="FAILED", job_id="j1")
    assert reconcile([C], ledger(failed), retry_failed=True).resumed == ()


def test_no_ledger_after_earlier_imports_is_an_error_unless_importing_again_on_purpose(
    bucket: Any, aws_env: AwsEnv
) -> None:
    bucket.put_object(Bucket=BUCKET, Key="imports/d1/job-0001/a.dcm", Body=b"staged")
    store = LedgerStore(aws_env.client("s3"), BUCKET, DATASTORE, aws_env.account_id)
    with pytest.raises(import_ledger.LedgerMissingError, match="or pass --reimport"):
        store.load()
    assert store.load(allow_missing=True) == Ledger(DATASTORE)
