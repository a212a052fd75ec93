"""A stack for ``ahictl import`` end to end, and the folders it imports: what the import tests share.

:func:`make_stack` leaves what ``pulumi up`` leaves for the importer (two versioned buckets in moto, an ACTIVE data
store in the HealthImaging stand-in, the stack's outputs file); :func:`make_folder` writes DICOM Part 10 files made
from pydicom's samples (each with its own content), a data set without the Part 10 header and a text file.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import boto3
import pydicom
import pytest

from ahictl import cli
from ahiops import folder_import
from ahiops.folder_import import ImportCallbacks, ImportOptions
from ahiops.import_ledger import LEDGER_PREFIX
from ahiops.pacing import FakeClock
from ahiops.stack_outputs import StackOutputs, load_outputs_file
from sandbox.healthimaging import HealthImagingEmulator
from testkit.dicom_samples import sample
from testkit.fakes.environment import AwsEnv

INPUT_BUCKET = "ahi-input-test"
OUTPUT_BUCKET = "ahi-output-test"
ROLE_ARN = "arn:aws:iam::123456789012:role/ahi-import-role"


class Stack:
    def __init__(self, outputs_path: Path, fake: HealthImagingEmulator, s3: Any) -> None:
        self.outputs_path = outputs_path
        self.fake = fake
        self.s3 = s3

    @property
    def outputs(self) -> StackOutputs:
        return load_outputs_file(self.outputs_path)

    def starts(self) -> list[dict[str, Any]]:
        return [params for operation, params in self.fake.requests if operation == "StartDICOMImportJob"]

    def versions(self, bucket: str = INPUT_BUCKET) -> dict[str, int]:
        """Versions of each staged object (the import ledger, written at every step, left out)."""
        counts: dict[str, int] = {}
        for page in self.s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
            for version in page.get("Versions", []):
                if not version["Key"].startswith(LEDGER_PREFIX):
                    counts[version["Key"]] = counts.get(version["Key"], 0) + 1
        return counts


def make_stack(aws_env: AwsEnv, tmp_path: Path) -> Stack:
    """The ``stack`` fixture's stack."""
    s3 = aws_env.client("s3")
    for bucket in (INPUT_BUCKET, OUTPUT_BUCKET):
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    fake = aws_env.healthimaging
    assert fake is not None
    fake.polls_until_done = 1
    datastore_id, datastore_arn = fake.create_datastore("ahi-test")
    outputs = {
        "accountId": aws_env.account_id,
        "region": aws_env.region,
        "inputBucketName": INPUT_BUCKET,
        "outputBucketName": OUTPUT_BUCKET,
        "logBucketName": "ahi-log-test",
        "bucketKmsKeyArn": None,
        "datastoreId": datastore_id,
        "datastoreArn": datastore_arn,
        "datastoreKmsKeyArn": None,
        "importRoleArn": ROLE_ARN,
    }
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(outputs))
    return Stack(path, fake, s3)


def distinct_copy(source: Path, target: Path, index: int) -> None:
    """``source`` written to ``target`` as instance ``index`` of its series: index 0 is the file itself, others get
    their own series and SOP instance UIDs (so that every file has its own content)."""
    if index == 0:
        shutil.copy(source, target)
        return
    dataset = pydicom.dcmread(source)
    dataset.SeriesInstanceUID = f"{dataset.SeriesInstanceUID}.{index}"
    dataset.SOPInstanceUID = f"{dataset.SOPInstanceUID}.{index}"
    dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    dataset.save_as(target)


def make_folder(root: Path, copies: int = 1) -> Path:
    """Part 10 files (CT, MR; ``copies`` of each in separate series folders, each with its own content), one data
    set without the Part 10 header, and a text file."""
    for index in range(copies):
        (root / "study" / f"series{index}").mkdir(parents=True)
        distinct_copy(sample("CT_small.dcm"), root / "study" / f"series{index}" / "ct.dcm", index)
        distinct_copy(sample("MR_small.dcm"), root / "study" / f"series{index}" / "mr.dcm", index)
    shutil.copy(sample("no_meta.dcm"), root / "study" / "no_meta.dcm")
    (root / "README.txt").write_text("not DICOM")
    return root


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(["import", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def options(clock: FakeClock, **overrides: Any) -> ImportOptions:
    return ImportOptions(clock=clock, **{"upload_engine": "crt", **overrides})


def run(
    stack: Stack, folder: Path, clock: FakeClock | None = None, callbacks: ImportCallbacks | None = None, **kw: Any
) -> folder_import.ImportResult:
    clock = clock or FakeClock()
    plan = folder_import.prepare(folder, stack.outputs, options(clock, **kw))
    return folder_import.run_import(boto3.session.Session(), stack.outputs, plan, options(clock, **kw), callbacks)
