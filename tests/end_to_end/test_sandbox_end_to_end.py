"""The README's "Try it without AWS" as a user runs it: ``sandbox up --detach``, then after ``. <dir>/dev/env`` the
existing commands unchanged (``verify``, ``import``, ``jobs``) and boto3, each a process of its own."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from testkit.import_stack import make_folder
from testkit.mock_runs import PROJECT_DIR

pytestmark = pytest.mark.server

#: Seconds one command may take (an import waits for its job through a few polls).
COMMAND_TIMEOUT = 180


def run(command: str) -> subprocess.CompletedProcess[str]:
    """``command`` in bash from the project's directory, with no AWS variable of the caller's."""
    environment = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    return subprocess.run(
        ["bash", "-c", command],
        cwd=PROJECT_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )


class Sandbox:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.outputs = directory / "dev" / "outputs.json"
        self.env = directory / "dev" / "env"

    def ahictl(self, *argv: str) -> subprocess.CompletedProcess[str]:
        """``python -m ahictl ARGV`` after ``. <dir>/dev/env``."""
        arguments = " ".join(shlex.quote(a) for a in argv)
        return run(f". {shlex.quote(str(self.env))} && exec {shlex.quote(sys.executable)} -m ahictl {arguments}")


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    directory = tmp_path_factory.mktemp("sandbox")
    started = run(f"{shlex.quote(sys.executable)} -m ahictl sandbox up --detach --dir {shlex.quote(str(directory))}")
    assert started.returncode == 0, started.stderr
    try:
        yield Sandbox(directory)
    finally:
        stopped = run(f"{shlex.quote(sys.executable)} -m ahictl sandbox down --dir {shlex.quote(str(directory))}")
        assert stopped.returncode == 0, stopped.stderr


@pytest.fixture(scope="module")
def imported(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """``ahictl import --json`` of pydicom's CT and MR samples, a data set without the Part 10 header and a text
    file."""
    folder = make_folder(tmp_path_factory.mktemp("data") / "folder")
    result = sandbox.ahictl("import", str(folder), "--outputs", str(sandbox.outputs), "--json")
    assert result.returncode == 0, result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def test_verify_passes_every_check(sandbox: Sandbox) -> None:
    result = sandbox.ahictl("verify", "--outputs", str(sandbox.outputs), "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    checks = json.loads(result.stdout)["checks"]
    assert len(checks) >= 30
    assert {check["status"] for check in checks} == {"pass"}


def test_the_import_uploads_starts_a_job_and_reports_its_image_sets(imported: dict[str, Any]) -> None:
    assert imported["imported"] == 2
    assert {item["file"] for item in imported["skipped"]} == {"README.txt", "study/no_meta.dcm"}
    [job] = imported["jobs"]
    assert job["jobStatus"] == "COMPLETED"
    assert len(job["imageSets"]) == 2  # CT and MR: two series


def test_jobs_lists_the_imports_job(sandbox: Sandbox, imported: dict[str, Any]) -> None:
    [job] = imported["jobs"]
    result = sandbox.ahictl("jobs", "--outputs", str(sandbox.outputs))
    assert result.returncode == 0, result.stderr
    [line] = [line for line in result.stdout.splitlines() if line.startswith(job["jobId"])]
    assert "COMPLETED" in line


def test_boto3_reaches_the_data_store_through_the_env_file(sandbox: Sandbox) -> None:
    outputs = json.loads(sandbox.outputs.read_text())
    script = (
        "import boto3, json; c = boto3.client('medical-imaging'); "
        "print(json.dumps([d['datastoreId'] for d in c.list_datastores()['datastoreSummaries']]))"
    )
    result = run(f". {shlex.quote(str(sandbox.env))} && {shlex.quote(sys.executable)} -c {shlex.quote(script)}")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [outputs["datastoreId"]]


def test_the_aws_cli_lists_the_stacks_buckets_through_the_env_file(sandbox: Sandbox) -> None:
    if shutil.which("aws") is None:
        pytest.skip("the AWS CLI is not installed")
    outputs = json.loads(sandbox.outputs.read_text())
    result = run(f". {shlex.quote(str(sandbox.env))} && aws s3 ls")
    assert result.returncode == 0, result.stderr
    listed = {line.split()[-1] for line in result.stdout.splitlines()}
    assert {outputs["inputBucketName"], outputs["outputBucketName"], outputs["logBucketName"]} <= listed
