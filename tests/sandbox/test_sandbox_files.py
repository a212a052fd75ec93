"""The sandbox's pure parts: its files under <dir>/<stack>/, the env file's text, and bucket policies judged as S3
judges them over a loopback that stands in for TLS."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from moto.iam.access_control import PermissionResult

from components import policies
from sandbox.moto_patches import bucket_policy_decision
from sandbox.services import client_environment
from sandbox.state import SandboxFiles, env_file_text

BUCKET_ARN = "arn:aws:s3:::sbx-bucket"
ACCOUNT = "123456789012"


def test_the_env_file_exports_each_variable_quoted_for_the_shell(tmp_path: Path) -> None:
    text = env_file_text({"AWS_REGION": "us-east-1", "ODD": "a b'c"}, "dev")
    script = tmp_path / "env"
    script.write_text(text)
    shown = subprocess.run(
        ["bash", "-c", f'AWS_PROFILE=mine; . {script} && echo "$ODD|$AWS_REGION|${{AWS_PROFILE-unset}}"'],
        capture_output=True,
        text=True,
        check=True,
    )
    assert shown.stdout == "a b'c|us-east-1|unset\n"


def test_the_client_environment_points_every_service_at_its_endpoint() -> None:
    variables = client_environment({"S3": "http://127.0.0.1:1", "MEDICAL_IMAGING": "http://127.0.0.1:2"}, "eu-west-1")
    assert variables["AWS_ENDPOINT_URL_S3"] == "http://127.0.0.1:1"
    assert variables["AWS_ENDPOINT_URL_MEDICAL_IMAGING"] == "http://127.0.0.1:2"
    assert variables["AWS_REGION"] == variables["AWS_DEFAULT_REGION"] == "eu-west-1"
    assert variables["AWS_DISABLE_HOST_PREFIX_INJECTION"] == "true"


def test_removing_a_sandboxs_files_leaves_other_files_of_its_folder(tmp_path: Path) -> None:
    files = SandboxFiles(tmp_path, "dev")
    files.directory.mkdir()
    for path in (files.state, files.outputs, files.env, files.log, files.lock_file):
        path.write_text("x")
    (files.directory / "notes.txt").write_text("mine")
    files.remove()
    assert [p.name for p in files.directory.iterdir()] == ["notes.txt"]


def test_keeping_the_results_keeps_outputs_env_and_log(tmp_path: Path) -> None:
    files = SandboxFiles(tmp_path, "dev")
    files.directory.mkdir()
    for path in (files.state, files.outputs, files.env, files.log, files.lock_file):
        path.write_text("x")
    files.remove(keep_results=True)
    assert sorted(p.name for p in files.directory.iterdir()) == ["env", "outputs.json", "sandbox.log"]


def test_an_empty_sandbox_folder_is_removed(tmp_path: Path) -> None:
    files = SandboxFiles(tmp_path, "dev")
    files.directory.mkdir()
    files.state.write_text("{}")
    files.remove()
    assert not files.directory.exists()


def test_the_lock_is_held_by_one_holder_at_a_time(tmp_path: Path) -> None:
    files = SandboxFiles(tmp_path, "dev")
    held = files.lock()
    assert held is not None
    assert files.lock() is None
    assert files.locked()
    held.close()
    assert not files.locked()


def test_the_programs_tls_only_policy_does_not_deny_over_the_loopback() -> None:
    policy = policies.bucket_policy(BUCKET_ARN, require_tls=True)
    decision = bucket_policy_decision(json.dumps(policy), "s3:PutObject", f"{BUCKET_ARN}/a.dcm", ACCOUNT)
    assert decision == PermissionResult.NEUTRAL


def test_a_deny_whose_condition_holds_over_the_loopback_denies() -> None:
    statement = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": f"{BUCKET_ARN}/*",
        "Condition": {"NumericLessThan": {"s3:TlsVersion": "1.4"}},
    }
    policy = {"Version": "2012-10-17", "Statement": [statement]}
    decision = bucket_policy_decision(json.dumps(policy), "s3:GetObject", f"{BUCKET_ARN}/a.dcm", ACCOUNT)
    assert decision == PermissionResult.DENIED


def test_an_allow_for_the_owners_account_permits() -> None:
    statement = {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        "Action": "s3:GetObject",
        "Resource": f"{BUCKET_ARN}/*",
    }
    policy = {"Version": "2012-10-17", "Statement": [statement]}
    decision = bucket_policy_decision(json.dumps(policy), "s3:GetObject", f"{BUCKET_ARN}/a.dcm", ACCOUNT)
    assert decision == PermissionResult.PERMITTED
