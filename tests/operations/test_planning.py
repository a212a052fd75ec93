"""Splitting into import jobs at the service limits, with content-derived prefixes and client tokens."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from awscrt import checksums

from ahiops import limits, planning
from ahiops.discovery import HashedFile, crc64nvme_base64
from ahiops.errors import UsageError
from ahiops.planning import JobLimits

TOKEN = re.compile(r"[A-Za-z0-9._-]{1,64}")
JOB_NAME = re.compile(r"[A-Za-z0-9._/#-]{1,64}")


def hashed(relative: str, size: int = 100, content: str = "") -> HashedFile:
    return HashedFile(
        path=Path("/data") / relative,
        relative_path=relative,
        size=size,
        crc64nvme=crc64nvme_base64(checksums.crc64nvme((content or relative).encode())),
    )


def test_defaults_are_the_service_quotas() -> None:
    assert JobLimits() == JobLimits(max_files=5_000, max_bytes=10 * 1024**3, max_folders=10_000)
    assert limits.max_concurrent_jobs("us-east-1") == 100
    assert limits.max_concurrent_jobs("ap-southeast-2") == 20


def test_split_by_file_count_keeps_order_and_names_prefixes() -> None:
    files = [hashed(f"s/{index:03d}.dcm") for index in range(7)]
    plan = planning.plan_import(files, job_limits=JobLimits(max_files=3))
    assert [len(job.files) for job in plan.jobs] == [3, 3, 1]
    assert [item.relative_path for item in plan.files()] == [item.relative_path for item in files]
    assert re.fullmatch(r"[0-9a-f]{32}", plan.digest)
    assert [job.prefix for job in plan.jobs] == [f"imports/{plan.digest}/job-000{n}/" for n in (1, 2, 3)]
    assert plan.jobs[1].files[0].key == f"imports/{plan.digest}/job-0002/s/003.dcm"
    assert plan.file_count == 7
    assert plan.total_bytes == 700


def test_split_by_bytes() -> None:
    files = [hashed(f"{index}.dcm", size=400) for index in range(5)]
    plan = planning.plan_import(files, job_limits=JobLimits(max_bytes=1000))
    assert [len(job.files) for job in plan.jobs] == [2, 2, 1]
    assert all(job.total_bytes <= 1000 for job in plan.jobs)


def test_a_file_larger_than_a_job_is_refused() -> None:
    with pytest.raises(UsageError, match=r"larger than one import job"):
        planning.plan_import([hashed("a.dcm", size=2000)], job_limits=JobLimits(max_bytes=1000))


def test_split_by_nested_folders() -> None:
    # a/1/x, a/2/x, ...: each file adds one folder (plus "a" once)
    files = [hashed(f"a/{index}/x.dcm") for index in range(6)]
    plan = planning.plan_import(files, job_limits=JobLimits(max_folders=3))
    assert all(job.folder_count <= 3 for job in plan.jobs)
    assert [len(job.files) for job in plan.jobs] == [2, 2, 2]
    assert plan.jobs[0].folder_count == 3  # a, a/0, a/1


def test_limits_out_of_range_are_usage_errors() -> None:
    with pytest.raises(UsageError, match=r"--max-files-per-job 0"):
        JobLimits(max_files=0)
    with pytest.raises(UsageError):
        JobLimits(max_bytes=limits.MAX_BYTES_PER_JOB + 1)


def test_deterministic_and_independent_of_input_order() -> None:
    files = [hashed(f"{index}.dcm") for index in range(5)]
    first = planning.plan_import(files, job_limits=JobLimits(max_files=2), token_scope="ds")
    second = planning.plan_import(list(reversed(files)), job_limits=JobLimits(max_files=2), token_scope="ds")
    assert first == second


def test_any_change_to_the_set_or_split_changes_the_digest() -> None:
    files = [hashed(f"{index}.dcm") for index in range(4)]
    base = planning.plan_import(files).digest
    renamed = planning.plan_import([*files[:3], hashed("other.dcm", content="3.dcm")]).digest
    resized = planning.plan_import([*files[:3], hashed("3.dcm", size=101)]).digest
    edited = planning.plan_import([*files[:3], hashed("3.dcm", content="changed")]).digest
    fewer = planning.plan_import(files[:3]).digest
    split = planning.plan_import(files, job_limits=JobLimits(max_files=2)).digest
    assert len({base, renamed, resized, edited, fewer, split}) == 6


def test_the_digest_is_sha256_over_path_size_and_crc64nvme_records() -> None:
    # The record layout decides every prefix and client token: changing it would make a rerun of an earlier
    # import upload again under a new prefix and start new jobs, so it is pinned here.
    files = [hashed("b/2.dcm", size=7), hashed("a/1.dcm", size=5)]
    limits_used = JobLimits(max_files=2)
    expected = hashlib.sha256(b"ahictl-import-plan/2\n2\n10737418240\n10000\n")
    for item in sorted(files, key=lambda candidate: candidate.relative_path):
        expected.update(f"{item.relative_path}\0{item.size}\0{item.crc64nvme}\n".encode())
    plan = planning.plan_import(files, job_limits=limits_used)
    assert planning.plan_digest(files, limits_used) == expected.hexdigest()
    assert plan.digest == expected.hexdigest()[: planning.DIGEST_LENGTH]
    assert [item.crc64nvme for item in plan.files()] == [files[1].crc64nvme, files[0].crc64nvme]


def test_client_tokens_and_job_names_match_the_service_patterns_and_are_unique() -> None:
    files = [hashed(f"{index}.dcm") for index in range(5)]
    plan = planning.plan_import(files, job_limits=JobLimits(max_files=1), token_scope="a" * 32)
    tokens = [job.client_token for job in plan.jobs]
    assert all(TOKEN.fullmatch(token) for token in tokens)
    assert all(JOB_NAME.fullmatch(job.job_name) for job in plan.jobs)
    assert len(set(tokens)) == 5
    other_store = planning.plan_import(files, job_limits=JobLimits(max_files=1), token_scope="b" * 32)
    assert other_store.jobs[0].client_token != tokens[0]
    assert other_store.jobs[0].prefix == plan.jobs[0].prefix


def test_too_long_keys_and_duplicates_are_refused() -> None:
    with pytest.raises(UsageError, match=r"longer than 1024 bytes"):
        planning.plan_import([hashed("d/" * 510 + "x.dcm")])
    with pytest.raises(UsageError, match=r"appears twice"):
        planning.plan_import([hashed("a.dcm"), hashed("a.dcm")])
    with pytest.raises(UsageError):
        planning.plan_import([])


def test_retry_tokens_are_a_fixed_sequence_of_valid_tokens() -> None:
    plan = planning.plan_import([hashed("a.dcm")], token_scope="ds")
    first = plan.jobs[0].client_token
    retries = [planning.retry_token(first, attempt) for attempt in (2, 3)]
    assert all(TOKEN.fullmatch(token) for token in retries)
    assert len({first, *retries}) == 3
    assert retries == [planning.retry_token(first, attempt) for attempt in (2, 3)]
