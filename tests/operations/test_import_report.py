"""Matching the files named in an import job's results to the planned files, whatever form AWS writes them in."""

from __future__ import annotations

from pathlib import Path

from ahiops import folder_import, manifest, planning
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


def test_the_automatic_importers_results_are_matched_by_the_same_rule() -> None:
    by_key = {"imports/b/j1/s/a.dcm": "a", "imports/b/j1/s/b.dcm": "b"}
    resolve = manifest.input_file_resolver("in-bucket", "imports/b/j1/", by_key)
    assert resolve("s3://in-bucket/imports/b/j1/s/a.dcm") == "a"
    assert resolve("imports/b/j1/s/b.dcm") == "b"
    assert resolve("s/a.dcm") == "a"
    assert resolve("s3://other-bucket/imports/b/j1/s/a.dcm") is None
