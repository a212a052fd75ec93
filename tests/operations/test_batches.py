"""The batch contract, pure: which objects make a batch, what is left out and why, how a batch becomes jobs, its record
(``_JOBS.json``), its result (``_RESULT.json``) and the quiet-period rule."""

from __future__ import annotations

import datetime as dt
import json
import random
import re
from typing import Any

import pytest
from botocore.exceptions import ClientError

from ahiops import batch_results, batch_state, batches, limits, planning
from ahiops.auto_import_steps import JobSlots
from ahiops.batches import BatchFile, BatchObject, BatchRules
from ahiops.jobs import StartRefusedError, StartRequest, start_job, validate_start_request
from ahiops.manifest import FailedFile, ImageSetSummary, ImportedFile, JobOutput, JobSummary
from ahiops.pacing import FakeClock
from ahiops.planning import JobLimits

BUCKET = "ahi-dev-input-111122223333-us-east-1-an"
BATCH = "incoming/site-a/2026-11-25/"
DATASTORE = "0123456789abcdef0123456789abcdef"
T0 = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)


def obj(
    relative: str, size: int = 1000, etag: str = '"e"', seconds: int = 0, storage: str | None = None
) -> BatchObject:
    return BatchObject(BATCH + relative, size, etag, T0 + dt.timedelta(seconds=seconds), storage)


def plan_of(
    objects: list[BatchObject], rules: BatchRules | None = None, not_dicom: frozenset[str] = frozenset()
) -> batches.BatchPlan:
    rules = rules or BatchRules()
    screening = batches.screen(BATCH, objects, rules)
    problems = {
        item.key: ("not a DICOM Part 10 file" if item.key in not_dicom else None) for item in screening.candidates
    }
    accepted, left_out = batches.accept(BATCH, screening, problems)
    accepted_keys = {item.key for item in accepted}
    return batches.plan_batch(
        bucket=BUCKET,
        batch_prefix=BATCH,
        digest=batches.listing_digest(BUCKET, BATCH, objects, rules),
        accepted=accepted,
        left_out=left_out,
        excluded_keys=[item.key for item in objects if item.key not in accepted_keys],
        rules=rules,
        token_scope=DATASTORE,
    )


# ---------------------------------------------------------------- the contract's names


@pytest.mark.parametrize(
    ("key", "batch"),
    [
        ("incoming/a/_READY", "incoming/a/"),
        ("incoming/site/2026/11/25/_READY", "incoming/site/2026/11/25/"),
        ("incoming/_READY", None),
        ("incoming//_READY", None),
        ("other/a/_READY", None),
        ("incoming/a/x_READY", None),
        ("incoming/a/_READY/b.dcm", None),
        ("incoming/a/b.dcm", None),
    ],
)
def test_a_marker_finishes_the_folder_it_is_in(key: str, batch: str | None) -> None:
    assert batches.batch_of_marker(key, "_READY") == batch


def test_the_marker_name_is_configurable() -> None:
    assert batches.batch_of_marker("incoming/a/DONE.txt", "DONE.txt") == "incoming/a/"
    assert batches.batch_of_marker("incoming/a/_READY", "DONE.txt") is None


@pytest.mark.parametrize(
    ("key", "batch"),
    [
        ("incoming/a/b.dcm", "incoming/a/"),
        ("incoming/a/b/c/d.dcm", "incoming/a/"),
        ("incoming/b.dcm", None),
        ("incoming/a/", None),
        ("imports/a/b.dcm", None),
    ],
)
def test_a_quiet_period_batch_is_the_first_folder_under_incoming(key: str, batch: str | None) -> None:
    assert batches.quiet_batch_of(key) == batch


@pytest.mark.parametrize("name", ["_READY", "DONE", "batch.complete", "a-b_c.1"])
def test_valid_marker_names(name: str) -> None:
    assert batches.marker_name_problems("autoImportMarkerName", name) == []


@pytest.mark.parametrize("name", ["", "a/b", "..", "ready!", "x" * 101, 7, "_JOBS.json", "_RESULT.json"])
def test_invalid_marker_names_are_refused_with_the_rule(name: object) -> None:
    (problem,) = batches.marker_name_problems("autoImportMarkerName", name)
    assert problem.startswith(f"autoImportMarkerName = {name!r}")


# ---------------------------------------------------------------- screening


def test_screening_leaves_out_each_kind_of_object_with_its_reason() -> None:
    rules = BatchRules(max_file_bytes=10_000)
    objects = [
        obj("_READY", 0),
        obj("_JOBS.json"),
        obj("_RESULT.json"),
        obj("sub/_READY", 0),
        obj("folder/", 0),
        obj("cold.dcm", storage="DEEP_ARCHIVE"),
        obj("huge.dcm", 10_001),
        obj("tiny.dcm", 131),
        obj("x" * 1000 + ".dcm"),
        obj("ok.dcm", 132),
        obj("glacier-ir.dcm", storage="GLACIER_IR"),
    ]
    screening = batches.screen(BATCH, objects, rules)
    assert [item.key for item in screening.candidates] == [BATCH + "glacier-ir.dcm", BATCH + "ok.dcm"]
    reasons = {item.key[len(BATCH) :]: item.reason for item in screening.left_out}
    assert set(reasons) == {"_READY", "sub/_READY", "folder/", "cold.dcm", "huge.dcm", "tiny.dcm", "x" * 1000 + ".dcm"}
    assert reasons["_READY"] == "the marker that finished the batch"
    assert "nested" in reasons["sub/_READY"]
    assert "folder placeholder" in reasons["folder/"]
    assert "DEEP_ARCHIVE" in reasons["cold.dcm"]
    assert "restore" in reasons["cold.dcm"]
    assert "10,001 bytes" in reasons["huge.dcm"]
    assert "10,000 bytes per file" in reasons["huge.dcm"]
    assert "131 bytes long" in reasons["tiny.dcm"]
    assert "too long" in reasons["x" * 1000 + ".dcm"]
    marker = next(item for item in screening.left_out if item.key == BATCH + "_READY")
    assert marker.marker
    assert not any(item.marker for item in screening.left_out if item is not marker)


def test_the_per_file_limit_is_healthimagings() -> None:
    assert BatchRules().max_file_bytes == limits.MAX_BYTES_PER_FILE == 10 * 1024**3


def test_accept_keeps_part10_files_and_reports_the_others() -> None:
    screening = batches.screen(BATCH, [obj("a.dcm"), obj("b.txt"), obj("_READY", 0)], BatchRules())
    accepted, left_out = batches.accept(BATCH, screening, {BATCH + "a.dcm": None, BATCH + "b.txt": "not DICOM"})
    assert accepted == (BatchFile(BATCH + "a.dcm", "a.dcm", 1000, '"e"'),)
    assert [(item.key, item.reason) for item in left_out] == [
        (BATCH + "_READY", "the marker that finished the batch"),
        (BATCH + "b.txt", "not DICOM"),
    ]
    with pytest.raises(ValueError, match="no Part 10 check result"):
        batches.accept(BATCH, screening, {})


# ---------------------------------------------------------------- the digest


def test_the_digest_comes_from_the_listing_without_markers_or_the_importers_files() -> None:
    rules = BatchRules()
    base = [obj("s/a.dcm"), obj("s/b.dcm", etag='"f"')]
    digest = batches.listing_digest(BUCKET, BATCH, base, rules)
    assert len(digest) == 32
    with_control = [*base, obj("_READY", 0), obj("_JOBS.json", 5), obj("_RESULT.json", 9)]
    assert batches.listing_digest(BUCKET, BATCH, list(reversed(with_control)), rules) == digest
    changed = {
        "etag": [obj("s/a.dcm", etag='"g"'), base[1]],
        "size": [obj("s/a.dcm", 1001), base[1]],
        "key": [obj("s/c.dcm"), base[1]],
        "added": [*base, obj("s/notes.txt")],
        "removed": base[:1],
    }
    for why, objects in changed.items():
        assert batches.listing_digest(BUCKET, BATCH, objects, rules) != digest, why
    assert batches.listing_digest("other-bucket", BATCH, base, rules) != digest
    assert (
        batches.listing_digest(BUCKET, "incoming/other/", [obj_at("incoming/other/", o) for o in base], rules) != digest
    )
    assert batches.listing_digest(BUCKET, BATCH, base, BatchRules(job_limits=JobLimits(max_files=10))) != digest


def obj_at(prefix: str, item: BatchObject) -> BatchObject:
    return BatchObject(prefix + item.key[len(BATCH) :], item.size, item.etag, item.last_modified)


# ---------------------------------------------------------------- planning


def test_files_in_one_folder_of_their_own_are_imported_where_they_are() -> None:
    plan = plan_of([obj("_READY", 0), obj("study/s1/a.dcm"), obj("study/s2/b.dcm")])
    assert plan.strategy == batches.STRATEGY_PREFIXES
    (job,) = plan.jobs
    assert job.input_prefix == BATCH + "study/"
    assert not job.copied
    assert [job.input_key(item) for item in job.files] == [BATCH + "study/s1/a.dcm", BATCH + "study/s2/b.dcm"]
    assert job.output_prefix == f"auto-imports/{plan.digest}/job-0001/"


def test_files_beside_the_marker_are_copied_into_a_job_prefix() -> None:
    plan = plan_of([obj("_READY", 0), obj("a.dcm"), obj("b.dcm")])
    assert plan.strategy == batches.STRATEGY_COPIES
    (job,) = plan.jobs
    assert job.copied
    assert job.input_prefix == f"auto-imports/{plan.digest}/job-0001/"
    assert [job.input_key(item) for item in job.files] == [job.input_prefix + "a.dcm", job.input_prefix + "b.dcm"]


def test_a_folder_holding_a_left_out_object_is_never_a_job_prefix() -> None:
    plan = plan_of(
        [obj("_READY", 0), obj("study/a.dcm"), obj("study/notes.txt")], not_dicom=frozenset({BATCH + "study/notes.txt"})
    )
    assert plan.strategy == batches.STRATEGY_COPIES
    assert [item.relative_path for item in plan.jobs[0].files] == ["study/a.dcm"]
    assert [item.key for item in plan.left_out_files] == [BATCH + "study/notes.txt"]


def test_a_clean_subfolder_next_to_a_left_out_object_is_used() -> None:
    plan = plan_of(
        [obj("_READY", 0), obj("study/s1/a.dcm"), obj("study/notes.txt")],
        not_dicom=frozenset({BATCH + "study/notes.txt"}),
    )
    assert plan.strategy == batches.STRATEGY_PREFIXES
    assert [job.input_prefix for job in plan.jobs] == [BATCH + "study/s1/"]


def test_more_folders_than_a_split_needs_are_copied_into_fewer_jobs() -> None:
    # Three studies, each in a folder of its own: three prefixes, but one job holds them all.
    plan = plan_of([obj("_READY", 0), obj("s1/a.dcm"), obj("s2/a.dcm"), obj("s3/a.dcm")])
    assert plan.strategy == batches.STRATEGY_COPIES
    assert len(plan.jobs) == 1
    # With a job per study anyway (one file per job), the folders are the jobs.
    rules = BatchRules(job_limits=JobLimits(max_files=1))
    plan = plan_of([obj("_READY", 0), obj("s1/a.dcm"), obj("s2/a.dcm"), obj("s3/a.dcm")], rules)
    assert plan.strategy == batches.STRATEGY_PREFIXES
    assert [job.input_prefix for job in plan.jobs] == [BATCH + f"s{n}/" for n in (1, 2, 3)]


def test_a_batch_over_the_file_limit_becomes_several_jobs_each_within_it() -> None:
    rules = BatchRules(job_limits=JobLimits(max_files=2))
    plan = plan_of([obj("_READY", 0), *(obj(f"f{n}.dcm") for n in range(5))], rules)
    assert plan.strategy == batches.STRATEGY_COPIES
    assert [len(job.files) for job in plan.jobs] == [2, 2, 1]
    assert [job.number for job in plan.jobs] == [1, 2, 3]
    assert len({job.client_token for job in plan.jobs}) == 3
    assert len({job.input_prefix for job in plan.jobs}) == 3


def test_a_batch_over_the_byte_and_folder_limits_is_split_too() -> None:
    rules = BatchRules(job_limits=JobLimits(max_bytes=2500, max_folders=2))
    plan = plan_of([obj("_READY", 0), *(obj(f"f{n}.dcm") for n in range(4))], rules)
    assert [len(job.files) for job in plan.jobs] == [2, 2]
    plan = plan_of([obj("_READY", 0), *(obj(f"d{n}/f.dcm") for n in range(5))], rules)
    assert all(len(planning.folders_of(item.relative_path for item in job.files)) <= 2 for job in plan.jobs)
    assert sum(len(job.files) for job in plan.jobs) == 5


def test_the_same_listing_gives_the_same_jobs_and_tokens_and_another_data_store_other_tokens() -> None:
    objects = [obj("_READY", 0), obj("a.dcm"), obj("b.dcm")]
    first, second = plan_of(objects), plan_of(list(reversed(objects)))
    assert first == second
    other = batches.plan_batch(
        bucket=BUCKET,
        batch_prefix=BATCH,
        digest=first.digest,
        accepted=first.jobs[0].files,
        left_out=first.left_out,
        excluded_keys=[BATCH + "_READY"],
        rules=BatchRules(),
        token_scope="f" * 32,
    )
    assert other.jobs[0].client_token != first.jobs[0].client_token


def test_nothing_to_import_plans_no_job() -> None:
    plan = plan_of([obj("_READY", 0), obj("notes.txt")], not_dicom=frozenset({BATCH + "notes.txt"}))
    assert plan.strategy == batches.STRATEGY_NONE
    assert plan.jobs == ()
    assert [item.key for item in plan.left_out] == [BATCH + "_READY", BATCH + "notes.txt"]


def test_every_planned_start_is_valid_for_the_service_model() -> None:
    rules = BatchRules(job_limits=JobLimits(max_files=1))
    for plan in (
        plan_of([obj("_READY", 0), obj("s1/a.dcm"), obj("s2/b.dcm")], rules),
        plan_of([obj("_READY", 0), obj("a.dcm")]),
    ):
        for job in plan.jobs:
            request = StartRequest(
                datastore_id=DATASTORE,
                client_token=planning.retry_token(job.client_token, 3),
                job_name=job.job_name,
                data_access_role_arn="arn:aws:iam::111122223333:role/ahi-dev-ImportJobDataAccessRole",
                input_s3_uri=f"s3://{BUCKET}/{job.input_prefix}",
                output_s3_uri=f"s3://ahi-dev-output-111122223333-us-east-1-an/{job.output_prefix}",
                input_owner_account_id="111122223333",
            )
            validate_start_request(request.to_params())


# ---------------------------------------------------------------- the quiet period


def verdict(objects: list[BatchObject], event: str, now_seconds: float, quiet: float = 600) -> tuple[str, float]:
    return batches.quiet_verdict(
        objects,
        event_key=BATCH + event,
        event_time=T0 + dt.timedelta(seconds=1),
        now=T0 + dt.timedelta(seconds=now_seconds),
        quiet_seconds=quiet,
        marker_name="_READY",
        batch_prefix=BATCH,
    )


def test_only_the_newest_objects_event_waits_out_the_quiet_period() -> None:
    objects = [obj("a.dcm", seconds=0), obj("b.dcm", seconds=30), obj("_JOBS.json", seconds=900)]
    assert verdict(objects, "a.dcm", 100) == (batches.QUIET_NOT_RESPONSIBLE, 0.0)
    assert verdict(objects, "b.dcm", 100) == (batches.QUIET_WAIT, 530.0)
    assert verdict(objects, "b.dcm", 630) == (batches.QUIET_READY, 0.0)


def test_ties_in_time_go_to_the_last_key_and_a_deleted_object_uses_its_event_time() -> None:
    objects = [obj("a.dcm", seconds=5), obj("b.dcm", seconds=5)]
    assert verdict(objects, "a.dcm", 10)[0] == batches.QUIET_NOT_RESPONSIBLE
    assert verdict(objects, "b.dcm", 10)[0] == batches.QUIET_WAIT
    # c.dcm was deleted after its event; the listing's newest object is older than the event: c's event carries it.
    assert verdict([obj("a.dcm", seconds=0)], "c.dcm", 700)[0] == batches.QUIET_READY


def test_a_batch_with_its_marker_is_left_to_the_markers_event() -> None:
    objects = [obj("a.dcm", seconds=0), obj("_READY", 0, seconds=0)]
    assert verdict(objects, "a.dcm", 10_000)[0] == batches.QUIET_NOT_RESPONSIBLE


# ---------------------------------------------------------------- the record (_JOBS.json)


def test_the_record_round_trips_and_tracks_attempts() -> None:
    rules = BatchRules(job_limits=JobLimits(max_files=1))
    plan = plan_of(
        [obj("_READY", 0), obj("a.dcm"), obj("b.dcm"), obj("c.txt")], rules, not_dicom=frozenset({BATCH + "c.txt"})
    )
    record = batch_state.BatchRecord.new(plan, planned_at="2026-11-25T12:00:00.000Z")
    assert not record.copies_done
    assert [job.number for job in record.unstarted()] == [1, 2]
    record.progress[1].job_id, record.progress[1].status = "j1", "FAILED"
    record.progress[2].job_id, record.progress[2].status = "j2", "COMPLETED"
    record.state, record.finished_at, record.result_status = batch_state.STATE_DONE, "2026-11-25T13:00:00Z", "PARTIAL"
    again = batch_state.record_from_json(batch_state.record_to_json(record))
    assert again == record
    assert again.client_token(plan.jobs[0]) == plan.jobs[0].client_token
    assert again.restart_failed() == 1
    assert again.state == batch_state.STATE_PLANNED
    assert again.finished_at is None
    assert again.progress[1].attempt == 2
    assert again.progress[1].job_id is None
    assert again.client_token(plan.jobs[0]) == planning.retry_token(plan.jobs[0].client_token, 2)
    assert again.progress[2].job_id == "j2"
    replaced = again.replaced_by(plan_of([obj("_READY", 0), obj("z.dcm")]), planned_at="t")
    assert replaced.earlier == [
        {"digest": plan.digest, "plannedAt": "2026-11-25T12:00:00.000Z", "jobIds": ["j2"], "resultStatus": None}
    ]


@pytest.mark.parametrize(
    "data", [b"not json", b"[]", b'{"format": "other"}', b'{"format": "healthimaging-auto-import-jobs/1"}']
)
def test_a_record_in_another_form_is_a_clear_error(data: bytes) -> None:
    with pytest.raises(batch_state.RecordFormatError, match=re.escape("s3://b/incoming/x/_JOBS.json")):
        batch_state.record_from_json(data, source="s3://b/incoming/x/_JOBS.json")


# ---------------------------------------------------------------- results


def output_of(
    job: batches.BatchJob, imported: list[str], failed: list[str], *, summary_imported: int | None = None
) -> JobOutput:
    uri = f"s3://{BUCKET}/"
    summary = JobSummary(
        job_id="j1",
        datastore_id=DATASTORE,
        input_s3_uri=uri + job.input_prefix,
        output_s3_uri="s3://out/x/",
        scanned_files=len(job.files),
        imported_files=len(imported) if summary_imported is None else summary_imported,
        files_with_customer_error=len(failed),
        files_with_server_error=0,
        generated_image_sets=1,
        image_sets=(ImageSetSummary("i" * 32, 1, True, len(imported)),),
    )
    return JobOutput(
        folder_uri="s3://out/x/j1/",
        summary=summary,
        imported=tuple(ImportedFile(uri + key, "i" * 32, True) for key in imported),
        failed=tuple(FailedFile(uri + key, "ValidationException", "bad pixel data") for key in failed),
    )


def test_a_completed_job_with_failed_files_is_partial_with_each_reason() -> None:
    plan = plan_of(
        [obj("_READY", 0), obj("a.dcm"), obj("b.dcm"), obj("c.dcm"), obj("n.txt")],
        not_dicom=frozenset({BATCH + "n.txt"}),
    )
    (job,) = plan.jobs
    keys = [job.input_key(item) for item in job.files]
    outcome = batch_results.job_outcome(
        job,
        input_bucket=BUCKET,
        output_bucket="out",
        job_id="j1",
        status="COMPLETED",
        message=None,
        output=output_of(job, keys[:1], keys[1:2]),
    )
    assert outcome.imported_keys == (BATCH + "a.dcm",)
    assert [(f.key, f.reason) for f in outcome.failures] == [
        (BATCH + "b.dcm", "ValidationException: bad pixel data"),
        (BATCH + "c.dcm", "import job j1 is COMPLETED but its results do not list this file"),
    ]
    document = batch_results.result_document(plan, [outcome], finished_at="t")
    assert document["status"] == batch_results.STATUS_PARTIAL
    assert document["counts"] == {
        "objects": 5,
        "toImport": 3,
        "imported": 1,
        "failed": 2,
        "leftOut": 1,
        "jobs": 1,
        "imageSets": 1,
    }
    assert document["imageSetIds"] == ["i" * 32]
    assert [entry["key"] for entry in document["leftOut"]] == [BATCH + "_READY", BATCH + "n.txt"]
    json.dumps(document)
    text = batch_results.alert_message(document, result_uri=f"s3://{BUCKET}/{BATCH}_RESULT.json", max_listed=1)
    assert "PARTIAL" in text
    assert "bad pixel data" in text
    assert "and 1 more" in text
    assert "_RESULT.json" in text
    subject = batch_results.alert_subject(document)
    assert len(subject) <= 100
    assert subject.startswith("HealthImaging auto-import PARTIAL")


def test_every_file_imported_and_only_the_marker_left_out_is_imported() -> None:
    plan = plan_of([obj("_READY", 0), obj("s/a.dcm")])
    (job,) = plan.jobs
    outcome = batch_results.job_outcome(
        job,
        input_bucket=BUCKET,
        output_bucket="out",
        job_id="j1",
        status="COMPLETED",
        message=None,
        output=output_of(job, [job.input_key(job.files[0])], []),
    )
    assert batch_results.result_document(plan, [outcome], finished_at="t")["status"] == batch_results.STATUS_IMPORTED


def test_a_failed_job_fails_every_file_with_its_message() -> None:
    plan = plan_of([obj("_READY", 0), obj("a.dcm"), obj("b.dcm")])
    (job,) = plan.jobs
    outcome = batch_results.job_outcome(
        job, input_bucket=BUCKET, output_bucket="out", job_id="j9", status="FAILED", message="Bad input", output=None
    )
    assert {f.reason for f in outcome.failures} == {"import job j9 FAILED: Bad input"}
    document = batch_results.result_document(plan, [outcome], finished_at="t")
    assert document["status"] == batch_results.STATUS_FAILED
    assert "Import job j9 FAILED: Bad input" in batch_results.alert_message(document, result_uri="s3://x")


def test_results_naming_files_another_way_fall_back_on_the_manifest_counts() -> None:
    plan = plan_of([obj("_READY", 0), obj("s/a.dcm"), obj("s/b.dcm")])
    (job,) = plan.jobs
    output = output_of(job, [], [], summary_imported=2)
    outcome = batch_results.job_outcome(
        job, input_bucket=BUCKET, output_bucket="out", job_id="j1", status="COMPLETED", message=None, output=output
    )
    assert len(outcome.imported_keys) == 2
    assert outcome.failures == ()


def test_a_batch_with_nothing_to_import_says_what_to_do() -> None:
    plan = plan_of([obj("_READY", 0)])
    document = batch_results.result_document(plan, [], finished_at="t")
    assert document["status"] == batch_results.STATUS_NOTHING_TO_IMPORT
    assert "write the marker again" in document["message"]
    assert document["status"] in batch_results.ALERT_STATUSES


@pytest.mark.parametrize("code", ["ThrottlingException", "ServiceQuotaExceededException"])
def test_a_start_still_refused_says_why_so_the_batch_can_wait(code: str) -> None:
    class Refusing:
        calls = 0

        def start_dicom_import_job(self, **params: str) -> dict[str, str]:
            Refusing.calls += 1
            raise ClientError({"Error": {"Code": code, "Message": "try later"}}, "StartDICOMImportJob")

    request = StartRequest(
        datastore_id=DATASTORE,
        client_token="t" * 64,
        job_name="auto-0123456789abcdef-job-0001",
        data_access_role_arn="arn:aws:iam::111122223333:role/r",
        input_s3_uri=f"s3://{BUCKET}/incoming/a/",
        output_s3_uri="s3://ahi-out/auto-imports/x/",
        input_owner_account_id="111122223333",
    )
    with pytest.raises(StartRefusedError) as raised:
        start_job(Refusing(), request, clock=FakeClock(), max_wait_seconds=5)
    assert raised.value.aws_error_code == code
    assert Refusing.calls == 3  # waits of 1 s and 2 s fit in 5 s; the next (4 s) would not


def test_job_slots_count_every_running_job_and_wait_for_a_place_until_the_deadline() -> None:
    class Jobs:
        def __init__(self) -> None:
            self.running = {"SUBMITTED": 1, "IN_PROGRESS": 2}
            self.calls = 0

        def list_dicom_import_jobs(self, **params: Any) -> dict[str, Any]:
            self.calls += 1
            assert params["datastoreId"] == DATASTORE
            return {"jobSummaries": [{}] * self.running[params["jobStatus"]]}

    jobs, clock = Jobs(), FakeClock()
    slots = JobSlots(jobs, DATASTORE, 4, clock=clock, deadline=60.0, recheck_seconds=10.0, rng=random.Random(7))
    assert slots.take()  # 3 running of 4
    assert not slots.take()  # the count is fresh: no place, no new count
    assert jobs.calls == 2
    assert slots.wait()
    assert 7.5 <= clock.now <= 12.5  # a quarter either way
    jobs.running = {"SUBMITTED": 0, "IN_PROGRESS": 2}  # two jobs ended meanwhile
    assert slots.take()
    assert slots.take()
    assert not slots.take()
    assert jobs.calls == 4  # counted again after the wait only
    slots.note_full()
    assert not slots.take()
    while slots.wait():
        pass
    assert clock.now <= 60.0
    assert JobSlots(jobs, DATASTORE, 4, clock=clock).wait() is False  # no deadline: no waiting
