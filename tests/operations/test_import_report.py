"""Matching the files named in an import job's results to the planned files, whatever form AWS writes them in."""

from __future__ import annotations

from pathlib import Path

from ahiops import folder_import, planning
from ahiops.discovery import HashedFile, crc64nvme_base64


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
