"""``python -m ahictl plan``, the offline plan command, run as a user runs it: a subprocess in the repository (or in a
copy of it), reading the stack files; what it prints, and its errors for an --output or a project it cannot use."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ahictl.mockrun import ProgramRun
from testkit.mock_runs import PROJECT_DIR


def ahictl(*args: str, cwd: Path = PROJECT_DIR) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ahictl", *args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )


@pytest.fixture(scope="module")
def dev_plan_text() -> str:
    result = ahictl("plan", "--stack", "dev")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return result.stdout


def test_plan_shows_resources_with_options_policies_and_outputs(dev_plan_text: str) -> None:
    assert dev_plan_text.startswith(
        "Offline plan of stack 'dev' (project healthimaging-setup): account 111122223333, region us-east-1"
    )
    assert (
        "+ aws-native:healthimaging:Datastore  datastore  [protect; retainOnDelete; ignoreChanges=datastoreName,kmsKeyArn,tags; "
        "provider=aws-native]"
    ) in dev_plan_text
    assert "+ aws:s3/bucket:Bucket  import-buckets-input  [protect; retainOnDelete; provider=aws]" in dev_plan_text
    assert "import-job-role assumeRolePolicy:" in dev_plan_text
    assert '"aws:SecureTransport": "false"' in dev_plan_text
    assert "startImportJobCommand: aws medical-imaging start-dicom-import-job" in dev_plan_text
    assert "Warnings: none." in dev_plan_text


def test_plan_json_is_the_same_program_run(dev_run: ProgramRun) -> None:
    result = ahictl("plan", "--stack", "dev", "--format", "json")
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["outputs"] == json.loads(json.dumps(dev_run.outputs))
    assert {r["name"] for r in plan["resources"]} == {r.name for r in dev_run.resources}
    role = next(r for r in plan["resources"] if r["type"] == "aws:iam/role:Role" and r["name"] == "import-job-role")
    assert role["inputs"]["assumeRolePolicy"]["Statement"][0]["Action"] == "sts:AssumeRole"


def test_plan_of_a_missing_stack_names_the_stacks_there() -> None:
    result = ahictl("plan", "--stack", "nosuchstack")
    assert result.returncode == 2
    assert result.stderr.startswith("error: No stack file Pulumi.nosuchstack.yaml")
    assert "dev" in result.stderr
    assert "Traceback" not in result.stderr


def test_plan_of_an_invalid_stack_explains_without_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.yaml").write_text((PROJECT_DIR / "Pulumi.yaml").read_text())
    (tmp_path / "__main__.py").write_text((PROJECT_DIR / "__main__.py").read_text())
    (tmp_path / "Pulumi.bad.yaml").write_text(
        "config:\n  healthimaging-setup:accountId: 12345678901\n  healthimaging-setup:region: us-east-1\n"
    )
    result = ahictl("plan", "--stack", "bad", "--project-dir", str(tmp_path))
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("error: Configuration of stack 'bad': 1 problem found; nothing was created.")
    assert 'give all 12 digits, for example "012345678901"' in result.stderr
    assert "Traceback" not in result.stderr


def project_without_program(directory: Path, pulumi_yaml: str | None = None) -> Path:
    """A project directory with Pulumi.yaml and a dev stack file but no __main__.py."""
    directory.mkdir()
    (directory / "Pulumi.yaml").write_text(pulumi_yaml or (PROJECT_DIR / "Pulumi.yaml").read_text())
    (directory / "Pulumi.dev.yaml").write_text((PROJECT_DIR / "Pulumi.dev.yaml").read_text())
    return directory


def test_plan_of_a_project_without_its_program_says_what_is_missing(tmp_path: Path) -> None:
    project = project_without_program(tmp_path / "project")
    result = ahictl("plan", "--stack", "dev", "--project-dir", str(project))
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        f"error: No __main__.py in {project}: the offline plan runs the program in the directory of Pulumi.yaml. "
        "Pass --project-dir with the directory that holds Pulumi.yaml and __main__.py.\n"
    )


def test_plan_of_a_project_whose_pulumi_yaml_names_main_says_it_is_not_followed(tmp_path: Path) -> None:
    project = project_without_program(tmp_path / "project", "name: healthimaging-setup\nruntime: python\nmain: src/\n")
    result = ahictl("plan", "--stack", "dev", "--project-dir", str(project))
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: No __main__.py in {project}:")
    assert "Pulumi.yaml names `main: src/`, which the offline plan does not follow" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("fmt", ["json", "svg"])
@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("missing-dir/plan.out", "--output {path}: the directory {parent} does not exist; create it first"),
        ("", "--output {path}: is a directory; give a file name, for example --output {path}/plan-dev.{ext}"),
        ("a-file/plan.out", "--output {path}: {parent} is not a directory; give a file in an existing directory"),
    ],
)
def test_plan_to_an_output_it_cannot_write_is_refused_before_the_plan(
    tmp_path: Path, fmt: str, where: str, message: str
) -> None:
    (tmp_path / "a-file").write_text("")
    path = tmp_path / where if where else tmp_path
    result = ahictl("plan", "--stack", "dev", "--format", fmt, "--output", str(path))
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("error: " + message.format(path=path, parent=path.parent, ext=fmt))
    assert "Traceback" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]


def test_plan_to_an_output_name_the_file_system_refuses_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / ("x" * 300)
    result = ahictl("plan", "--stack", "dev", "--format", "json", "--output", str(path))
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        f"error: --output {path}: cannot write the file (File name too long); choose another file, "
        "or leave out --output to print to standard output\n"
    )


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full, which refuses every write")
def test_plan_output_that_fails_while_written_is_a_clear_error() -> None:
    result = ahictl("plan", "--stack", "dev", "--format", "json", "--output", "/dev/full")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        "error: --output /dev/full: cannot write the file (No space left on device); choose another file, "
        "or leave out --output to print to standard output\n"
    )
