"""A stack for ``ahictl import`` end to end, and the folders it imports: what the import tests share.

:func:`make_stack` is the dev stack deployed from its plan into the sandbox, as ``ahictl sandbox up`` deploys it
(:mod:`testkit.fakes.deployed_stack`): its versioned, encrypted, TLS-only buckets in moto, its ACTIVE data store in the
HealthImaging emulator (which checks the import role as HealthImaging would), the stack's outputs file.
:func:`make_folder` writes DICOM Part 10 files made from pydicom's samples (each with its own content), a data set
without the Part 10 header and a text file.
"""

from __future__ import annotations

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
from testkit.dicom_samples import sample
from testkit.fakes.deployed_stack import DeployedStack, deploy_stack
from testkit.fakes.environment import AwsEnv


class Stack:
    """The deployed stack as the import tests use it: its outputs file, the emulator (``fake``), an S3 client."""

    def __init__(self, deployed: DeployedStack) -> None:
        self.deployed = deployed
        self.outputs_path = deployed.outputs_path
        self.fake = deployed.healthimaging
        self.s3 = deployed.s3

    @property
    def outputs(self) -> StackOutputs:
        return load_outputs_file(self.outputs_path)

    @property
    def input_bucket(self) -> str:
        return self.deployed.input_bucket

    @property
    def output_bucket(self) -> str:
        return self.deployed.output_bucket

    @property
    def import_role_arn(self) -> str:
        return self.deployed.import_role_arn

    def starts(self) -> list[dict[str, Any]]:
        return [params for operation, params in self.fake.requests if operation == "StartDICOMImportJob"]

    def versions(self, bucket: str | None = None) -> dict[str, int]:
        """Versions of each staged object in ``bucket`` (default: the input bucket; the import ledger, written at
        every step, left out)."""
        counts: dict[str, int] = {}
        for page in self.s3.get_paginator("list_object_versions").paginate(Bucket=bucket or self.input_bucket):
            for version in page.get("Versions", []):
                if not version["Key"].startswith(LEDGER_PREFIX):
                    counts[version["Key"]] = counts.get(version["Key"], 0) + 1
        return counts


def make_stack(aws_env: AwsEnv, tmp_path: Path) -> Stack:
    """The ``stack`` fixture's stack: the dev stack deployed from its plan, its jobs finishing at the second poll."""
    fake = aws_env.healthimaging
    assert fake is not None
    deployed = deploy_stack(aws_env, fake, tmp_path / "outputs.json")
    fake.polls_until_done = 1
    return Stack(deployed)


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
